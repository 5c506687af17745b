//! The private tuning-telemetry service (seed 004 "Telemetry Server", issue 22 part 2): the
//! agents' tuning snapshots folded at ingest into moving averages per hardware class and
//! configuration, keyed by a random contribution id the agent keeps (never by rig), expiring
//! after 90 days, and forgotten on request (`DELETE /telem/my-data`).
//!
//! `aggregate` is the pure arithmetic; the tables are in `crate::store::telem`, the routes in
//! `crate::api::telem`, the 90-day pruner in `service`. Must never keep a raw snapshot, or a rig
//! id, host name, address or wallet next to telemetry.

pub mod aggregate;
#[cfg(test)]
mod aggregate_tests;
pub mod service;

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the telemetry tables did, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Snapshots folded into a contribution.
    pub folded: AtomicU64,
    /// Snapshots refused as not a measurement (named in the log).
    pub refused: AtomicU64,
    /// Snapshots that arrived under an id already forgotten (sent before the forget).
    pub after_forget: AtomicU64,
    /// Contributions removed by `DELETE /telem/my-data`.
    pub forgotten: AtomicU64,
    /// `DELETE /telem/my-data` requests refused (missing, malformed or unknown id).
    pub forget_refused: AtomicU64,
    /// Contributions removed by the pruner after 90 days.
    pub pruned_contributions: AtomicU64,
    /// Aggregates gone with their last contribution (forget or prune).
    pub removed_aggregates: AtomicU64,
    /// Forget tombstones past retention, removed by the pruner.
    pub pruned_tombstones: AtomicU64,
}

/// Counts of one transaction, added to [`Counters`] only once it committed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub folded: u64,
    pub refused: u64,
    pub after_forget: u64,
    pub contributions_removed: u64,
    pub aggregates_removed: u64,
    pub tombstones_removed: u64,
}

impl Counters {
    pub fn add(&self, t: &Tally) {
        self.folded.fetch_add(t.folded, Ordering::Relaxed);
        self.refused.fetch_add(t.refused, Ordering::Relaxed);
        self.after_forget.fetch_add(t.after_forget, Ordering::Relaxed);
        self.removed_aggregates
            .fetch_add(t.aggregates_removed, Ordering::Relaxed);
        self.pruned_tombstones
            .fetch_add(t.tombstones_removed, Ordering::Relaxed);
    }

    /// Prometheus text, appended to `/metrics`.
    pub fn render(&self, out: &mut String) {
        let series = [
            (
                "hashward_telem_snapshots_folded_total",
                "Tuning snapshots folded into the aggregates.",
                &self.folded,
            ),
            (
                "hashward_telem_snapshots_refused_total",
                "Tuning snapshots refused as not a measurement.",
                &self.refused,
            ),
            (
                "hashward_telem_snapshots_after_forget_total",
                "Tuning snapshots refused because their telemetry id was forgotten.",
                &self.after_forget,
            ),
            (
                "hashward_telem_contributions_forgotten_total",
                "Contributions removed by DELETE /telem/my-data.",
                &self.forgotten,
            ),
            (
                "hashward_telem_forget_refused_total",
                "DELETE /telem/my-data requests refused (missing, malformed or unknown id).",
                &self.forget_refused,
            ),
            (
                "hashward_telem_contributions_pruned_total",
                "Contributions removed after 90 days.",
                &self.pruned_contributions,
            ),
            (
                "hashward_telem_aggregates_removed_total",
                "Aggregates removed with their last contribution.",
                &self.removed_aggregates,
            ),
            (
                "hashward_telem_tombstones_pruned_total",
                "Forgotten-id tombstones removed after 90 days.",
                &self.pruned_tombstones,
            ),
        ];
        for (name, help, v) in series {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
}

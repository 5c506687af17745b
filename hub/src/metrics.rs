//! Hub counters, rendered in the Prometheus text format on `/metrics`.
//! Counters only go up; gauges (rigs online, gaps, store size) are computed at render time.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub messages_in: AtomicU64,
    pub decode_errors: AtomicU64,
    /// Envelopes whose rig or kind disagrees with their topic (a rig writing as another).
    pub mismatched: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub state_messages: AtomicU64,
    pub store_errors: AtomicU64,
    pub summaries_published: AtomicU64,
    /// Notifications per receiver (`crate::alerts`).
    pub notify: crate::alerts::metrics::NotifyMetrics,
}

/// Values computed from the store when `/metrics` is read.
pub struct Gauges {
    pub rigs_total: u64,
    pub rigs_online: u64,
    pub gaps: u64,
    pub store_bytes: u64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        };
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        metric(
            "hashward_hub_messages_in_total",
            "counter",
            "MQTT messages received on agent topics.",
            c(&self.messages_in),
        );
        metric(
            "hashward_hub_decode_errors_total",
            "counter",
            "Payloads or topics that did not decode; skipped.",
            c(&self.decode_errors),
        );
        metric(
            "hashward_hub_mismatched_total",
            "counter",
            "Envelopes whose rig or kind disagrees with the topic; skipped.",
            c(&self.mismatched),
        );
        metric(
            "hashward_hub_records_stored_total",
            "counter",
            "Sequenced records stored.",
            c(&self.stored),
        );
        metric(
            "hashward_hub_duplicates_total",
            "counter",
            "Records received again after being stored; dropped.",
            c(&self.duplicates),
        );
        metric(
            "hashward_hub_state_messages_total",
            "counter",
            "Birth and last-will messages.",
            c(&self.state_messages),
        );
        metric(
            "hashward_hub_store_errors_total",
            "counter",
            "Store write failures (the batch is redelivered).",
            c(&self.store_errors),
        );
        metric(
            "hashward_hub_summaries_published_total",
            "counter",
            "JSON dashboard summaries published.",
            c(&self.summaries_published),
        );
        metric(
            "hashward_hub_gaps",
            "gauge",
            "Sequence numbers missing between each rig's first and last record.",
            g.gaps,
        );
        metric(
            "hashward_hub_rigs",
            "gauge",
            "Rigs known to the hub.",
            g.rigs_total,
        );
        metric(
            "hashward_hub_rigs_online",
            "gauge",
            "Rigs whose last state is online.",
            g.rigs_online,
        );
        metric(
            "hashward_hub_store_bytes",
            "gauge",
            "Size of the hub store file.",
            g.store_bytes,
        );
        self.notify.render(&mut out);
        out
    }
}

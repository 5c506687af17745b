//! Hub counters, rendered in the Prometheus text format on `/metrics`.
//! Counters only go up; gauges (rigs online, gaps, store size) are computed at render time.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// The broker acknowledged the ingest's subscription on the current connection: records
    /// published from now on reach the hub (before it, a broker without a session for the hub
    /// drops them). `/health` reports it, so a publisher can wait for it.
    pub ingest_subscribed: AtomicBool,
    /// From a record's `ts_ms` (the agent's sample time) to the hub's commit of it: clock skew
    /// between rig and hub shows here, and so does a backlog replayed after an outage.
    pub ingest_lag: Histogram,
    /// Series other parts of the hub append (the collectors).
    pub sections: Sections,
    /// Score API requests refused as bad input (422: a bad date, limit or offset; 404: an unknown
    /// network).
    pub score_api_bad_requests: AtomicU64,
    pub score_batches_completed: AtomicU64,
    pub score_batches_failed: AtomicU64,
    /// Signed commands the hub itself published (dashboard actions, Home Assistant controls).
    pub commands_sent: AtomicU64,
    /// Home Assistant or dashboard commands refused (bad topic or payload, unknown rig, no key).
    pub commands_refused: AtomicU64,
    pub ha_discovery_published: AtomicU64,
    /// Notifications per receiver (`crate::alerts`).
    pub notify: crate::alerts::metrics::NotifyMetrics,
    /// Dashboard summaries the MQTT client's queue refused (tried again next tick).
    pub summaries_dropped: AtomicU64,
}

/// Renderers other parts of the hub register, each appending its own series to `/metrics`.
#[derive(Default)]
pub struct Sections(std::sync::Mutex<Vec<Section>>);

type Section = std::sync::Arc<dyn Fn(&mut String) + Send + Sync>;

impl Sections {
    pub fn add(&self, render: impl Fn(&mut String) + Send + Sync + 'static) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(std::sync::Arc::new(render));
    }

    fn render(&self, out: &mut String) {
        let sections = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for s in sections {
            s(out);
        }
    }
}

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sections")
    }
}

/// Upper bounds of the ingest-lag buckets, in milliseconds.
const LAG_BUCKETS_MS: [u64; 14] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000,
];

/// A Prometheus histogram with fixed millisecond buckets, lock-free to observe.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket (not cumulative), the last one being +Inf.
    counts: [AtomicU64; LAG_BUCKETS_MS.len() + 1],
    sum_ms: AtomicU64,
}

impl Histogram {
    pub fn observe_ms(&self, ms: u64) {
        let i = LAG_BUCKETS_MS
            .iter()
            .position(|&le| ms <= le)
            .unwrap_or(LAG_BUCKETS_MS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            match LAG_BUCKETS_MS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let _ = writeln!(out, "{name}_sum {}", self.sum_ms.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
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
            "hashward_hub_summaries_dropped_total",
            "counter",
            "JSON dashboard summaries the MQTT client's queue refused (retried next tick).",
            c(&self.summaries_dropped),
        );
        metric(
            "hashward_hub_ingest_subscribed",
            "gauge",
            "1 while the broker has acknowledged the ingest's subscription, else 0.",
            u64::from(self.ingest_subscribed.load(Ordering::Relaxed)),
        );
        metric(
            "hashward_hub_score_api_bad_requests_total",
            "counter",
            "Score API requests refused: bad date, limit or offset (422), unknown network (404).",
            c(&self.score_api_bad_requests),
        );
        metric(
            "hashward_hub_score_batches_completed_total",
            "counter",
            "Daily score batches (per network) COMPLETED by the batch service.",
            c(&self.score_batches_completed),
        );
        metric(
            "hashward_hub_score_batches_failed_total",
            "counter",
            "Daily score batches (per network) that FAILED in the batch service.",
            c(&self.score_batches_failed),
        );
        metric(
            "hashward_hub_commands_sent_total",
            "counter",
            "Signed commands published by the hub (dashboard actions, Home Assistant).",
            c(&self.commands_sent),
        );
        metric(
            "hashward_hub_commands_refused_total",
            "counter",
            "Dashboard or Home Assistant commands refused.",
            c(&self.commands_refused),
        );
        metric(
            "hashward_hub_ha_discovery_published_total",
            "counter",
            "Home Assistant discovery messages published.",
            c(&self.ha_discovery_published),
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
        self.ingest_lag.render(
            "hashward_hub_ingest_lag_ms",
            "Milliseconds from a record's sample time to its commit in the hub's store.",
            &mut out,
        );
        self.sections.render(&mut out);
        self.notify.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_histogram_is_cumulative_with_an_inf_bucket() {
        let m = Metrics::default();
        for ms in [3, 5, 6, 400, 1_000_000] {
            m.ingest_lag.observe_ms(ms);
        }
        let text = m.render(&Gauges {
            rigs_total: 0,
            rigs_online: 0,
            gaps: 0,
            store_bytes: 0,
        });
        let bucket = |le: &str| -> Option<u64> {
            text.lines().find_map(|l| {
                l.strip_prefix(&format!("hashward_hub_ingest_lag_ms_bucket{{le=\"{le}\"}} "))?
                    .parse()
                    .ok()
            })
        };
        // 3 and 5 are <= 5 (le is inclusive), 6 falls in le=10, 400 in le=500, 1e6 only in +Inf.
        assert_eq!(bucket("5"), Some(2));
        assert_eq!(bucket("10"), Some(3));
        assert_eq!(bucket("250"), Some(3));
        assert_eq!(bucket("500"), Some(4));
        assert_eq!(bucket("300000"), Some(4));
        assert_eq!(bucket("+Inf"), Some(5));
        assert!(text.contains("hashward_hub_ingest_lag_ms_count 5\n"));
        assert!(text.contains("hashward_hub_ingest_lag_ms_sum 1000414\n"));
    }
}

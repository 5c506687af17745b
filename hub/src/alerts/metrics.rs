//! Per-receiver notification counters for `/metrics`: sent and failed (counters, since start)
//! and queued (a gauge the delivery loop refreshes from the outbox).
//!
//! Must never label a series with anything but the receiver's configured name.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverCounts {
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
    pub queued: u64,
}

/// (name, type, help, value).
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ReceiverCounts) -> u64,
);

#[derive(Debug, Default)]
pub struct NotifyMetrics {
    per: Mutex<BTreeMap<String, ReceiverCounts>>,
}

impl NotifyMetrics {
    fn with(&self, receiver: &str, f: impl FnOnce(&mut ReceiverCounts)) {
        // A poisoned lock only means a panic elsewhere mid-update; the counts are still usable.
        let mut m = self.per.lock().unwrap_or_else(|e| e.into_inner());
        f(m.entry(receiver.to_string()).or_default());
    }

    /// Every configured receiver shows, at 0, before its first message.
    pub fn register(&self, receiver: &str) {
        self.with(receiver, |_| {});
    }
    pub fn sent(&self, receiver: &str) {
        self.with(receiver, |c| c.sent += 1);
    }
    pub fn failed(&self, receiver: &str) {
        self.with(receiver, |c| c.failed += 1);
    }
    pub fn retried(&self, receiver: &str) {
        self.with(receiver, |c| c.retried += 1);
    }
    pub fn set_queued(&self, counts: &BTreeMap<String, u64>) {
        let mut m = self.per.lock().unwrap_or_else(|e| e.into_inner());
        for (r, c) in m.iter_mut() {
            c.queued = counts.get(r).copied().unwrap_or(0);
        }
    }

    pub fn get(&self, receiver: &str) -> ReceiverCounts {
        let m = self.per.lock().unwrap_or_else(|e| e.into_inner());
        m.get(receiver).copied().unwrap_or_default()
    }

    pub fn render(&self, out: &mut String) {
        let m = self.per.lock().unwrap_or_else(|e| e.into_inner());
        let series: [Series; 4] = [
            (
                "hashward_hub_notifications_sent_total",
                "counter",
                "Notifications delivered, per receiver.",
                |c| c.sent,
            ),
            (
                "hashward_hub_notifications_failed_total",
                "counter",
                "Notifications given up (refused, or failing past give_up_after_ms), per receiver.",
                |c| c.failed,
            ),
            (
                "hashward_hub_notifications_retried_total",
                "counter",
                "Delivery attempts that failed transiently and will be retried, per receiver.",
                |c| c.retried,
            ),
            (
                "hashward_hub_notifications_queued",
                "gauge",
                "Notifications waiting in the outbox, per receiver.",
                |c| c.queued,
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
            for (r, c) in m.iter() {
                let _ = writeln!(out, "{name}{{receiver=\"{r}\"}} {}", value(c));
            }
        }
    }
}

//! Per-pool counters of the Stratum client.
//!
//! What it is for: accepted shares, rejections by reason, shares dropped locally as stale,
//! current difficulty, submit latency, last share time, and counts of bad input from each
//! pool, readable at any time as a snapshot (for the agent's telemetry).
//! What it must never do: block for longer than a counter update, do I/O, or panic (a
//! poisoned lock is recovered, counters are plain data).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// Why a pool rejected a share, from the Stratum error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// 20: other/unknown.
    Other,
    /// 21: job not found (stale).
    JobNotFound,
    /// 22: duplicate share.
    Duplicate,
    /// 23: low difficulty share.
    LowDifficulty,
    /// 24: unauthorized worker.
    Unauthorized,
    /// 25: not subscribed.
    NotSubscribed,
    /// Any other code the pool used (or `false` without an error).
    Unknown(i64),
}

impl RejectReason {
    pub fn from_code(code: i64) -> RejectReason {
        match code {
            20 => RejectReason::Other,
            21 => RejectReason::JobNotFound,
            22 => RejectReason::Duplicate,
            23 => RejectReason::LowDifficulty,
            24 => RejectReason::Unauthorized,
            25 => RejectReason::NotSubscribed,
            other => RejectReason::Unknown(other),
        }
    }
}

/// Rejected shares by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectCounts {
    pub other: u64,
    pub job_not_found: u64,
    pub duplicate: u64,
    pub low_difficulty: u64,
    pub unauthorized: u64,
    pub not_subscribed: u64,
    pub unknown: u64,
}

impl RejectCounts {
    pub fn total(&self) -> u64 {
        self.other
            + self.job_not_found
            + self.duplicate
            + self.low_difficulty
            + self.unauthorized
            + self.not_subscribed
            + self.unknown
    }

    pub fn add(&mut self, reason: RejectReason) {
        let c = match reason {
            RejectReason::Other => &mut self.other,
            RejectReason::JobNotFound => &mut self.job_not_found,
            RejectReason::Duplicate => &mut self.duplicate,
            RejectReason::LowDifficulty => &mut self.low_difficulty,
            RejectReason::Unauthorized => &mut self.unauthorized,
            RejectReason::NotSubscribed => &mut self.not_subscribed,
            RejectReason::Unknown(_) => &mut self.unknown,
        };
        *c += 1;
    }
}

/// Counters for one pool (index = position in the configured pool list).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolStats {
    pub url: String,
    pub connected: bool,
    /// Successful handshakes (subscribe + authorize).
    pub connects: u64,
    /// Failed connection attempts (connect, TLS or handshake).
    pub connect_failures: u64,
    pub disconnects: u64,
    pub accepted: u64,
    pub rejected: RejectCounts,
    /// Shares the client dropped without sending: their job was cleaned, or their
    /// connection/pool is gone.
    pub stale_dropped: u64,
    /// Shares the client dropped as unusable (e.g. version bits without a granted mask).
    pub invalid_dropped: u64,
    /// Submitted shares that got no answer (timeout or connection lost).
    pub unanswered: u64,
    /// Current pool difficulty (last `mining.set_difficulty`).
    pub difficulty: Option<f64>,
    /// BIP310 version-rolling mask granted on the current connection.
    pub version_mask: Option<u32>,
    pub last_share_time: Option<SystemTime>,
    pub last_submit_latency: Option<Duration>,
    pub max_submit_latency: Option<Duration>,
    /// Sum of latencies of answered submits (mean = sum / answered).
    pub total_submit_latency: Duration,
    pub answered_submits: u64,
    /// Lines that were not valid JSON-RPC or had wrong types/values.
    pub malformed_lines: u64,
    /// Lines longer than the limit (skipped unparsed).
    pub oversized_lines: u64,
    /// Calls with a method the client does not know.
    pub unknown_methods: u64,
}

impl PoolStats {
    /// Mean submit latency over answered submits.
    pub fn mean_submit_latency(&self) -> Option<Duration> {
        let n = u32::try_from(self.answered_submits).ok().filter(|n| *n > 0)?;
        Some(self.total_submit_latency / n)
    }

    pub(crate) fn record_latency(&mut self, latency: Duration) {
        self.last_submit_latency = Some(latency);
        self.max_submit_latency = Some(self.max_submit_latency.map_or(latency, |m| m.max(latency)));
        self.total_submit_latency = self.total_submit_latency.saturating_add(latency);
        self.answered_submits += 1;
    }
}

/// Shared, cheaply clonable view of all pools' counters.
#[derive(Debug, Clone)]
pub struct StatsHandle {
    inner: Arc<Mutex<Vec<PoolStats>>>,
}

impl StatsHandle {
    pub fn new(urls: &[String]) -> StatsHandle {
        let v = urls
            .iter()
            .map(|u| PoolStats {
                url: u.clone(),
                ..PoolStats::default()
            })
            .collect();
        StatsHandle {
            inner: Arc::new(Mutex::new(v)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<PoolStats>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copy of every pool's counters, in configured order.
    pub fn snapshot(&self) -> Vec<PoolStats> {
        self.lock().clone()
    }

    /// Copy of one pool's counters.
    pub fn pool(&self, pool: usize) -> Option<PoolStats> {
        self.lock().get(pool).cloned()
    }

    /// Apply `f` to one pool's counters (no-op for an unknown index).
    pub fn update(&self, pool: usize, f: impl FnOnce(&mut PoolStats)) {
        if let Some(s) = self.lock().get_mut(pool) {
            f(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_codes_map_to_reasons() {
        let mut c = RejectCounts::default();
        for code in [20, 21, 21, 22, 23, 24, 25, -1, 99] {
            c.add(RejectReason::from_code(code));
        }
        assert_eq!(
            c,
            RejectCounts {
                other: 1,
                job_not_found: 2,
                duplicate: 1,
                low_difficulty: 1,
                unauthorized: 1,
                not_subscribed: 1,
                unknown: 2
            }
        );
        assert_eq!(c.total(), 9);
    }

    #[test]
    fn latency_and_snapshot() {
        let h = StatsHandle::new(&["a".into(), "b".into()]);
        h.update(1, |s| {
            s.record_latency(Duration::from_millis(10));
            s.record_latency(Duration::from_millis(30));
        });
        h.update(7, |s| s.accepted += 1); // unknown pool: ignored
        let snap = h.snapshot();
        assert_eq!(snap.len(), 2);
        assert_eq!(snap[1].mean_submit_latency(), Some(Duration::from_millis(20)));
        assert_eq!(snap[1].max_submit_latency, Some(Duration::from_millis(30)));
        assert_eq!(snap[0].mean_submit_latency(), None);
        assert_eq!(h.pool(0).map(|s| s.url), Some("a".to_string()));
    }
}

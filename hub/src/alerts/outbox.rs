//! The durable outbox's pure side: an entry (one message to one receiver) and what happens to
//! it after an attempt (sent, refused for good, or tried again after a backoff), and the
//! per-receiver rate limit. The delivery loop (`deliver`) does the I/O; the store keeps the
//! entries, so a message queued before a restart is sent after it.
//!
//! Must never retry a permanent refusal, nor give up on a transient failure before
//! `give_up_after_ms`.

use super::config::DeliveryConfig;
use super::model::Notification;
use super::receivers::SendError;
use hashward_common::Backoff;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Queued,
    Sent,
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: u64,
    pub receiver: String,
    pub notification: Notification,
    pub status: OutboxStatus,
    pub queued_ms: u64,
    pub attempts: u32,
    pub next_attempt_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_ms: Option<u64>,
}

impl OutboxEntry {
    pub fn new(id: u64, receiver: String, notification: Notification, now: u64) -> OutboxEntry {
        OutboxEntry {
            id,
            receiver,
            notification,
            status: OutboxStatus::Queued,
            queued_ms: now,
            attempts: 0,
            next_attempt_ms: now,
            last_error: None,
            done_ms: None,
        }
    }

    /// The entry after an attempt at `now` ended with `result`. `jitter` in [0, 1] spreads the
    /// retries of many entries.
    pub fn after_attempt(
        mut self,
        result: Result<(), SendError>,
        now: u64,
        policy: &DeliveryConfig,
        jitter: f64,
    ) -> OutboxEntry {
        self.attempts = self.attempts.saturating_add(1);
        match result {
            Ok(()) => {
                self.status = OutboxStatus::Sent;
                self.done_ms = Some(now);
            }
            Err(e) => {
                let permanent = e.is_permanent();
                self.last_error = Some(e.to_string());
                if permanent || now.saturating_sub(self.queued_ms) >= policy.give_up_after_ms {
                    self.status = OutboxStatus::Failed;
                    self.done_ms = Some(now);
                } else {
                    let b = Backoff::new(
                        Duration::from_millis(policy.retry_min_ms),
                        Duration::from_millis(policy.retry_max_ms),
                    );
                    let ceiling = b.ceiling(self.attempts.saturating_sub(1)).as_millis() as u64;
                    let lo = policy.retry_min_ms.min(ceiling);
                    let delay = lo + ((ceiling - lo) as f64 * jitter.clamp(0.0, 1.0)) as u64;
                    self.next_attempt_ms = now.saturating_add(delay);
                }
            }
        }
        self
    }
}

/// At most `per_min` sends in any 60 s window (0: no limit).
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_min: u32,
    sent: VecDeque<u64>,
}

impl RateLimit {
    pub fn new(per_min: u32) -> RateLimit {
        RateLimit {
            per_min,
            sent: VecDeque::new(),
        }
    }

    /// Whether no send may go at `now` (the window is full).
    pub fn is_full(&mut self, now: u64) -> bool {
        if self.per_min == 0 {
            return false;
        }
        while self
            .sent
            .front()
            .is_some_and(|&t| t.saturating_add(60_000) <= now)
        {
            self.sent.pop_front();
        }
        self.sent.len() >= self.per_min as usize
    }

    /// Whether a send may go at `now`; if so, it is counted.
    pub fn try_take(&mut self, now: u64) -> bool {
        if self.per_min == 0 {
            return true;
        }
        if !self.is_full(now) {
            self.sent.push_back(now);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::model::Level;

    fn entry() -> OutboxEntry {
        let n = Notification {
            status: "firing".into(),
            level: Level::Critical,
            group: "g".into(),
            title: "t".into(),
            text: "x".into(),
            alerts: vec![],
            created_ms: 0,
        };
        OutboxEntry::new(1, "mail".into(), n, 1000)
    }

    fn policy() -> DeliveryConfig {
        DeliveryConfig {
            retry_min_ms: 100,
            retry_max_ms: 1000,
            give_up_after_ms: 10_000,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn transient_failures_back_off_until_given_up_and_permanent_ones_stop_at_once() {
        let down = || Err(SendError::Transient("connection refused".into()));
        let e = entry().after_attempt(down(), 1000, &policy(), 1.0);
        assert_eq!((e.status, e.next_attempt_ms), (OutboxStatus::Queued, 1100));
        let e = e.after_attempt(down(), 1100, &policy(), 1.0);
        assert_eq!(e.next_attempt_ms, 1100 + 200);
        let mut e = e;
        for _ in 0..10 {
            e = e.after_attempt(down(), 2000, &policy(), 1.0);
        }
        assert_eq!(e.next_attempt_ms, 3000, "capped at retry_max_ms");
        assert_eq!(e.status, OutboxStatus::Queued);
        let e = e.after_attempt(down(), 11_000, &policy(), 0.0);
        assert_eq!(e.status, OutboxStatus::Failed);

        let e = entry().after_attempt(Err(SendError::Permanent("HTTP 403".into())), 1000, &policy(), 0.5);
        assert_eq!((e.status, e.attempts), (OutboxStatus::Failed, 1));
        assert_eq!(e.last_error.as_deref(), Some("refused: HTTP 403"));
        let e = entry().after_attempt(Ok(()), 1500, &policy(), 0.5);
        assert_eq!((e.status, e.done_ms), (OutboxStatus::Sent, Some(1500)));
    }

    #[test]
    fn the_rate_limit_is_a_sliding_minute() {
        let mut r = RateLimit::new(2);
        assert!(r.try_take(0) && !r.is_full(5) && r.try_take(10));
        assert!(r.is_full(59_999) && !r.try_take(59_999));
        assert!(r.try_take(60_000));
        assert!(!r.try_take(60_005));
        assert!(r.try_take(60_010));
        let mut free = RateLimit::new(0);
        assert!((0..1000).all(|i| free.try_take(i)) && !free.is_full(1000));
    }
}

//! The outbox's delivery loop: sends queued notifications whose time has come, each on a
//! blocking thread with a timeout, within each receiver's rate limit, and records the outcome
//! (sent, failed for good, or retried after a backoff) in the store. Woken when the engine
//! queues something; otherwise it polls every `tick_ms` (at most 1 s).
//!
//! Must never mark an entry sent before the receiver accepted it, or log a secret (receivers
//! redact their own errors).

use super::config::NotifyConfig;
use super::outbox::{OutboxEntry, OutboxStatus, RateLimit};
use super::receivers::{Receiver, SendError};
use crate::metrics::Metrics;
use crate::store::Store;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The configured receivers by name, each with its rate limit.
pub struct Receivers {
    pub by_name: BTreeMap<String, (Receiver, u32)>,
}

impl Receivers {
    /// Builds every receiver of `cfg` (validated before, so this does not fail in practice).
    pub fn build(cfg: &NotifyConfig) -> Result<Receivers, super::config::NotifyConfigError> {
        let mut by_name = BTreeMap::new();
        for (i, r) in cfg.receivers.iter().enumerate() {
            by_name.insert(r.name.clone(), (Receiver::build(i, r)?, r.rate_limit_per_min));
        }
        Ok(Receivers { by_name })
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }
}

/// One attempt at `e`.
async fn attempt(receivers: &Arc<Receivers>, e: &OutboxEntry, timeout: Duration) -> Result<(), SendError> {
    let Some((r, _)) = receivers.by_name.get(&e.receiver) else {
        return Err(SendError::Permanent(format!(
            "no receiver named {:?} is configured (any more)",
            e.receiver
        )));
    };
    let (r, name, n) = (r.clone(), e.receiver.clone(), e.notification.clone());
    tokio::task::spawn_blocking(move || r.send(&name, &n, timeout))
        .await
        .unwrap_or_else(|e| Err(SendError::Transient(format!("delivery task: {e}"))))
}

async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| format!("outbox store task: {e}"))?
        .map_err(|e| format!("outbox: {e}"))
}

/// Runs until `stop` turns true.
pub async fn run(
    cfg: Arc<NotifyConfig>,
    receivers: Arc<Receivers>,
    store: Arc<Store>,
    all_metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let metrics = &all_metrics.notify;
    let mut limits: BTreeMap<String, RateLimit> = receivers
        .by_name
        .iter()
        .map(|(n, (_, per_min))| (n.clone(), RateLimit::new(*per_min)))
        .collect();
    for n in receivers.by_name.keys() {
        metrics.register(n);
    }
    let poll = Duration::from_millis(cfg.tick_ms.clamp(10, 1000));
    let timeout = Duration::from_millis(cfg.delivery.timeout_ms.max(1));
    let mut last_prune = 0u64;
    loop {
        let now = hashward_common::now_ms();
        let limited: std::collections::BTreeSet<String> = limits
            .iter_mut()
            .filter_map(|(name, l)| l.is_full(now).then(|| name.clone()))
            .collect();
        let due = blocking(&store, move |s| s.outbox_due(now, 64, &limited)).await?;
        for e in due {
            if *stop.borrow() {
                break;
            }
            if let Some(limit) = limits.get_mut(&e.receiver) {
                if !limit.try_take(hashward_common::now_ms()) {
                    continue;
                }
            }
            let result = attempt(&receivers, &e, timeout).await;
            let jitter = rand::thread_rng().gen_range(0.0..=1.0);
            let after = e.after_attempt(result, hashward_common::now_ms(), &cfg.delivery, jitter);
            match after.status {
                OutboxStatus::Sent => {
                    metrics.sent(&after.receiver);
                    log::info!(
                        "notification {} ({}) sent to {} after {} attempt(s)",
                        after.id,
                        after.notification.status,
                        after.receiver,
                        after.attempts
                    );
                }
                OutboxStatus::Failed => {
                    metrics.failed(&after.receiver);
                    log::error!(
                        "notification {} to {} failed for good after {} attempt(s): {}",
                        after.id,
                        after.receiver,
                        after.attempts,
                        after.last_error.as_deref().unwrap_or("")
                    );
                }
                OutboxStatus::Queued => {
                    metrics.retried(&after.receiver);
                    log::warn!(
                        "notification {} to {} not delivered (attempt {}): {}; retrying in {} ms",
                        after.id,
                        after.receiver,
                        after.attempts,
                        after.last_error.as_deref().unwrap_or(""),
                        after.next_attempt_ms.saturating_sub(hashward_common::now_ms())
                    );
                }
            }
            blocking(&store, move |s| s.outbox_update(&after)).await?;
        }
        let counts = blocking(&store, |s| s.outbox_queued_counts()).await?;
        metrics.set_queued(&counts);
        let now = hashward_common::now_ms();
        if now.saturating_sub(last_prune) >= 60_000 {
            last_prune = now;
            let before = now.saturating_sub(cfg.retention_ms);
            blocking(&store, move |s| s.outbox_prune(before)).await?;
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = async { stop.wait_for(|s| *s).await.ok(); } => return Ok(()),
        }
    }
}

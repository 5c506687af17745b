//! One batch of received messages into the store, whatever carried them (MQTT from a broker,
//! or a JetStream consumer on NATS): decode, store in one commit, count each outcome, tell the
//! alert feed what is new. The caller acknowledges the batch to its broker only on `Ok`.
//!
//! Must never: report a batch committed that is not, or fail a batch over bad input (bad
//! messages are counted and skipped, and acknowledged with the rest, so they are not
//! redelivered forever).

use super::decode::{self, classify};
use crate::metrics::Metrics;
use crate::store::{FleetStore, Incoming, Outcome};
use std::sync::Arc;

/// The batch is not in the store; the caller must leave it unacknowledged (redelivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotCommitted;

/// Decodes and stores `received` (topic in MQTT form, payload) as one commit.
pub async fn commit(
    received: Vec<(String, bytes::Bytes)>,
    store: &Arc<dyn FleetStore>,
    metrics: &Metrics,
    alerts: Option<&crate::alerts::AlertSink>,
) -> Result<(), NotCommitted> {
    let now = hashward_common::now_ms();
    let mut batch = Vec::with_capacity(received.len());
    let mut pushes = Vec::new();
    for (topic, payload) in &received {
        Metrics::inc(&metrics.messages_in);
        match classify(topic, payload) {
            Ok(Some((site, envelope))) => batch.push(Incoming {
                site,
                envelope,
                bytes: payload.to_vec(),
                received_ms: now,
            }),
            Ok(None) => match decode::config_push(topic, payload) {
                Ok(Some(push)) => pushes.push(push),
                Ok(None) => {}
                Err(e) => {
                    Metrics::inc(&metrics.mismatched);
                    log::warn!("config topic {topic}: {e}");
                }
            },
            Err(e) => {
                if e.is_mismatch() {
                    Metrics::inc(&metrics.mismatched);
                } else {
                    Metrics::inc(&metrics.decode_errors);
                }
                log::warn!("skipped message: {e}");
            }
        }
    }
    let sampled_ms: Vec<u64> = batch.iter().map(|m| m.envelope.ts_ms).collect();
    let store2 = store.clone();
    let result = tokio::task::spawn_blocking(move || {
        for (scope, push) in &pushes {
            store2.record_push(scope, push.as_ref())?;
        }
        store2.ingest(&batch).map(|o| (o, batch))
    })
    .await;
    match result {
        Ok(Ok((outcomes, batch))) => {
            if let Some(sink) = alerts {
                // Only what is new: a redelivered duplicate must not count an alert again.
                for (m, o) in batch.iter().zip(&outcomes) {
                    if *o != Outcome::Duplicate {
                        sink.observe(&m.site, &m.envelope);
                    }
                }
            }
            let committed_ms = hashward_common::now_ms();
            for (o, sampled) in outcomes.into_iter().zip(sampled_ms) {
                match o {
                    Outcome::Stored => {
                        Metrics::inc(&metrics.stored);
                        metrics
                            .ingest_lag
                            .observe_ms(committed_ms.saturating_sub(sampled));
                    }
                    Outcome::Duplicate => Metrics::inc(&metrics.duplicates),
                    Outcome::State => Metrics::inc(&metrics.state_messages),
                }
            }
            Ok(())
        }
        Ok(Err(e)) => {
            Metrics::inc(&metrics.store_errors);
            log::error!("store write failed, batch left unacknowledged: {e}");
            Err(NotCommitted)
        }
        Err(e) => {
            Metrics::inc(&metrics.store_errors);
            log::error!("store task failed, batch left unacknowledged: {e}");
            Err(NotCommitted)
        }
    }
}

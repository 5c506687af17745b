//! Alerts that reach a person (issue 23, seed 002 §8.4): one alert model for every source,
//! routed to receivers (webhook, e-mail, Telegram, ntfy) with grouping, silences, inhibition,
//! grace periods, escalation, and a durable outbox.
//!
//! **The entry point for every source is [`AlertSink`]** (cheap to clone, never blocks):
//! `sink.raise(AlertEvent { kind, level, source, subject, message, hold_ms, auto_resolve_ms })`
//! reports a problem (the same kind and subject again is the same alert, counted);
//! `sink.resolve(AlertKey::new(kind, &subject))` ends it. A collector reporting an outage
//! raises `kind: "source_down"` with `subject.pool` or `subject.site` set, and resolves it when
//! the source answers again (`source_outages` does this for every collector, from the collectors'
//! registry, after a 10-minute grace). The ingest feeds it the agents' anomaly alerts, rig offline / back
//! online (with a grace period), config push rejections, and the hub decides `site_offline`.
//!
//! Layout: `model` (the data) <- `config` (`[notify]`), `engine` (+ `engine_flush`: the pure
//! state machine), `feed` (envelopes -> raise/resolve, pure), `outbox` (retry and rate-limit
//! decisions, pure), `receivers` (one file per channel, blocking I/O) <- `service` (the
//! engine's loop: commands, ticks, persistence), `deliver` (the outbox's loop) <- this file.
//! The API is `crate::api::alerts`; the tables are `crate::store::alerts`.
//!
//! Must never: lose a queued notification (it is in redb before anyone is told it was sent),
//! retry a permanent refusal forever, or let a secret reach a log line or the API.

pub mod config;
pub mod deliver;
pub mod engine;
pub mod feed;
pub mod metrics;
pub mod model;
pub mod outbox;
pub mod receivers;
pub mod service;
pub mod source_outages;

pub use config::NotifyConfig;
pub use engine::EngineError;
pub use model::{Alert, AlertEvent, AlertKey, AlertState, Level, Matchers, Silence, Subject};

use config::SourcesConfig;
use feed::Op;
use hashward_protocol::{Envelope, SiteId};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What the engine's loop is asked to do.
pub(crate) enum Command {
    Op(Op),
    Ack {
        id: u64,
        by: String,
        reply: oneshot::Sender<Result<Alert, EngineError>>,
    },
    Silence {
        matchers: Matchers,
        window: (u64, u64),
        created_by: String,
        comment: String,
        reply: oneshot::Sender<Result<Silence, EngineError>>,
    },
    Expire {
        id: u64,
        reply: oneshot::Sender<Result<Silence, EngineError>>,
    },
    Test {
        receiver: String,
        reply: oneshot::Sender<()>,
    },
}

/// The handle every alert source holds. Sending never blocks; after the hub has stopped,
/// what is sent is dropped (and logged at debug).
#[derive(Clone)]
pub struct AlertSink {
    tx: mpsc::UnboundedSender<Command>,
    sources: Arc<SourcesConfig>,
}

impl std::fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertSink")
    }
}

/// The engine stopped (the hub is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the alert engine is not running")]
pub struct Stopped;

impl AlertSink {
    pub(crate) fn new(sources: SourcesConfig) -> (AlertSink, mpsc::UnboundedReceiver<Command>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            AlertSink {
                tx,
                sources: Arc::new(sources),
            },
            rx,
        )
    }

    fn send(&self, c: Command) {
        if self.tx.send(c).is_err() {
            log::debug!("alert engine stopped; an alert operation was dropped");
        }
    }

    /// Reports a problem (or one more occurrence of it).
    pub fn raise(&self, ev: AlertEvent) {
        self.send(Command::Op(Op::Raise(ev)));
    }

    /// The problem `key` names is over.
    pub fn resolve(&self, key: AlertKey) {
        self.send(Command::Op(Op::Resolve(key)));
    }

    /// A new (not duplicate) envelope the ingest stored.
    pub fn observe(&self, site: &SiteId, env: &Envelope) {
        for op in feed::ops(site, env, &self.sources) {
            self.send(Command::Op(op));
        }
    }

    pub async fn ack(&self, id: u64, by: String) -> Result<Result<Alert, EngineError>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Ack { id, by, reply });
        rx.await.map_err(|_| Stopped)
    }

    pub async fn silence(
        &self,
        matchers: Matchers,
        window: (u64, u64),
        created_by: String,
        comment: String,
    ) -> Result<Result<Silence, EngineError>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Silence {
            matchers,
            window,
            created_by,
            comment,
            reply,
        });
        rx.await.map_err(|_| Stopped)
    }

    pub async fn expire_silence(&self, id: u64) -> Result<Result<Silence, EngineError>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Expire { id, reply });
        rx.await.map_err(|_| Stopped)
    }

    /// Queues a test message to `receiver` (which the caller checked exists).
    pub async fn test(&self, receiver: String) -> Result<(), Stopped> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Test { receiver, reply });
        rx.await.map_err(|_| Stopped)
    }
}

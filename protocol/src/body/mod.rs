//! The message bodies an [`crate::Envelope`] carries.
//!
//! Append-only: never reorder or change a released variant or field (postcard is positional).
//! A new kind of message is a new variant at the end of [`Body`] and a bump of [`crate::SCHEMA`].

mod ack;
mod advice;
mod alert;
mod asic;
mod depin;
mod rig;
mod telem;
mod tuning;

pub use ack::*;
pub use advice::*;
pub use alert::*;
pub use asic::*;
pub use depin::*;
pub use rig::*;
pub use telem::*;
pub use tuning::*;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// Birth (online, with hardware and capabilities) or last will (offline). Retained, unsequenced.
    State(RigState),
    /// Host and CPU-miner telemetry.
    Tele(RigTelemetry),
    /// One ASIC miner's normalised telemetry.
    Asic(AsicTelemetry),
    /// Anonymised tuning snapshot (docs/ARCHITECTURE.md#thresholds-hints).
    Perf(TuningSnapshot),
    /// Anomaly alert (threat type, severity: docs/ARCHITECTURE.md#thresholds-alerts).
    Alert(Alert),
    /// Outcome of a config push or command.
    Ack(Ack),
    /// A sentinel's score for one sample (schema 2).
    Score(Score),
    /// Power-target advice for one ASIC (schema 3).
    Advice(PowerAdvice),
    /// One DePIN node's earnings and resource use (schema 4).
    Depin(DepinReport),
    /// A tuning snapshot with its random contribution id (schema 5), on the `perf` topic;
    /// supersedes the id-less [`Body::Perf`], which hubs still accept.
    Telem(TelemSnapshot),
}

impl Body {
    /// The first wire schema that has this kind of body.
    pub fn schema(&self) -> u16 {
        match self {
            Body::Score(_) => 2,
            Body::Advice(_) => 3,
            Body::Depin(_) => 4,
            Body::Telem(_) => 5,
            _ => 1,
        }
    }

    /// The topic leaf this body is published under (see [`crate::Topic`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Body::State(_) => "state",
            Body::Tele(_) => "tele",
            Body::Asic(_) => "asic",
            Body::Perf(_) => "perf",
            Body::Alert(_) => "alert",
            Body::Ack(_) => "ack",
            Body::Score(_) => "score",
            Body::Advice(_) => "advice",
            Body::Depin(_) => "depin",
            // The same topic as the snapshots it supersedes: no new topic, no ACL change.
            Body::Telem(_) => "perf",
        }
    }
}

//! On-device inference: the Sentinel anomaly models and the ASIC efficiency model (seed 000),
//! run with tract on a dedicated thread, fed by telemetry, producing assessments, alerts, the
//! circuit-breaker directive and power advice; plus signed model updates and incident replay.
//!
//! Nothing here may block the link or the miner, or panic on anything from outside the process.

/// The `fleet/models` announcement lives in the protocol crate, shared with the hub.
pub use hashward_protocol::models as announcement;
pub mod config;
pub mod engine;
pub mod error;
pub mod features;
pub mod onnx;
pub mod registry;
pub mod replay;
pub mod service;
pub mod update;
pub mod worker;

pub use engine::{Assessment, Directive, Engine, PowerAdvice, Subject};
pub use error::{InferError, LoadError, ReplayError, UpdateError};
pub use registry::{LoadedModel, ModelInfo, ModelType, Registry};
pub use worker::{spawn, InferHandle, Outcome, Sample, Submitted, WorkerConfig};

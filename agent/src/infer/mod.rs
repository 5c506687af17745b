//! On-device inference (docs/ARCHITECTURE.md#thresholds-inference): the Sentinel anomaly models
//! and the ASIC efficiency model, run with tract on a dedicated thread, fed by telemetry,
//! producing assessments, alerts, the circuit-breaker directive and power advice; plus signed
//! model updates and incident replay.
//!
//! Nothing here may block the link or the miner, or panic on anything from outside the process.

/// The `fleet/models` announcement lives in the protocol crate, shared with the hub.
pub use hashward_protocol::models as announcement;
pub mod assessor;
pub mod config;
pub mod contract;
pub mod efficiency_input;
pub mod error;
pub mod features;
pub mod model_type;
pub mod onnx;
pub mod registry;
pub mod replay;
pub mod runtime;
pub mod service;
pub mod update;
pub mod worker;

pub use assessor::{Assessment, Assessor, Directive, PowerAdvice, Subject};
pub use error::{InferError, LoadError, ReplayError, UpdateError};
pub use model_type::ModelType;
pub use registry::Registry;
pub use runtime::{LoadedModel, ModelInfo};
pub use worker::{spawn, InferHandle, Outcome, Sample, Submitted, WorkerConfig};

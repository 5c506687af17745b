//! Errors of on-device inference: why a model file was refused, why a sample could not be
//! assessed, why an update was rejected, why a replay line was skipped.
//!
//! Every error names what was wrong in words an operator can act on. None of them is ever a
//! panic: anything that came from outside the process (model files, metadata, telemetry,
//! announcements, downloads) ends up here.

use super::model_type::ModelType;
use std::path::PathBuf;

/// Why a model file was refused at load, at update or in a replay. The previous model (if any)
/// keeps serving whenever one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{model_type}: model file is {size} bytes, more than the {max} allowed")]
    TooLarge {
        model_type: ModelType,
        size: u64,
        max: u64,
    },
    #[error("{model_type}: not a readable ONNX file: {reason}")]
    NotOnnx { model_type: ModelType, reason: String },
    #[error("{model_type}: ONNX metadata property `{key}` is missing")]
    MissingProperty {
        model_type: ModelType,
        key: &'static str,
    },
    #[error("{model_type}: ONNX metadata property `{key}` is invalid: {reason}")]
    BadProperty {
        model_type: ModelType,
        key: &'static str,
        reason: String,
    },
    /// The file's feature contract asks for something the agent does not compute, or is in
    /// another shape than the slot needs: serving it would feed the network garbage.
    #[error("{model_type}: refused, its feature contract does not match what the agent computes: {reason}")]
    Contract { model_type: ModelType, reason: String },
    /// `metadata.json` next to the file disagrees with the file itself.
    #[error("{model_type}: metadata.json does not match model.onnx: {reason}")]
    MetadataMismatch { model_type: ModelType, reason: String },
    #[error("{model_type}: metadata.json is not valid: {reason}")]
    BadMetadata { model_type: ModelType, reason: String },
    /// This agent was built without the `infer` cargo feature (a controller build).
    #[error("{model_type}: this agent was built without inference (cargo feature `infer`); models cannot be served")]
    NotBuilt { model_type: ModelType },
    #[error("{model_type}: tract cannot build a plan for it: {reason}")]
    Tract { model_type: ModelType, reason: String },
    /// The file's own known answers are not what tract computes from it (damaged weights, or
    /// a runtime that computes differently).
    #[error("{model_type}: self-test case {case} failed: {reason}")]
    SelfTest {
        model_type: ModelType,
        case: usize,
        reason: String,
    },
}

/// Why one sample could not be assessed. The engine counts these and carries on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InferError {
    #[error("no {0} model is loaded")]
    NoModel(ModelType),
    #[error("{model_type}: inference failed: {reason}")]
    Run { model_type: ModelType, reason: String },
    /// The network produced NaN or infinity: no score is better than a wrong one.
    #[error("{model_type}: output is not finite")]
    NonFinite { model_type: ModelType },
    #[error("{0} cannot be assessed: it is not a sentinel model")]
    NotASentinel(ModelType),
}

/// Why a model announcement or update was rejected. The active model keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("announcement is not a signed hashward message: {0}")]
    NotSigned(String),
    #[error("announcement signature refused: {0}")]
    BadSignature(String),
    #[error("announcement is a {0:?} message, not a model announcement")]
    WrongKind(hashward_protocol::signed::PayloadKind),
    #[error("announcement scope {0} is not `fleet`")]
    WrongScope(String),
    #[error("replay: announcement version {version} is not newer than the accepted {accepted}")]
    Replay { version: u64, accepted: u64 },
    #[error("announcement payload is not valid: {0}")]
    BadPayload(String),
    #[error("{model_type}: download from {url} failed: {reason}")]
    Download {
        model_type: ModelType,
        url: String,
        reason: String,
    },
    #[error("{model_type}: downloaded file has sha256 {got}, the announcement says {expected}")]
    Sha256 {
        model_type: ModelType,
        expected: String,
        got: String,
    },
    #[error("{model_type}: announced version {announced} but the file says {file}")]
    VersionMismatch {
        model_type: ModelType,
        announced: String,
        file: String,
    },
    #[error("test-load refused the new file: {0}")]
    TestLoad(#[from] LoadError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a replay could not run at all (a bad line is reported in the output, not here).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("unknown model {0:?}: expected sentinel_rig, sentinel_asic or efficiency_asic")]
    UnknownModel(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("reading input: {0}")]
    Read(std::io::Error),
    #[error("writing output: {0}")]
    Write(std::io::Error),
}

//! Errors of the ASIC module: talking to a miner ([`ApiError`]), changing its settings
//! ([`ControlError`]) and reading the `[asic]` configuration ([`ConfigError`]).
//!
//! Every variant says what was being done and what was wrong, so a log line is enough to debug a
//! miner. Errors never carry secrets: no passwords, tokens or API keys in any message.

use std::path::PathBuf;
use std::time::Duration;

/// Something went wrong reading from or writing to one miner.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} timed out after {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("I/O error during {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP error during {what}: {detail}")]
    Http { what: String, detail: String },
    #[error("{what} answered HTTP {status}")]
    Status { what: String, status: u16 },
    #[error("{what}: not authorised ({detail})")]
    Unauthorized { what: String, detail: String },
    #[error("{what}: reply larger than {limit} bytes")]
    TooLarge { what: String, limit: usize },
    #[error("{what}: malformed reply: {detail}")]
    Malformed { what: String, detail: String },
    #[error("cgminer command `{command}` failed: STATUS {status} code {code}: {msg}")]
    Command {
        command: String,
        status: String,
        code: i64,
        msg: String,
    },
    #[error("unknown hashrate unit `{0}`")]
    UnknownUnit(String),
    #[error("bad miner address `{addr}`: {detail}")]
    Address { addr: String, detail: String },
    #[error("no supported API answered at {0} (tried vnish, cgminer, antminer)")]
    NotDetected(String),
}

impl ApiError {
    /// The counter this failure is booked under (see [`crate::asic::poller::Counters`]).
    pub fn kind(&self) -> FailureKind {
        match self {
            ApiError::Connect { .. } | ApiError::Io { .. } | ApiError::NotDetected(_) => {
                FailureKind::Unreachable
            }
            ApiError::Timeout { .. } => FailureKind::Timeout,
            ApiError::Unauthorized { .. } => FailureKind::Auth,
            ApiError::Malformed { .. }
            | ApiError::TooLarge { .. }
            | ApiError::UnknownUnit(_)
            | ApiError::Http { .. } => FailureKind::Malformed,
            ApiError::Status { .. } | ApiError::Command { .. } => FailureKind::Refused,
            ApiError::Address { .. } => FailureKind::Config,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        ApiError::Malformed {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// Broad class of a failed poll, for counters and for deciding whether the miner is reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing answered (connection refused, reset, unreachable host).
    Unreachable,
    /// Something accepted the connection but did not answer in time.
    Timeout,
    /// Wrong or missing credentials.
    Auth,
    /// An answer came, but it was not what the API sends (bad JSON, wrong shape, unknown unit).
    Malformed,
    /// The miner answered with an error status.
    Refused,
    /// Our own configuration is wrong (bad address).
    Config,
}

impl FailureKind {
    /// A miner that fails this way is not answering at all.
    pub fn is_silence(self) -> bool {
        matches!(self, FailureKind::Unreachable | FailureKind::Timeout)
    }
}

/// A control request (power target, pause, resume, restart) that was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("power target {requested} W is out of range ({min}..={max} W)")]
    OutOfRange { requested: f64, min: f64, max: f64 },
    #[error("no tuned preset at or below {requested} W (lowest tuned preset: {lowest})")]
    NoPresetAtOrBelow { requested: f64, lowest: String },
    #[error("the miner has no tuned presets (autotune has not finished or is disabled)")]
    NoTunedPresets,
    #[error("{api} miners do not support {action}")]
    Unsupported { api: &'static str, action: &'static str },
    #[error("the miner accepted {action} but still reports {actual}")]
    NotApplied { action: String, actual: String },
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The `[asic]` section or the credentials file is unusable. Nothing is applied when this occurs.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {detail}", path.display())]
    Parse { path: PathBuf, detail: String },
    #[error(
        "{} is readable by others (mode {mode:04o}); credentials files must be mode 0600 \
         (chmod 600 {})",
        path.display(),
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("[asic] {field}: {detail}")]
    Invalid { field: String, detail: String },
}

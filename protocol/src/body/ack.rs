//! The agent's answer to a signed config push or command.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// What is acknowledged: a config scope (`fleet`, `site:S`, `rig:S/R`) or `cmd`.
    pub scope: String,
    /// The push's version, or the command's nonce.
    pub version: u64,
    pub outcome: AckOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcome {
    Applied,
    Rejected(String),
    /// Done, with the command's output (diagnostics).
    Report(String),
}

//! One DePIN node's report (schema 4): a side workload the rig runs next to mining (a Storj
//! storage node, a Golem provider, a Streamr node), as its local API showed it at one poll.
//! The hub stores it; allocation reads the earnings and the resources the node uses.
//!
//! Never a guess: a figure the node's API does not give is `None`, and `earnings` is `None` with
//! `earnings_unavailable` saying why (Streamr pays on-chain, a node that did not answer, ...),
//! never a zero. A node that did not answer is a report with `reachable: false` and the error.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepinReport {
    /// The node's name in the agent's `[[depin.nodes]]` (unique within the rig).
    pub node: String,
    pub kind: DepinKind,
    /// Whether the node's API answered. False: `error_kind` and `error` say what happened.
    pub reachable: bool,
    /// `unreachable`, `timeout`, `auth`, `malformed`, `refused` or `config`; `None` on success.
    pub error_kind: Option<String>,
    pub error: Option<String>,
    /// The agent polls this node every this many seconds (the hub judges staleness by it).
    pub poll_interval_s: u64,
    /// The network's id of the node (Storj node id, Golem identity, Streamr node id).
    pub node_id: Option<String>,
    pub version: Option<String>,
    pub uptime_s: Option<u64>,
    pub earnings: Option<DepinEarnings>,
    /// Why `earnings` is `None`.
    pub earnings_unavailable: Option<String>,
    pub disk_used_bytes: Option<u64>,
    /// Space the node may still fill (allocated minus used), as the node reports it.
    pub disk_available_bytes: Option<u64>,
    /// Bytes served and received in the earnings period.
    pub bandwidth_bytes: Option<u64>,
    /// Share of the host's CPU the node's work holds, 0..=100 %.
    pub cpu_share_pct: Option<f64>,
    /// Golem: computations (activities) running for requestors now.
    pub active_jobs: Option<u32>,
}

/// Earnings over one period, in US dollars and in the network's token. Either may be `None`
/// when the node does not say (Storj quotes USD, Golem quotes GLM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepinEarnings {
    pub period: EarningsPeriod,
    /// Start of the period, ms since the Unix epoch.
    pub period_start_ms: u64,
    pub usd: Option<f64>,
    pub token_amount: Option<f64>,
    /// The token `token_amount` is in (`STORJ`, `GLM`).
    pub token: Option<String>,
    /// The node's own estimate for the whole period (Storj's month expectation), USD.
    pub estimated_period_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EarningsPeriod {
    /// Calendar month so far (UTC).
    CurrentMonth,
    /// The last 24 hours.
    Last24h,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepinKind {
    Storj,
    Golem,
    Streamr,
}

impl DepinKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DepinKind::Storj => "storj",
            DepinKind::Golem => "golem",
            DepinKind::Streamr => "streamr",
        }
    }
}

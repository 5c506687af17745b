//! DePIN side workloads on the rig (seed 001 §2, issue 17 §6): one backend per kind of node
//! behind one trait, [`DepinAdapter`], polled on a schedule ([`poller`]) into the protocol's
//! [`hashward_protocol::DepinReport`] records, which the hub stores for allocation.
//!
//! - Storj storage node ([`storj`]): `/api/sno/`, `/api/sno/satellites`,
//!   `/api/sno/estimated-payout` on the node's dashboard port (14002).
//! - Golem provider ([`golem`]): yagna's REST API (7465) with an app key: invoices (earnings in
//!   GLM), debit notes and activity state (jobs running).
//! - Streamr node ([`streamr`]): `/info` health only. Its earnings are paid on-chain to the
//!   operator contract; reading them needs a blockchain client, which is out of scope.
//! - Grass: no local API at all (a browser extension or desktop app talking only to Grass's
//!   servers); listed in [`REGISTRY`] as unsupported, and a config naming it is refused.
//!
//! The seed's `ProtocolAdapter` in Rust terms: `protocol_name` is [`DepinAdapter::kind`];
//! `health_check`, `get_current_earnings` and `get_resource_usage` are one
//! [`DepinAdapter::poll`] (the nodes answer them from the same replies, so one poll asks once);
//! `connect`/`disconnect` are the kept-alive connection the client opens lazily. The seed's
//! `apply_allocation` is not here: none of these local APIs can change a node's allocation
//! (Storj's is its config file, Golem's its `ya-provider preset`), so allocation acts through
//! the agent's own miner instead. Must never report a figure a node did not give: what is
//! unknown is `None`, with the reason for missing earnings.

pub mod clock;
pub mod config;
pub mod golem;
mod http;
pub mod poller;
pub mod schedule;
pub mod storj;
pub mod streamr;

pub use config::{DepinNodeConfig, DepinNodeKind, DepinSection};
pub use poller::{DepinPoller, DepinSpec};

use crate::asic::error::{ApiError, FailureKind};
use hashward_protocol::{DepinEarnings, DepinKind, DepinReport};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// A boxed poll, so that adapters can sit behind `dyn DepinAdapter`.
pub type PollFuture<'a> = Pin<Box<dyn Future<Output = Result<Reading, DepinError>> + Send + 'a>>;

/// One kind of DePIN node's local API.
pub trait DepinAdapter: Send {
    fn kind(&self) -> DepinKind;
    /// Reads health, earnings and resource use. `now_ms` dates the earnings period.
    fn poll(&mut self, now_ms: u64) -> PollFuture<'_>;
}

/// What one successful poll read. `None`: the node's API does not give that figure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub node_id: Option<String>,
    pub version: Option<String>,
    pub uptime_s: Option<u64>,
    pub earnings: Option<DepinEarnings>,
    /// Why `earnings` is `None` (this kind of node cannot tell them, or what it said was unusable).
    pub earnings_unavailable: Option<String>,
    pub disk_used_bytes: Option<u64>,
    pub disk_available_bytes: Option<u64>,
    pub bandwidth_bytes: Option<u64>,
    pub cpu_share_pct: Option<f64>,
    pub active_jobs: Option<u32>,
}

/// A failed poll.
#[derive(Debug, thiserror::Error)]
pub enum DepinError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("app key file {}: {detail}", path.display())]
    AppKey { path: PathBuf, detail: String },
}

impl DepinError {
    pub fn kind(&self) -> FailureKind {
        match self {
            DepinError::Api(e) => e.kind(),
            DepinError::AppKey { .. } => FailureKind::Config,
        }
    }
}

/// The record's name for a failure kind.
pub fn failure_name(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Unreachable => "unreachable",
        FailureKind::Timeout => "timeout",
        FailureKind::Auth => "auth",
        FailureKind::Malformed => "malformed",
        FailureKind::Refused => "refused",
        FailureKind::Config => "config",
    }
}

/// The record of one poll of node `node`: what it read, or that it failed and how. Pure.
pub fn to_report(
    node: &str,
    kind: DepinKind,
    poll_interval_s: u64,
    result: Result<Reading, &DepinError>,
) -> DepinReport {
    match result {
        Ok(r) => DepinReport {
            node: node.to_string(),
            kind,
            reachable: true,
            error_kind: None,
            error: None,
            poll_interval_s,
            node_id: r.node_id,
            version: r.version,
            uptime_s: r.uptime_s,
            earnings_unavailable: match &r.earnings {
                Some(_) => None,
                None => Some(
                    r.earnings_unavailable
                        .unwrap_or_else(|| "the node did not report earnings".into()),
                ),
            },
            earnings: r.earnings,
            disk_used_bytes: r.disk_used_bytes,
            disk_available_bytes: r.disk_available_bytes,
            bandwidth_bytes: r.bandwidth_bytes,
            cpu_share_pct: r.cpu_share_pct,
            active_jobs: r.active_jobs,
        },
        Err(e) => {
            let fk = e.kind();
            DepinReport {
                node: node.to_string(),
                kind,
                // Something answered (garbage, a 401, an error status): the node is up but unusable.
                reachable: !fk.is_silence() && fk != FailureKind::Config,
                error_kind: Some(failure_name(fk).to_string()),
                error: Some(e.to_string()),
                poll_interval_s,
                node_id: None,
                version: None,
                uptime_s: None,
                earnings: None,
                earnings_unavailable: Some(format!("poll failed: {}", failure_name(fk))),
                disk_used_bytes: None,
                disk_available_bytes: None,
                bandwidth_bytes: None,
                cpu_share_pct: None,
                active_jobs: None,
            }
        }
    }
}

/// Whether a kind of node can be polled, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Supported,
    Unsupported(&'static str),
}

/// One entry of the adapter registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdapterInfo {
    pub name: &'static str,
    pub default_url: Option<&'static str>,
    pub support: Support,
    /// Where its earnings come from, or why there are none.
    pub earnings: &'static str,
}

pub const GRASS_UNSUPPORTED: &str = "Grass has no local API: its node is a browser extension or \
     desktop app that talks only to Grass's servers, and its points are shown only in the \
     Grass web dashboard behind the user's login";

pub const STREAMR_EARNINGS: &str = "Streamr pays operators on-chain (Polygon operator contract); \
     reading earnings needs a blockchain client, which is out of scope: the node's /info is \
     health only";

/// Every kind of node the `[depin]` config may name.
pub const REGISTRY: [AdapterInfo; 4] = [
    AdapterInfo {
        name: "storj",
        default_url: Some(storj::DEFAULT_URL),
        support: Support::Supported,
        earnings: "/api/sno/estimated-payout: USD this month (paid in STORJ at payout time)",
    },
    AdapterInfo {
        name: "golem",
        default_url: Some(golem::DEFAULT_URL),
        support: Support::Supported,
        earnings: "yagna invoices accepted or settled in the last 24 h, in GLM",
    },
    AdapterInfo {
        name: "streamr",
        default_url: Some(streamr::DEFAULT_URL),
        support: Support::Supported,
        earnings: STREAMR_EARNINGS,
    },
    AdapterInfo {
        name: "grass",
        default_url: None,
        support: Support::Unsupported(GRASS_UNSUPPORTED),
        earnings: GRASS_UNSUPPORTED,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_poll_is_a_report_of_the_failure_not_a_guess() {
        let silent = DepinError::Api(ApiError::Connect {
            addr: "127.0.0.1:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        });
        let r = to_report("g", DepinKind::Golem, 60, Err(&silent));
        assert!(!r.reachable);
        assert_eq!(r.error_kind.as_deref(), Some("unreachable"));
        assert!(r.earnings.is_none() && r.earnings_unavailable.is_some());
        assert!(r.disk_used_bytes.is_none() && r.uptime_s.is_none());
        let garbage = DepinError::Api(ApiError::malformed("GET /api/sno/", "invalid JSON"));
        let r = to_report("s", DepinKind::Storj, 60, Err(&garbage));
        assert!(r.reachable, "something answered");
        assert_eq!(r.error_kind.as_deref(), Some("malformed"));
    }

    #[test]
    fn missing_earnings_carry_a_reason() {
        let r = to_report(
            "st",
            DepinKind::Streamr,
            30,
            Ok(Reading {
                earnings_unavailable: Some(STREAMR_EARNINGS.into()),
                ..Reading::default()
            }),
        );
        assert!(r.reachable && r.earnings.is_none());
        assert_eq!(r.earnings_unavailable.as_deref(), Some(STREAMR_EARNINGS));
        let r = to_report("st", DepinKind::Storj, 30, Ok(Reading::default()));
        assert!(r.earnings_unavailable.is_some());
    }

    #[test]
    fn the_registry_lists_grass_as_unsupported_with_the_reason() {
        let grass = REGISTRY.iter().find(|a| a.name == "grass").expect("listed");
        assert_eq!(grass.support, Support::Unsupported(GRASS_UNSUPPORTED));
        assert!(REGISTRY
            .iter()
            .filter(|a| a.name != "grass")
            .all(|a| a.support == Support::Supported && a.default_url.is_some()));
    }
}

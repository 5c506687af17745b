//! Stratum v1 mining client (sha256d and scrypt pools) for the hashward agent.
//!
//! What it is for: keeping the miner engine supplied with work from an ordered list of
//! pools and delivering its shares back, with failover, reconnects and per-pool counters.
//! The engine sees only this module's public API:
//!
//! * [`spawn`] starts the client as a tokio task and returns a [`StratumClient`]: a
//!   [`StratumHandle`] (clonable; `submit`, `stats`, `shutdown`) and a channel of
//!   [`PoolEvent`]s (`Connected`, `Disconnected`, `NewJob(Arc<MiningJob>)`, `ShareResult`).
//! * [`MiningJob::work_for`] turns a job plus an extranonce2 (from
//!   [`MiningJob::next_extranonce2`], unique across engine threads) and an ntime into a
//!   [`Work`] (80-byte header + share target) for the hash kernels.
//! * The engine hands found nonces back as [`Share`]s. Shares whose job was cleaned
//!   (`clean_jobs`) or whose connection/pool is gone are dropped and counted as stale,
//!   never sent.
//!
//! Layout: `message` (JSON-RPC lines, pure), `job` (header/coinbase/merkle/submit bytes),
//! `target` (difficulty arithmetic), `url`, `session` (one pool connection's protocol state
//! machine, sans-IO), `transport` (sockets, line framing and timeouts driving a session),
//! `generations` (work epochs shared by connections), `failover` (pool list, backoff, return
//! to primary), `stats`.
//!
//! What it must never do: panic or `unwrap()` on anything from the network, send a share it
//! knows is stale, block the engine's threads (submitting is a non-blocking channel send), or
//! hash in a hot loop.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod failover;
pub mod generations;
pub mod job;
pub mod message;
pub mod session;
pub mod stats;
pub mod target;
pub mod transport;
pub mod url;

use std::sync::Arc;
use std::time::Duration;

// `work.rs` sits beside this module (crate root here, `miner/` in the agent), so the path
// is relative and survives the move verbatim.
pub use crate::miner::work::{Target, Work};

pub use failover::{spawn, ConfigError, StratumClient, StratumHandle, SubmitError};
pub use job::{MiningJob, Share};
pub use stats::{PoolStats, RejectCounts, RejectReason, StatsHandle};
pub use target::{hash_meets_target, target_from_difficulty, DIFF1_SCRYPT, DIFF1_SHA256D, TARGET_MAX};
pub use transport::ClientError;
pub use url::{PoolUrl, Scheme, UrlError};

/// One pool in the ordered failover list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// `stratum+tcp://host:port` or `stratum+ssl://host:port`.
    pub url: String,
    /// Worker name, used for `mining.authorize` and `mining.submit`.
    pub user: String,
    pub password: String,
}

/// Client configuration. [`ClientConfig::new`] fills in sensible defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Pools in priority order; index 0 is the primary.
    pub pools: Vec<PoolConfig>,
    /// The algorithm's difficulty-1 target: [`DIFF1_SHA256D`] or [`DIFF1_SCRYPT`].
    pub diff1: Target,
    /// Sent with `mining.subscribe`.
    pub user_agent: String,
    /// Request BIP310 version rolling with this mask via `mining.configure`. Rolling is used
    /// only if the pool answers with a (non-zero) mask.
    pub version_rolling_mask: Option<u32>,
    /// Send `mining.extranonce.subscribe` after authorizing (for `mining.set_extranonce`).
    pub extranonce_subscribe: bool,
    /// TCP connect (and TLS handshake) timeout.
    pub connect_timeout: Duration,
    /// Time allowed for configure/subscribe/authorize answers.
    pub handshake_timeout: Duration,
    /// A submitted share with no answer after this long is counted as unanswered.
    pub submit_timeout: Duration,
    /// Disconnect when the pool sends nothing for this long.
    pub idle_timeout: Duration,
    /// A single line write taking longer than this ends the connection.
    pub write_timeout: Duration,
    /// Delay between connection attempts (doubling, full jitter).
    pub backoff: hashward_common::Backoff,
    /// While on a backup pool, how often to try the primary again.
    pub primary_retry_interval: Duration,
    /// Cap on the wait a pool may ask for in `client.reconnect`.
    pub max_reconnect_wait: Duration,
    /// Extra trusted root certificates (DER) for `stratum+ssl://` pools with private CAs,
    /// in addition to the webpki roots.
    pub extra_root_certs: Vec<Vec<u8>>,
}

impl ClientConfig {
    pub fn new(pools: Vec<PoolConfig>, diff1: Target) -> ClientConfig {
        ClientConfig {
            pools,
            diff1,
            user_agent: concat!("hashward/", env!("CARGO_PKG_VERSION")).to_string(),
            version_rolling_mask: None,
            extranonce_subscribe: false,
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(15),
            submit_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            write_timeout: Duration::from_secs(10),
            backoff: hashward_common::Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            primary_retry_interval: Duration::from_secs(300),
            max_reconnect_wait: Duration::from_secs(60),
            extra_root_certs: Vec::new(),
        }
    }
}

/// What the client tells the engine.
#[derive(Debug, Clone)]
pub enum PoolEvent {
    /// Handshake with a pool completed; jobs follow.
    Connected {
        pool: usize,
        url: String,
        version_mask: Option<u32>,
    },
    /// The connection to a pool ended; all its jobs are stale from now on.
    Disconnected { pool: usize, reason: String },
    /// New work. When `job.clean` is set, abandon all earlier jobs.
    NewJob(Arc<MiningJob>),
    /// The fate of a submitted share.
    ShareResult(ShareResult),
}

/// Outcome of one share handed to [`StratumHandle::submit`].
#[derive(Debug, Clone, PartialEq)]
pub struct ShareResult {
    pub pool: usize,
    pub job_id: String,
    pub generation: u64,
    pub nonce: u32,
    pub outcome: ShareOutcome,
    /// Submit-to-answer time, when the pool answered.
    pub latency: Option<Duration>,
}

/// What happened to a share.
#[derive(Debug, Clone, PartialEq)]
pub enum ShareOutcome {
    Accepted,
    Rejected {
        reason: RejectReason,
        message: String,
    },
    /// Never sent: the job was cleaned or the connection/pool is gone.
    DroppedStale,
    /// Never sent: the share cannot be expressed on this connection (e.g. version bits
    /// without a granted mask).
    DroppedInvalid,
    /// Sent, but no answer came (timeout or connection lost).
    Unanswered,
}

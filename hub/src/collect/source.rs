//! The contract between the collectors and the rest of the hub.
//!
//! A source is either polled ([`PollSource`]: the scheduler calls it when one of its jobs is due,
//! under the source's token bucket, timeout, backoff and circuit breaker) or pushes on its own
//! ([`Sink`] to deliver observations, [`StatusHandle`] to report its state: a WebSocket
//! subscription runs its own loop and uses both). Either way `/sources` and `/metrics` read the
//! same [`SourceStatus`].
//!
//! Must never carry a secret: errors and statuses hold a kind and a message, never a key or a
//! URL with a key in it.

use super::prohashing::live::PoolObservation;
use hashward_protocol::market::{DailyPoint, GlobalMarket, MarketData};
use hashward_protocol::pool::NetworkSnapshot;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a source delivers. `wamp` adds `Network(..)` and `Pool(..)` here.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// One coin's current market record.
    Market(Box<MarketData>),
    /// A coin's daily history (closes), from a chart endpoint or an import.
    MarketDaily { coin: String, points: Vec<DailyPoint> },
    /// Global market metrics.
    GlobalMarket(GlobalMarket),
    /// A site's electricity price from its tariff feed.
    Tariff {
        site: String,
        usd_per_kwh: f64,
        at_ms: u64,
    },
    /// A coin's chain as a node or an explorer sees it (`node_rpc`, `explorer`).
    Network(NetworkSnapshot),
    /// A pool account's whole state after a change (`prohashing`).
    Pool(Box<PoolObservation>),
}

/// The kind of a failure, as counted in `/sources` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Timeout,
    HttpStatus,
    RateLimited,
    Decode,
    Connect,
    Api,
    Budget,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Timeout,
        ErrorKind::HttpStatus,
        ErrorKind::RateLimited,
        ErrorKind::Decode,
        ErrorKind::Connect,
        ErrorKind::Api,
        ErrorKind::Budget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Decode => "decode",
            ErrorKind::Connect => "connect",
            ErrorKind::Api => "api",
            ErrorKind::Budget => "budget",
        }
    }
}

/// Why one poll (or one push connection) failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error("no answer within {after_ms} ms")]
    Timeout { after_ms: u64 },
    #[error("HTTP status {status}")]
    HttpStatus { status: u16 },
    #[error("rate limited (HTTP 429){}", retry_after.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// The body did not parse, or parsed into a shape the source no longer matches.
    #[error("unexpected response: {0}")]
    Decode(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The service answered with its own error (CoinMarketCap `status.error_code`).
    #[error("service error: {0}")]
    Api(String),
    #[error("monthly budget spent: {used} of {quota} quota units used")]
    Budget { used: u64, quota: u64 },
}

impl SourceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SourceError::Timeout { .. } => ErrorKind::Timeout,
            SourceError::HttpStatus { .. } => ErrorKind::HttpStatus,
            SourceError::RateLimited { .. } => ErrorKind::RateLimited,
            SourceError::Decode(_) => ErrorKind::Decode,
            SourceError::Connect(_) => ErrorKind::Connect,
            SourceError::Api(_) => ErrorKind::Api,
            SourceError::Budget { .. } => ErrorKind::Budget,
        }
    }
}

/// One periodic request of a poll source (CoinGecko's `simple_price` every 300 s...).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Stable name: checkpoints and `/sources` use it.
    pub name: &'static str,
    pub interval: Duration,
    /// Quota units (requests or credits) one call is expected to cost, for the budget check.
    pub expected_cost: u64,
}

/// What a successful poll gives back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polled {
    pub observations: Vec<Observation>,
    /// Quota units the call actually cost (CoinMarketCap's `status.credit_count`; 1 otherwise).
    pub cost: u64,
    /// A cursor to resume from after a restart (e.g. the newest history day fetched).
    pub cursor: Option<u64>,
}

/// Rate and quota limits of a source, from its documentation and the configured plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Requests per minute the plan allows (token bucket rate and size).
    pub per_minute: u32,
    /// Quota units per month, when the plan has one.
    pub monthly_quota: Option<u64>,
    pub timeout: Duration,
}

/// A source the scheduler polls.
pub trait PollSource: Send {
    /// `coingecko`, `coinmarketcap`...: the key in `/sources`, `/metrics` and checkpoints.
    fn name(&self) -> &'static str;
    fn jobs(&self) -> Vec<JobSpec>;
    fn limits(&self) -> Limits;
    /// Runs job `job` (an index into [`PollSource::jobs`]). `cursor` is the job's last
    /// checkpointed cursor. The scheduler applies the timeout; the source need not.
    fn poll<'a>(
        &'a mut self,
        job: usize,
        cursor: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Polled, SourceError>>;
}

/// An observation on its way to the store and the served cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub source: &'static str,
    pub received_ms: u64,
    pub observation: Observation,
}

/// Where a source delivers observations (the scheduler for poll sources; a push source holds
/// one itself).
#[derive(Debug, Clone)]
pub struct Sink {
    source: &'static str,
    tx: mpsc::Sender<Delivery>,
}

impl Sink {
    pub fn new(source: &'static str, tx: mpsc::Sender<Delivery>) -> Sink {
        Sink { source, tx }
    }

    /// Waits while the intake is busy; `false` once the hub is shutting down.
    pub async fn deliver(&self, observation: Observation) -> bool {
        let d = Delivery {
            source: self.source,
            received_ms: hashward_common::clock::now_ms(),
            observation,
        };
        self.tx.send(d).await.is_ok()
    }
}

/// A source's state as `/sources` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// Configured, not yet polled (or connecting).
    Starting,
    Ok,
    /// The last attempt failed; retrying with backoff.
    Failing,
    /// Every attempt failed so far: never reached since start.
    Unreachable,
    /// Too many failures in a row: the breaker is open, attempts paused until `next_poll`.
    CircuitOpen,
    /// Turned off in the config.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastError {
    pub kind: ErrorKind,
    pub message: String,
    pub at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    /// `YYYY-MM` (UTC) the count is for.
    pub month: String,
    pub used: u64,
    pub quota: Option<u64>,
}

/// Everything `/sources` lists for one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    pub name: &'static str,
    pub state: SourceState,
    pub last_success_ms: Option<u64>,
    pub last_error: Option<LastError>,
    pub latency_ms: Option<u64>,
    pub requests: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
    pub consecutive_failures: u32,
    pub budget: Option<Budget>,
    pub next_poll_ms: Option<u64>,
    /// Why a source is disabled or what it is waiting for, for the operator.
    pub note: Option<String>,
}

impl SourceStatus {
    pub fn new(name: &'static str) -> SourceStatus {
        SourceStatus {
            name,
            state: SourceState::Starting,
            last_success_ms: None,
            last_error: None,
            latency_ms: None,
            requests: 0,
            errors: BTreeMap::new(),
            consecutive_failures: 0,
            budget: None,
            next_poll_ms: None,
            note: None,
        }
    }

    pub fn record_success(&mut self, now_ms: u64, latency_ms: u64) {
        self.requests += 1;
        self.state = SourceState::Ok;
        self.last_success_ms = Some(now_ms);
        self.latency_ms = Some(latency_ms);
        self.consecutive_failures = 0;
    }

    pub fn record_failure(&mut self, now_ms: u64, latency_ms: Option<u64>, e: &SourceError) {
        // A spent budget is a refusal to send, not a request.
        if e.kind() != ErrorKind::Budget {
            self.requests += 1;
        }
        *self.errors.entry(e.kind()).or_insert(0) += 1;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if latency_ms.is_some() {
            self.latency_ms = latency_ms;
        }
        self.last_error = Some(LastError {
            kind: e.kind(),
            message: e.to_string(),
            at_ms: now_ms,
        });
        self.state = if self.last_success_ms.is_none() {
            SourceState::Unreachable
        } else {
            SourceState::Failing
        };
    }
}

/// A shared, updatable [`SourceStatus`].
#[derive(Debug, Clone)]
pub struct StatusHandle(Arc<Mutex<SourceStatus>>);

impl StatusHandle {
    pub fn lock(&self) -> MutexGuard<'_, SourceStatus> {
        // A panic while holding it cannot leave the status torn (plain field writes): go on.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> SourceStatus {
        self.lock().clone()
    }
}

/// Every source's status, by name: what `/sources` and `/metrics` list.
#[derive(Debug, Default)]
pub struct Registry {
    sources: Mutex<BTreeMap<&'static str, StatusHandle>>,
}

impl Registry {
    /// The handle for `name`, created on first use.
    pub fn register(&self, name: &'static str) -> StatusHandle {
        let mut map = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name)
            .or_insert_with(|| StatusHandle(Arc::new(Mutex::new(SourceStatus::new(name)))))
            .clone()
    }

    pub fn all(&self) -> Vec<SourceStatus> {
        let map = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        map.values().map(StatusHandle::snapshot).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_kind_and_a_never_reached_source_is_unreachable() {
        let reg = Registry::default();
        let h = reg.register("coingecko");
        h.lock()
            .record_failure(10, None, &SourceError::Connect("refused".into()));
        h.lock()
            .record_failure(20, Some(5), &SourceError::Timeout { after_ms: 5 });
        let s = reg.all().remove(0);
        assert_eq!(s.state, SourceState::Unreachable);
        assert_eq!(s.errors[&ErrorKind::Connect], 1);
        assert_eq!(s.consecutive_failures, 2);
        h.lock().record_success(30, 7);
        h.lock().record_failure(
            40,
            None,
            &SourceError::RateLimited {
                retry_after: Some(Duration::from_secs(60)),
            },
        );
        let s = reg.register("coingecko").snapshot();
        assert_eq!(
            (s.state, s.requests, s.consecutive_failures),
            (SourceState::Failing, 4, 1)
        );
        let e = s.last_error.expect("error");
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.message, "rate limited (HTTP 429), retry after 60 s");
    }
}

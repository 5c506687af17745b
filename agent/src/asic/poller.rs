//! Polls many miners on their own schedules (seed 002 5.1 and 8.2): telemetry every 1-5 min,
//! faster while something changes, slower while stable; config data every 15-30 min;
//! exponential backoff and a circuit breaker on errors.
//!
//! The decisions ([`AdaptiveInterval`], [`CircuitBreaker`], [`classify`],
//! [`MinerSchedule`]) are pure and tested with plain values; [`Poller`] does the I/O. A miner
//! that stops answering is published as `unreachable`, never left out. A hanging miner must
//! never delay the others: each poll has a deadline and holds one of a bounded number of
//! connection permits only while it runs. A failed poll never replaces the last good reading.

use super::client::{MinerClient, MinerSpec};
use super::error::{ApiError, FailureKind};
use super::normalise;
use hashward_protocol::{AsicApi, AsicTelemetry};
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------------
// Pure scheduling decisions
// ---------------------------------------------------------------------------------------------

/// Scheduling knobs. Defaults follow seed 002 section 5.1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleConfig {
    /// Telemetry interval while something is changing (and the starting interval).
    pub fast: Duration,
    /// Telemetry interval once stable. Equal to `fast` disables adaptation.
    pub slow: Duration,
    /// Stable polls in a row before the interval doubles (up to `slow`).
    pub stable_polls_to_slow_down: u32,
    /// Info / settings / presets refresh.
    pub config_interval: Duration,
    /// Backoff ceiling.
    pub backoff_max: Duration,
    /// Consecutive failures that open the circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit stays open before one trial poll.
    pub breaker_cooldown: Duration,
    /// Consecutive silent failures (no answer, timeout) after which the miner is `unreachable`.
    pub unreachable_after: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            fast: Duration::from_secs(60),
            slow: Duration::from_secs(300),
            stable_polls_to_slow_down: 5,
            config_interval: Duration::from_secs(20 * 60),
            backoff_max: Duration::from_secs(15 * 60),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(10 * 60),
            unreachable_after: 2,
        }
    }
}

/// What a successful poll showed, for scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Stable,
    /// Mining state, board count or pool changed, or the miner came back.
    StateChanged,
    /// Errors, impossible readings, a hashrate swing or a temperature jump.
    Anomaly,
}

/// Relative hashrate change between polls that counts as an anomaly.
pub const HASHRATE_SWING: f64 = 0.10;
/// Chip temperature change between polls that counts as an anomaly.
pub const TEMP_SWING_C: f32 = 5.0;

/// Compares a new reading with the previous good one.
pub fn classify(prev: Option<&AsicTelemetry>, cur: &AsicTelemetry) -> Change {
    let Some(prev) = prev else {
        return Change::StateChanged;
    };
    if !prev.reachable
        || prev.status.mining_status != cur.status.mining_status
        || prev.hashrate.per_hashboard.len() != cur.hashrate.per_hashboard.len()
        || prev.pool.as_ref().map(|p| &p.url) != cur.pool.as_ref().map(|p| &p.url)
    {
        return Change::StateChanged;
    }
    if !cur.invalid.is_empty()
        || cur
            .status
            .errors
            .iter()
            .any(|e| e.severity == "critical" || e.severity == "warning")
    {
        return Change::Anomaly;
    }
    let (a, b) = (prev.hashrate.total.0, cur.hashrate.total.0);
    if a.max(b) > 0.0 && (a - b).abs() / a.max(b) > HASHRATE_SWING {
        return Change::Anomaly;
    }
    if let (Some(a), Some(b)) = (prev.temperature.max_chip, cur.temperature.max_chip) {
        if (a.0 - b.0).abs() > TEMP_SWING_C {
            return Change::Anomaly;
        }
    }
    Change::Stable
}

/// Telemetry interval that shortens on change and lengthens while stable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveInterval {
    pub current: Duration,
    stable_run: u32,
}

impl AdaptiveInterval {
    pub fn new(cfg: &ScheduleConfig) -> Self {
        AdaptiveInterval {
            current: cfg.fast,
            stable_run: 0,
        }
    }

    pub fn update(&mut self, change: Change, cfg: &ScheduleConfig) -> Duration {
        match change {
            Change::Stable => {
                self.stable_run += 1;
                if self.stable_run >= cfg.stable_polls_to_slow_down.max(1) {
                    self.stable_run = 0;
                    self.current = (self.current * 2).min(cfg.slow.max(cfg.fast));
                }
            }
            Change::StateChanged | Change::Anomaly => {
                self.stable_run = 0;
                self.current = cfg.fast;
            }
        }
        self.current
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// No polls until `until` (time since the poller started).
    Open {
        until: Duration,
    },
    /// One trial poll allowed.
    HalfOpen,
}

/// Opens after `threshold` consecutive failures; after the cooldown lets one poll through;
/// closes on a success and re-opens on a failure of that trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    pub state: BreakerState,
    consecutive: u32,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            state: BreakerState::Closed,
            consecutive: 0,
        }
    }
}

impl CircuitBreaker {
    /// Whether a poll may run at `now`; moves Open to HalfOpen once the cooldown is over.
    pub fn allows(&mut self, now: Duration) -> bool {
        match self.state {
            BreakerState::Closed | BreakerState::HalfOpen => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open { .. } => false,
        }
    }

    pub fn on_success(&mut self) {
        self.consecutive = 0;
        self.state = BreakerState::Closed;
    }

    /// Returns true when this failure opened the circuit.
    pub fn on_failure(&mut self, now: Duration, threshold: u32, cooldown: Duration) -> bool {
        self.consecutive += 1;
        let open = match self.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => self.consecutive >= threshold.max(1),
            BreakerState::Open { .. } => false,
        };
        if open {
            self.state = BreakerState::Open {
                until: now + cooldown,
            };
        }
        open
    }

    pub fn name(&self) -> &'static str {
        match self.state {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// One miner's schedule: adaptive interval, failure count, breaker.
#[derive(Debug, Clone)]
pub struct MinerSchedule {
    pub cfg: ScheduleConfig,
    pub interval: AdaptiveInterval,
    pub failures: u32,
    pub breaker: CircuitBreaker,
}

/// What the runner does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    /// Wait this long from now (failures) or from the previous due time (successes).
    pub delay: Duration,
    pub breaker_opened: bool,
    /// Publish an `unreachable` record now.
    pub report_unreachable: bool,
}

impl MinerSchedule {
    pub fn new(cfg: ScheduleConfig) -> Self {
        MinerSchedule {
            interval: AdaptiveInterval::new(&cfg),
            cfg,
            failures: 0,
            breaker: CircuitBreaker::default(),
        }
    }

    pub fn on_success(&mut self, change: Change) -> Next {
        self.failures = 0;
        self.breaker.on_success();
        Next {
            delay: self.interval.update(change, &self.cfg),
            breaker_opened: false,
            report_unreachable: false,
        }
    }

    pub fn on_failure(&mut self, kind: FailureKind, now: Duration) -> Next {
        self.failures += 1;
        let opened = self
            .breaker
            .on_failure(now, self.cfg.breaker_threshold, self.cfg.breaker_cooldown);
        // Start fast again once it answers; it was not stable.
        self.interval = AdaptiveInterval::new(&self.cfg);
        let delay = match self.breaker.state {
            BreakerState::Open { until } => until.saturating_sub(now),
            _ => hashward_common::Backoff::new(self.cfg.fast, self.cfg.backoff_max)
                .ceiling(self.failures.saturating_sub(1)),
        };
        let silent_enough = kind.is_silence() && self.failures >= self.cfg.unreachable_after.max(1);
        Next {
            delay,
            breaker_opened: opened,
            report_unreachable: silent_enough || opened,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Counters and per-miner view
// ---------------------------------------------------------------------------------------------

/// Poller counters (exported in the agent's telemetry).
#[derive(Debug, Default)]
pub struct Counters {
    pub polls: AtomicU64,
    pub polls_ok: AtomicU64,
    pub polls_failed: AtomicU64,
    pub unreachable: AtomicU64,
    pub timeouts: AtomicU64,
    pub auth_failures: AtomicU64,
    pub malformed: AtomicU64,
    pub refused: AtomicU64,
    pub config_errors: AtomicU64,
    pub breaker_opened: AtomicU64,
    /// Readings left out as impossible (sum over polls).
    pub invalid_readings: AtomicU64,
    pub telemetry_sent: AtomicU64,
    /// Polls that started more than [`LATE_AFTER`] after their due time.
    pub late_polls: AtomicU64,
    pub max_lateness_ms: AtomicU64,
}

/// A poll that starts later than this after its due time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    pub polls: u64,
    pub polls_ok: u64,
    pub polls_failed: u64,
    pub unreachable: u64,
    pub timeouts: u64,
    pub auth_failures: u64,
    pub malformed: u64,
    pub refused: u64,
    pub config_errors: u64,
    pub breaker_opened: u64,
    pub invalid_readings: u64,
    pub telemetry_sent: u64,
    pub late_polls: u64,
    pub max_lateness_ms: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CounterSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterSnapshot {
            polls: g(&self.polls),
            polls_ok: g(&self.polls_ok),
            polls_failed: g(&self.polls_failed),
            unreachable: g(&self.unreachable),
            timeouts: g(&self.timeouts),
            auth_failures: g(&self.auth_failures),
            malformed: g(&self.malformed),
            refused: g(&self.refused),
            config_errors: g(&self.config_errors),
            breaker_opened: g(&self.breaker_opened),
            invalid_readings: g(&self.invalid_readings),
            telemetry_sent: g(&self.telemetry_sent),
            late_polls: g(&self.late_polls),
            max_lateness_ms: g(&self.max_lateness_ms),
        }
    }

    fn failure(&self, kind: FailureKind) {
        self.polls_failed.fetch_add(1, Ordering::Relaxed);
        let c = match kind {
            FailureKind::Unreachable => &self.unreachable,
            FailureKind::Timeout => &self.timeouts,
            FailureKind::Auth => &self.auth_failures,
            FailureKind::Malformed => &self.malformed,
            FailureKind::Refused => &self.refused,
            FailureKind::Config => &self.config_errors,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the poller knows about one miner right now.
#[derive(Debug, Clone, Serialize)]
pub struct MinerView {
    pub id: String,
    pub api: Option<AsicApi>,
    pub reachable: bool,
    /// The last reading that parsed; never replaced by a failed poll.
    pub last_good: Option<AsicTelemetry>,
    pub last_good_age_ms: Option<u64>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub polls: u64,
    pub polls_ok: u64,
    pub interval_ms: u64,
    pub breaker: &'static str,
    pub max_lateness_ms: u64,
}

/// The view as stored: the last good reading is shared with the miner's task, not copied per
/// poll; it is copied out only when someone reads it.
struct Stored {
    view: MinerView,
    last_good: Option<Arc<AsicTelemetry>>,
    at: Option<Instant>,
}

struct Shared {
    counters: Counters,
    views: Mutex<HashMap<String, Stored>>,
    /// Wakes every miner task waiting for its next poll ("re-poll ASICs now").
    repoll: tokio::sync::Notify,
}

/// Read access to a running (or finished) poller: counters and per-miner state.
#[derive(Clone)]
pub struct PollerHandle {
    shared: Arc<Shared>,
}

impl PollerHandle {
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    /// Every configured miner, in no particular order.
    pub fn miners(&self) -> Vec<MinerView> {
        let views = self.shared.views.lock().unwrap_or_else(|p| p.into_inner());
        views.values().map(with_age).collect()
    }

    /// Polls every miner now instead of at its next due time (a miner whose circuit breaker is
    /// open still waits for it). Returns how many miners are configured.
    pub fn repoll_now(&self) -> usize {
        self.shared.repoll.notify_waiters();
        self.shared.views.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn miner(&self, id: &str) -> Option<MinerView> {
        let views = self.shared.views.lock().unwrap_or_else(|p| p.into_inner());
        views.get(id).map(with_age)
    }
}

fn with_age(s: &Stored) -> MinerView {
    let mut v = s.view.clone();
    v.last_good = s.last_good.as_deref().cloned();
    v.last_good_age_ms = s.at.map(|t| t.elapsed().as_millis() as u64);
    v
}

// ---------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollerOptions {
    pub schedule: ScheduleConfig,
    /// Polls (connections) in flight at once, over all miners.
    pub max_concurrency: usize,
    /// Deadline of one HTTP request or cgminer command.
    pub request_timeout: Duration,
    /// Deadline of one whole poll (a Vnish poll may make several requests).
    pub poll_timeout: Duration,
}

impl Default for PollerOptions {
    fn default() -> Self {
        PollerOptions {
            schedule: ScheduleConfig::default(),
            max_concurrency: 32,
            request_timeout: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(20),
        }
    }
}

pub struct Poller {
    miners: Vec<MinerSpec>,
    opts: PollerOptions,
    shared: Arc<Shared>,
}

impl Poller {
    pub fn new(miners: Vec<MinerSpec>, opts: PollerOptions) -> Poller {
        let views = miners
            .iter()
            .map(|m| {
                let v = MinerView {
                    id: m.id.clone(),
                    api: None,
                    reachable: false,
                    last_good: None,
                    last_good_age_ms: None,
                    last_error: None,
                    consecutive_failures: 0,
                    polls: 0,
                    polls_ok: 0,
                    interval_ms: opts.schedule.fast.as_millis() as u64,
                    breaker: "closed",
                    max_lateness_ms: 0,
                };
                (
                    m.id.clone(),
                    Stored {
                        view: v,
                        last_good: None,
                        at: None,
                    },
                )
            })
            .collect();
        Poller {
            miners,
            opts,
            shared: Arc::new(Shared {
                counters: Counters::default(),
                views: Mutex::new(views),
                repoll: tokio::sync::Notify::new(),
            }),
        }
    }

    pub fn handle(&self) -> PollerHandle {
        PollerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Polls until `shutdown` resolves, sending every reading (and every `unreachable` record)
    /// to `tx`. Returns the final counters.
    pub async fn run<F: Future<Output = ()>>(
        self,
        tx: mpsc::Sender<AsicTelemetry>,
        shutdown: F,
    ) -> CounterSnapshot {
        let (stop_tx, stop_rx) = watch::channel(false);
        let sem = Arc::new(Semaphore::new(self.opts.max_concurrency.max(1)));
        let n = self.miners.len().max(1) as u32;
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(self.miners.len());
        for (i, spec) in self.miners.into_iter().enumerate() {
            // Spread first polls over one interval so a fleet does not poll in lockstep.
            let first = start + self.opts.schedule.fast * i as u32 / n;
            let job = MinerTask {
                spec,
                opts: self.opts,
                shared: self.shared.clone(),
                sem: sem.clone(),
                tx: tx.clone(),
                stop: stop_rx.clone(),
                start,
            };
            tasks.push(tokio::spawn(job.run(first)));
        }
        drop(tx);
        shutdown.await;
        let _ = stop_tx.send(true);
        for t in tasks {
            if let Err(e) = t.await {
                log::error!("asic poller task ended abnormally: {e}");
            }
        }
        self.shared.counters.snapshot()
    }
}

struct MinerTask {
    spec: MinerSpec,
    opts: PollerOptions,
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    tx: mpsc::Sender<AsicTelemetry>,
    stop: watch::Receiver<bool>,
    start: Instant,
}

impl MinerTask {
    async fn stopped(stop: &mut watch::Receiver<bool>) {
        // Resolves on shutdown, and also if the poller was dropped.
        let _ = stop.wait_for(|s| *s).await;
    }

    async fn run(mut self, first: Instant) {
        let mut sched = MinerSchedule::new(self.opts.schedule);
        let mut client: Option<MinerClient> = None;
        let mut static_at: Option<Instant> = None;
        let mut last_good: Option<Arc<AsicTelemetry>> = None;
        let mut api: Option<AsicApi> = match self.spec.kind {
            super::client::MinerKind::Vnish => Some(AsicApi::Vnish),
            super::client::MinerKind::Cgminer => Some(AsicApi::Cgminer),
            super::client::MinerKind::Antminer => Some(AsicApi::Antminer),
            super::client::MinerKind::Auto => None,
        };
        let mut due = first;
        let counters = &self.shared.counters;
        loop {
            let shared = self.shared.clone();
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = shared.repoll.notified() => due = Instant::now(),
                _ = Self::stopped(&mut self.stop) => break,
            }
            let now_rel = Instant::now().saturating_duration_since(self.start);
            if !sched.breaker.allows(now_rel) {
                due = self.start
                    + match sched.breaker.state {
                        BreakerState::Open { until } => until,
                        _ => now_rel,
                    };
                continue;
            }
            let permit = tokio::select! {
                p = self.sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = Self::stopped(&mut self.stop) => break,
            };
            let started = Instant::now();
            let late = started.saturating_duration_since(due);
            counters.polls.fetch_add(1, Ordering::Relaxed);
            counters
                .max_lateness_ms
                .fetch_max(late.as_millis() as u64, Ordering::Relaxed);
            if late > LATE_AFTER {
                counters.late_polls.fetch_add(1, Ordering::Relaxed);
            }
            let fut = poll_once(&mut client, &mut static_at, &self.spec, &self.opts);
            let res = tokio::select! {
                r = tokio::time::timeout(self.opts.poll_timeout, fut) => match r {
                    Ok(r) => r,
                    Err(_) => Err(ApiError::Timeout { what: format!("poll of {}", self.spec.id), after: self.opts.poll_timeout }),
                },
                _ = Self::stopped(&mut self.stop) => break,
            };
            drop(permit);
            if let Some(c) = &client {
                api = Some(c.api());
            }
            let now_rel = Instant::now().saturating_duration_since(self.start);
            match res {
                Ok(t) => {
                    counters.polls_ok.fetch_add(1, Ordering::Relaxed);
                    counters
                        .invalid_readings
                        .fetch_add(t.invalid.len() as u64, Ordering::Relaxed);
                    if !t.invalid.is_empty() {
                        log::warn!(
                            "asic {}: impossible readings left out: {}",
                            self.spec.id,
                            t.invalid.join("; ")
                        );
                    }
                    let change = classify(last_good.as_deref(), &t);
                    let next = sched.on_success(change);
                    let shared = Arc::new(t.clone());
                    self.update_view(api, Some(&shared), None, &sched, late);
                    last_good = Some(shared);
                    self.send(t).await;
                    // Drift-free: the next due time counts from this one, not from when we ran.
                    due += next.delay;
                    if due < Instant::now() {
                        due = Instant::now();
                    }
                }
                Err(e) => {
                    let kind = e.kind();
                    counters.failure(kind);
                    log::warn!("asic {}: poll failed ({kind:?}): {e}", self.spec.id);
                    if kind == FailureKind::Auth || kind == FailureKind::Config {
                        // Credentials or address may be fixed by a config reload; re-detect then.
                        client = None;
                    }
                    let next = sched.on_failure(kind, now_rel);
                    if next.breaker_opened {
                        counters.breaker_opened.fetch_add(1, Ordering::Relaxed);
                        log::warn!(
                            "asic {}: circuit open after {} failures; next try in {:?}",
                            self.spec.id,
                            sched.failures,
                            next.delay
                        );
                    }
                    let msg = format!("{} consecutive failure(s), last: {e}", sched.failures);
                    self.update_view(api, None, Some(&msg), &sched, late);
                    if next.report_unreachable {
                        let t = normalise::unreachable(
                            &self.spec.id,
                            &self.spec.endpoint.host,
                            api.unwrap_or(AsicApi::Cgminer),
                            last_good.as_deref(),
                            &msg,
                        );
                        self.send(t).await;
                    }
                    due = Instant::now() + next.delay;
                }
            }
        }
    }

    async fn send(&self, t: AsicTelemetry) {
        // Awaiting (not try_send): the receiver is the local spool, and nothing may be dropped.
        if self.tx.send(t).await.is_ok() {
            self.shared
                .counters
                .telemetry_sent
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn update_view(
        &self,
        api: Option<AsicApi>,
        good: Option<&Arc<AsicTelemetry>>,
        err: Option<&str>,
        sched: &MinerSchedule,
        late: Duration,
    ) {
        let mut views = self.shared.views.lock().unwrap_or_else(|p| p.into_inner());
        let Some(Stored {
            view: v,
            last_good,
            at,
        }) = views.get_mut(&self.spec.id)
        else {
            return;
        };
        v.api = api;
        v.polls += 1;
        v.consecutive_failures = sched.failures;
        v.interval_ms = sched.interval.current.as_millis() as u64;
        v.breaker = sched.breaker.name();
        v.max_lateness_ms = v.max_lateness_ms.max(late.as_millis() as u64);
        match (good, err) {
            (Some(t), _) => {
                v.polls_ok += 1;
                v.reachable = true;
                *last_good = Some(Arc::clone(t));
                v.last_error = None;
                *at = Some(Instant::now());
            }
            (None, Some(e)) => {
                v.last_error = Some(e.to_string());
                if sched.failures >= sched.cfg.unreachable_after.max(1) {
                    v.reachable = false;
                }
            }
            (None, None) => {}
        }
    }
}

async fn poll_once(
    client: &mut Option<MinerClient>,
    static_at: &mut Option<Instant>,
    spec: &MinerSpec,
    opts: &PollerOptions,
) -> Result<AsicTelemetry, ApiError> {
    if client.is_none() {
        *client = Some(MinerClient::connect(spec, opts.request_timeout).await?);
        *static_at = None;
    }
    let Some(c) = client.as_mut() else {
        return Err(ApiError::NotDetected(spec.endpoint.host.clone()));
    };
    if static_at.is_none_or(|t| t.elapsed() >= opts.schedule.config_interval) {
        // Marked even on failure: a miner whose /settings is broken must not be asked every poll.
        *static_at = Some(Instant::now());
        if let Err(e) = c.refresh_static().await {
            if e.kind().is_silence() || e.kind() == FailureKind::Auth {
                *static_at = None;
                return Err(e);
            }
            log::warn!("asic {}: config data not refreshed: {e}", spec.id);
        }
    }
    let raw = c.read().await?;
    Ok(normalise::finish(
        raw,
        &spec.id,
        &spec.endpoint.host,
        hashward_common::now_ms(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{AsicError, Hashrate};

    fn cfg() -> ScheduleConfig {
        ScheduleConfig {
            fast: Duration::from_secs(60),
            slow: Duration::from_secs(300),
            stable_polls_to_slow_down: 3,
            breaker_threshold: 4,
            breaker_cooldown: Duration::from_secs(600),
            backoff_max: Duration::from_secs(900),
            unreachable_after: 2,
            ..ScheduleConfig::default()
        }
    }

    #[test]
    fn interval_slows_while_stable_and_snaps_back_on_change() {
        let c = cfg();
        let mut a = AdaptiveInterval::new(&c);
        let seq: Vec<u64> = (0..10).map(|_| a.update(Change::Stable, &c).as_secs()).collect();
        // Doubles every third stable poll, capped at slow.
        assert_eq!(seq, [60, 60, 120, 120, 120, 240, 240, 240, 300, 300]);
        assert_eq!(a.update(Change::Anomaly, &c).as_secs(), 60);
        assert_eq!(a.update(Change::Stable, &c).as_secs(), 60);
        assert_eq!(a.update(Change::StateChanged, &c).as_secs(), 60);
    }

    #[test]
    fn fixed_interval_when_fast_equals_slow() {
        let c = ScheduleConfig {
            slow: Duration::from_secs(60),
            ..cfg()
        };
        let mut a = AdaptiveInterval::new(&c);
        assert!((0..20).all(|_| a.update(Change::Stable, &c) == Duration::from_secs(60)));
    }

    #[test]
    fn breaker_opens_waits_trials_once_and_closes_on_success() {
        let mut br = CircuitBreaker::default();
        let s = Duration::from_secs;
        assert!(!br.on_failure(s(0), 3, s(100)));
        assert!(!br.on_failure(s(1), 3, s(100)));
        assert!(br.on_failure(s(2), 3, s(100)));
        assert!(!br.allows(s(50)));
        assert!(br.allows(s(102)));
        assert_eq!(br.state, BreakerState::HalfOpen);
        // A failed trial re-opens at once.
        assert!(br.on_failure(s(103), 3, s(100)));
        assert!(!br.allows(s(150)));
        assert!(br.allows(s(203)));
        br.on_success();
        assert_eq!(br.state, BreakerState::Closed);
        assert!(br.allows(s(204)));
    }

    #[test]
    fn schedule_reports_unreachable_only_after_repeated_silence() {
        let mut m = MinerSchedule::new(cfg());
        let s = Duration::from_secs;
        let n1 = m.on_failure(FailureKind::Timeout, s(0));
        assert!(!n1.report_unreachable);
        assert_eq!(n1.delay, s(60));
        let n2 = m.on_failure(FailureKind::Unreachable, s(60));
        assert!(n2.report_unreachable);
        assert_eq!(n2.delay, s(120));
        // Garbage replies are not silence: reported when the breaker opens.
        let mut m = MinerSchedule::new(cfg());
        let outs: Vec<bool> = (0..4)
            .map(|i| m.on_failure(FailureKind::Malformed, s(i)).report_unreachable)
            .collect();
        assert_eq!(outs, [false, false, false, true]);
        assert_eq!(m.breaker.name(), "open");
        let ok = m.on_success(Change::Stable);
        assert_eq!((ok.delay, m.failures, m.breaker.name()), (s(60), 0, "closed"));
    }

    fn tele(hs: f64, state: &str) -> AsicTelemetry {
        let mut t = normalise::unreachable("m", "ip", AsicApi::Vnish, None, "x");
        t.reachable = true;
        t.status.errors.clear();
        t.status.mining_status = state.into();
        t.hashrate.total = Hashrate(hs);
        t
    }

    #[test]
    fn classify_sees_state_changes_anomalies_and_calm() {
        let a = tele(100e12, "mining");
        assert_eq!(classify(None, &a), Change::StateChanged);
        assert_eq!(classify(Some(&a), &tele(99e12, "mining")), Change::Stable);
        assert_eq!(classify(Some(&a), &tele(80e12, "mining")), Change::Anomaly);
        assert_eq!(classify(Some(&a), &tele(100e12, "paused")), Change::StateChanged);
        let mut e = tele(100e12, "mining");
        e.status.errors.push(AsicError {
            code: "fan_failure".into(),
            message: String::new(),
            severity: "critical".into(),
        });
        assert_eq!(classify(Some(&a), &e), Change::Anomaly);
        let mut gone = a.clone();
        gone.reachable = false;
        assert_eq!(classify(Some(&gone), &a), Change::StateChanged);
    }
}

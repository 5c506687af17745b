//! Polls many ASICs on their own schedules ([`super::schedule`]): telemetry every 1-5 min,
//! faster while something changes, slower while stable; config data every 15-30 min;
//! exponential backoff and a quarantine on errors.
//!
//! This is the I/O half: tasks, deadlines, connection permits and the shared per-ASIC view.
//! An ASIC that stops answering is published as `unreachable`, never left out. A hanging ASIC
//! must never delay the others: each poll has a deadline and holds one of a bounded number of
//! connection permits only while it runs. A failed poll never replaces the last good reading.

use super::client::{AsicClient, AsicSpec};
use super::error::{ApiError, FailureKind};
use super::normalise;
use super::schedule::{classify, AsicSchedule, QuarantineState, ScheduleConfig};
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
    pub quarantined: AtomicU64,
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
    pub quarantined: u64,
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
            quarantined: g(&self.quarantined),
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
pub struct AsicView {
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
    pub quarantine: &'static str,
    pub max_lateness_ms: u64,
}

/// The view as stored: the last good reading is shared with the miner's task, not copied per
/// poll; it is copied out only when someone reads it.
struct StoredView {
    view: AsicView,
    last_good: Option<Arc<AsicTelemetry>>,
    at: Option<Instant>,
}

struct Shared {
    counters: Counters,
    views: Mutex<HashMap<String, StoredView>>,
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
    pub fn asics(&self) -> Vec<AsicView> {
        let views = self.shared.views.lock().unwrap_or_else(|p| p.into_inner());
        views.values().map(with_age).collect()
    }

    /// Polls every miner now instead of at its next due time (an ASIC in quarantine
    /// still waits for it). Returns how many ASICs are configured.
    pub fn repoll_now(&self) -> usize {
        self.shared.repoll.notify_waiters();
        self.shared.views.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn miner(&self, id: &str) -> Option<AsicView> {
        let views = self.shared.views.lock().unwrap_or_else(|p| p.into_inner());
        views.get(id).map(with_age)
    }
}

fn with_age(s: &StoredView) -> AsicView {
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
    miners: Vec<AsicSpec>,
    opts: PollerOptions,
    shared: Arc<Shared>,
}

impl Poller {
    pub fn new(miners: Vec<AsicSpec>, opts: PollerOptions) -> Poller {
        let views = miners
            .iter()
            .map(|m| {
                let v = AsicView {
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
                    quarantine: "clear",
                    max_lateness_ms: 0,
                };
                (
                    m.id.clone(),
                    StoredView {
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
            let job = AsicTask {
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

struct AsicTask {
    spec: AsicSpec,
    opts: PollerOptions,
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    tx: mpsc::Sender<AsicTelemetry>,
    stop: watch::Receiver<bool>,
    start: Instant,
}

impl AsicTask {
    async fn stopped(stop: &mut watch::Receiver<bool>) {
        // Resolves on shutdown, and also if the poller was dropped.
        let _ = stop.wait_for(|s| *s).await;
    }

    async fn run(mut self, first: Instant) {
        let mut sched = AsicSchedule::new(self.opts.schedule);
        let mut client: Option<AsicClient> = None;
        let mut static_at: Option<Instant> = None;
        let mut last_good: Option<Arc<AsicTelemetry>> = None;
        let mut api: Option<AsicApi> = match self.spec.kind {
            super::client::AsicKind::Vnish => Some(AsicApi::Vnish),
            super::client::AsicKind::Cgminer => Some(AsicApi::Cgminer),
            super::client::AsicKind::Antminer => Some(AsicApi::Antminer),
            super::client::AsicKind::Auto => None,
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
            if !sched.quarantine.allows(now_rel) {
                due = self.start
                    + match sched.quarantine.state {
                        QuarantineState::Active { until } => until,
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
                    if next.quarantined {
                        counters.quarantined.fetch_add(1, Ordering::Relaxed);
                        log::warn!(
                            "asic {}: quarantined after {} failures; next try in {:?}",
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
        sched: &AsicSchedule,
        late: Duration,
    ) {
        let mut views = self.shared.views.lock().unwrap_or_else(|p| p.into_inner());
        let Some(StoredView {
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
        v.quarantine = sched.quarantine.name();
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
    client: &mut Option<AsicClient>,
    static_at: &mut Option<Instant>,
    spec: &AsicSpec,
    opts: &PollerOptions,
) -> Result<AsicTelemetry, ApiError> {
    if client.is_none() {
        *client = Some(AsicClient::connect(spec, opts.request_timeout).await?);
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
    Ok(normalise::to_telemetry(
        raw,
        &spec.id,
        &spec.endpoint.host,
        hashward_common::now_ms(),
    ))
}

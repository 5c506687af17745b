//! The inference thread: a dedicated OS thread that owns the [`Assessor`] and is fed through a
//! bounded channel, so neither the link (tokio) nor the miner threads ever wait for tract.
//!
//! Submitting never blocks: when the queue is full the sample is dropped and counted (a score
//! a few samples late is worth less than a stalled link). Must never: block the caller, grow
//! without bound, or stop on a bad sample (errors are counted and logged).

use super::assessor::{Assessment, Assessor, PowerAdvice, Subject};
use hashward_protocol::{Alert, AsicTelemetry, RigTelemetry, Severity, ThreatType};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One telemetry sample to assess.
#[derive(Debug, Clone)]
/// Both boxed: the queue holds `capacity` of these, so each slot is a pointer, not 300 bytes.
pub enum Sample {
    Rig(Box<RigTelemetry>),
    Asic(Box<AsicTelemetry>),
}

/// What the inference thread hands back for each assessed sample.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub assessment: Assessment,
    /// When the sample was taken (ms since the epoch), as given to [`InferHandle::submit_at`].
    pub sample_ts_ms: u64,
    /// Publish on `{site}/{rig}/alert` when set (see [`WorkerConfig::realert_every`]).
    pub alert: Option<Alert>,
    /// ASIC power-target advice, every [`WorkerConfig::advice_every`] samples of a miner.
    pub advice: Option<PowerAdvice>,
}

#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Samples waiting at most; more are dropped and counted.
    pub capacity: usize,
    /// While an anomaly persists at the same threat and severity, alert again every this many
    /// samples (a new threat, or a higher severity, alerts at once).
    pub realert_every: u32,
    /// Advice for a miner every this many of its samples (0: never).
    pub advice_every: u32,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            capacity: 64,
            realert_every: 20,
            advice_every: 120,
        }
    }
}

/// Counters for the agent's telemetry.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub submitted: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
    pub assessed: AtomicU64,
    /// Samples that could not be assessed (no model, tract error, non-finite output).
    pub errors: AtomicU64,
    pub alerts: AtomicU64,
}

/// A snapshot of [`WorkerStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub submitted: u64,
    pub dropped: u64,
    pub assessed: u64,
    pub errors: u64,
    pub alerts: u64,
}

impl WorkerStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            submitted: g(&self.submitted),
            dropped: g(&self.dropped),
            assessed: g(&self.assessed),
            errors: g(&self.errors),
            alerts: g(&self.alerts),
        }
    }
}

/// Whether [`InferHandle::submit`] queued the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Queued,
    /// The queue was full; counted in [`WorkerStats::dropped`].
    Dropped,
    /// The inference thread has stopped.
    Closed,
}

/// The cheap, cloneable sending side. Dropping every handle stops the thread.
#[derive(Debug, Clone)]
pub struct InferHandle {
    tx: SyncSender<(Sample, u64)>,
    stats: Arc<WorkerStats>,
}

impl InferHandle {
    /// Queues a sample taken now without ever blocking.
    pub fn submit(&self, sample: Sample) -> Submitted {
        self.submit_at(sample, hashward_common::now_ms())
    }

    /// Queues a sample taken at `ts_ms` (the telemetry record's timestamp) without blocking.
    pub fn submit_at(&self, sample: Sample, ts_ms: u64) -> Submitted {
        self.stats.submitted.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send((sample, ts_ms)) {
            Ok(()) => Submitted::Queued,
            Err(TrySendError::Full(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Submitted::Dropped
            }
            Err(TrySendError::Disconnected(_)) => Submitted::Closed,
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The live counters, readable after every handle is gone (e.g. for a final report).
    pub fn counters(&self) -> Arc<WorkerStats> {
        self.stats.clone()
    }
}

/// Decides when an assessment becomes an alert: on entering medium or above, on a new threat or
/// a higher severity, and every `every` samples while it lasts. Without this a persisting fault
/// would publish one alert per sample.
#[derive(Debug, Default)]
struct AlertGate {
    last: HashMap<Subject, (ThreatType, Severity, u32)>,
}

impl AlertGate {
    fn pass(&mut self, a: &Assessment, every: u32) -> bool {
        if !a.is_alert() {
            self.last.remove(&a.subject);
            return false;
        }
        match self.last.get_mut(&a.subject) {
            Some((t, s, n)) if *t == a.threat_type && a.severity <= *s => {
                *n += 1;
                if every > 0 && *n >= every {
                    *n = 0;
                    true
                } else {
                    false
                }
            }
            _ => {
                if self.last.len() > super::assessor::MAX_ASIC_SUBJECTS {
                    self.last.clear();
                }
                self.last
                    .insert(a.subject.clone(), (a.threat_type, a.severity, 0));
                true
            }
        }
    }
}

/// Starts the inference thread. `sink` receives every outcome on that thread: keep it quick
/// (e.g. a non-blocking `try_send` into the link's channel, or the spool).
pub fn spawn<F>(
    engine: Assessor,
    config: WorkerConfig,
    mut sink: F,
) -> std::io::Result<(InferHandle, JoinHandle<()>)>
where
    F: FnMut(Outcome) + Send + 'static,
{
    let (tx, rx) = sync_channel::<(Sample, u64)>(config.capacity.max(1));
    let stats = Arc::new(WorkerStats::default());
    let thread_stats = stats.clone();
    let join = std::thread::Builder::new()
        .name("hashward-infer".into())
        .spawn(move || {
            let mut engine = engine;
            let mut gate = AlertGate::default();
            let mut asic_counts: HashMap<String, u32> = HashMap::new();
            while let Ok((sample, sample_ts_ms)) = rx.recv() {
                let (result, advice) = match &sample {
                    Sample::Rig(t) => (engine.assess_rig(t), None),
                    Sample::Asic(t) => {
                        let r = engine.assess_asic(t);
                        let advice = if config.advice_every > 0 {
                            if asic_counts.len() > super::assessor::MAX_ASIC_SUBJECTS {
                                asic_counts.clear();
                            }
                            let n = asic_counts.entry(t.miner_id.clone()).or_insert(0);
                            *n += 1;
                            if *n >= config.advice_every {
                                *n = 0;
                                engine.advise_asic(t).unwrap_or_else(|e| {
                                    log::warn!("advice for {}: {e}", t.miner_id);
                                    None
                                })
                            } else {
                                None
                            }
                        } else {
                            None
                        };
                        (r, advice)
                    }
                };
                match result {
                    Ok(assessment) => {
                        thread_stats.assessed.fetch_add(1, Ordering::Relaxed);
                        let alert = gate
                            .pass(&assessment, config.realert_every)
                            .then(|| assessment.to_alert());
                        if alert.is_some() {
                            thread_stats.alerts.fetch_add(1, Ordering::Relaxed);
                        }
                        sink(Outcome {
                            assessment,
                            sample_ts_ms,
                            alert,
                            advice,
                        });
                    }
                    Err(e) => {
                        thread_stats.errors.fetch_add(1, Ordering::Relaxed);
                        log::debug!("inference: {e}");
                    }
                }
            }
        })?;
    Ok((InferHandle { tx, stats }, join))
}

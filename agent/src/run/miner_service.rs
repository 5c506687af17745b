//! The CPU miner inside `run`: connects the Stratum client and the engine. Pool jobs go to the
//! engine, found nonces go back to the pool as shares, and the figures go into telemetry. With
//! no pool it mines random headers (benchmark mode) and says so in its constraints.
//!
//! Must never: submit a share for a job the pool cleaned (the client drops those and counts
//! them), or keep hashing a job from a pool connection that is gone.

use crate::config::{Config, MinerConfig, TuneConfig};
use crate::hw::{self, live::LiveSensors};
use crate::miner::bench::BenchJob;
use crate::miner::engine::{Engine, EngineConfig, EngineError, Found, JobSource, WorkUnit};
use crate::miner::hash::{self, Algo, KernelError};
use crate::miner::stratum::{
    self, ClientConfig, MiningJob, PoolConfig, PoolEvent, ShareOutcome, StratumHandle, DIFF1_SCRYPT,
    DIFF1_SHA256D,
};
use crate::tune::control::{thermal_reading, Control, EngineView, Host, MinerSettings, CONTROL_INTERVAL_S};
use crate::tune::decide::OptimalConfig;
use crate::tune::perf_store::PerfStore;
use hashward_protocol::{FleetHints, MinerTelemetry, PoolTelemetry, TuningSnapshot};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What the engine mines: a pool's job or benchmark headers.
pub enum MinerJob {
    Pool(Arc<MiningJob>),
    Bench(BenchJob),
}

impl JobSource for MinerJob {
    fn next_work(&self) -> WorkUnit {
        match self {
            MinerJob::Pool(job) => {
                let extranonce2 = job.next_extranonce2();
                WorkUnit {
                    work: job.work_for(extranonce2, job.ntime),
                    extranonce2,
                    ntime: job.ntime,
                }
            }
            MinerJob::Bench(b) => b.next_work(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("pool configuration: {0}")]
    Pool(String),
    #[error("thermal configuration: {0}")]
    Thermal(#[from] crate::tune::thermal::ThermalConfigError),
}

/// A running miner: the engine and, when mining to a pool, the pool client's handle.
pub struct Miner {
    algo: Algo,
    engine: Arc<Engine<MinerJob>>,
    pool: Option<StratumHandle>,
    users: Vec<String>,
    /// What thermal and power control last decided, and why.
    control: Mutex<Vec<String>>,
}

impl Miner {
    /// Hashes computed since the engine started (the watchdog's progress signal).
    pub fn total_hashes(&self) -> u64 {
        self.engine.total_hashes()
    }

    pub fn telemetry(&self) -> MinerTelemetry {
        let s = self.engine.stats();
        let pool = self.pool.as_ref().and_then(|h| {
            let stats = h.stats();
            let (i, p) = stats
                .iter()
                .enumerate()
                .find(|(_, p)| p.connected)
                .or(stats.iter().enumerate().next())?;
            Some(PoolTelemetry {
                url: p.url.clone(),
                user: self.users.get(i).cloned().unwrap_or_default(),
                connected: p.connected,
                difficulty: p.difficulty.unwrap_or(0.0),
                accepted: p.accepted,
                rejected: p.rejected.total(),
                stale_dropped: p.stale_dropped,
                last_share_ts_ms: p
                    .last_share_time
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as u64),
                latency_ms: p.last_submit_latency.map(|d| d.as_millis() as u32),
            })
        });
        let mut constraints = self.control.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if self.pool.is_none() {
            constraints.push("benchmark mode: no pool configured".to_string());
        }
        MinerTelemetry {
            algo: self.algo.to_string(),
            kernel: s.kernel.to_string(),
            threads: s.threads,
            batch: s.batch,
            paused: s.paused,
            hashrate_10s: s.hashrate_10s,
            hashrate_60s: s.hashrate_60s,
            hashrate_15m: s.hashrate_15m,
            pool,
            constraints,
        }
    }
}

/// What the miner exchanges with the rest of the agent besides telemetry.
pub struct MinerLinks {
    /// The rig's performance store; None when it could not be opened (tuning is then not kept).
    pub perf_store: Option<PerfStore>,
    /// The hub's latest fleet hints.
    pub hints: watch::Receiver<Option<FleetHints>>,
    /// Tuning snapshots to publish on the perf topic (`telemetry_enabled`).
    pub snapshots: mpsc::UnboundedSender<TuningSnapshot>,
    /// Operator commands and config changes that do not need a new engine.
    pub commands: mpsc::UnboundedReceiver<MinerCommand>,
}

/// What the rest of the agent can ask of a running miner.
#[derive(Debug, Clone)]
pub enum MinerCommand {
    /// New limits or tuning settings (same algorithm, kernel, pools, priority and hardware root).
    Reconfigure {
        tune: Box<TuneConfig>,
        miner: MinerSettings,
    },
    /// Hold (true) or release (false) mining by operator command, whatever control decides.
    Hold(bool),
    /// Start a new tuning search now.
    Retune,
}

/// Whether going from `old` to `new` needs a new engine and pool client rather than a
/// reconfiguration of the running one.
pub fn needs_restart(old: &Config, new: &Config) -> bool {
    let (old_m, new_m) = (&old.miner, &new.miner);
    old_m.is_enabled() != new_m.is_enabled()
        || old_m.algo != new_m.algo
        || old_m.pools != new_m.pools
        || old_m.kernel != new_m.kernel
        || old_m.priority != new_m.priority
        || old.tune.hardware_root != new.tune.hardware_root
}

/// What of the miner's settings control must respect.
pub fn miner_settings(cfg: &MinerConfig) -> MinerSettings {
    MinerSettings {
        pow_algo: cfg.algo.to_string(),
        threads: cfg.mining_threads,
        batch: cfg.simd_batch_size,
        cpus: cfg.cpus.clone(),
    }
}

fn engine_view(engine: &Engine<MinerJob>) -> EngineView {
    EngineView {
        threads: engine.threads(),
        batch: engine.batch(),
        total_hashes: engine.total_hashes(),
        hashing: engine.is_hashing(),
    }
}

/// Starts the engine (and the pool client when pools are configured) and the task that connects
/// them. The task ends when `shutdown` turns true.
pub fn start(
    cfg: &MinerConfig,
    tune: &TuneConfig,
    links: MinerLinks,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(Arc<Miner>, JoinHandle<()>), MinerError> {
    if !crate::miner::BUILT_IN {
        return Err(KernelError::MinerNotBuilt.into());
    }
    // Refuse an unknown kernel before anything starts.
    hash::select(cfg.algo, cfg.kernel.as_deref())?;
    let MinerLinks {
        perf_store,
        mut hints,
        snapshots,
        mut commands,
    } = links;
    let found = hw::discover(&tune.hardware_root);
    let sensors = LiveSensors::new(&tune.hardware_root, &found);
    let mut control = Control::new(tune, miner_settings(cfg), Host::from_hardware(&found), perf_store)?;
    let started = Instant::now();
    let first = control
        .tick(
            0.0,
            &EngineView::default(),
            thermal_reading(sensors.package_temp()),
            &sensors.power(),
        )
        .config;
    log::info!(
        "tune: starting with {} threads x batch {}{} ({})",
        first.threads,
        first.batch_size,
        if first.should_mine { "" } else { ", paused" },
        first.constraints_applied.join("; ")
    );
    let (found_tx, mut found_rx) = mpsc::unbounded_channel::<Found<MinerJob>>();
    let engine = Arc::new(Engine::start(
        EngineConfig {
            algo: cfg.algo,
            kernel: cfg.kernel.clone(),
            threads: first.threads.max(1) as u32,
            batch: first.batch_size,
            cpus: first.cpus.clone(),
            priority: cfg.priority,
        },
        found_tx,
    )?);
    engine.set_paused(!first.should_mine);
    let control_every = Duration::from_secs(CONTROL_INTERVAL_S.min(tune.evaluation_window_secs).max(1));
    let mut client = None;
    if cfg.pools.is_empty() {
        log::warn!("miner: no pool configured, running in benchmark mode (hashes random headers)");
        engine.set_job(Arc::new(MinerJob::Bench(BenchJob::default())));
    } else {
        let diff1 = match cfg.algo {
            Algo::Sha256d => DIFF1_SHA256D,
            Algo::Scrypt => DIFF1_SCRYPT,
        };
        let pools = cfg
            .pools
            .iter()
            .map(|p| PoolConfig {
                url: p.url.clone(),
                user: p.user.clone(),
                password: p.pass.clone(),
            })
            .collect();
        let mut cc = ClientConfig::new(pools, diff1);
        cc.user_agent = format!("hashward/{}", env!("CARGO_PKG_VERSION"));
        client = Some(stratum::spawn(cc).map_err(|e| MinerError::Pool(e.to_string()))?);
    }
    let miner = Arc::new(Miner {
        algo: cfg.algo,
        engine: engine.clone(),
        pool: client.as_ref().map(|c| c.handle.clone()),
        users: cfg.pools.iter().map(|p| p.user.clone()).collect(),
        control: Mutex::new(first.constraints_applied.clone()),
    });
    let miner2 = miner.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut control_tick = tokio::time::interval(control_every);
        let mut last: Option<OptimalConfig> = Some(first);
        let mut held = false;
        let (handle, mut events) = match client {
            Some(c) => (Some(c.handle), Some(c.events)),
            None => (None, None),
        };
        loop {
            tokio::select! {
                ev = async { match events.as_mut() { Some(e) => e.recv().await, None => std::future::pending().await } } => {
                    match ev {
                        Some(ev) => on_pool_event(&engine, ev),
                        None => break,
                    }
                }
                Some(found) = found_rx.recv() => {
                    if let (MinerJob::Pool(job), Some(h)) = (&*found.job, handle.as_ref()) {
                        let share = job.share(found.extranonce2, found.ntime, found.nonce, None);
                        if h.submit(share).is_err() {
                            log::warn!("miner: pool client is gone; share dropped");
                        }
                    }
                }
                _ = tick.tick() => engine.sample(),
                Some(cmd) = commands.recv() => match cmd {
                    MinerCommand::Reconfigure { tune, miner } => match control.reconfigure(&tune, miner) {
                        Ok(()) => {
                            log::info!("miner: new limits and tuning settings applied without a restart");
                            control_tick.reset_immediately();
                        }
                        Err(e) => log::error!("miner: new settings refused: {e}"),
                    },
                    MinerCommand::Hold(h) => {
                        held = h;
                        engine.set_paused(h);
                        log::warn!("miner: {} by operator command", if h { "paused" } else { "resumed" });
                        // Re-apply control's decision from scratch on resume.
                        last = None;
                        control_tick.reset_immediately();
                    }
                    MinerCommand::Retune => {
                        log::info!("tune: re-tuning now by operator command");
                        control.retune();
                        control_tick.reset_immediately();
                    }
                },
                _ = control_tick.tick() => {
                    let out = control.tick(
                        started.elapsed().as_secs_f64(),
                        &engine_view(&engine),
                        thermal_reading(sensors.package_temp()),
                        &sensors.power(),
                    );
                    let mut constraints = out.config.constraints_applied.clone();
                    if held {
                        engine.set_paused(true);
                        constraints.push("Paused by operator command".to_string());
                    } else {
                        apply(&engine, &out.config, last.as_ref());
                    }
                    *miner2.control.lock().unwrap_or_else(|p| p.into_inner()) = constraints;
                    last = Some(out.config);
                    if let Some(snap) = out.snapshot {
                        let _ = snapshots.send(snap);
                    }
                }
                Ok(()) = hints.changed() => {
                    if let Some(h) = hints.borrow_and_update().clone() {
                        log::info!("tune: {} fleet hint(s) from the hub", h.hints.len());
                        control.set_hints(h);
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
        if let Some(h) = handle {
            h.shutdown();
        }
        engine.clear_job();
    });
    Ok((miner, task))
}

/// Applies a thermal/power/tuning decision to the running engine, logging what changed and why.
fn apply(engine: &Engine<MinerJob>, decided: &OptimalConfig, last: Option<&OptimalConfig>) {
    let changed = last.is_none_or(|l| {
        l.should_mine != decided.should_mine
            || l.threads != decided.threads
            || l.batch_size != decided.batch_size
            || l.cpus != decided.cpus
    }) || (decided.should_mine
        && (engine.threads() as usize != decided.threads || engine.batch() != decided.batch_size));
    if !changed {
        return;
    }
    let why = decided.constraints_applied.join("; ");
    if !decided.should_mine {
        log::warn!("tune: mining paused ({why})");
        engine.set_paused(true);
        return;
    }
    if engine.threads() as usize != decided.threads {
        log::info!(
            "tune: threads {} -> {} ({why})",
            engine.threads(),
            decided.threads
        );
        if let Err(e) = engine.set_threads(decided.threads as u32) {
            log::error!("tune: {e}");
        }
    }
    if engine.batch() != decided.batch_size {
        log::info!("tune: batch {} -> {} ({why})", engine.batch(), decided.batch_size);
        engine.set_batch(decided.batch_size);
    }
    if engine.cpus() != decided.cpus {
        log::info!("tune: threads placed {} ({why})", decided.numa_layout);
        engine.set_cpus(decided.cpus.clone());
    }
    engine.set_paused(false);
}

fn on_pool_event(engine: &Engine<MinerJob>, ev: PoolEvent) {
    match ev {
        PoolEvent::Connected { url, .. } => log::info!("miner: connected to {url}"),
        PoolEvent::Disconnected { pool, reason } => {
            log::warn!("miner: pool {pool} disconnected: {reason}; idle until the next job");
            engine.clear_job();
        }
        PoolEvent::NewJob(job) => {
            log::debug!(
                "miner: job {} (clean: {}, difficulty {})",
                job.job_id,
                job.clean,
                job.difficulty
            );
            engine.set_job(Arc::new(MinerJob::Pool(job)));
        }
        PoolEvent::ShareResult(r) => match &r.outcome {
            ShareOutcome::Accepted => log::info!("miner: share accepted (job {})", r.job_id),
            ShareOutcome::Rejected { reason, message } => {
                log::warn!("miner: share rejected (job {}): {reason:?} {message}", r.job_id)
            }
            ShareOutcome::DroppedStale => log::debug!("miner: stale share dropped (job {})", r.job_id),
            other => log::warn!("miner: share {other:?} (job {})", r.job_id),
        },
    }
}

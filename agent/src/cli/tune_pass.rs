//! A foreground tuning pass for `hashward-agent tune`: the real engine hashes benchmark headers
//! while the tuner's points are measured back to back, optionally followed by an exhaustive
//! sweep of the same grid so the operator can see how close the search came and how much it
//! saved. Results go to the performance store the agent starts from.
//!
//! Must never: report a point it did not measure, or store a figure from a window in which the
//! engine was not running that point.

use crate::miner::bench::BenchJob;
use crate::miner::engine::{Engine, EngineConfig, EngineError, Priority};
use crate::miner::hash::Algo;
use crate::tune::config::TuneMode;
use crate::tune::perf_store::{PerfKey, PerfStore};
use crate::tune::tuner::{Bounds, Origin, Phase, Point, Step, Trial, Tuner};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct PassConfig {
    pub algo: Algo,
    pub kernel: Option<String>,
    pub priority: Priority,
    pub seconds_per_point: f64,
    pub mode: TuneMode,
    pub bounds: Bounds,
    pub start: Point,
    pub origin: Origin,
    pub exhaustive: bool,
}

/// Where measurements are stored: the store and the key fields every point shares.
pub struct StoreTarget<'a> {
    pub store: &'a PerfStore,
    pub cpu_model: String,
    pub profile: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub threads: u32,
    pub batch: u32,
    pub hashrate_hs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub measurements: usize,
    pub points: Vec<Measured>,
    pub best: Measured,
    /// The tuner's choice as measured in the sweep, over the sweep's best.
    pub chosen_vs_best: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PassReport {
    pub algo: Algo,
    pub kernel: &'static str,
    pub seconds_per_point: f64,
    pub bounds: Bounds,
    pub start: Point,
    pub origin: Origin,
    pub trials: Vec<Trial>,
    pub measurements: usize,
    pub chosen: Measured,
    pub exhaustive: Option<Sweep>,
}

struct Bench {
    engine: Engine<BenchJob>,
    seconds: f64,
}

impl Bench {
    fn measure(&self, p: Point) -> Result<f64, EngineError> {
        self.engine.set_threads(p.threads)?;
        self.engine.set_batch(p.batch);
        // Warm-up: new threads start, caches fill, clocks settle.
        std::thread::sleep(Duration::from_secs_f64((self.seconds / 5.0).clamp(0.2, 2.0)));
        let (h0, t0) = (self.engine.total_hashes(), Instant::now());
        std::thread::sleep(Duration::from_secs_f64(self.seconds));
        let (h1, dt) = (self.engine.total_hashes(), t0.elapsed().as_secs_f64());
        Ok(h1.saturating_sub(h0) as f64 / dt)
    }
}

fn store(target: Option<&StoreTarget>, algo: Algo, p: Point, rate: f64) {
    let Some(t) = target else { return };
    let key = PerfKey {
        cpu_model: t.cpu_model.clone(),
        profile: t.profile.clone(),
        pow_algo: algo.to_string(),
        threads: p.threads,
        batch_size: p.batch,
        numa_layout: "unpinned".to_string(),
    };
    if let Err(e) = t.store.record(&key, rate, hashward_common::now_ms() / 1000) {
        log::warn!("tune: {p} not stored: {e}");
    }
}

/// Runs the search (and the sweep when asked) on this machine. Blocks for the whole pass.
pub fn run(cfg: &PassConfig, target: Option<&StoreTarget>) -> Result<PassReport, EngineError> {
    let (tx, _found) = tokio::sync::mpsc::unbounded_channel();
    let engine: Engine<BenchJob> = Engine::start(
        EngineConfig {
            algo: cfg.algo,
            kernel: cfg.kernel.clone(),
            threads: cfg.start.threads.max(1),
            batch: cfg.start.batch,
            cpus: Vec::new(),
            priority: cfg.priority,
        },
        tx,
    )?;
    engine.set_job(Arc::new(BenchJob::default()));
    let bench = Bench {
        engine,
        seconds: cfg.seconds_per_point,
    };
    let mut tuner = Tuner::new(cfg.bounds, cfg.mode, cfg.start, cfg.origin);
    let chosen = loop {
        match tuner.next() {
            Step::Measure(p) => {
                let rate = bench.measure(p)?;
                log::info!("tune: {p}: {:.0} H/s", rate);
                store(target, cfg.algo, p, rate);
                tuner.record(p, rate);
            }
            Step::Settled(p) => break p,
        }
    };
    let chosen_rate = tuner.incumbent().1.unwrap_or(0.0);
    let exhaustive = if cfg.exhaustive {
        let mut points = Vec::new();
        for p in cfg.bounds.grid() {
            let rate = bench.measure(p)?;
            log::info!("sweep: {p}: {:.0} H/s", rate);
            store(target, cfg.algo, p, rate);
            points.push(Measured {
                threads: p.threads,
                batch: p.batch,
                hashrate_hs: rate,
            });
        }
        let best = points
            .iter()
            .max_by(|a, b| a.hashrate_hs.total_cmp(&b.hashrate_hs))
            .cloned();
        best.map(|best| {
            let chosen_in_sweep = points
                .iter()
                .find(|m| m.threads == chosen.threads && m.batch == chosen.batch)
                .map_or(0.0, |m| m.hashrate_hs);
            Sweep {
                measurements: points.len(),
                chosen_vs_best: if best.hashrate_hs > 0.0 {
                    chosen_in_sweep / best.hashrate_hs
                } else {
                    0.0
                },
                points,
                best,
            }
        })
    } else {
        None
    };
    let trials = tuner.trials().to_vec();
    debug_assert!(trials.iter().all(|t| t.phase == Phase::Explore));
    Ok(PassReport {
        algo: cfg.algo,
        kernel: bench.engine.kernel(),
        seconds_per_point: cfg.seconds_per_point,
        bounds: cfg.bounds,
        start: tuner.trials().first().map_or(cfg.start, |t| t.point),
        origin: cfg.origin,
        measurements: trials.len(),
        trials,
        chosen: Measured {
            threads: chosen.threads,
            batch: chosen.batch,
            hashrate_hs: chosen_rate,
        },
        exhaustive,
    })
}

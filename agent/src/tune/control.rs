//! The live control loop's I/O edge: re-reads the chosen CPU package sensor and the power
//! supplies under the hardware root, runs the auto-tuner's measurement windows against the
//! engine's hash counter, keeps the performance store, and returns the configuration the engine
//! should run with (through the pure thermal controller, tuner and integrated decision).
//!
//! Must never: guess a temperature (a sensor that stops reading is reported as lost, which the
//! controller treats as hot), count a window in which the engine did not run the point being
//! measured (paused, no job, throttled, not applied yet), or raise threads above what the
//! operator configured.

use crate::config::{MinerConfig, Profile, TuneMode};
use crate::miner::hash::Algo;
use crate::tune::decide::{decide_optimal_config, DecideInput, OptimalConfig, Placement};
use crate::tune::hw::{self, sensors::read_package_temp, sensors::Sensor};
use crate::tune::numa::NumaNode;
use crate::tune::perf_store::{PerfKey, PerfStore};
use crate::tune::power::PowerConfig;
use crate::tune::thermal::{ControlTuning, Reading, ThermalConfigError, ThermalController};
use crate::tune::tuner::{Bounds, Origin, Point, Step, Tuner};
use hashward_protocol::{FleetHints, Hashrate, TuningSnapshot};
use std::path::PathBuf;

/// How often the loop samples, as the thermal simulation assumes.
pub const CONTROL_INTERVAL_S: u64 = 5;
/// How long a fresh agent waits for the hub's retained hints before tuning from a guess.
pub const HINT_WAIT_S: f64 = 10.0;
/// Hints less certain than this are not worth starting from. A single rig's single report scores
/// 0.1 at the hub; a hint is only a starting point that is measured before it is kept, so even
/// that is better than a guess.
pub const MIN_HINT_CONFIDENCE: f32 = 0.05;

/// What the engine is doing, as the control loop needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineView {
    pub threads: u32,
    pub batch: u32,
    pub total_hashes: u64,
    pub hashing: bool,
}

/// One step's result: the configuration to apply and, when the tuner settled or re-checked, the
/// anonymised snapshot to share with the hub (only with `telemetry_enabled`).
#[derive(Debug, Clone, PartialEq)]
pub struct TickOutcome {
    pub config: OptimalConfig,
    pub snapshot: Option<TuningSnapshot>,
}

/// The hardware facts tuning depends on.
struct Host {
    cpu_model: String,
    logical: usize,
    physical: usize,
    nodes: Vec<NumaNode>,
    smt_siblings: Vec<Vec<u32>>,
}

/// An evaluation window in progress.
struct Window {
    point: Point,
    start_s: f64,
    start_hashes: u64,
}

struct Session {
    tuner: Tuner,
    profile: Profile,
    /// How the search started, for the constraints.
    origin_note: String,
    window: Option<Window>,
    next_recheck_s: Option<f64>,
}

pub struct Control {
    root: PathBuf,
    sensor: Option<Sensor>,
    thermal: Option<ThermalController>,
    power_cfg: PowerConfig,
    cfg: MinerConfig,
    algo: Algo,
    host: Host,
    store: Option<PerfStore>,
    hints: Option<FleetHints>,
    session: Option<Session>,
}

impl Control {
    /// `store` is the rig's performance store (None: tuning results are not kept, e.g. when it
    /// could not be opened; the agent says so).
    pub fn new(cfg: &MinerConfig, store: Option<PerfStore>) -> Result<Control, ThermalConfigError> {
        let found = hw::discover(&cfg.hardware_root);
        let sensor = match &found.thermal.package {
            Ok(p) => {
                log::info!("thermal: CPU package sensor {} ({:.1} °C)", p.reason, p.celsius);
                Some(p.sensor.clone())
            }
            Err(e) => {
                log::warn!("thermal: {e}; mining without thermal protection");
                None
            }
        };
        let thermal = match cfg.thermal() {
            Some(t) => Some(ThermalController::new(t, ControlTuning::default())?),
            None => None,
        };
        let logical = found.topology.logical_count().max(1);
        let host = Host {
            cpu_model: found.model.name.clone(),
            logical,
            physical: found.topology.physical_count().clamp(1, logical),
            nodes: found.numa_nodes().to_vec(),
            smt_siblings: found.topology.smt_siblings.clone(),
        };
        Ok(Control {
            root: cfg.hardware_root.clone(),
            sensor,
            thermal,
            power_cfg: cfg.power(),
            cfg: cfg.clone(),
            algo: cfg.algo,
            host,
            store,
            hints: None,
            session: None,
        })
    }

    /// New fleet hints from the hub; used when the next search starts without local data.
    pub fn set_hints(&mut self, hints: FleetHints) {
        self.hints = Some(hints);
    }

    /// Starts a new search now ("re-tune now").
    pub fn retune(&mut self) {
        self.session = None;
    }

    /// Takes new limits and tuning settings (a config push) without restarting the engine: the
    /// thermal controller is rebuilt only when its limits changed (so a push of pools' worker
    /// names does not reset its cooldown), the search restarts only when its bounds did.
    pub fn reconfigure(&mut self, cfg: &MinerConfig) -> Result<(), ThermalConfigError> {
        let old = &self.cfg;
        if cfg.thermal() != old.thermal() {
            self.thermal = match cfg.thermal() {
                Some(t) => Some(ThermalController::new(t, ControlTuning::default())?),
                None => None,
            };
        }
        let tuning_changed = cfg.mining_profile != old.mining_profile
            || cfg.mining_threads != old.mining_threads
            || cfg.simd_batch_size != old.simd_batch_size
            || cfg.auto_tune_enabled != old.auto_tune_enabled
            || cfg.auto_tune_mode != old.auto_tune_mode
            || cfg.min_threads != old.min_threads
            || cfg.max_threads != old.max_threads
            || cfg.min_batch_size != old.min_batch_size
            || cfg.max_batch_size != old.max_batch_size
            || cfg.evaluation_window_secs != old.evaluation_window_secs
            || cfg.reeval_interval_secs != old.reeval_interval_secs
            || cfg.numa_aware_enabled != old.numa_aware_enabled
            || cfg.cpus != old.cpus;
        self.power_cfg = cfg.power();
        self.cfg = cfg.clone();
        if tuning_changed {
            self.session = None;
        }
        Ok(())
    }

    /// The tuner's trials so far (for logs and `tune`).
    pub fn tuner(&self) -> Option<&Tuner> {
        self.session.as_ref().map(|s| &s.tuner)
    }

    /// One control step at `now_s` seconds since start: read, tune, decide.
    pub fn tick(&mut self, now_s: f64, engine: &EngineView) -> TickOutcome {
        let thermal = self.thermal.as_mut().map(|c| {
            let reading = match &self.sensor {
                None => Reading::NoSensor,
                Some(s) => match read_package_temp(s) {
                    Ok(t) => Reading::Celsius(t),
                    Err(e) => {
                        log::warn!("thermal: package sensor stopped reading ({e}); assuming hot");
                        Reading::SensorLost
                    }
                },
            };
            c.observe(now_s, reading)
        });
        let power = hw::power::read_power(&self.root, &mut Vec::new()).state;
        let on_battery = !power.treat_as_ac() && self.power_cfg.power_mode_sensitivity;
        let profile = if on_battery {
            Profile::Laptop
        } else {
            self.cfg.mining_profile
        };
        let bounds = self.bounds(profile);

        if self
            .session
            .as_ref()
            .is_some_and(|s| s.profile != profile || s.tuner.bounds() != bounds)
        {
            log::info!(
                "tune: profile or bounds changed ({}); starting a new search",
                profile.as_str()
            );
            self.session = None;
        }
        if self.session.is_none() && self.cfg.auto_tune_enabled && self.ready_to_start(now_s) {
            self.session = Some(self.start_session(profile, bounds));
        }

        let mut snapshot = None;
        let mut decided = self.decide(profile, bounds, &thermal, &power);
        if self.account(now_s, engine, &decided, profile, &mut snapshot) {
            // A window closed: go straight to the next point instead of idling a whole tick.
            decided = self.decide(profile, bounds, &thermal, &power);
        }
        if let Some(s) = self.session.as_mut() {
            if s.tuner.is_settled() && s.next_recheck_s.is_some_and(|t| now_s >= t) {
                log::info!("tune: re-checking {} for drift", s.tuner.incumbent().0);
                s.tuner.recheck();
                s.next_recheck_s = None;
                decided = self.decide(profile, bounds, &thermal, &power);
            }
        }
        TickOutcome {
            config: decided,
            snapshot,
        }
    }

    fn ready_to_start(&self, now_s: f64) -> bool {
        let have_local = self.store.as_ref().is_some_and(|s| {
            s.best_with_fallback(
                &self.host.cpu_model,
                self.cfg.mining_profile.as_str(),
                self.algo_name(),
                "",
            )
            .ok()
            .flatten()
            .is_some()
        });
        have_local || !self.cfg.fleet_hints_enabled || self.hints.is_some() || now_s >= HINT_WAIT_S
    }

    fn algo_name(&self) -> &'static str {
        match self.algo {
            Algo::Sha256d => "sha256d",
            Algo::Scrypt => "scrypt",
        }
    }

    fn bounds(&self, profile: Profile) -> Bounds {
        tuning_bounds(&self.cfg, profile, self.host.logical, self.host.physical)
    }

    fn start_session(&self, profile: Profile, bounds: Bounds) -> Session {
        let algo = self.algo_name();
        let from_store = self.store.as_ref().and_then(|s| {
            match s.best_with_fallback(&self.host.cpu_model, profile.as_str(), algo, &self.layout_hint()) {
                Ok(found) => found,
                Err(e) => {
                    log::warn!("tune: {e}; starting without local data");
                    None
                }
            }
        });
        let hint = self
            .cfg
            .fleet_hints_enabled
            .then(|| {
                self.hints.as_ref().and_then(|h| {
                    h.find(
                        &self.host.cpu_model,
                        to_u32(self.host.logical),
                        algo,
                        profile.as_str(),
                    )
                })
            })
            .flatten()
            .filter(|h| h.confidence >= MIN_HINT_CONFIDENCE);
        let (start, origin, note) = if let Some((k, st, m)) = from_store {
            let p = Point {
                threads: k.threads,
                batch: k.batch_size,
            };
            let note = format!(
                "{} from own performance store ({m:?} match, {} expected over {} windows)",
                p,
                Hashrate(st.avg_hashrate),
                st.sample_count
            );
            (p, Origin::Store, note)
        } else if let Some(h) = hint {
            let p = Point {
                threads: h.threads,
                batch: h.batch_size,
            };
            let note = format!(
                "Telemetry hint: {} expected (confidence: {:.0}%, {} rig(s)) at {p}",
                Hashrate(h.expected_hashrate_hs),
                h.confidence * 100.0,
                h.rigs
            );
            (p, Origin::FleetHint, note)
        } else {
            let p = Tuner::topology_start(&bounds, self.host.physical, self.cfg.simd_batch_size);
            let note = format!("{p} from topology ({} physical cores)", self.host.physical);
            (p, Origin::Topology, note)
        };
        let tuner = Tuner::new(bounds, self.cfg.auto_tune_mode, start, origin);
        log::info!(
            "tune: searching {}..={} threads x batch {}..={} ({:?} mode), starting at {note}",
            bounds.min_threads,
            bounds.max_threads,
            bounds.min_batch,
            bounds.max_batch,
            self.cfg.auto_tune_mode
        );
        Session {
            tuner,
            profile,
            origin_note: note,
            window: None,
            next_recheck_s: None,
        }
    }

    /// The layout the tuner's start is looked up under (the exact match is preferred).
    fn layout_hint(&self) -> String {
        if self.cfg.numa_aware_enabled {
            crate::tune::numa::plan(&self.host.nodes, &self.host.smt_siblings, self.host.physical).layout()
        } else if !self.cfg.cpus.is_empty() {
            String::new()
        } else {
            "unpinned".to_string()
        }
    }

    fn placement(&self) -> Placement {
        if !self.cfg.cpus.is_empty() {
            Placement::Fixed(self.cfg.cpus.clone())
        } else if self.cfg.numa_aware_enabled {
            Placement::Numa {
                nodes: self.host.nodes.clone(),
                smt_siblings: self.host.smt_siblings.clone(),
            }
        } else {
            Placement::Os
        }
    }

    fn decide(
        &self,
        profile: Profile,
        bounds: Bounds,
        thermal: &Option<crate::tune::thermal::ThermalDecision>,
        power: &hw::power::PowerState,
    ) -> OptimalConfig {
        let (point, notes) = match &self.session {
            Some(s) => {
                let note = match s.tuner.next() {
                    Step::Measure(p) => format!(
                        "Auto-tune: measuring {p} (measurement {}; started at {})",
                        s.tuner.measurements() + 1,
                        s.origin_note
                    ),
                    Step::Settled(p) => format!(
                        "Auto-tune: settled on {p} at {} after {} measurements (started at {})",
                        Hashrate(s.tuner.incumbent().1.unwrap_or(0.0)),
                        s.tuner.measurements(),
                        s.origin_note
                    ),
                };
                let p = match s.tuner.next() {
                    Step::Measure(p) | Step::Settled(p) => p,
                };
                (p, vec![note])
            }
            None => {
                let p = bounds.clamp(Point {
                    threads: bounds.max_threads,
                    batch: self.cfg.simd_batch_size,
                });
                let note = if self.cfg.auto_tune_enabled {
                    format!("Auto-tune: waiting up to {HINT_WAIT_S:.0} s for fleet hints; running {p}")
                } else {
                    format!(
                        "Auto-tune disabled: {p} from configuration ({} profile)",
                        profile.as_str()
                    )
                };
                (p, vec![note])
            }
        };
        decide_optimal_config(&DecideInput {
            tuned_threads: point.threads as usize,
            tuned_batch: point.batch,
            min_threads: Some(bounds.min_threads as usize),
            max_threads: Some(bounds.max_threads as usize),
            logical_cpus: self.host.logical.max(bounds.max_threads as usize),
            thermal: thermal.clone(),
            power: *power,
            power_cfg: self.power_cfg,
            placement: self.placement(),
            tuning: notes,
        })
    }

    /// Runs the evaluation window; true when a measurement was recorded.
    fn account(
        &mut self,
        now_s: f64,
        engine: &EngineView,
        decided: &OptimalConfig,
        profile: Profile,
        snapshot: &mut Option<TuningSnapshot>,
    ) -> bool {
        let eval_s = self.cfg.evaluation_window_secs as f64;
        let reeval_s = self.cfg.reeval_interval_secs as f64;
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        let Step::Measure(p) = s.tuner.next() else {
            s.window = None;
            return false;
        };
        let running_p = decided.should_mine
            && decided.threads == p.threads as usize
            && decided.batch_size == p.batch
            && engine.threads == p.threads
            && engine.batch == p.batch
            && engine.hashing;
        if !running_p {
            // Throttled, paused, idle, or not applied yet: whatever was measured is not `p`.
            s.window = None;
            return false;
        }
        let w = match &s.window {
            Some(w) if w.point == p => w,
            _ => {
                s.window = Some(Window {
                    point: p,
                    start_s: now_s,
                    start_hashes: engine.total_hashes,
                });
                return false;
            }
        };
        let elapsed = now_s - w.start_s;
        if elapsed < eval_s {
            return false;
        }
        let rate = engine.total_hashes.saturating_sub(w.start_hashes) as f64 / elapsed;
        s.window = None;
        let was_settled = s.tuner.is_settled();
        if !s.tuner.record(p, rate) {
            return false;
        }
        log::info!(
            "tune: {p}: {} over {elapsed:.0} s (measurement {})",
            Hashrate(rate),
            s.tuner.measurements()
        );
        let key = PerfKey {
            cpu_model: self.host.cpu_model.clone(),
            profile: profile.as_str().to_string(),
            pow_algo: self.algo_name().to_string(),
            threads: p.threads,
            batch_size: p.batch,
            numa_layout: decided.numa_layout.clone(),
        };
        let stats = match self
            .store
            .as_ref()
            .map(|st| st.record(&key, rate, hashward_common::now_ms() / 1000))
        {
            Some(Ok(stats)) => Some(stats),
            Some(Err(e)) => {
                log::warn!("tune: measurement not stored: {e}");
                None
            }
            None => None,
        };
        let Some(s) = self.session.as_mut() else {
            return true;
        };
        if s.tuner.is_settled() {
            let (best, best_rate) = s.tuner.incumbent();
            if !was_settled {
                log::info!(
                    "tune: settled on {best} at {} after {} measurements (started at {})",
                    Hashrate(best_rate.unwrap_or(0.0)),
                    s.tuner.measurements(),
                    s.origin_note
                );
            }
            s.next_recheck_s = Some(now_s + reeval_s);
            if self.cfg.telemetry_enabled {
                let (avg, samples) = match stats.filter(|_| best == p) {
                    Some(st) => (st.avg_hashrate, st.sample_count),
                    None => (best_rate.unwrap_or(rate), 1),
                };
                *snapshot = Some(TuningSnapshot {
                    cpu_model: self.host.cpu_model.clone(),
                    logical_cores: to_u32(self.host.logical),
                    physical_cores: to_u32(self.host.physical),
                    pow_algo: self.algo_name().to_string(),
                    profile: profile.as_str().to_string(),
                    threads: best.threads,
                    batch_size: best.batch,
                    numa_layout: decided.numa_layout.clone(),
                    avg_hashrate_hs: avg,
                    sample_count: samples,
                    client_version: env!("CARGO_PKG_VERSION").to_string(),
                });
            }
        }
        true
    }
}

/// The tuner's space: the operator's bounds, the profile's share of the host, physical cores
/// only in Conservative mode, and a fixed thread count if one is configured.
pub fn tuning_bounds(cfg: &MinerConfig, profile: Profile, logical: usize, physical: usize) -> Bounds {
    let mut hi = profile.max_threads(logical, physical);
    if cfg.auto_tune_mode == TuneMode::Conservative {
        hi = hi.min(physical.max(1));
    }
    if let Some(m) = cfg.max_threads {
        hi = hi.min(m);
    }
    let lo = cfg.min_threads.unwrap_or(1).min(hi);
    let (lo, hi) = match cfg.mining_threads {
        Some(t) => (t, t),
        None => (to_u32(lo), to_u32(hi)),
    };
    Bounds::new((lo, hi), (cfg.min_batch_size, cfg.max_batch_size))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

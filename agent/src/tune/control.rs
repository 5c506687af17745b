//! The live control loop's decisions: given each tick's package temperature and power state
//! (read by the caller, see [`crate::hw::live`]), runs the auto-tuner's measurement windows
//! against the engine's hash counter, keeps the performance store, and returns the configuration
//! the engine should run with (through the thermal controller, tuner and integrated decision).
//!
//! Must never: read the hardware itself (the caller passes the readings in, so every decision
//! here is tested with values), guess a temperature (a lost sensor is a [`Reading::SensorLost`],
//! which the controller treats as hot), count a window in which the engine did not run the point
//! being measured (paused, no job, throttled, not applied yet), or raise threads above what the
//! operator configured.

use crate::hw::{self, PowerState, SensorError};
use crate::tune::config::{Profile, TuneConfig, TuneMode};
use crate::tune::decide::{decide_optimal_config, DecideInput, OptimalConfig, Placement};
use crate::tune::numa::NumaNode;
use crate::tune::perf_store::{PerfKey, PerfStore};
use crate::tune::power::PowerConfig;
use crate::tune::start::{choose_start, Fallback, Hint};
use crate::tune::thermal::{ControlTuning, Reading, ThermalConfigError, ThermalController};
use crate::tune::tuner::{Bounds, Point, Step, Tuner};
use hashward_protocol::{FleetHints, Hashrate, TuningSnapshot};

/// How often the loop samples, as the thermal simulation assumes.
pub const CONTROL_INTERVAL_S: u64 = 5;
/// How long a fresh agent waits for the hub's retained hints before tuning from a guess.
pub const HINT_WAIT_S: f64 = 10.0;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub cpu_model: String,
    /// At least 1.
    pub logical: usize,
    /// At least 1 and at most `logical`.
    pub physical: usize,
    pub nodes: Vec<NumaNode>,
    pub smt_siblings: Vec<Vec<u32>>,
}

impl Host {
    pub fn from_hardware(found: &hw::Hardware) -> Host {
        let logical = found.topology.logical_count().max(1);
        Host {
            cpu_model: found.model.name.clone(),
            logical,
            physical: found.topology.physical_count().clamp(1, logical),
            nodes: found.numa_nodes().to_vec(),
            smt_siblings: found.topology.smt_siblings.clone(),
        }
    }
}

/// The thermal controller's view of a package-sensor read: `None` when the host has no package
/// sensor, an error when the one chosen at start stopped reading (treated as hot).
pub fn thermal_reading(read: Option<Result<f32, SensorError>>) -> Reading {
    match read {
        None => Reading::NoSensor,
        Some(Ok(t)) => Reading::Celsius(t),
        Some(Err(e)) => {
            log::warn!("thermal: package sensor stopped reading ({e}); assuming hot");
            Reading::SensorLost
        }
    }
}

/// What the CPU miner's settings fix that tuning must respect, passed in by the caller (the
/// tuner does not read the miner's config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerSettings {
    /// The hash algorithm's name as the store and the hints key it ("sha256d").
    pub pow_algo: String,
    /// A fixed thread count (the tuner then only tunes the batch).
    pub threads: Option<u32>,
    /// The batch when auto-tuning is off, and the tuner's first guess without data.
    pub batch: u32,
    /// CPUs the operator pinned the threads to; empty = placement is control's choice.
    pub cpus: Vec<usize>,
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
    thermal: Option<ThermalController>,
    power_cfg: PowerConfig,
    cfg: TuneConfig,
    miner: MinerSettings,
    host: Host,
    store: Option<PerfStore>,
    hints: Option<FleetHints>,
    session: Option<Session>,
}

impl Control {
    /// `store` is the rig's performance store (None: tuning results are not kept, e.g. when it
    /// could not be opened; the agent says so).
    pub fn new(
        cfg: &TuneConfig,
        miner: MinerSettings,
        host: Host,
        store: Option<PerfStore>,
    ) -> Result<Control, ThermalConfigError> {
        let thermal = match cfg.thermal() {
            Some(t) => Some(ThermalController::new(t, ControlTuning::default())?),
            None => None,
        };
        Ok(Control {
            thermal,
            power_cfg: cfg.power(),
            cfg: cfg.clone(),
            miner,
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
    pub fn reconfigure(&mut self, cfg: &TuneConfig, miner: MinerSettings) -> Result<(), ThermalConfigError> {
        let old = &self.cfg;
        if cfg.thermal() != old.thermal() {
            self.thermal = match cfg.thermal() {
                Some(t) => Some(ThermalController::new(t, ControlTuning::default())?),
                None => None,
            };
        }
        let tuning_changed = cfg.mining_profile != old.mining_profile
            || miner.threads != self.miner.threads
            || miner.batch != self.miner.batch
            || cfg.auto_tune_enabled != old.auto_tune_enabled
            || cfg.auto_tune_mode != old.auto_tune_mode
            || cfg.min_threads != old.min_threads
            || cfg.max_threads != old.max_threads
            || cfg.min_batch_size != old.min_batch_size
            || cfg.max_batch_size != old.max_batch_size
            || cfg.evaluation_window_secs != old.evaluation_window_secs
            || cfg.reeval_interval_secs != old.reeval_interval_secs
            || cfg.numa_aware_enabled != old.numa_aware_enabled
            || miner.cpus != self.miner.cpus;
        self.power_cfg = cfg.power();
        self.cfg = cfg.clone();
        self.miner = miner;
        if tuning_changed {
            self.session = None;
        }
        Ok(())
    }

    /// The tuner's trials so far (for logs and `tune`).
    pub fn tuner(&self) -> Option<&Tuner> {
        self.session.as_ref().map(|s| &s.tuner)
    }

    /// One control step at `now_s` seconds since start, with this tick's package temperature and
    /// power state: tune, decide.
    pub fn tick(
        &mut self,
        now_s: f64,
        engine: &EngineView,
        reading: Reading,
        power: &PowerState,
    ) -> TickOutcome {
        let thermal = self.thermal.as_mut().map(|c| c.observe(now_s, reading));
        let power = *power;
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
                &self.miner.pow_algo,
                "",
            )
            .ok()
            .flatten()
            .is_some()
        });
        have_local || !self.cfg.fleet_hints_enabled || self.hints.is_some() || now_s >= HINT_WAIT_S
    }

    fn bounds(&self, profile: Profile) -> Bounds {
        tuning_bounds(
            &self.cfg,
            self.miner.threads,
            profile,
            self.host.logical,
            self.host.physical,
        )
    }

    fn start_session(&self, profile: Profile, bounds: Bounds) -> Session {
        let algo = self.miner.pow_algo.as_str();
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
            .map(Hint::Fleet);
        let start = choose_start(
            from_store.as_ref(),
            hint,
            &bounds,
            Fallback {
                physical_cores: self.host.physical,
                batch: self.miner.batch,
            },
        );
        let note = start.note;
        let tuner = Tuner::new(bounds, self.cfg.auto_tune_mode, start.point, start.origin);
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
        } else if !self.miner.cpus.is_empty() {
            String::new()
        } else {
            "unpinned".to_string()
        }
    }

    fn placement(&self) -> Placement {
        if !self.miner.cpus.is_empty() {
            Placement::Fixed(self.miner.cpus.clone())
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
        power: &PowerState,
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
                    batch: self.miner.batch,
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
            pow_algo: self.miner.pow_algo.clone(),
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
                    pow_algo: self.miner.pow_algo.clone(),
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
pub fn tuning_bounds(
    cfg: &TuneConfig,
    fixed_threads: Option<u32>,
    profile: Profile,
    logical: usize,
    physical: usize,
) -> Bounds {
    let mut hi = profile.max_threads(logical, physical);
    if cfg.auto_tune_mode == TuneMode::Conservative {
        hi = hi.min(physical.max(1));
    }
    if let Some(m) = cfg.max_threads {
        hi = hi.min(m);
    }
    let lo = cfg.min_threads.unwrap_or(1).min(hi);
    let (lo, hi) = match fixed_threads {
        Some(t) => (t, t),
        None => (to_u32(lo), to_u32(hi)),
    };
    Bounds::new((lo, hi), (cfg.min_batch_size, cfg.max_batch_size))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::tuner::Origin;
    use hashward_protocol::TuningHint;

    const AC: PowerState = PowerState::Ac;

    fn host() -> Host {
        Host {
            cpu_model: "test cpu".into(),
            logical: 8,
            physical: 4,
            nodes: vec![NumaNode {
                id: 0,
                cpus: (0..8).collect(),
            }],
            smt_siblings: (0..4).map(|c| vec![c, c + 4]).collect(),
        }
    }

    /// Auto-tuning off: the configured point, so only thermal and power change it.
    fn fixed() -> TuneConfig {
        TuneConfig {
            auto_tune_enabled: false,
            ..TuneConfig::default()
        }
    }

    /// The miner's defaults: threads not fixed, batch 4, no pinning.
    fn miner() -> MinerSettings {
        MinerSettings {
            pow_algo: "sha256d".into(),
            threads: None,
            batch: 4,
            cpus: Vec::new(),
        }
    }

    fn control(cfg: &TuneConfig) -> Control {
        Control::new(cfg, miner(), host(), None).expect("valid thermal limits")
    }

    fn running(c: &OptimalConfig, total_hashes: u64) -> EngineView {
        EngineView {
            threads: c.threads as u32,
            batch: c.batch_size,
            total_hashes,
            hashing: true,
        }
    }

    #[test]
    fn cool_runs_the_configured_point() {
        let mut c = control(&fixed());
        let out = c.tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        // Balanced on 8 logical CPUs: all but one.
        assert_eq!(out.config.threads, 7);
        assert_eq!(out.config.batch_size, 4);
        assert!(out.config.should_mine);
        assert!(out.snapshot.is_none());
    }

    #[test]
    fn hot_throttles_and_too_hot_pauses() {
        let mut c = control(&fixed());
        let hot = c.tick(0.0, &EngineView::default(), Reading::Celsius(85.0), &AC);
        assert!(hot.config.should_mine);
        assert!(hot.config.threads < 7, "{:?}", hot.config);
        let critical = c.tick(5.0, &EngineView::default(), Reading::Celsius(95.0), &AC);
        assert!(!critical.config.should_mine, "{:?}", critical.config);
    }

    #[test]
    fn lost_sensor_counts_as_hot() {
        let mut c = control(&fixed());
        c.tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        let lost = c.tick(5.0, &EngineView::default(), Reading::SensorLost, &AC);
        assert!(lost.config.threads < 7, "{:?}", lost.config);
    }

    #[test]
    fn recovers_after_cooldown() {
        let mut c = control(&fixed());
        let hot = c.tick(0.0, &EngineView::default(), Reading::Celsius(85.0), &AC);
        assert!(hot.config.threads < 7);
        let soon = c.tick(5.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        assert!(
            soon.config.threads < 7,
            "no ramp-up before the cooldown: {:?}",
            soon.config
        );
        let mut t = 5.0;
        let mut threads = soon.config.threads;
        while t < 3600.0 && threads < 7 {
            t += CONTROL_INTERVAL_S as f64;
            threads = c
                .tick(t, &EngineView::default(), Reading::Celsius(50.0), &AC)
                .config
                .threads;
        }
        assert_eq!(threads, 7, "back to the configured point within an hour");
        assert!(t >= 120.0, "not before one cooldown ({t} s)");
    }

    #[test]
    fn thermal_protection_off_ignores_the_temperature() {
        let cfg = TuneConfig {
            thermal_protection_enabled: false,
            ..fixed()
        };
        let mut c = control(&cfg);
        let out = c.tick(0.0, &EngineView::default(), Reading::Celsius(95.0), &AC);
        assert_eq!(out.config.threads, 7);
        assert!(out.config.should_mine);
    }

    #[test]
    fn battery_caps_threads_and_batch() {
        let mut c = control(&fixed());
        let battery = PowerState::Battery { percent: Some(40) };
        let out = c.tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &battery);
        assert!(out.config.threads <= 2, "{:?}", out.config);
        assert!(out.config.batch_size <= 4, "{:?}", out.config);
        let back = c.tick(5.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        assert_eq!(back.config.threads, 7, "AC again: the cap is gone");
    }

    #[test]
    fn tuner_proposals_are_applied_and_measured() {
        let cfg = TuneConfig {
            fleet_hints_enabled: false,
            evaluation_window_secs: 10,
            ..TuneConfig::default()
        };
        let mut c = control(&cfg);
        let first = c
            .tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC)
            .config;
        // No store, no hints: the topology start, one thread per physical core.
        assert_eq!((first.threads, first.batch_size), (4, 4));
        assert_eq!(c.tuner().map(|t| t.origin()), Some(Origin::Topology));
        // The engine runs the point: the window opens, then closes after 10 s.
        c.tick(5.0, &running(&first, 0), Reading::Celsius(50.0), &AC);
        let next = c
            .tick(15.0, &running(&first, 10_000), Reading::Celsius(50.0), &AC)
            .config;
        let tuner = c.tuner().expect("searching");
        assert_eq!(tuner.measurements(), 1);
        assert_eq!(tuner.trials()[0].hashrate_hs, 1000.0);
        assert_ne!((next.threads, next.batch_size), (first.threads, first.batch_size));
    }

    #[test]
    fn a_window_the_engine_did_not_run_is_not_counted() {
        let cfg = TuneConfig {
            fleet_hints_enabled: false,
            evaluation_window_secs: 10,
            ..TuneConfig::default()
        };
        let mut c = control(&cfg);
        let first = c
            .tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC)
            .config;
        let idle = EngineView {
            hashing: false,
            ..running(&first, 0)
        };
        for t in [5.0, 15.0, 25.0] {
            c.tick(t, &idle, Reading::Celsius(50.0), &AC);
        }
        assert_eq!(c.tuner().map(|t| t.measurements()), Some(0));
    }

    #[test]
    fn waits_for_fleet_hints_then_starts_from_one() {
        let mut c = control(&TuneConfig::default());
        let waiting = c.tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        assert!(c.tuner().is_none());
        assert!(
            waiting.config.constraints_applied.join(" ").contains("waiting"),
            "{:?}",
            waiting.config.constraints_applied
        );
        c.set_hints(FleetHints {
            generated_ms: 0,
            hints: vec![TuningHint {
                cpu_model: "test cpu".into(),
                logical_cores: 8,
                pow_algo: "sha256d".into(),
                profile: "balanced".into(),
                threads: 6,
                batch_size: 8,
                expected_hashrate_hs: 5000.0,
                confidence: 0.5,
                rigs: 3,
            }],
        });
        let hinted = c
            .tick(5.0, &EngineView::default(), Reading::Celsius(50.0), &AC)
            .config;
        assert_eq!(c.tuner().map(|t| t.origin()), Some(Origin::FleetHint));
        assert_eq!((hinted.threads, hinted.batch_size), (6, 8));
    }

    #[test]
    fn without_hints_the_search_starts_after_the_wait() {
        let mut c = control(&TuneConfig::default());
        c.tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        assert!(c.tuner().is_none());
        c.tick(HINT_WAIT_S, &EngineView::default(), Reading::Celsius(50.0), &AC);
        assert_eq!(c.tuner().map(|t| t.origin()), Some(Origin::Topology));
    }

    #[test]
    fn thermal_reading_maps_each_case() {
        assert_eq!(thermal_reading(None), Reading::NoSensor);
        assert_eq!(thermal_reading(Some(Ok(61.5))), Reading::Celsius(61.5));
        assert_eq!(
            thermal_reading(Some(Err(SensorError::NoSensor))),
            Reading::SensorLost
        );
    }

    #[test]
    fn bounds_follow_profile_mode_operator_and_fixed_threads() {
        let cfg = TuneConfig::default();
        // 8 logical, 4 physical: balanced allows all but one, beast all, laptop half the cores.
        let b = tuning_bounds(&cfg, None, Profile::Balanced, 8, 4);
        assert_eq!((b.min_threads, b.max_threads), (1, 7));
        assert_eq!((b.min_batch, b.max_batch), (1, 32));
        assert_eq!(tuning_bounds(&cfg, None, Profile::Beast, 8, 4).max_threads, 8);
        assert_eq!(tuning_bounds(&cfg, None, Profile::Laptop, 8, 4).max_threads, 2);
        let conservative = TuneConfig {
            auto_tune_mode: TuneMode::Conservative,
            ..TuneConfig::default()
        };
        assert_eq!(
            tuning_bounds(&conservative, None, Profile::Beast, 8, 4).max_threads,
            4
        );
        let operator = TuneConfig {
            min_threads: Some(3),
            max_threads: Some(5),
            min_batch_size: 2,
            max_batch_size: 16,
            ..TuneConfig::default()
        };
        let b = tuning_bounds(&operator, None, Profile::Beast, 8, 4);
        assert_eq!(
            (b.min_threads, b.max_threads, b.min_batch, b.max_batch),
            (3, 5, 2, 16)
        );
        // The miner's fixed thread count wins over everything else; the batch is still tuned.
        let b = tuning_bounds(&operator, Some(6), Profile::Laptop, 8, 4);
        assert_eq!(
            (b.min_threads, b.max_threads, b.min_batch, b.max_batch),
            (6, 6, 2, 16)
        );
    }

    #[test]
    fn the_miners_fixed_threads_and_batch_are_used() {
        let mut c = Control::new(
            &fixed(),
            MinerSettings {
                threads: Some(3),
                batch: 8,
                ..miner()
            },
            host(),
            None,
        )
        .expect("valid thermal limits");
        let out = c.tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        assert_eq!((out.config.threads, out.config.batch_size), (3, 8));
    }

    #[test]
    fn reconfigure_restarts_the_search_only_when_tuning_changed() {
        let cfg = TuneConfig {
            fleet_hints_enabled: false,
            ..TuneConfig::default()
        };
        let mut c = control(&cfg);
        c.tick(0.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        assert!(c.tuner().is_some(), "no hints awaited: searching at once");
        // Battery caps are not a search setting.
        let caps = TuneConfig {
            battery_threads_cap: 1,
            ..cfg.clone()
        };
        c.reconfigure(&caps, miner()).expect("valid");
        assert!(c.tuner().is_some());
        // The miner's batch is the search's start: a new one starts a new search.
        c.reconfigure(&caps, MinerSettings { batch: 8, ..miner() })
            .expect("valid");
        assert!(c.tuner().is_none());
        c.tick(5.0, &EngineView::default(), Reading::Celsius(50.0), &AC);
        let window = TuneConfig {
            evaluation_window_secs: 30,
            ..caps
        };
        c.reconfigure(&window, MinerSettings { batch: 8, ..miner() })
            .expect("valid");
        assert!(c.tuner().is_none());
    }
}

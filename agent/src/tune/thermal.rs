//! Thermal controller: turns CPU temperature readings into a thread factor.
//!
//! States (docs/ARCHITECTURE.md#thresholds-thermal): Cool (< soft - 10), Warm (< soft), Hot
//! (< hard, proportional thread reduction), Critical (>= hard, mining paused).
//! The controller is a pure state machine fed `(now_s, Reading)`; it never reads
//! sensors or the clock itself, never sleeps, and must never report a state
//! better than Hot when a sensor that was present stops reading.
//!
//! Anti-cycling design (instead of naive periodic pausing):
//! - state bands have `hysteresis_c` of hysteresis on the way down;
//! - while at or above the soft limit the factor is cut multiplicatively in
//!   proportion to the excess (0..50 % per cut; the excess is taken at the
//!   temperature predicted for the next sample), at most once per
//!   `recut_interval_secs` unless the temperature keeps climbing;
//! - the factor is raised only after `cooldown_secs` continuously below
//!   `soft - hysteresis`, one `ramp_step` at a time;
//! - a raise that is followed by a Hot episode doubles the cooldown for the next
//!   raise (bounded), a raise that was not halves it again, so the controller
//!   learns to stay just below the level that overheats.

use std::fmt;

/// Highest hard limit we accept: above this, silicon damage is likely.
pub const SAFE_MAX_HARD_LIMIT_C: f32 = 105.0;
/// Longest cooldown we accept (one hour).
pub const MAX_COOLDOWN_SECS: u64 = 3600;
/// Width of the Warm band below the soft limit (with the default 80 °C: Cool < 70, Warm 70-80).
pub const WARM_BAND_C: f32 = 10.0;

/// Thermal configuration (`thermal_soft_limit_c`, `thermal_hard_limit_c`,
/// `thermal_cooldown_secs` in the miner config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThermalConfig {
    /// Start reducing threads at or above this temperature (°C).
    pub soft_limit_c: f32,
    /// Pause mining at or above this temperature (°C).
    pub hard_limit_c: f32,
    /// Seconds below `soft - hysteresis` before each ramp-up step.
    pub cooldown_secs: u64,
}

impl Default for ThermalConfig {
    fn default() -> Self {
        Self {
            soft_limit_c: 80.0,
            hard_limit_c: 90.0,
            cooldown_secs: 120,
        }
    }
}

/// Why a [`ThermalConfig`] or [`ControlTuning`] was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThermalConfigError {
    /// A limit is NaN or infinite.
    #[error("{field} must be a finite number")]
    NotFinite { field: &'static str },
    /// `soft_limit_c` must be strictly below `hard_limit_c`.
    #[error("thermal_soft_limit_c ({soft_c} °C) must be below thermal_hard_limit_c ({hard_c} °C)")]
    SoftNotBelowHard { soft_c: f32, hard_c: f32 },
    /// `hard_limit_c` above the safe maximum.
    #[error("thermal_hard_limit_c ({hard_c} °C) exceeds the safe maximum of {max_c} °C")]
    HardAboveSafeMax { hard_c: f32, max_c: f32 },
    /// `cooldown_secs` outside 0..=3600.
    #[error("thermal_cooldown_secs ({secs}) must be between 0 and {max}")]
    CooldownOutOfRange { secs: u64, max: u64 },
    /// A tuning parameter is outside its range.
    #[error("thermal tuning parameter {field} out of range: {value}")]
    TuningOutOfRange { field: &'static str, value: f32 },
}

impl ThermalConfig {
    /// Checks soft < hard, hard <= 105 °C, cooldown 0..=3600 s.
    pub fn validate(&self) -> Result<(), ThermalConfigError> {
        if !self.soft_limit_c.is_finite() {
            return Err(ThermalConfigError::NotFinite {
                field: "thermal_soft_limit_c",
            });
        }
        if !self.hard_limit_c.is_finite() {
            return Err(ThermalConfigError::NotFinite {
                field: "thermal_hard_limit_c",
            });
        }
        if self.soft_limit_c >= self.hard_limit_c {
            return Err(ThermalConfigError::SoftNotBelowHard {
                soft_c: self.soft_limit_c,
                hard_c: self.hard_limit_c,
            });
        }
        if self.hard_limit_c > SAFE_MAX_HARD_LIMIT_C {
            return Err(ThermalConfigError::HardAboveSafeMax {
                hard_c: self.hard_limit_c,
                max_c: SAFE_MAX_HARD_LIMIT_C,
            });
        }
        if self.cooldown_secs > MAX_COOLDOWN_SECS {
            return Err(ThermalConfigError::CooldownOutOfRange {
                secs: self.cooldown_secs,
                max: MAX_COOLDOWN_SECS,
            });
        }
        Ok(())
    }
}

/// Controller constants that are not user config (sane defaults, tests may vary them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlTuning {
    /// Degrees a temperature must fall below a band boundary to leave that band.
    pub hysteresis_c: f32,
    /// Factor increment per ramp-up step (1/16 = one thread of sixteen).
    pub ramp_step: f32,
    /// Lowest factor while not paused.
    pub min_factor: f32,
    /// Minimum seconds between cuts unless the temperature keeps climbing.
    pub recut_interval_secs: f64,
    /// Cap on cooldown doubling (cooldown * 2^n).
    pub max_backoff_exp: u32,
    /// Factor cap applied while the sensor is lost (Hot, maximum reduction).
    pub sensor_lost_factor: f32,
}

impl Default for ControlTuning {
    fn default() -> Self {
        Self {
            hysteresis_c: 3.0,
            ramp_step: 0.0625,
            min_factor: 0.0625,
            recut_interval_secs: 30.0,
            max_backoff_exp: 4,
            sensor_lost_factor: 0.5,
        }
    }
}

impl ControlTuning {
    /// Checks every parameter is finite and in a usable range.
    pub fn validate(&self) -> Result<(), ThermalConfigError> {
        let checks: [(&'static str, f32, f32, f32); 5] = [
            ("hysteresis_c", self.hysteresis_c, 0.0, 20.0),
            ("ramp_step", self.ramp_step, 0.001, 1.0),
            ("min_factor", self.min_factor, 0.0, 1.0),
            (
                "recut_interval_secs",
                self.recut_interval_secs as f32,
                0.0,
                3600.0,
            ),
            ("sensor_lost_factor", self.sensor_lost_factor, 0.0, 1.0),
        ];
        for (field, value, lo, hi) in checks {
            if !value.is_finite() || value < lo || value > hi {
                return Err(ThermalConfigError::TuningOutOfRange { field, value });
            }
        }
        if self.max_backoff_exp > 10 {
            return Err(ThermalConfigError::TuningOutOfRange {
                field: "max_backoff_exp",
                value: self.max_backoff_exp as f32,
            });
        }
        Ok(())
    }
}

/// Thermal band. `Unknown` is only reported when the host has no sensor at all.
/// Ordered by severity: Unknown < Cool < Warm < Hot < Critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ThermalState {
    /// Host has no thermal sensor (e.g. a VM); mining is not restricted.
    Unknown,
    Cool,
    Warm,
    Hot,
    Critical,
}

impl ThermalState {
    /// Lower-case name for logs and status output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Cool => "cool",
            Self::Warm => "warm",
            Self::Hot => "hot",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for ThermalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation fed to the controller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// Package temperature in °C. Non-finite values are treated as `SensorLost`.
    Celsius(f32),
    /// A sensor that was present stopped reading: treated as Hot, never better.
    SensorLost,
    /// The host has no sensor at all. If a sensor was seen earlier this is
    /// treated as `SensorLost`.
    NoSensor,
}

/// What the miner should do thermally right now.
#[derive(Debug, Clone, PartialEq)]
pub struct ThermalDecision {
    pub state: ThermalState,
    /// Fraction of tuned threads to run, 0..=1 (meaningless while `pause`).
    pub thread_factor: f32,
    /// Stop mining entirely.
    pub pause: bool,
    /// Last temperature used, if any.
    pub temp_c: Option<f32>,
    /// Human-readable explanation.
    pub reason: String,
}

impl ThermalDecision {
    /// Decision for hosts where thermal protection is disabled or absent.
    pub fn unrestricted(reason: impl Into<String>) -> Self {
        Self {
            state: ThermalState::Unknown,
            thread_factor: 1.0,
            pause: false,
            temp_c: None,
            reason: reason.into(),
        }
    }
}

/// Thermal state machine. Feed it every sample with a monotonic timestamp.
#[derive(Debug, Clone)]
pub struct ThermalController {
    cfg: ThermalConfig,
    tuning: ControlTuning,
    state: ThermalState,
    factor: f32,
    seen_sensor: bool,
    last_cut: Option<(f64, f32)>,
    last_temp: Option<f32>,
    calm_since: Option<f64>,
    raise_pending: bool,
    backoff_exp: u32,
}

impl ThermalController {
    /// Validates both configs and starts in `Cool` at full factor.
    pub fn new(cfg: ThermalConfig, tuning: ControlTuning) -> Result<Self, ThermalConfigError> {
        cfg.validate()?;
        tuning.validate()?;
        Ok(Self {
            cfg,
            tuning,
            state: ThermalState::Cool,
            factor: 1.0,
            seen_sensor: false,
            last_cut: None,
            last_temp: None,
            calm_since: None,
            raise_pending: false,
            backoff_exp: 0,
        })
    }

    /// Current state (as of the last observation).
    pub fn state(&self) -> ThermalState {
        self.state
    }

    /// Current thread factor (as of the last observation).
    pub fn thread_factor(&self) -> f32 {
        self.factor
    }

    /// Seconds of calm required before the next ramp-up step.
    pub fn current_cooldown_secs(&self) -> f64 {
        self.cfg.cooldown_secs as f64 * f64::from(1u32 << self.backoff_exp)
    }

    fn classify(&self, t: f32) -> ThermalState {
        if t >= self.cfg.hard_limit_c {
            ThermalState::Critical
        } else if t >= self.cfg.soft_limit_c {
            ThermalState::Hot
        } else if t >= self.cfg.soft_limit_c - WARM_BAND_C {
            ThermalState::Warm
        } else {
            ThermalState::Cool
        }
    }

    /// Band with hysteresis: go up immediately, go down only once the
    /// temperature is `hysteresis_c` below the boundary being left.
    fn next_state(&self, t: f32) -> ThermalState {
        let raw = self.classify(t);
        let current = self.state.max(ThermalState::Cool);
        if raw >= current {
            raw
        } else {
            self.classify(t + self.tuning.hysteresis_c).min(current)
        }
    }

    /// Cuts the factor in proportion to the excess over the soft limit. The
    /// excess is taken at the temperature predicted for the next sample (current
    /// plus the rise since the last sample), so a fast climb is cut harder.
    fn cut(&mut self, now_s: f64, t: f32) {
        let span = self.cfg.hard_limit_c - self.cfg.soft_limit_c;
        let rise = self.last_temp.map_or(0.0, |p| (t - p).max(0.0));
        let excess = ((t + rise - self.cfg.soft_limit_c) / span).clamp(0.0, 1.0);
        let proportional = self.factor * (1.0 - 0.5 * excess);
        let stepped = self.factor - self.tuning.ramp_step;
        self.factor = proportional.min(stepped).max(self.tuning.min_factor);
        self.last_cut = Some((now_s, t));
    }

    fn bump_backoff(&mut self) {
        self.backoff_exp = (self.backoff_exp + 1).min(self.tuning.max_backoff_exp);
    }

    /// Feeds one sample and returns the decision to apply until the next one.
    pub fn observe(&mut self, now_s: f64, reading: Reading) -> ThermalDecision {
        match reading {
            Reading::Celsius(t) if t.is_finite() => self.observe_temp(now_s, t),
            Reading::NoSensor if !self.seen_sensor => {
                self.state = ThermalState::Unknown;
                self.factor = 1.0;
                ThermalDecision::unrestricted(
                    "no thermal sensor: thermal protection unavailable, mining unrestricted",
                )
            }
            Reading::Celsius(_) | Reading::SensorLost | Reading::NoSensor => self.sensor_lost(),
        }
    }

    fn sensor_lost(&mut self) -> ThermalDecision {
        self.state = self.state.max(ThermalState::Hot);
        self.factor = self.factor.min(self.tuning.sensor_lost_factor);
        self.calm_since = None;
        self.last_temp = None;
        let pause = self.state == ThermalState::Critical;
        let reason = if pause {
            "thermal sensor lost while Critical: mining stays paused until readings return".to_string()
        } else {
            format!(
                "thermal sensor lost: assuming Hot, threads capped at {:.0}%",
                self.factor * 100.0
            )
        };
        ThermalDecision {
            state: self.state,
            thread_factor: self.factor,
            pause,
            temp_c: None,
            reason,
        }
    }

    fn observe_temp(&mut self, now_s: f64, t: f32) -> ThermalDecision {
        self.seen_sensor = true;
        let prev = self.state;
        let next = self.next_state(t);
        let soft = self.cfg.soft_limit_c;
        let hard = self.cfg.hard_limit_c;
        let reason;

        if next >= ThermalState::Hot {
            self.calm_since = None;
            if prev < ThermalState::Hot && self.raise_pending {
                // The last ramp-up step overheated: wait longer before the next one.
                self.bump_backoff();
            }
            self.raise_pending = false;
        }

        match next {
            ThermalState::Critical => {
                if prev != ThermalState::Critical {
                    self.factor = (self.factor * 0.5).max(self.tuning.min_factor);
                    self.last_cut = Some((now_s, t));
                    self.bump_backoff();
                }
                reason = format!(
                    "CPU {t:.1} °C is at or above the hard limit {hard:.0} °C (or has not yet \
                     fallen below {:.0} °C): mining paused",
                    hard - self.tuning.hysteresis_c
                );
            }
            ThermalState::Hot => {
                if t >= soft {
                    let due = match self.last_cut {
                        None => true,
                        Some((at, temp_at_cut)) => {
                            t > temp_at_cut || now_s - at >= self.tuning.recut_interval_secs
                        }
                    };
                    if due {
                        self.cut(now_s, t);
                    }
                }
                reason = if t >= soft {
                    format!(
                        "CPU {t:.1} °C is above the soft limit {soft:.0} °C: threads scaled to {:.0}%",
                        self.factor * 100.0
                    )
                } else {
                    format!(
                        "CPU {t:.1} °C, back under the soft limit {soft:.0} °C: holding threads at \
                         {:.0}% until below {:.0} °C",
                        self.factor * 100.0,
                        soft - self.tuning.hysteresis_c
                    )
                };
            }
            ThermalState::Warm | ThermalState::Cool | ThermalState::Unknown => {
                let calm_below = soft - self.tuning.hysteresis_c;
                if t < calm_below {
                    let since = *self.calm_since.get_or_insert(now_s);
                    if now_s - since >= self.current_cooldown_secs() {
                        if self.raise_pending {
                            // Previous step held a full cooldown without overheating.
                            self.backoff_exp = self.backoff_exp.saturating_sub(1);
                            self.raise_pending = false;
                        }
                        if self.factor < 1.0 {
                            self.factor = (self.factor + self.tuning.ramp_step).min(1.0);
                            self.raise_pending = true;
                        }
                        self.calm_since = Some(now_s);
                    }
                } else {
                    self.calm_since = None;
                }
                reason = if self.factor < 1.0 {
                    format!(
                        "CPU {t:.1} °C ({next}): recovering from throttling, threads at {:.0}% \
                         (one step up per {:.0} s below {calm_below:.0} °C)",
                        self.factor * 100.0,
                        self.current_cooldown_secs()
                    )
                } else {
                    format!("CPU {t:.1} °C ({next}): no thermal limit")
                };
            }
        }

        self.state = next;
        self.last_temp = Some(t);
        ThermalDecision {
            state: next,
            thread_factor: self.factor,
            pause: next == ThermalState::Critical,
            temp_c: Some(t),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctl() -> ThermalController {
        ThermalController::new(ThermalConfig::default(), ControlTuning::default()).unwrap()
    }

    #[test]
    fn defaults_match_seed_and_validate() {
        let c = ThermalConfig::default();
        assert_eq!(
            (c.soft_limit_c, c.hard_limit_c, c.cooldown_secs),
            (80.0, 90.0, 120)
        );
        assert!(c.validate().is_ok());
        assert!(ControlTuning::default().validate().is_ok());
    }

    #[test]
    fn validate_rejects_bad_configs() {
        let bad = ThermalConfig {
            soft_limit_c: 90.0,
            ..Default::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(ThermalConfigError::SoftNotBelowHard { .. })
        ));
        let bad = ThermalConfig {
            hard_limit_c: 106.0,
            ..Default::default()
        };
        let err = bad.validate().unwrap_err();
        assert!(err.to_string().contains("safe maximum of 105"));
        let bad = ThermalConfig {
            cooldown_secs: 3601,
            ..Default::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(ThermalConfigError::CooldownOutOfRange { .. })
        ));
        let bad = ThermalConfig {
            soft_limit_c: f32::NAN,
            ..Default::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(ThermalConfigError::NotFinite { .. })
        ));
        let ok = ThermalConfig {
            hard_limit_c: 105.0,
            cooldown_secs: 0,
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn bands() {
        let mut c = ctl();
        assert_eq!(c.observe(0.0, Reading::Celsius(60.0)).state, ThermalState::Cool);
        assert_eq!(c.observe(5.0, Reading::Celsius(75.0)).state, ThermalState::Warm);
        let d = c.observe(10.0, Reading::Celsius(85.0));
        assert_eq!(d.state, ThermalState::Hot);
        assert!(!d.pause);
        // Rose 10 °C in one sample: predicted 95 °C, maximum (50 %) cut.
        assert!((d.thread_factor - 0.5).abs() < 1e-6, "{}", d.thread_factor);
        let d = c.observe(15.0, Reading::Celsius(90.0));
        assert_eq!(d.state, ThermalState::Critical);
        assert!(d.pause);
    }

    #[test]
    fn proportional_cut() {
        let mut c = ctl();
        // 85 °C with no known rise is half way soft..hard: a 25 % cut.
        let d = c.observe(0.0, Reading::Celsius(85.0));
        assert!((d.thread_factor - 0.75).abs() < 1e-6, "{}", d.thread_factor);
        // Just over the soft limit: at least one ramp step.
        let mut c = ctl();
        let d = c.observe(0.0, Reading::Celsius(80.1));
        assert!((d.thread_factor - 0.9375).abs() < 1e-6, "{}", d.thread_factor);
    }

    #[test]
    fn hysteresis_on_the_way_down() {
        let mut c = ctl();
        c.observe(0.0, Reading::Celsius(91.0));
        // 88 is below hard but not below hard - 3: stays Critical.
        assert_eq!(
            c.observe(5.0, Reading::Celsius(88.0)).state,
            ThermalState::Critical
        );
        assert_eq!(c.observe(10.0, Reading::Celsius(86.5)).state, ThermalState::Hot);
        // 78 is below soft but not soft - 3: stays Hot, but no further cuts.
        let f = c.thread_factor();
        let d = c.observe(60.0, Reading::Celsius(78.0));
        assert_eq!(d.state, ThermalState::Hot);
        assert_eq!(d.thread_factor, f);
        assert_eq!(c.observe(65.0, Reading::Celsius(76.9)).state, ThermalState::Warm);
    }

    #[test]
    fn ramps_up_one_step_per_cooldown() {
        let mut c = ctl();
        c.observe(0.0, Reading::Celsius(85.0));
        let f0 = c.thread_factor();
        assert!(f0 < 1.0);
        let mut t = 5.0;
        c.observe(t, Reading::Celsius(70.0));
        t += 115.0;
        assert_eq!(c.observe(t, Reading::Celsius(70.0)).thread_factor, f0);
        t += 5.0;
        let f1 = c.observe(t, Reading::Celsius(70.0)).thread_factor;
        assert!((f1 - (f0 + 0.0625)).abs() < 1e-6);
        // Not another step right away.
        t += 5.0;
        assert_eq!(c.observe(t, Reading::Celsius(70.0)).thread_factor, f1);
        // Holding band (77..80) resets the calm timer.
        t += 200.0;
        c.observe(t, Reading::Celsius(78.0));
        t += 5.0;
        assert_eq!(c.observe(t, Reading::Celsius(70.0)).thread_factor, f1);
    }

    #[test]
    fn raise_that_overheats_doubles_cooldown() {
        let mut c = ctl();
        c.observe(0.0, Reading::Celsius(81.0));
        c.observe(5.0, Reading::Celsius(70.0));
        c.observe(125.0, Reading::Celsius(70.0)); // raise
        assert_eq!(c.current_cooldown_secs(), 120.0);
        c.observe(130.0, Reading::Celsius(81.0)); // overheated after the raise
        assert_eq!(c.current_cooldown_secs(), 240.0);
    }

    #[test]
    fn recut_waits_unless_climbing() {
        let mut c = ctl();
        let f1 = c.observe(0.0, Reading::Celsius(82.0)).thread_factor;
        let f2 = c.observe(5.0, Reading::Celsius(81.5)).thread_factor;
        assert_eq!(f1, f2, "falling: wait for the last cut to act");
        let f3 = c.observe(10.0, Reading::Celsius(83.0)).thread_factor;
        assert!(f3 < f2, "climbing past the last cut: cut again");
        let f4 = c.observe(45.0, Reading::Celsius(81.0)).thread_factor;
        assert!(f4 < f3, "still hot after the recut interval: cut again");
    }

    #[test]
    fn sensor_lost_is_never_better_than_hot() {
        let mut c = ctl();
        c.observe(0.0, Reading::Celsius(50.0));
        let d = c.observe(5.0, Reading::SensorLost);
        assert_eq!(d.state, ThermalState::Hot);
        assert!(d.thread_factor <= 0.5);
        assert!(!d.pause);
        // NoSensor after a sensor was seen is also "lost".
        assert_eq!(c.observe(10.0, Reading::NoSensor).state, ThermalState::Hot);
        assert_eq!(
            c.observe(15.0, Reading::Celsius(f32::NAN)).state,
            ThermalState::Hot
        );

        let mut c = ctl();
        c.observe(0.0, Reading::Celsius(95.0));
        let d = c.observe(5.0, Reading::SensorLost);
        assert_eq!(d.state, ThermalState::Critical);
        assert!(d.pause);
    }

    #[test]
    fn no_sensor_mines_unrestricted() {
        let mut c = ctl();
        let d = c.observe(0.0, Reading::NoSensor);
        assert_eq!(d.state, ThermalState::Unknown);
        assert_eq!(d.thread_factor, 1.0);
        assert!(!d.pause);
        assert!(d.reason.contains("no thermal sensor"));
    }
}

//! When to poll each ASIC next: the adaptive telemetry interval, the error quarantine (after
//! repeated failures an ASIC is left alone for a cooldown, then tried once), [`classify`] of a
//! reading against the previous one, and [`AsicSchedule`] that combines them.
//!
//! Pure: durations in, durations out. It must never sleep, read a clock or touch the network;
//! the poller passes "now" as a value.

use super::error::FailureKind;
use super::normalise::Severity;
use hashward_protocol::AsicTelemetry;
use std::time::Duration;

/// Scheduling knobs; defaults in docs/ARCHITECTURE.md#thresholds-asic-polling.
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
    /// Consecutive failures that put the ASIC in quarantine.
    pub quarantine_after: u32,
    /// How long a quarantine lasts before one trial poll.
    pub quarantine_for: Duration,
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
            quarantine_after: 5,
            quarantine_for: Duration::from_secs(10 * 60),
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
        || cur.status.errors.iter().any(|e| {
            [Severity::Critical, Severity::Warning]
                .map(Severity::as_str)
                .contains(&e.severity.as_str())
        })
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
pub enum QuarantineState {
    /// Polled on its schedule.
    Clear,
    /// No polls until `until` (time since the poller started).
    Active { until: Duration },
    /// The quarantine is over; one trial poll decides whether it is clear or quarantined again.
    Trial,
}

/// The poller's error quarantine (not the thermal breaker of [`super::breaker`]): after
/// `threshold` consecutive failures an ASIC is left alone for a cooldown, then tried once; a
/// success clears it and a failed trial quarantines it again at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarantine {
    pub state: QuarantineState,
    consecutive: u32,
}

impl Default for Quarantine {
    fn default() -> Self {
        Quarantine {
            state: QuarantineState::Clear,
            consecutive: 0,
        }
    }
}

impl Quarantine {
    /// Whether a poll may run at `now`; moves Active to Trial once the cooldown is over.
    pub fn allows(&mut self, now: Duration) -> bool {
        match self.state {
            QuarantineState::Clear | QuarantineState::Trial => true,
            QuarantineState::Active { until } if now >= until => {
                self.state = QuarantineState::Trial;
                true
            }
            QuarantineState::Active { .. } => false,
        }
    }

    pub fn on_success(&mut self) {
        self.consecutive = 0;
        self.state = QuarantineState::Clear;
    }

    /// Returns true when this failure started a quarantine.
    pub fn on_failure(&mut self, now: Duration, threshold: u32, cooldown: Duration) -> bool {
        self.consecutive += 1;
        let open = match self.state {
            QuarantineState::Trial => true,
            QuarantineState::Clear => self.consecutive >= threshold.max(1),
            QuarantineState::Active { .. } => false,
        };
        if open {
            self.state = QuarantineState::Active {
                until: now + cooldown,
            };
        }
        open
    }

    pub fn name(&self) -> &'static str {
        match self.state {
            QuarantineState::Clear => "clear",
            QuarantineState::Active { .. } => "quarantined",
            QuarantineState::Trial => "trial",
        }
    }
}

/// One ASIC's schedule: adaptive interval, failure count, quarantine.
#[derive(Debug, Clone)]
pub struct AsicSchedule {
    pub cfg: ScheduleConfig,
    pub interval: AdaptiveInterval,
    pub failures: u32,
    pub quarantine: Quarantine,
}

/// What the poller does next with one ASIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollDecision {
    /// Wait this long from now (failures) or from the previous due time (successes).
    pub delay: Duration,
    /// This failure started a quarantine.
    pub quarantined: bool,
    /// Publish an `unreachable` record now.
    pub report_unreachable: bool,
}

impl AsicSchedule {
    pub fn new(cfg: ScheduleConfig) -> Self {
        AsicSchedule {
            interval: AdaptiveInterval::new(&cfg),
            cfg,
            failures: 0,
            quarantine: Quarantine::default(),
        }
    }

    pub fn on_success(&mut self, change: Change) -> PollDecision {
        self.failures = 0;
        self.quarantine.on_success();
        PollDecision {
            delay: self.interval.update(change, &self.cfg),
            quarantined: false,
            report_unreachable: false,
        }
    }

    pub fn on_failure(&mut self, kind: FailureKind, now: Duration) -> PollDecision {
        self.failures += 1;
        let opened = self
            .quarantine
            .on_failure(now, self.cfg.quarantine_after, self.cfg.quarantine_for);
        // Start fast again once it answers; it was not stable.
        self.interval = AdaptiveInterval::new(&self.cfg);
        let delay = match self.quarantine.state {
            QuarantineState::Active { until } => until.saturating_sub(now),
            _ => hashward_common::Backoff::new(self.cfg.fast, self.cfg.backoff_max)
                .ceiling(self.failures.saturating_sub(1)),
        };
        let silent_enough = kind.is_silence() && self.failures >= self.cfg.unreachable_after.max(1);
        PollDecision {
            delay,
            quarantined: opened,
            report_unreachable: silent_enough || opened,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asic::normalise;
    use hashward_protocol::AsicApi;
    use hashward_protocol::{AsicError, Hashrate};

    fn cfg() -> ScheduleConfig {
        ScheduleConfig {
            fast: Duration::from_secs(60),
            slow: Duration::from_secs(300),
            stable_polls_to_slow_down: 3,
            quarantine_after: 4,
            quarantine_for: Duration::from_secs(600),
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
    fn quarantine_starts_waits_trials_once_and_clears_on_success() {
        let mut br = Quarantine::default();
        let s = Duration::from_secs;
        assert!(!br.on_failure(s(0), 3, s(100)));
        assert!(!br.on_failure(s(1), 3, s(100)));
        assert!(br.on_failure(s(2), 3, s(100)));
        assert!(!br.allows(s(50)));
        assert!(br.allows(s(102)));
        assert_eq!(br.state, QuarantineState::Trial);
        // A failed trial re-opens at once.
        assert!(br.on_failure(s(103), 3, s(100)));
        assert!(!br.allows(s(150)));
        assert!(br.allows(s(203)));
        br.on_success();
        assert_eq!(br.state, QuarantineState::Clear);
        assert!(br.allows(s(204)));
    }

    #[test]
    fn schedule_reports_unreachable_only_after_repeated_silence() {
        let mut m = AsicSchedule::new(cfg());
        let s = Duration::from_secs;
        let n1 = m.on_failure(FailureKind::Timeout, s(0));
        assert!(!n1.report_unreachable);
        assert_eq!(n1.delay, s(60));
        let n2 = m.on_failure(FailureKind::Unreachable, s(60));
        assert!(n2.report_unreachable);
        assert_eq!(n2.delay, s(120));
        // Garbage replies are not silence: reported when the quarantine starts.
        let mut m = AsicSchedule::new(cfg());
        let outs: Vec<bool> = (0..4)
            .map(|i| m.on_failure(FailureKind::Malformed, s(i)).report_unreachable)
            .collect();
        assert_eq!(outs, [false, false, false, true]);
        assert_eq!(m.quarantine.name(), "quarantined");
        let ok = m.on_success(Change::Stable);
        assert_eq!((ok.delay, m.failures, m.quarantine.name()), (s(60), 0, "clear"));
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

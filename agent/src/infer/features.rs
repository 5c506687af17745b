//! Feature extraction from telemetry: the Rust twin of `models/train/features.py`.
//!
//! The agent keeps a short history per subject (the rig, each ASIC) and turns every sample into
//! the named features the models were trained on. The arithmetic follows the Python reference
//! step by step (f64, same order, f32 readings widened first) so the golden vectors agree; change
//! both files together and re-export the models.
//!
//! Missing readings: a feature whose current input is missing is `None` and the model's neutral
//! value is used, so a missing sensor neither raises nor hides an alarm. A non-finite reading
//! (NaN from a broken sensor) counts as missing. Must never panic on any telemetry value.

use hashward_protocol::{AsicTelemetry, RigTelemetry, ThreatType};

/// Longest window any model may ask for; the history kept per subject.
pub const MAX_WINDOW: usize = 32;
/// A pool identity (URL + user) becomes the established one after this many consecutive
/// samples; until then each sample on it is flagged, so a hijack keeps alerting while a
/// legitimate change is accepted on its own.
pub const POOL_ADOPT_SAMPLES: u32 = 120;
/// A reject ratio needs this many shares in the history to mean anything.
pub const MIN_SHARES: i128 = 20;

/// One feature the agent can compute: its name (as in the model contract) and the threat it
/// names when it drives the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureDef {
    pub name: &'static str,
    pub unit: &'static str,
    pub threat: ThreatType,
}

const fn def(name: &'static str, unit: &'static str, threat: ThreatType) -> FeatureDef {
    FeatureDef { name, unit, threat }
}

/// What `sentinel_rig` models may ask for, in the order [`RigFeatures`] holds them.
pub const RIG_FEATURES: [FeatureDef; 9] = [
    def("cpu_temp_max_c", "C", ThreatType::Overheat),
    def("cpu_temp_slope_c", "C/sample", ThreatType::Overheat),
    def("cpu_temp_over_85_c", "C", ThreatType::Overheat),
    def("hashrate_10s_vs_15m", "ratio-1", ThreatType::HashrateDrop),
    def("hashrate_60s_vs_window", "ratio-1", ThreatType::HashrateDrop),
    def("load_per_thread", "ratio", ThreatType::HashrateDrop),
    def("cpu_usage_frac", "ratio", ThreatType::HashrateDrop),
    def("reject_ratio", "ratio", ThreatType::RejectionSurge),
    def("pool_changed", "0/1", ThreatType::PoolChange),
];

/// What `sentinel_asic` models may ask for, in the order [`AsicFeatures`] holds them.
pub const ASIC_FEATURES: [FeatureDef; 14] = [
    def("chip_temp_max_c", "C", ThreatType::Overheat),
    def("chip_temp_rise_c", "C", ThreatType::Overheat),
    def("chip_temp_slope_c", "C/sample", ThreatType::Overheat),
    def("chip_temp_over_80_c", "C", ThreatType::Overheat),
    def("fan_speed_pct_mean", "%", ThreatType::Overheat),
    def("fan_min_ratio", "ratio", ThreatType::FanFailure),
    def("board_min_ratio", "ratio", ThreatType::BoardLoss),
    def("hashrate_vs_expected", "ratio-1", ThreatType::HashrateDrop),
    def("hashrate_vs_window", "ratio-1", ThreatType::HashrateDrop),
    def("power_vs_expected", "ratio-1", ThreatType::PowerAnomaly),
    def("power_cv", "ratio", ThreatType::PowerAnomaly),
    def("voltage_vs_window", "ratio-1", ThreatType::PowerAnomaly),
    def("reject_ratio", "ratio", ThreatType::RejectionSurge),
    def("pool_changed", "0/1", ThreatType::PoolChange),
];

/// Raw rig features in [`RIG_FEATURES`] order; `None` = missing (neutral value used).
pub type RigFeatures = [Option<f64>; 9];
/// Raw ASIC features in [`ASIC_FEATURES`] order; `None` = missing (neutral value used).
pub type AsicFeatures = [Option<f64>; 14];

/// Expected figures for an ASIC from `efficiency_asic` (or nominal hashrate without it).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Expected {
    pub hashrate_hs: Option<f64>,
    pub power_w: Option<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn f32r(x: f32) -> Option<f64> {
    finite(f64::from(x))
}

fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

/// Sequential sum then divide, as the reference does (the order matters for parity).
fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut s = 0.0;
    for x in xs {
        s += x;
    }
    Some(s / xs.len() as f64)
}

fn max_of(xs: &[f64]) -> Option<f64> {
    let mut it = xs.iter().copied();
    let first = it.next()?;
    Some(it.fold(first, |m, x| if x > m { x } else { m }))
}

fn min_of(xs: &[f64]) -> Option<f64> {
    let mut it = xs.iter().copied();
    let first = it.next()?;
    Some(it.fold(first, |m, x| if x < m { x } else { m }))
}

/// `Antminer S19j Pro` -> `antminer_s19j_pro`: lower case, runs of other characters -> `_`.
pub fn normalise_model(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn pool_id(url: &str, user: &str) -> String {
    format!("{url}\n{user}")
}

/// What the history keeps of one sample.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    tmax: Option<f64>,
    /// ASIC: total hashrate; rig: the miner's 60 s hashrate (None without an active miner).
    hs: Option<f64>,
    power: Option<f64>,
    volt: Option<f64>,
    acc: Option<u64>,
    rej: Option<u64>,
    pool: String,
    /// Rig only: a miner was running (not absent, not paused by the agent).
    active: bool,
}

/// Bounded per-subject history plus the pool-identity tracker.
#[derive(Debug, Clone, Default)]
struct History {
    snaps: Vec<Snapshot>,
    established: Option<String>,
    candidate: Option<String>,
    run: u32,
}

impl History {
    /// Adds a sample; returns `pool_changed` for it (0 for samples without an active miner).
    fn push(&mut self, snap: Snapshot) -> f64 {
        let active = snap.active;
        let pool = snap.pool.clone();
        self.snaps.push(snap);
        if self.snaps.len() > MAX_WINDOW {
            self.snaps.remove(0);
        }
        if !active {
            return 0.0;
        }
        let established = self.established.get_or_insert_with(|| pool.clone());
        if *established == pool {
            self.candidate = None;
            self.run = 0;
            return 0.0;
        }
        if self.candidate.as_deref() == Some(pool.as_str()) {
            self.run += 1;
        } else {
            self.candidate = Some(pool.clone());
            self.run = 1;
        }
        if self.run >= POOL_ADOPT_SAMPLES {
            self.established = Some(pool);
            self.candidate = None;
            self.run = 0;
            return 0.0;
        }
        1.0
    }

    /// The last `w` snapshots, oldest first (never empty after a push).
    fn window(&self, w: usize) -> &[Snapshot] {
        &self.snaps[self.snaps.len().saturating_sub(w)..]
    }

    fn len(&self) -> usize {
        self.snaps.len()
    }
}

/// Change per sample from the oldest reading in the window to now, over the full window length
/// `w`: a partial window gives a damped slope instead of a noisy one-step difference.
fn slope(window: &[Snapshot], w: usize) -> f64 {
    let Some((cur, prev)) = window.split_last() else {
        return 0.0;
    };
    let Some(cur) = cur.tmax else {
        return 0.0;
    };
    if w < 2 {
        return 0.0;
    }
    match prev.iter().find_map(|s| s.tmax) {
        Some(old) => (cur - old) / (w - 1) as f64,
        None => 0.0,
    }
}

/// Rejected share of the shares counted across the history; 0 with too little evidence or when
/// a counter went backwards (miner restart).
fn reject_ratio<'a>(mut history: impl DoubleEndedIterator<Item = &'a Snapshot> + Clone) -> f64 {
    let (Some(old), Some(cur)) = (history.clone().next(), history.next_back()) else {
        return 0.0;
    };
    if std::ptr::eq(old, cur) {
        return 0.0;
    }
    let (Some(oa), Some(or), Some(ca), Some(cr)) = (old.acc, old.rej, cur.acc, cur.rej) else {
        return 0.0;
    };
    let da = i128::from(ca) - i128::from(oa);
    let dr = i128::from(cr) - i128::from(or);
    if da < 0 || dr < 0 || da + dr < MIN_SHARES {
        return 0.0;
    }
    dr as f64 / (da + dr) as f64
}

fn sanitise<const N: usize>(mut out: [Option<f64>; N]) -> [Option<f64>; N] {
    for v in out.iter_mut() {
        *v = v.and_then(finite);
    }
    out
}

// ------------------------------------------------------------------------------------------
// CPU rig
// ------------------------------------------------------------------------------------------

fn rig_snapshot(t: &RigTelemetry) -> Snapshot {
    let temps: Vec<f64> = t.temperatures.iter().filter_map(|r| f32r(r.celsius.0)).collect();
    let miner = t.miner.as_ref().filter(|m| !m.paused);
    let pool = miner.and_then(|m| m.pool.as_ref());
    Snapshot {
        tmax: max_of(&temps),
        hs: miner.and_then(|m| finite(m.hashrate_60s.0)),
        power: None,
        volt: None,
        acc: pool.map(|p| p.accepted),
        rej: pool.map(|p| p.rejected),
        pool: pool.map(|p| pool_id(&p.url, &p.user)).unwrap_or_default(),
        active: miner.is_some(),
    }
}

/// The rig's history (one per agent).
#[derive(Debug, Clone, Default)]
pub struct RigWindow {
    history: History,
}

impl RigWindow {
    pub fn new() -> RigWindow {
        RigWindow::default()
    }

    /// Samples held (at most [`MAX_WINDOW`]).
    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.len() == 0
    }

    /// Adds a sample and returns its features over a window of `w` samples (the model's).
    pub fn push(&mut self, t: &RigTelemetry, w: usize) -> RigFeatures {
        let pool_changed = self.history.push(rig_snapshot(t));
        let window = self.history.window(w.max(1));
        let mut out: RigFeatures = [None; 9];
        let Some(cur) = window.last() else {
            return out;
        };
        out[0] = cur.tmax;
        out[1] = Some(slope(window, w));
        out[2] = cur.tmax.map(|x| (x - 85.0).max(0.0));
        let Some(m) = t.miner.as_ref().filter(|m| !m.paused) else {
            // No miner, or paused by the agent: the miner features say nothing.
            return sanitise(out);
        };
        let (h10, h15) = (m.hashrate_10s.0, m.hashrate_15m.0);
        out[3] = Some(if h15 > 0.0 {
            clamp(h10 / h15 - 1.0, -1.0, 1.0)
        } else {
            0.0
        });
        let prev: Vec<f64> = window[..window.len() - 1]
            .iter()
            .filter(|s| s.active)
            .filter_map(|s| s.hs)
            .collect();
        out[4] = Some(match (mean(&prev), cur.hs) {
            (Some(mm), Some(h60)) if mm > 0.0 => clamp(h60 / mm - 1.0, -1.0, 1.0),
            (Some(_), None) => f64::NAN, // a current reading that is not finite: missing
            _ => 0.0,
        });
        out[5] = (m.threads > 0).then(|| clamp(f64::from(t.load_1m) / f64::from(m.threads), 0.0, 8.0));
        out[6] = Some(clamp(f64::from(t.cpu_usage_pct) / 100.0, 0.0, 1.0));
        out[7] = Some(reject_ratio(self.history.snaps.iter().filter(|s| s.active)));
        out[8] = Some(pool_changed);
        sanitise(out)
    }
}

// ------------------------------------------------------------------------------------------
// ASIC
// ------------------------------------------------------------------------------------------

pub(super) fn asic_chip_temp_max(t: &AsicTelemetry) -> Option<f64> {
    if let Some(c) = t.temperature.max_chip {
        return f32r(c.0);
    }
    let vals: Vec<f64> = t
        .temperature
        .per_hashboard
        .iter()
        .filter_map(|b| b.chip_max.and_then(|c| f32r(c.0)))
        .collect();
    max_of(&vals)
}

pub(super) fn asic_ambient(t: &AsicTelemetry) -> Option<f64> {
    let tm = &t.temperature;
    match (tm.ambient, tm.inlet_water) {
        (Some(a), _) => f32r(a.0),
        (None, Some(w)) => f32r(w.0),
        (None, None) => None,
    }
}

pub(super) fn asic_voltage(t: &AsicTelemetry) -> Option<f64> {
    if let Some(v) = t.power.voltage_v {
        return f32r(v);
    }
    let vals: Vec<f64> = t
        .hashrate
        .per_hashboard
        .iter()
        .filter_map(|b| b.voltage_v.and_then(f32r))
        .collect();
    mean(&vals)
}

pub(super) fn asic_frequency(t: &AsicTelemetry) -> Option<f64> {
    if let Some(f) = t.config.frequency_mhz {
        return f32r(f);
    }
    let vals: Vec<f64> = t
        .hashrate
        .per_hashboard
        .iter()
        .filter_map(|b| b.frequency_mhz.and_then(f32r))
        .collect();
    mean(&vals)
}

pub(super) fn asic_chip_temp_avg(t: &AsicTelemetry) -> Option<f64> {
    if let Some(c) = t.temperature.avg_chip {
        return f32r(c.0);
    }
    let vals: Vec<f64> = t
        .temperature
        .per_hashboard
        .iter()
        .filter_map(|b| match (b.chip_min, b.chip_max) {
            (Some(lo), Some(hi)) => Some((f32r(lo.0)? + f32r(hi.0)?) / 2.0),
            _ => None,
        })
        .collect();
    mean(&vals)
}

pub(super) fn asic_fan_pct_mean(t: &AsicTelemetry) -> Option<f64> {
    let vals: Vec<f64> = t
        .fans
        .iter()
        .filter_map(|f| f.speed_percent.and_then(f32r))
        .collect();
    mean(&vals)
}

fn asic_snapshot(t: &AsicTelemetry) -> Snapshot {
    Snapshot {
        tmax: asic_chip_temp_max(t),
        hs: finite(t.hashrate.total.0),
        power: t.power.consumption.and_then(|w| f32r(w.0)),
        volt: asic_voltage(t),
        acc: Some(t.shares.accepted),
        rej: Some(t.shares.rejected),
        pool: t
            .pool
            .as_ref()
            .map(|p| pool_id(&p.url, &p.user))
            .unwrap_or_default(),
        active: true,
    }
}

/// One ASIC's history (one per miner id).
#[derive(Debug, Clone, Default)]
pub struct AsicWindow {
    history: History,
}

impl AsicWindow {
    pub fn new() -> AsicWindow {
        AsicWindow::default()
    }

    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.len() == 0
    }

    /// Adds a sample and returns its features over a window of `w` samples; `expected` comes
    /// from the efficiency model for this very sample.
    pub fn push(&mut self, t: &AsicTelemetry, w: usize, expected: Expected) -> AsicFeatures {
        let pool_changed = self.history.push(asic_snapshot(t));
        let window = self.history.window(w.max(1));
        let mut out: AsicFeatures = [None; 14];
        let Some((cur, prev)) = window.split_last() else {
            return out;
        };
        let tmax = cur.tmax;
        let amb = asic_ambient(t);
        out[0] = tmax;
        out[1] = tmax.zip(amb).map(|(x, a)| x - a);
        out[2] = Some(slope(window, w));
        out[3] = tmax.map(|x| (x - 80.0).max(0.0));
        out[4] = asic_fan_pct_mean(t);
        let rpms: Vec<f64> = t.fans.iter().filter_map(|f| f.rpm.map(f64::from)).collect();
        out[5] = Some(match (min_of(&rpms), max_of(&rpms)) {
            (Some(lo), Some(hi)) if rpms.len() >= 2 && hi > 0.0 => lo / hi,
            _ => 1.0,
        });
        let hs: Vec<f64> = t.hashrate.per_hashboard.iter().map(|b| b.hashrate.0).collect();
        out[6] = Some(match (min_of(&hs), max_of(&hs)) {
            (Some(lo), Some(hi)) if hs.len() >= 2 && hi > 0.0 => clamp(lo / hi, 0.0, 1.0),
            _ => 1.0,
        });
        out[7] = match (expected.hashrate_hs, cur.hs) {
            (Some(e), Some(h)) if e > 0.0 => Some(clamp(h / e - 1.0, -1.0, 1.0)),
            _ => None,
        };
        out[8] = Some(if prev.is_empty() {
            0.0
        } else {
            // A total hashrate that was not finite is left out of the mean.
            let hist: Vec<f64> = prev.iter().filter_map(|s| s.hs).collect();
            match (mean(&hist), cur.hs) {
                (Some(m), Some(h)) if m > 0.0 => clamp(h / m - 1.0, -1.0, 1.0),
                _ => 0.0,
            }
        });
        out[9] = match (cur.power, expected.power_w) {
            (Some(p), Some(e)) if e > 0.0 => Some(clamp(p / e - 1.0, -1.0, 1.0)),
            _ => None,
        };
        let pw: Vec<f64> = window.iter().filter_map(|s| s.power).collect();
        out[10] = Some(match mean(&pw) {
            Some(m) if pw.len() >= 2 && m > 0.0 => {
                let dev: Vec<f64> = pw.iter().map(|p| (p - m) * (p - m)).collect();
                mean(&dev).unwrap_or(0.0).sqrt() / m
            }
            _ => 0.0,
        });
        out[11] = cur.volt.map(|v| {
            let volts: Vec<f64> = window.iter().filter_map(|s| s.volt).collect();
            match max_of(&volts) {
                Some(vmax) if vmax > 0.0 => clamp(v / vmax - 1.0, -1.0, 0.0),
                _ => 0.0,
            }
        });
        out[12] = Some(reject_ratio(self.history.snaps.iter()));
        out[13] = Some(pool_changed);
        sanitise(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_normalise_like_the_reference() {
        assert_eq!(
            normalise_model("Antminer S19j Pro").as_deref(),
            Some("antminer_s19j_pro")
        );
        assert_eq!(
            normalise_model("  Whatsminer M50S++ ").as_deref(),
            Some("whatsminer_m50s")
        );
        assert_eq!(normalise_model("--"), None);
    }
}

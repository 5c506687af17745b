//! One function per aspect of a reading (boards, missing boards, hashrate totals, power,
//! temperatures, fans, pool and shares, config), each validating its part of a [`RawReading`]
//! and noting what it left out in [`Findings`].
//!
//! Pure: no I/O, no clock. An impossible value must never reach a total or an average: it is
//! noted in `Findings::invalid` and left out.

use super::raw::{RawBoard, RawFan, RawPool, RawReading, Sensor};
use super::{
    state_of, BoardHealth, Severity, CRITICAL_CHIP_C, DEGRADED_RATIO, HOT_CHIP_C, MAX_FAN_RPM, MAX_MINER_HS,
    MAX_POWER_W, MAX_TEMP_C, MIN_PLAUSIBLE_J_TH, MIN_TEMP_C, UNIT_MISMATCH_FACTOR,
};
use hashward_protocol::{
    AsicConfig, AsicError, AsicPool, AsicPower, AsicTemperature, BoardHashrate, BoardTemperature, Celsius,
    Fan, Hashrate, Shares, Watts,
};

/// What the aspects left out (`invalid`) and the errors they found, in the order found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Findings {
    pub invalid: Vec<String>,
    pub errors: Vec<AsicError>,
}

impl Findings {
    pub fn error(&mut self, code: &str, message: String, severity: Severity) {
        self.errors.push(super::asic_error(code, message, severity));
    }

    /// Keeps a hashrate in range; notes it as impossible otherwise.
    fn hashrate(&mut self, v: Option<f64>, what: &str) -> Option<f64> {
        let v = v?;
        if (0.0..=MAX_MINER_HS).contains(&v) {
            return Some(v);
        }
        self.invalid.push(format!(
            "{what}: impossible hashrate {} (wrong unit?)",
            Hashrate(v)
        ));
        None
    }

    /// Whether a temperature is plausible; notes it as impossible otherwise.
    fn keep_temp(&mut self, t: f64, what: &str) -> bool {
        let ok = temp_ok(t);
        if !ok {
            self.invalid
                .push(format!("{what}: impossible temperature {t} °C"));
        }
        ok
    }
}

fn temp_ok(t: f64) -> bool {
    (MIN_TEMP_C..=MAX_TEMP_C).contains(&t)
}

fn celsius(t: f64) -> Celsius {
    Celsius(t as f32)
}

/// The boards, validated: per-board hashrate and temperature, and what the totals need.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Boards {
    pub hashrate: Vec<BoardHashrate>,
    pub temperature: Vec<BoardTemperature>,
    /// Sum of the boards' hashrates; `None` without boards or when one is unreadable.
    pub sum_hs: Option<f64>,
    /// Sum of the boards' ideal rates; `None` without boards or when one lacks it.
    pub ideal_sum_hs: Option<f64>,
    /// Every chip temperature that measured (or the ends of a board's range without detail).
    pub chip_temps_c: Vec<f64>,
    pub frequencies_mhz: Vec<f64>,
}

/// Validates every board (expected sorted by id) and reports dead, degraded and hot ones.
pub fn boards(raw: &[RawBoard], mining: bool, f: &mut Findings) -> Boards {
    let mut out = Boards::default();
    let mut sum = (!raw.is_empty()).then_some(0.0);
    let mut ideal_sum = (!raw.is_empty()).then_some(0.0);
    for b in raw {
        let ctx = format!("board {}", b.id);
        let hr = f.hashrate(b.hashrate_hs, &format!("{ctx} hashrate"));
        let ideal = f
            .hashrate(b.ideal_hs, &format!("{ctx} ideal hashrate"))
            .filter(|v| *v > 0.0);
        sum = sum.zip(hr).map(|(s, v)| s + v);
        ideal_sum = ideal_sum.zip(ideal).map(|(s, v)| s + v);
        let fw_state = b.state.as_deref().map(state_of);
        let health = board_health(fw_state.as_deref(), b.hashrate_hs.is_some(), hr, ideal, mining);
        match health {
            BoardHealth::Dead => f.error(
                "board_failure",
                format!(
                    "{ctx} is not hashing{}",
                    b.description
                        .as_deref()
                        .filter(|d| !d.is_empty())
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ),
                Severity::Critical,
            ),
            BoardHealth::Degraded => f.error(
                "board_degraded",
                format!(
                    "{ctx} hashes {:.0}% of its ideal rate",
                    100.0 * hr.unwrap_or(0.0) / ideal.unwrap_or(1.0)
                ),
                Severity::Warning,
            ),
            _ => {}
        }
        let freq = b.frequency_mhz.filter(|v| {
            let ok = (0.0..=5_000.0).contains(v);
            if !ok {
                f.invalid.push(format!("{ctx} frequency: impossible {v} MHz"));
            }
            ok
        });
        if let Some(v) = freq.filter(|v| *v > 0.0) {
            out.frequencies_mhz.push(v);
        }
        let volt = b.voltage_v.filter(|v| {
            let ok = (0.0..=100.0).contains(v);
            if !ok {
                f.invalid.push(format!("{ctx} voltage: impossible {v} V"));
            }
            ok
        });
        out.hashrate.push(BoardHashrate {
            board_id: b.id,
            hashrate: Hashrate(hr.unwrap_or(0.0)),
            ideal: ideal.map(Hashrate),
            frequency_mhz: freq.map(|v| v as f32),
            voltage_v: volt.map(|v| v as f32),
            chips: b.chips.map(|c| c.min(u32::MAX as u64) as u32),
            status: health.as_str().to_string(),
        });
        out.temperature
            .push(board_temperature(b, &ctx, &mut out.chip_temps_c, f));
    }
    out.sum_hs = sum;
    out.ideal_sum_hs = ideal_sum;
    out
}

/// A board's health from the firmware's state word and its rates.
pub fn board_health(
    fw_state: Option<&str>,
    reported_hs: bool,
    hs: Option<f64>,
    ideal_hs: Option<f64>,
    mining: bool,
) -> BoardHealth {
    match (fw_state, hs, ideal_hs) {
        (Some("failure" | "disconnected"), _, _) => BoardHealth::Dead,
        (_, None, _) if reported_hs => BoardHealth::Invalid,
        (_, Some(h), _) if h <= 0.0 && mining => BoardHealth::Dead,
        (_, Some(h), Some(i)) if mining && h < DEGRADED_RATIO * i => BoardHealth::Degraded,
        (Some(s), _, _) if s != "mining" => BoardHealth::from_word(s),
        _ => BoardHealth::Ok,
    }
}

/// A board's temperature ranges; its valid chip temperatures are added to `chip_temps`.
fn board_temperature(
    b: &RawBoard,
    ctx: &str,
    chip_temps: &mut Vec<f64>,
    f: &mut Findings,
) -> BoardTemperature {
    // Per-sensor detail wins over the firmware's min/max, because the firmware computes its
    // min/max over every sensor, including the ones it marks `error`.
    let (chip_min, chip_max) = range_of(&b.chip_sensors, b.chip_min, b.chip_max, &format!("{ctx} chip"), f);
    let (pcb_min, pcb_max) = range_of(&b.pcb_sensors, b.pcb_min, b.pcb_max, &format!("{ctx} pcb"), f);
    let len = chip_temps.len();
    chip_temps.extend(
        b.chip_sensors
            .iter()
            .filter(|s| s.ok && temp_ok(s.temp_c))
            .map(|s| s.temp_c),
    );
    if chip_temps.len() == len {
        // Only a range is known: count its ends.
        chip_temps.extend(chip_min.iter().chain(chip_max.iter()).copied());
    }
    if let Some(m) = chip_max {
        if m >= CRITICAL_CHIP_C {
            f.error(
                "chip_overheat",
                format!("{ctx} chips at {m:.0} °C"),
                Severity::Critical,
            );
        } else if m >= HOT_CHIP_C {
            f.error("chip_hot", format!("{ctx} chips at {m:.0} °C"), Severity::Warning);
        }
    }
    BoardTemperature {
        board_id: b.id,
        pcb_min: pcb_min.map(celsius),
        pcb_max: pcb_max.map(celsius),
        chip_min: chip_min.map(celsius),
        chip_max: chip_max.map(celsius),
    }
}

/// Min/max over the sensors that measured, or the firmware's range when there is no detail.
fn range_of(
    sensors: &[Sensor],
    fw_min: Option<f64>,
    fw_max: Option<f64>,
    ctx: &str,
    f: &mut Findings,
) -> (Option<f64>, Option<f64>) {
    if sensors.is_empty() {
        let lo = fw_min.filter(|t| f.keep_temp(*t, &format!("{ctx} min")));
        let hi = fw_max.filter(|t| f.keep_temp(*t, &format!("{ctx} max")));
        return (lo, hi);
    }
    let mut lo: Option<f64> = None;
    let mut hi: Option<f64> = None;
    for (i, s) in sensors.iter().enumerate() {
        if !s.ok {
            f.invalid.push(format!(
                "{ctx} sensor {}: status {} ({} °C) left out",
                i + 1,
                s.status,
                s.temp_c
            ));
            f.error(
                "sensor_error",
                format!("{ctx} sensor {} reports {}", i + 1, s.status),
                Severity::Warning,
            );
            continue;
        }
        if !f.keep_temp(s.temp_c, &format!("{ctx} sensor {}", i + 1)) {
            continue;
        }
        lo = Some(lo.map_or(s.temp_c, |m| m.min(s.temp_c)));
        hi = Some(hi.map_or(s.temp_c, |m| m.max(s.temp_c)));
    }
    (lo, hi)
}

/// Widest board numbering whose gaps are reported as missing boards (real miners have 3 or 4).
pub const MAX_BOARD_ID_SPAN: u32 = 32;

/// Boards the firmware lists as missing plus gaps in the numbering (1 and 3 present: 2 dropped
/// out), sorted; each is a critical error. `boards` must be sorted by id.
pub fn missing_boards(boards: &[RawBoard], listed: &[u32], f: &mut Findings) -> Vec<u32> {
    let mut missing = listed.to_vec();
    if let (Some(first), Some(last)) = (boards.first(), boards.last()) {
        // A gap wider than any real miner has boards is bad numbering, not missing boards:
        // `"index": 999999` made this loop (and the error list) run for minutes (found by
        // fuzz_asic_antminer).
        let last_id = last.id.min(first.id.saturating_add(MAX_BOARD_ID_SPAN));
        for id in first.id..last_id {
            if !boards.iter().any(|b| b.id == id) && !missing.contains(&id) {
                missing.push(id);
            }
        }
    }
    missing.sort_unstable();
    for id in &missing {
        f.error(
            "board_missing",
            format!("board {id} is not reporting"),
            Severity::Critical,
        );
    }
    missing
}

/// Total, average and nominal hashrate in H/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub total_hs: Option<f64>,
    pub average_hs: Option<f64>,
    pub nominal_hs: Option<f64>,
}

/// The firmware's totals, checked against the boards: a total that disagrees with the board
/// sum by a unit factor is replaced by the sum; hashing under nominal while mining is a warning.
pub fn totals(raw: &RawReading, boards: &Boards, mining: bool, f: &mut Findings) -> Totals {
    let mut total = f.hashrate(raw.total_hs, "total hashrate");
    if let (Some(t), Some(sum)) = (total, boards.sum_hs.filter(|s| *s > 0.0)) {
        let ratio = t / sum;
        if !(1.0 / UNIT_MISMATCH_FACTOR..=UNIT_MISMATCH_FACTOR).contains(&ratio) {
            f.invalid.push(format!(
                "total hashrate {} disagrees with the sum of its boards {} (unit mismatch?); using the boards",
                Hashrate(t),
                Hashrate(sum)
            ));
            total = None;
        }
    }
    let total = total.or(boards.sum_hs);
    let average = f.hashrate(raw.average_hs, "average hashrate");
    let nominal = f
        .hashrate(raw.nominal_hs, "nominal hashrate")
        .filter(|v| *v > 0.0)
        .or(boards.ideal_sum_hs);
    if let (Some(t), Some(n), true) = (total, nominal, mining) {
        if t < DEGRADED_RATIO * n {
            f.error(
                "low_hashrate",
                format!(
                    "hashing {} of nominal {} ({:.0}%)",
                    Hashrate(t),
                    Hashrate(n),
                    100.0 * t / n
                ),
                Severity::Warning,
            );
        }
    }
    Totals {
        total_hs: total,
        average_hs: average,
        nominal_hs: nominal,
    }
}

/// Power in watts (the boards' sum when the firmware gives only per-board power) and the
/// efficiency; a power that would beat any ASIC's efficiency is not watts and is left out.
pub fn power(raw: &RawReading, total_hs: Option<f64>, f: &mut Findings) -> AsicPower {
    let mut power = raw.power_w.filter(|p| {
        let ok = *p >= 0.0 && *p <= MAX_POWER_W;
        if !ok {
            f.invalid.push(format!("power: impossible {p} W"));
        }
        ok
    });
    if power.is_none() && raw.power_w.is_none() {
        let per_board: Vec<f64> = raw.boards.iter().filter_map(|b| b.power_w).collect();
        if !per_board.is_empty() && per_board.len() == raw.boards.len() && per_board.iter().all(|p| *p >= 0.0)
        {
            power = Some(per_board.iter().sum()).filter(|p| *p <= MAX_POWER_W);
        }
    }
    let mut efficiency = None;
    if let (Some(p), Some(t)) = (power, total_hs) {
        if t > 0.0 && p > 0.0 {
            let j_th = p / (t / 1e12);
            if j_th < MIN_PLAUSIBLE_J_TH {
                f.invalid.push(format!(
                    "power {p} W at {} would be {j_th:.2} J/TH, better than any ASIC (not watts?); left out",
                    Hashrate(t)
                ));
                power = None;
            } else {
                efficiency = Some(j_th as f32);
            }
        }
    }
    AsicPower {
        consumption: power.map(|p| Watts(p as f32)),
        efficiency_j_th: efficiency,
        voltage_v: raw
            .psu_voltage_v
            .filter(|v| (0.0..=500.0).contains(v))
            .map(|v| v as f32),
    }
}

/// Whole-ASIC temperatures: max and mean over the chips (the firmware's chip range when there
/// are no boards), ambient and water.
pub fn temperatures(
    raw: &RawReading,
    chip_temps_c: &[f64],
    per_hashboard: Vec<BoardTemperature>,
    f: &mut Findings,
) -> AsicTemperature {
    let mut max_chip = chip_temps_c
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    let mut avg_chip = if chip_temps_c.is_empty() {
        None
    } else {
        Some(chip_temps_c.iter().sum::<f64>() / chip_temps_c.len() as f64)
    };
    if raw.boards.is_empty() {
        let (lo, hi) = raw.chip_range;
        let lo = lo.filter(|t| f.keep_temp(*t, "chip min"));
        let hi = hi.filter(|t| f.keep_temp(*t, "chip max"));
        max_chip = hi.or(lo);
        avg_chip = match (lo, hi) {
            (Some(a), Some(b)) => Some((a + b) / 2.0),
            (a, b) => a.or(b),
        };
    }
    let ambient = raw.ambient_c.filter(|t| f.keep_temp(*t, "ambient"));
    let inlet = raw.inlet_water_c.filter(|t| f.keep_temp(*t, "inlet water"));
    let outlet = raw.outlet_water_c.filter(|t| f.keep_temp(*t, "outlet water"));
    AsicTemperature {
        ambient: ambient.map(celsius),
        avg_chip: avg_chip.map(celsius),
        max_chip: max_chip.map(celsius),
        inlet_water: inlet.map(celsius),
        outlet_water: outlet.map(celsius),
        per_hashboard,
    }
}

/// Fans with speed in percent (of their maximum, else the firmware's duty); a fan stopped while
/// mining is critical, except on a water-cooled (`hydro`) ASIC.
pub fn fans(
    raw: &[RawFan],
    duty_percent: Option<f64>,
    mining: bool,
    hydro: bool,
    f: &mut Findings,
) -> Vec<Fan> {
    let duty = duty_percent.filter(|d| (0.0..=100.0).contains(d));
    let mut fans = Vec::with_capacity(raw.len());
    for fan in raw {
        let rpm = fan.rpm.filter(|r| {
            let ok = (0.0..=MAX_FAN_RPM).contains(r);
            if !ok {
                f.invalid.push(format!("fan {} rpm: impossible {r}", fan.id));
            }
            ok
        });
        let pct = match (rpm, fan.max_rpm) {
            (Some(r), Some(m)) if m > 0.0 => Some((100.0 * r / m).min(100.0)),
            _ => duty,
        };
        let status = fan.status.clone().unwrap_or_else(|| match rpm {
            Some(r) if r > 0.0 => "ok".into(),
            Some(_) => "stopped".into(),
            None => "unknown".into(),
        });
        if mining && !hydro && rpm == Some(0.0) {
            f.error(
                "fan_failure",
                format!("fan {} stopped while mining", fan.id),
                Severity::Critical,
            );
        }
        fans.push(Fan {
            fan_id: fan.id,
            rpm: rpm.map(|r| r as u32),
            speed_percent: pct.map(|p| p as f32),
            status,
        });
    }
    fans
}

/// The operator's pool (the active one, else the first alive, else the first; never the
/// firmware's dev-fee pool) and the shares summed over the operator's pools. A last-share time
/// in the future is ignored.
pub fn pool_and_shares(pools: &[RawPool], now_ms: u64) -> (Option<AsicPool>, Shares) {
    let own: Vec<&RawPool> = pools.iter().filter(|p| !p.devfee).collect();
    let pool = own
        .iter()
        .find(|p| p.active)
        .or_else(|| {
            own.iter().find(|p| {
                matches!(
                    p.status.to_ascii_lowercase().as_str(),
                    "alive" | "working" | "active"
                )
            })
        })
        .or_else(|| own.first())
        .map(|p| AsicPool {
            url: p.url.clone(),
            user: p.user.clone(),
            status: p.status.to_ascii_lowercase(),
        });
    let shares = Shares {
        // Saturating: each pool's count may be up to u64::MAX (a firmware's word for it).
        accepted: own.iter().filter_map(|p| p.accepted).fold(0, u64::saturating_add),
        rejected: own.iter().filter_map(|p| p.rejected).fold(0, u64::saturating_add),
        stale: own.iter().filter_map(|p| p.stale).fold(0, u64::saturating_add),
        last_share_ts_ms: own
            .iter()
            .filter_map(|p| p.last_share_ts_ms)
            .filter(|t| *t <= now_ms)
            .max(),
    };
    (pool, shares)
}

/// The settings in force: the firmware's frequency, else the boards' mean; power limit.
pub fn config(raw: &RawReading, board_frequencies_mhz: &[f64]) -> AsicConfig {
    let frequency =
        raw.frequency_mhz
            .filter(|v| *v > 0.0 && *v <= 5_000.0)
            .or(if board_frequencies_mhz.is_empty() {
                None
            } else {
                Some(board_frequencies_mhz.iter().sum::<f64>() / board_frequencies_mhz.len() as f64)
            });
    AsicConfig {
        frequency_mhz: frequency.map(|v| v as f32),
        overclock_profile: raw.overclock_profile.clone(),
        power_limit: raw
            .power_limit_w
            .filter(|p| *p > 0.0 && *p <= MAX_POWER_W)
            .map(|p| Watts(p as f32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::AsicApi;

    fn codes(f: &Findings) -> Vec<(&str, &str)> {
        f.errors
            .iter()
            .map(|e| (e.code.as_str(), e.severity.as_str()))
            .collect()
    }

    #[test]
    fn board_health_from_state_and_rates() {
        let h = |s: Option<&str>, hs: Option<f64>, mining| board_health(s, true, hs, Some(100.0), mining);
        assert_eq!(h(Some("failure"), Some(100.0), true), BoardHealth::Dead);
        assert_eq!(h(Some("disconnected"), Some(100.0), false), BoardHealth::Dead);
        assert_eq!(h(Some("mining"), None, true), BoardHealth::Invalid);
        assert_eq!(board_health(None, false, None, None, true), BoardHealth::Ok);
        assert_eq!(h(Some("mining"), Some(0.0), true), BoardHealth::Dead);
        assert_eq!(h(Some("mining"), Some(0.0), false), BoardHealth::Ok);
        assert_eq!(h(Some("mining"), Some(89.0), true), BoardHealth::Degraded);
        assert_eq!(h(Some("mining"), Some(91.0), true), BoardHealth::Ok);
        assert_eq!(
            h(Some("paused"), Some(50.0), false),
            BoardHealth::Firmware("paused".into())
        );
        assert_eq!(BoardHealth::Firmware("paused".into()).as_str(), "paused");
        assert_eq!(BoardHealth::Degraded.as_str(), "degraded");
    }

    #[test]
    fn boards_sum_only_when_every_board_reads() {
        let b = |id, hs: Option<f64>| RawBoard {
            id,
            hashrate_hs: hs,
            ideal_hs: Some(10.0),
            ..Default::default()
        };
        let mut f = Findings::default();
        let out = boards(&[b(1, Some(9.5)), b(2, Some(10.0))], true, &mut f);
        assert_eq!((out.sum_hs, out.ideal_sum_hs), (Some(19.5), Some(20.0)));
        assert!(f.errors.is_empty() && f.invalid.is_empty());
        let out = boards(&[b(1, Some(9.5)), b(2, Some(-1.0))], true, &mut f);
        assert_eq!(out.sum_hs, None);
        assert_eq!(out.hashrate[1].status, "invalid");
        assert_eq!(f.invalid.len(), 1, "{:?}", f.invalid);
        assert_eq!(boards(&[], true, &mut f).sum_hs, None);
    }

    #[test]
    fn hot_and_overheating_chips_are_warned_and_critical() {
        let b = |id, max| RawBoard {
            id,
            chip_max: Some(max),
            chip_min: Some(60.0),
            ..Default::default()
        };
        let mut f = Findings::default();
        let out = boards(&[b(1, 70.0), b(2, 86.0), b(3, 96.0)], false, &mut f);
        assert_eq!(
            codes(&f),
            [("chip_hot", "warning"), ("chip_overheat", "critical")]
        );
        assert_eq!(out.chip_temps_c, [60.0, 70.0, 60.0, 86.0, 60.0, 96.0]);
    }

    #[test]
    fn sensor_marked_error_is_left_out_of_the_range() {
        let s = |t, ok| Sensor {
            temp_c: t,
            ok,
            status: if ok { "ok".into() } else { "error".into() },
        };
        let mut f = Findings::default();
        let r = range_of(
            &[s(60.0, true), s(300.0, false), s(70.0, true)],
            Some(0.0),
            Some(300.0),
            "c",
            &mut f,
        );
        assert_eq!(r, (Some(60.0), Some(70.0)));
        assert_eq!(codes(&f), [("sensor_error", "warning")]);
        let mut f = Findings::default();
        assert_eq!(
            range_of(&[], Some(-50.0), Some(80.0), "c", &mut f),
            (None, Some(80.0))
        );
        assert_eq!(f.invalid, ["c min: impossible temperature -50 °C"]);
    }

    #[test]
    fn gaps_in_board_numbers_are_missing_boards() {
        let b = |id| RawBoard {
            id,
            ..Default::default()
        };
        let mut f = Findings::default();
        assert_eq!(missing_boards(&[b(1), b(4)], &[5], &mut f), [2, 3, 5]);
        assert_eq!(f.errors.len(), 3);
        assert!(missing_boards(&[b(1), b(2)], &[], &mut Findings::default()).is_empty());
    }

    #[test]
    fn totals_fall_back_to_boards_and_warn_below_nominal() {
        let mut raw = RawReading::new(AsicApi::Cgminer);
        raw.total_hs = Some(50e12);
        raw.nominal_hs = Some(100e12);
        let bs = Boards {
            sum_hs: Some(52e12),
            ..Default::default()
        };
        let mut f = Findings::default();
        let t = totals(&raw, &bs, true, &mut f);
        assert_eq!((t.total_hs, t.nominal_hs), (Some(50e12), Some(100e12)));
        assert_eq!(codes(&f), [("low_hashrate", "warning")]);
        raw.total_hs = Some(52e15);
        let mut f = Findings::default();
        assert_eq!(totals(&raw, &bs, false, &mut f).total_hs, Some(52e12));
        assert_eq!(f.invalid.len(), 1);
    }

    #[test]
    fn power_from_boards_and_implausible_efficiency() {
        let mut raw = RawReading::new(AsicApi::Vnish);
        raw.boards = (1..=3)
            .map(|id| RawBoard {
                id,
                power_w: Some(1000.0),
                ..Default::default()
            })
            .collect();
        let mut f = Findings::default();
        let p = power(&raw, Some(100e12), &mut f);
        assert_eq!(p.consumption, Some(Watts(3000.0)));
        assert_eq!(p.efficiency_j_th, Some(30.0));
        raw.power_w = Some(30.0);
        let p = power(&raw, Some(100e12), &mut f);
        assert_eq!((p.consumption, p.efficiency_j_th), (None, None));
        assert_eq!(f.invalid.len(), 1);
    }

    #[test]
    fn temperatures_use_the_chip_range_without_boards() {
        let mut raw = RawReading::new(AsicApi::Cgminer);
        raw.chip_range = (Some(60.0), Some(80.0));
        raw.inlet_water_c = Some(30.0);
        raw.ambient_c = Some(200.0);
        let mut f = Findings::default();
        let t = temperatures(&raw, &[], Vec::new(), &mut f);
        assert_eq!(
            (t.max_chip, t.avg_chip),
            (Some(Celsius(80.0)), Some(Celsius(70.0)))
        );
        assert_eq!((t.ambient, t.inlet_water), (None, Some(Celsius(30.0))));
        assert_eq!(f.invalid, ["ambient: impossible temperature 200 °C"]);
    }

    #[test]
    fn stopped_fan_is_critical_only_when_air_cooled_and_mining() {
        let fan = |rpm| RawFan {
            id: 1,
            rpm: Some(rpm),
            max_rpm: Some(6000.0),
            status: None,
        };
        let mut f = Findings::default();
        let out = fans(&[fan(3000.0), fan(0.0)], Some(40.0), true, false, &mut f);
        assert_eq!(out[0].speed_percent, Some(50.0));
        assert_eq!(
            (out[1].status.as_str(), codes(&f)),
            ("stopped", vec![("fan_failure", "critical")])
        );
        let mut f = Findings::default();
        fans(&[fan(0.0)], None, true, true, &mut f);
        assert!(f.errors.is_empty());
    }

    #[test]
    fn shares_skip_the_devfee_pool_and_future_timestamps() {
        let p = |url: &str, devfee, active, acc, ts| RawPool {
            url: url.into(),
            status: "Alive".into(),
            devfee,
            active,
            accepted: Some(acc),
            last_share_ts_ms: Some(ts),
            ..Default::default()
        };
        let pools = [
            p("fee", true, true, 100, 10),
            p("a", false, false, 5, 20),
            p("b", false, false, 7, 99),
        ];
        let (pool, shares) = pool_and_shares(&pools, 50);
        assert_eq!(
            pool.map(|p| (p.url, p.status)),
            Some(("a".into(), "alive".into()))
        );
        assert_eq!((shares.accepted, shares.last_share_ts_ms), (12, Some(20)));
    }

    #[test]
    fn config_frequency_falls_back_to_the_boards_mean() {
        let mut raw = RawReading::new(AsicApi::Vnish);
        raw.power_limit_w = Some(-5.0);
        let c = config(&raw, &[500.0, 600.0]);
        assert_eq!((c.frequency_mhz, c.power_limit), (Some(550.0), None));
        raw.frequency_mhz = Some(650.0);
        assert_eq!(config(&raw, &[500.0]).frequency_mhz, Some(650.0));
    }
}

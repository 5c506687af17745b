//! Normalisation (seed 002 sections 3.1 and 4.1): every firmware parser fills a source-neutral
//! [`RawReading`] in SI units, and [`finish`] validates it and builds the protocol's
//! [`AsicTelemetry`] with the derived values (efficiency, board health, errors).
//!
//! Pure: no I/O, no clock (the caller passes `now_ms`). It must never average an impossible
//! reading into a total: negative or absurd values and sensors the firmware marks `error` are
//! listed in `invalid` and left out, and the reading says why.

use hashward_protocol::{
    AsicApi, AsicConfig, AsicError, AsicHashrate, AsicPool, AsicPower, AsicStatus, AsicTelemetry,
    AsicTemperature, BoardHashrate, BoardTemperature, Celsius, Fan, Hashrate, Shares, Watts,
};
use serde::Serialize;

use super::error::ApiError;

/// The largest hashrate one miner can have. The biggest hydro units are below 1 PH/s; a reading
/// above this is a unit mix-up (GH/s sent where TH/s was declared), not a miner.
pub const MAX_MINER_HS: f64 = 2e15;
/// Below any place a miner runs; such a reading is a disconnected sensor.
pub const MIN_TEMP_C: f64 = -40.0;
/// Silicon is destroyed well before this; above it is a bad sensor or Fahrenheit.
pub const MAX_TEMP_C: f64 = 150.0;
/// More than any single miner's PSU delivers.
pub const MAX_POWER_W: f64 = 20_000.0;
/// No ASIC has ever been better than ~10 J/TH; below this the power (or hashrate) is wrong.
pub const MIN_PLAUSIBLE_J_TH: f64 = 5.0;
pub const MAX_FAN_RPM: f64 = 30_000.0;
/// A board hashing below this share of its ideal rate is degraded.
pub const DEGRADED_RATIO: f64 = 0.9;
/// Chip temperatures that deserve a warning / a critical error (Bitmain chips throttle near 95).
pub const HOT_CHIP_C: f64 = 85.0;
pub const CRITICAL_CHIP_C: f64 = 95.0;
/// A total that disagrees with the sum of its boards by more than this factor has a unit wrong.
const UNIT_MISMATCH_FACTOR: f64 = 5.0;

/// Hashrate units the firmwares use, with or without `/s` (`GH/s`, `GH`, `GHS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashUnit {
    H,
    KH,
    MH,
    GH,
    TH,
    PH,
    EH,
}

impl HashUnit {
    pub fn parse(s: &str) -> Result<HashUnit, ApiError> {
        let u = s.trim().to_ascii_uppercase();
        let u = u.strip_suffix("/S").or_else(|| u.strip_suffix('S')).unwrap_or(&u);
        Ok(match u {
            "H" => HashUnit::H,
            "KH" => HashUnit::KH,
            "MH" => HashUnit::MH,
            "GH" => HashUnit::GH,
            "TH" => HashUnit::TH,
            "PH" => HashUnit::PH,
            "EH" => HashUnit::EH,
            _ => return Err(ApiError::UnknownUnit(s.to_string())),
        })
    }

    pub fn factor(self) -> f64 {
        match self {
            HashUnit::H => 1.0,
            HashUnit::KH => 1e3,
            HashUnit::MH => 1e6,
            HashUnit::GH => 1e9,
            HashUnit::TH => 1e12,
            HashUnit::PH => 1e15,
            HashUnit::EH => 1e18,
        }
    }

    pub fn to_hs(self, v: f64) -> f64 {
        v * self.factor()
    }
}

/// A temperature sensor as the firmware reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensor {
    pub temp_c: f64,
    /// False when the firmware marks it `error` (or anything but a measurement).
    pub ok: bool,
    pub status: String,
}

/// One hashboard, already in H/s, MHz, V, W and Celsius.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawBoard {
    /// Starts at 1.
    pub id: u32,
    pub hashrate_hs: Option<f64>,
    pub ideal_hs: Option<f64>,
    pub frequency_mhz: Option<f64>,
    pub voltage_v: Option<f64>,
    pub power_w: Option<f64>,
    pub chips: Option<u64>,
    /// Firmware board state (`mining`, `failure`, `disconnected`, ...), when it says.
    pub state: Option<String>,
    pub description: Option<String>,
    pub chip_min: Option<f64>,
    pub chip_max: Option<f64>,
    pub pcb_min: Option<f64>,
    pub pcb_max: Option<f64>,
    pub chip_sensors: Vec<Sensor>,
    pub pcb_sensors: Vec<Sensor>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawFan {
    pub id: u32,
    pub rpm: Option<f64>,
    pub max_rpm: Option<f64>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawPool {
    pub url: String,
    pub user: String,
    pub status: String,
    pub active: bool,
    /// The firmware's own fee pool: not the operator's, its shares are not the operator's.
    pub devfee: bool,
    pub accepted: Option<u64>,
    pub rejected: Option<u64>,
    pub stale: Option<u64>,
    pub last_share_ts_ms: Option<u64>,
}

/// What one poll read, in SI units, before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawReading {
    pub api: AsicApi,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub total_hs: Option<f64>,
    pub average_hs: Option<f64>,
    pub nominal_hs: Option<f64>,
    pub boards: Vec<RawBoard>,
    /// Board ids the firmware lists as present but that report nothing.
    pub missing_boards: Vec<u32>,
    pub power_w: Option<f64>,
    pub psu_voltage_v: Option<f64>,
    pub fans: Vec<RawFan>,
    pub fan_duty_percent: Option<f64>,
    pub pools: Vec<RawPool>,
    /// Normalised state, see [`state_of`].
    pub state: String,
    pub uptime_s: Option<f64>,
    pub ambient_c: Option<f64>,
    pub inlet_water_c: Option<f64>,
    pub outlet_water_c: Option<f64>,
    /// Whole-miner chip / PCB ranges, used when there are no boards.
    pub chip_range: (Option<f64>, Option<f64>),
    pub frequency_mhz: Option<f64>,
    pub overclock_profile: Option<String>,
    pub power_limit_w: Option<f64>,
    pub errors: Vec<AsicError>,
    pub invalid: Vec<String>,
}

impl RawReading {
    pub fn new(api: AsicApi) -> Self {
        RawReading {
            api,
            model: None,
            firmware: None,
            total_hs: None,
            average_hs: None,
            nominal_hs: None,
            boards: Vec::new(),
            missing_boards: Vec::new(),
            power_w: None,
            psu_voltage_v: None,
            fans: Vec::new(),
            fan_duty_percent: None,
            pools: Vec::new(),
            state: "unknown".into(),
            uptime_s: None,
            ambient_c: None,
            inlet_water_c: None,
            outlet_water_c: None,
            chip_range: (None, None),
            frequency_mhz: None,
            overclock_profile: None,
            power_limit_w: None,
            errors: Vec::new(),
            invalid: Vec::new(),
        }
    }
}

/// Maps a firmware state word to the normalised one: `mining`, `paused`, `starting`, `tuning`,
/// `stopping`, `restarting`, `failure`; anything else is kept, lower-cased.
pub fn state_of(raw: &str) -> String {
    let s = raw.trim().to_ascii_lowercase();
    match s.as_str() {
        "mining" | "running" | "alive" => "mining",
        "stopped" | "paused" | "pause" | "sleep" | "sleeping" => "paused",
        "initializing" | "starting" | "init" => "starting",
        "auto-tuning" | "autotuning" | "tuning" => "tuning",
        "shutting-down" | "stopping" => "stopping",
        "restarting" | "rebooting" => "restarting",
        "failure" | "error" | "dead" => "failure",
        _ => return if s.is_empty() { "unknown".into() } else { s },
    }
    .to_string()
}

fn err(code: &str, message: String, severity: &str) -> AsicError {
    AsicError {
        code: code.into(),
        message,
        severity: severity.into(),
    }
}

fn temp_ok(t: f64) -> bool {
    (MIN_TEMP_C..=MAX_TEMP_C).contains(&t)
}

/// Validates a raw reading and builds the telemetry message.
pub fn finish(mut raw: RawReading, miner_id: &str, ip: &str, now_ms: u64) -> AsicTelemetry {
    let mut invalid = std::mem::take(&mut raw.invalid);
    let mut errors = std::mem::take(&mut raw.errors);
    let mining = raw.state == "mining";

    // --- hashrate -------------------------------------------------------------------------
    let check_hs = |v: Option<f64>, what: &str, invalid: &mut Vec<String>| -> Option<f64> {
        let v = v?;
        if !(0.0..=MAX_MINER_HS).contains(&v) {
            invalid.push(format!(
                "{what}: impossible hashrate {} (wrong unit?)",
                Hashrate(v)
            ));
            None
        } else {
            Some(v)
        }
    };
    let mut boards_hr = Vec::with_capacity(raw.boards.len());
    let mut boards_t = Vec::with_capacity(raw.boards.len());
    let mut board_sum = 0.0;
    let mut board_sum_valid = !raw.boards.is_empty();
    let mut ideal_sum = 0.0;
    let mut ideal_sum_valid = !raw.boards.is_empty();
    let mut all_chip: Vec<f64> = Vec::new();
    let mut freqs: Vec<f64> = Vec::new();
    raw.boards.sort_by_key(|b| b.id);
    for b in &raw.boards {
        let ctx = format!("board {}", b.id);
        let hr = check_hs(b.hashrate_hs, &format!("{ctx} hashrate"), &mut invalid);
        let ideal = check_hs(b.ideal_hs, &format!("{ctx} ideal hashrate"), &mut invalid).filter(|v| *v > 0.0);
        match hr {
            Some(v) => board_sum += v,
            None => board_sum_valid = false,
        }
        match ideal {
            Some(v) => ideal_sum += v,
            None => ideal_sum_valid = false,
        }
        let fw_state = b.state.as_deref().map(state_of);
        let health = match (&fw_state, hr, ideal) {
            (Some(s), _, _) if s == "failure" || s == "disconnected" => "dead",
            (_, None, _) if b.hashrate_hs.is_some() => "invalid",
            (_, Some(h), _) if h <= 0.0 && mining => "dead",
            (_, Some(h), Some(i)) if mining && h < DEGRADED_RATIO * i => "degraded",
            (Some(s), _, _) if s != "mining" => s.as_str(),
            _ => "ok",
        }
        .to_string();
        match health.as_str() {
            "dead" => errors.push(err(
                "board_failure",
                format!(
                    "{ctx} is not hashing{}",
                    b.description
                        .as_deref()
                        .filter(|d| !d.is_empty())
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ),
                "critical",
            )),
            "degraded" => errors.push(err(
                "board_degraded",
                format!(
                    "{ctx} hashes {:.0}% of its ideal rate",
                    100.0 * hr.unwrap_or(0.0) / ideal.unwrap_or(1.0)
                ),
                "warning",
            )),
            _ => {}
        }
        let freq = b.frequency_mhz.filter(|f| {
            let ok = (0.0..=5_000.0).contains(f);
            if !ok {
                invalid.push(format!("{ctx} frequency: impossible {f} MHz"));
            }
            ok
        });
        if let Some(f) = freq.filter(|f| *f > 0.0) {
            freqs.push(f);
        }
        let volt = b.voltage_v.filter(|v| {
            let ok = (0.0..=100.0).contains(v);
            if !ok {
                invalid.push(format!("{ctx} voltage: impossible {v} V"));
            }
            ok
        });
        boards_hr.push(BoardHashrate {
            board_id: b.id,
            hashrate: Hashrate(hr.unwrap_or(0.0)),
            ideal: ideal.map(Hashrate),
            frequency_mhz: freq.map(|f| f as f32),
            voltage_v: volt.map(|v| v as f32),
            chips: b.chips.map(|c| c.min(u32::MAX as u64) as u32),
            status: health,
        });

        // Temperatures: per-sensor detail wins over the firmware's min/max, because the
        // firmware computes its min/max over every sensor, including the ones it marks `error`.
        let (chip_min, chip_max) = range_of(
            &b.chip_sensors,
            b.chip_min,
            b.chip_max,
            &format!("{ctx} chip"),
            &mut invalid,
            &mut errors,
        );
        let (pcb_min, pcb_max) = range_of(
            &b.pcb_sensors,
            b.pcb_min,
            b.pcb_max,
            &format!("{ctx} pcb"),
            &mut invalid,
            &mut errors,
        );
        let valid_chip_sensors: Vec<f64> = b
            .chip_sensors
            .iter()
            .filter(|s| s.ok && temp_ok(s.temp_c))
            .map(|s| s.temp_c)
            .collect();
        if !valid_chip_sensors.is_empty() {
            all_chip.extend(valid_chip_sensors);
        } else {
            // Only a range is known: count its ends.
            all_chip.extend(chip_min.iter().chain(chip_max.iter()).copied());
        }
        if let Some(m) = chip_max {
            if m >= CRITICAL_CHIP_C {
                errors.push(err(
                    "chip_overheat",
                    format!("{ctx} chips at {m:.0} °C"),
                    "critical",
                ));
            } else if m >= HOT_CHIP_C {
                errors.push(err("chip_hot", format!("{ctx} chips at {m:.0} °C"), "warning"));
            }
        }
        boards_t.push(BoardTemperature {
            board_id: b.id,
            pcb_min: pcb_min.map(|t| Celsius(t as f32)),
            pcb_max: pcb_max.map(|t| Celsius(t as f32)),
            chip_min: chip_min.map(|t| Celsius(t as f32)),
            chip_max: chip_max.map(|t| Celsius(t as f32)),
        });
    }
    // Gaps in the board numbering (1, 3 present) mean a board dropped out.
    let mut missing = raw.missing_boards.clone();
    if let (Some(first), Some(last)) = (raw.boards.first(), raw.boards.last()) {
        for id in first.id..last.id {
            if !raw.boards.iter().any(|b| b.id == id) && !missing.contains(&id) {
                missing.push(id);
            }
        }
    }
    missing.sort_unstable();
    for id in &missing {
        errors.push(err(
            "board_missing",
            format!("board {id} is not reporting"),
            "critical",
        ));
    }

    let mut total = check_hs(raw.total_hs, "total hashrate", &mut invalid);
    if let (Some(t), true) = (total, board_sum_valid && board_sum > 0.0) {
        let ratio = t / board_sum;
        if !(1.0 / UNIT_MISMATCH_FACTOR..=UNIT_MISMATCH_FACTOR).contains(&ratio) {
            invalid.push(format!(
                "total hashrate {} disagrees with the sum of its boards {} (unit mismatch?); using the boards",
                Hashrate(t),
                Hashrate(board_sum)
            ));
            total = None;
        }
    }
    let total = total.or(if board_sum_valid { Some(board_sum) } else { None });
    let average = check_hs(raw.average_hs, "average hashrate", &mut invalid);
    let nominal = check_hs(raw.nominal_hs, "nominal hashrate", &mut invalid)
        .filter(|v| *v > 0.0)
        .or(if ideal_sum_valid { Some(ideal_sum) } else { None });
    if let (Some(t), Some(n), true) = (total, nominal, mining) {
        if t < DEGRADED_RATIO * n {
            errors.push(err(
                "low_hashrate",
                format!(
                    "hashing {} of nominal {} ({:.0}%)",
                    Hashrate(t),
                    Hashrate(n),
                    100.0 * t / n
                ),
                "warning",
            ));
        }
    }

    // --- power ----------------------------------------------------------------------------
    let mut power = raw.power_w.filter(|p| {
        let ok = *p >= 0.0 && *p <= MAX_POWER_W;
        if !ok {
            invalid.push(format!("power: impossible {p} W"));
        }
        ok
    });
    if power.is_none() && raw.power_w.is_none() {
        // Some firmwares only report per-board power.
        let per_board: Vec<f64> = raw.boards.iter().filter_map(|b| b.power_w).collect();
        if !per_board.is_empty() && per_board.len() == raw.boards.len() && per_board.iter().all(|p| *p >= 0.0)
        {
            power = Some(per_board.iter().sum()).filter(|p| *p <= MAX_POWER_W);
        }
    }
    let mut efficiency = None;
    if let (Some(p), Some(t)) = (power, total) {
        if t > 0.0 && p > 0.0 {
            let j_th = p / (t / 1e12);
            if j_th < MIN_PLAUSIBLE_J_TH {
                invalid.push(format!(
                    "power {p} W at {} would be {j_th:.2} J/TH, better than any ASIC (not watts?); left out",
                    Hashrate(t)
                ));
                power = None;
            } else {
                efficiency = Some(j_th as f32);
            }
        }
    }
    let psu_v = raw.psu_voltage_v.filter(|v| (0.0..=500.0).contains(v));

    // --- temperatures ---------------------------------------------------------------------
    let mut max_chip = all_chip
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    let mut avg_chip = if all_chip.is_empty() {
        None
    } else {
        Some(all_chip.iter().sum::<f64>() / all_chip.len() as f64)
    };
    if raw.boards.is_empty() {
        let (lo, hi) = raw.chip_range;
        let lo = lo.filter(|t| keep_temp(*t, "chip min", &mut invalid));
        let hi = hi.filter(|t| keep_temp(*t, "chip max", &mut invalid));
        max_chip = hi.or(lo);
        avg_chip = match (lo, hi) {
            (Some(a), Some(b)) => Some((a + b) / 2.0),
            (a, b) => a.or(b),
        };
    }
    let ambient = raw.ambient_c.filter(|t| keep_temp(*t, "ambient", &mut invalid));
    let inlet = raw
        .inlet_water_c
        .filter(|t| keep_temp(*t, "inlet water", &mut invalid));
    let outlet = raw
        .outlet_water_c
        .filter(|t| keep_temp(*t, "outlet water", &mut invalid));
    let hydro = inlet.is_some() || outlet.is_some();

    // --- fans -----------------------------------------------------------------------------
    let duty = raw.fan_duty_percent.filter(|d| (0.0..=100.0).contains(d));
    let mut fans = Vec::with_capacity(raw.fans.len());
    for f in &raw.fans {
        let rpm = f.rpm.filter(|r| {
            let ok = (0.0..=MAX_FAN_RPM).contains(r);
            if !ok {
                invalid.push(format!("fan {} rpm: impossible {r}", f.id));
            }
            ok
        });
        let pct = match (rpm, f.max_rpm) {
            (Some(r), Some(m)) if m > 0.0 => Some((100.0 * r / m).min(100.0)),
            _ => duty,
        };
        let status = f.status.clone().unwrap_or_else(|| match rpm {
            Some(r) if r > 0.0 => "ok".into(),
            Some(_) => "stopped".into(),
            None => "unknown".into(),
        });
        if mining && !hydro && rpm == Some(0.0) {
            errors.push(err(
                "fan_failure",
                format!("fan {} stopped while mining", f.id),
                "critical",
            ));
        }
        fans.push(Fan {
            fan_id: f.id,
            rpm: rpm.map(|r| r as u32),
            speed_percent: pct.map(|p| p as f32),
            status,
        });
    }

    // --- pools and shares -----------------------------------------------------------------
    let own: Vec<&RawPool> = raw.pools.iter().filter(|p| !p.devfee).collect();
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
        accepted: own.iter().filter_map(|p| p.accepted).sum(),
        rejected: own.iter().filter_map(|p| p.rejected).sum(),
        stale: own.iter().filter_map(|p| p.stale).sum(),
        last_share_ts_ms: own
            .iter()
            .filter_map(|p| p.last_share_ts_ms)
            .filter(|t| *t <= now_ms)
            .max(),
    };

    // --- config ---------------------------------------------------------------------------
    let frequency = raw
        .frequency_mhz
        .filter(|f| *f > 0.0 && *f <= 5_000.0)
        .or(if freqs.is_empty() {
            None
        } else {
            Some(freqs.iter().sum::<f64>() / freqs.len() as f64)
        });
    let power_limit = raw.power_limit_w.filter(|p| *p > 0.0 && *p <= MAX_POWER_W);

    if !invalid.is_empty() {
        errors.push(err(
            "invalid_reading",
            format!(
                "{} impossible reading(s) left out: {}",
                invalid.len(),
                invalid.join("; ")
            ),
            "warning",
        ));
    }

    AsicTelemetry {
        miner_id: miner_id.to_string(),
        ip_address: ip.to_string(),
        api: raw.api,
        reachable: true,
        model: raw.model,
        firmware_version: raw.firmware,
        hashrate: AsicHashrate {
            total: Hashrate(total.unwrap_or(0.0)),
            average: average.map(Hashrate),
            nominal: nominal.map(Hashrate),
            per_hashboard: boards_hr,
        },
        temperature: AsicTemperature {
            ambient: ambient.map(|t| Celsius(t as f32)),
            avg_chip: avg_chip.map(|t| Celsius(t as f32)),
            max_chip: max_chip.map(|t| Celsius(t as f32)),
            inlet_water: inlet.map(|t| Celsius(t as f32)),
            outlet_water: outlet.map(|t| Celsius(t as f32)),
            per_hashboard: boards_t,
        },
        power: AsicPower {
            consumption: power.map(|p| Watts(p as f32)),
            efficiency_j_th: efficiency,
            voltage_v: psu_v.map(|v| v as f32),
        },
        fans,
        pool,
        shares,
        status: AsicStatus {
            mining_status: raw.state,
            uptime_s: raw.uptime_s.filter(|u| *u >= 0.0).map(|u| u as u64),
            errors,
        },
        config: AsicConfig {
            frequency_mhz: frequency.map(|f| f as f32),
            overclock_profile: raw.overclock_profile,
            power_limit: power_limit.map(|p| Watts(p as f32)),
        },
        invalid,
    }
}

fn keep_temp(t: f64, what: &str, invalid: &mut Vec<String>) -> bool {
    let ok = temp_ok(t);
    if !ok {
        invalid.push(format!("{what}: impossible temperature {t} °C"));
    }
    ok
}

/// Min/max over the sensors that measured, or the firmware's range when there is no detail.
fn range_of(
    sensors: &[Sensor],
    fw_min: Option<f64>,
    fw_max: Option<f64>,
    ctx: &str,
    invalid: &mut Vec<String>,
    errors: &mut Vec<AsicError>,
) -> (Option<f64>, Option<f64>) {
    if sensors.is_empty() {
        let lo = fw_min.filter(|t| keep_temp(*t, &format!("{ctx} min"), invalid));
        let hi = fw_max.filter(|t| keep_temp(*t, &format!("{ctx} max"), invalid));
        return (lo, hi);
    }
    let mut lo: Option<f64> = None;
    let mut hi: Option<f64> = None;
    for (i, s) in sensors.iter().enumerate() {
        if !s.ok {
            invalid.push(format!(
                "{ctx} sensor {}: status {} ({} °C) left out",
                i + 1,
                s.status,
                s.temp_c
            ));
            errors.push(err(
                "sensor_error",
                format!("{ctx} sensor {} reports {}", i + 1, s.status),
                "warning",
            ));
            continue;
        }
        if !keep_temp(s.temp_c, &format!("{ctx} sensor {}", i + 1), invalid) {
            continue;
        }
        lo = Some(lo.map_or(s.temp_c, |m| m.min(s.temp_c)));
        hi = Some(hi.map_or(s.temp_c, |m| m.max(s.temp_c)));
    }
    (lo, hi)
}

/// Values derived from a telemetry message that the protocol does not carry (yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    pub efficiency_j_th: Option<f32>,
    /// Current hashrate as a percentage of nominal.
    pub pct_of_nominal: Option<f32>,
    pub boards_ok: usize,
    pub boards_total: usize,
}

pub fn derived(t: &AsicTelemetry) -> Derived {
    let n = t.hashrate.nominal.map(|n| n.0).filter(|n| *n > 0.0);
    Derived {
        efficiency_j_th: t.power.efficiency_j_th,
        pct_of_nominal: n.map(|n| (100.0 * t.hashrate.total.0 / n) as f32),
        boards_ok: t
            .hashrate
            .per_hashboard
            .iter()
            .filter(|b| b.status == "ok")
            .count(),
        boards_total: t.hashrate.per_hashboard.len(),
    }
}

/// The telemetry sent for a miner that does not answer: identity kept, no readings.
pub fn unreachable(
    miner_id: &str,
    ip: &str,
    api: AsicApi,
    last_good: Option<&AsicTelemetry>,
    why: &str,
) -> AsicTelemetry {
    AsicTelemetry {
        miner_id: miner_id.to_string(),
        ip_address: ip.to_string(),
        api,
        reachable: false,
        model: last_good.and_then(|t| t.model.clone()),
        firmware_version: last_good.and_then(|t| t.firmware_version.clone()),
        hashrate: AsicHashrate::default(),
        temperature: AsicTemperature::default(),
        power: AsicPower::default(),
        fans: Vec::new(),
        pool: None,
        shares: Shares::default(),
        status: AsicStatus {
            mining_status: "unreachable".into(),
            uptime_s: None,
            errors: vec![err("unreachable", why.to_string(), "critical")],
        },
        config: AsicConfig::default(),
        invalid: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(id: u32, hr_th: f64) -> RawBoard {
        RawBoard {
            id,
            hashrate_hs: Some(hr_th * 1e12),
            ideal_hs: Some(36e12),
            state: Some("mining".into()),
            ..Default::default()
        }
    }

    fn reading(boards: Vec<RawBoard>) -> RawReading {
        let mut r = RawReading::new(AsicApi::Vnish);
        r.state = "mining".into();
        r.boards = boards;
        r
    }

    #[test]
    fn units_parse_in_every_spelling_the_firmwares_use() {
        for (s, u) in [
            ("GH/s", HashUnit::GH),
            ("gh", HashUnit::GH),
            ("GHS", HashUnit::GH),
            ("TH/s", HashUnit::TH),
            ("MH/s", HashUnit::MH),
            ("H", HashUnit::H),
        ] {
            assert_eq!(HashUnit::parse(s).unwrap(), u, "{s}");
        }
        assert!(HashUnit::parse("ZH/s").is_err());
        assert!(HashUnit::parse("").is_err());
        assert_eq!(HashUnit::MH.to_hs(9500.0), 9.5e9);
    }

    #[test]
    fn states_map_to_the_normalised_words() {
        assert_eq!(state_of("Mining"), "mining");
        assert_eq!(state_of("stopped"), "paused");
        assert_eq!(state_of("auto-tuning"), "tuning");
        assert_eq!(state_of("shutting-down"), "stopping");
        assert_eq!(state_of("weird"), "weird");
        assert_eq!(state_of(""), "unknown");
    }

    #[test]
    fn total_is_the_board_sum_when_the_firmware_gives_none() {
        let t = finish(reading(vec![board(1, 35.0), board(2, 36.0)]), "m", "ip", 0);
        assert!((t.hashrate.total.0 - 71e12).abs() < 1.0);
        assert_eq!(t.hashrate.nominal.map(|n| n.0), Some(72e12));
        assert!(t.invalid.is_empty(), "{:?}", t.invalid);
    }

    #[test]
    fn a_total_a_thousand_times_off_is_flagged_and_replaced_by_the_board_sum() {
        let mut r = reading(vec![board(1, 35.0), board(2, 36.0)]);
        r.total_hs = Some(71e9); // a TH value read as GH
        let t = finish(r, "m", "ip", 0);
        assert!((t.hashrate.total.0 - 71e12).abs() < 1.0);
        assert!(
            t.invalid.iter().any(|i| i.contains("disagrees")),
            "{:?}",
            t.invalid
        );
    }

    #[test]
    fn impossible_values_are_left_out_not_averaged_in() {
        let mut b1 = board(1, 35.0);
        b1.chip_sensors = vec![
            Sensor {
                temp_c: 60.0,
                ok: true,
                status: "measure".into(),
            },
            Sensor {
                temp_c: 13.0,
                ok: false,
                status: "error".into(),
            },
            Sensor {
                temp_c: 70.0,
                ok: true,
                status: "measure".into(),
            },
        ];
        let mut b2 = board(2, 35.0);
        b2.chip_min = Some(-273.0);
        b2.chip_max = Some(66.0);
        b2.hashrate_hs = Some(-5.0);
        let t = finish(reading(vec![b1, b2]), "m", "ip", 0);
        let bt = &t.temperature.per_hashboard;
        assert_eq!(
            bt[0].chip_min,
            Some(Celsius(60.0)),
            "error sensor must not set the min"
        );
        assert_eq!(bt[0].chip_max, Some(Celsius(70.0)));
        assert_eq!(bt[1].chip_min, None);
        assert_eq!(bt[1].chip_max, Some(Celsius(66.0)));
        // Average over the values that measured: 60, 70 (board 1 sensors) and 66 (board 2 max).
        assert!((t.temperature.avg_chip.unwrap().0 - (60.0 + 70.0 + 66.0) / 3.0).abs() < 1e-3);
        assert_eq!(t.hashrate.per_hashboard[1].status, "invalid");
        assert!(t.invalid.len() >= 3, "{:?}", t.invalid);
        assert!(t.status.errors.iter().any(|e| e.code == "sensor_error"));
    }

    #[test]
    fn efficiency_is_joules_per_terahash_and_absurd_power_is_dropped() {
        let mut r = reading(vec![board(1, 50.0), board(2, 50.0)]);
        r.power_w = Some(3000.0);
        let t = finish(r.clone(), "m", "ip", 0);
        assert_eq!(t.power.efficiency_j_th, Some(30.0));
        r.power_w = Some(29.5); // an efficiency figure sent in the power field
        let t = finish(r, "m", "ip", 0);
        assert_eq!(t.power.consumption, None);
        assert_eq!(t.power.efficiency_j_th, None);
        assert!(!t.invalid.is_empty());
    }

    #[test]
    fn dead_degraded_and_missing_boards_are_reported() {
        let mut dead = board(3, 0.0);
        dead.state = Some("failure".into());
        let t = finish(reading(vec![board(1, 20.0), dead, board(4, 36.0)]), "m", "ip", 0);
        let st: Vec<&str> = t
            .hashrate
            .per_hashboard
            .iter()
            .map(|b| b.status.as_str())
            .collect();
        assert_eq!(st, ["degraded", "dead", "ok"]);
        let codes: Vec<&str> = t.status.errors.iter().map(|e| e.code.as_str()).collect();
        assert!(
            codes.contains(&"board_missing")
                && codes.contains(&"board_failure")
                && codes.contains(&"board_degraded"),
            "{codes:?}"
        );
        let d = derived(&t);
        assert_eq!((d.boards_ok, d.boards_total), (1, 3));
    }

    #[test]
    fn devfee_pool_is_not_the_operators() {
        let mut r = reading(vec![board(1, 36.0)]);
        r.pools = vec![
            RawPool {
                url: "DevFee".into(),
                devfee: true,
                active: true,
                accepted: Some(9),
                ..Default::default()
            },
            RawPool {
                url: "a:1".into(),
                status: "Alive".into(),
                accepted: Some(5),
                rejected: Some(1),
                ..Default::default()
            },
            RawPool {
                url: "b:1".into(),
                status: "working".into(),
                accepted: Some(2),
                stale: Some(3),
                ..Default::default()
            },
        ];
        let t = finish(r, "m", "ip", 0);
        assert_eq!(t.pool.unwrap().url, "a:1");
        assert_eq!((t.shares.accepted, t.shares.rejected, t.shares.stale), (7, 1, 3));
    }
}

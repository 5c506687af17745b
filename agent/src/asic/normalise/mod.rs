//! Normalisation: every firmware parser fills a source-neutral [`RawReading`] in SI units, and
//! [`to_telemetry`] validates it aspect by aspect ([`aspects`]) and builds the protocol's
//! [`AsicTelemetry`] with the derived values (efficiency, board health, errors).
//!
//! Pure: no I/O, no clock (the caller passes `now_ms`). It must never average an impossible
//! reading into a total: negative or absurd values and sensors the firmware marks `error` are
//! listed in `invalid` and left out, and the reading says why.

pub mod aspects;
pub mod raw;

use aspects::Findings;
use hashward_protocol::{
    AsicApi, AsicConfig, AsicError, AsicHashrate, AsicPower, AsicStatus, AsicTelemetry, AsicTemperature,
    Hashrate, Shares,
};
pub use raw::{state_of, HashUnit, RawBoard, RawFan, RawPool, RawReading, Sensor};
use serde::Serialize;

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
pub(super) const UNIT_MISMATCH_FACTOR: f64 = 5.0;

/// How bad an [`AsicError`] is. The wire carries it as the string of [`Severity::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// A hashboard's health. The wire carries it as the string of [`BoardHealth::as_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardHealth {
    Ok,
    /// Not hashing while the ASIC mines, or the firmware says it failed or is disconnected.
    Dead,
    /// Hashing below [`DEGRADED_RATIO`] of its ideal rate.
    Degraded,
    /// Its hashrate was impossible and left out.
    Invalid,
    /// Any other firmware state (normalised by [`state_of`]), e.g. `paused`.
    Firmware(String),
}

impl BoardHealth {
    /// The variant a normalised state word names, so a firmware saying `degraded` is reported
    /// like a board measured as degraded.
    pub fn from_word(s: &str) -> BoardHealth {
        match s {
            "ok" => BoardHealth::Ok,
            "dead" => BoardHealth::Dead,
            "degraded" => BoardHealth::Degraded,
            "invalid" => BoardHealth::Invalid,
            other => BoardHealth::Firmware(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            BoardHealth::Ok => "ok",
            BoardHealth::Dead => "dead",
            BoardHealth::Degraded => "degraded",
            BoardHealth::Invalid => "invalid",
            BoardHealth::Firmware(s) => s,
        }
    }
}

pub(crate) fn asic_error(code: &str, message: String, severity: Severity) -> AsicError {
    AsicError {
        code: code.into(),
        message,
        severity: severity.as_str().into(),
    }
}

/// Validates a raw reading and builds the telemetry message `asic_id` publishes.
pub fn to_telemetry(mut raw: RawReading, asic_id: &str, ip: &str, now_ms: u64) -> AsicTelemetry {
    let mut f = Findings {
        invalid: std::mem::take(&mut raw.invalid),
        errors: std::mem::take(&mut raw.errors),
    };
    let mining = raw.state == "mining";
    raw.boards.sort_by_key(|b| b.id);
    let boards = aspects::boards(&raw.boards, mining, &mut f);
    aspects::missing_boards(&raw.boards, &raw.missing_boards, &mut f);
    let totals = aspects::totals(&raw, &boards, mining, &mut f);
    let power = aspects::power(&raw, totals.total_hs, &mut f);
    let temperature = aspects::temperatures(&raw, &boards.chip_temps_c, boards.temperature, &mut f);
    let hydro = temperature.inlet_water.is_some() || temperature.outlet_water.is_some();
    let fans = aspects::fans(&raw.fans, raw.fan_duty_percent, mining, hydro, &mut f);
    let (pool, shares) = aspects::pool_and_shares(&raw.pools, now_ms);
    let config = aspects::config(&raw, &boards.frequencies_mhz);
    if !f.invalid.is_empty() {
        let message = format!(
            "{} impossible reading(s) left out: {}",
            f.invalid.len(),
            f.invalid.join("; ")
        );
        f.error("invalid_reading", message, Severity::Warning);
    }
    AsicTelemetry {
        miner_id: asic_id.to_string(),
        ip_address: ip.to_string(),
        api: raw.api,
        reachable: true,
        model: raw.model,
        firmware_version: raw.firmware,
        hashrate: AsicHashrate {
            total: Hashrate(totals.total_hs.unwrap_or(0.0)),
            average: totals.average_hs.map(Hashrate),
            nominal: totals.nominal_hs.map(Hashrate),
            per_hashboard: boards.hashrate,
        },
        temperature,
        power,
        fans,
        pool,
        shares,
        status: AsicStatus {
            mining_status: raw.state,
            uptime_s: raw.uptime_s.filter(|u| *u >= 0.0).map(|u| u as u64),
            errors: f.errors,
        },
        config,
        invalid: f.invalid,
    }
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
            .filter(|b| b.status == BoardHealth::Ok.as_str())
            .count(),
        boards_total: t.hashrate.per_hashboard.len(),
    }
}

/// The telemetry sent for an ASIC that does not answer: identity kept, no readings.
pub fn unreachable(
    asic_id: &str,
    ip: &str,
    api: AsicApi,
    last_good: Option<&AsicTelemetry>,
    why: &str,
) -> AsicTelemetry {
    AsicTelemetry {
        miner_id: asic_id.to_string(),
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
            errors: vec![asic_error("unreachable", why.to_string(), Severity::Critical)],
        },
        config: AsicConfig::default(),
        invalid: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::Celsius;

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
        let t = to_telemetry(reading(vec![board(1, 35.0), board(2, 36.0)]), "m", "ip", 0);
        assert!((t.hashrate.total.0 - 71e12).abs() < 1.0);
        assert_eq!(t.hashrate.nominal.map(|n| n.0), Some(72e12));
        assert!(t.invalid.is_empty(), "{:?}", t.invalid);
    }

    #[test]
    fn a_total_a_thousand_times_off_is_flagged_and_replaced_by_the_board_sum() {
        let mut r = reading(vec![board(1, 35.0), board(2, 36.0)]);
        r.total_hs = Some(71e9); // a TH value read as GH
        let t = to_telemetry(r, "m", "ip", 0);
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
        let t = to_telemetry(reading(vec![b1, b2]), "m", "ip", 0);
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
        let t = to_telemetry(r.clone(), "m", "ip", 0);
        assert_eq!(t.power.efficiency_j_th, Some(30.0));
        r.power_w = Some(29.5); // an efficiency figure sent in the power field
        let t = to_telemetry(r, "m", "ip", 0);
        assert_eq!(t.power.consumption, None);
        assert_eq!(t.power.efficiency_j_th, None);
        assert!(!t.invalid.is_empty());
    }

    #[test]
    fn dead_degraded_and_missing_boards_are_reported() {
        let mut dead = board(3, 0.0);
        dead.state = Some("failure".into());
        let t = to_telemetry(reading(vec![board(1, 20.0), dead, board(4, 36.0)]), "m", "ip", 0);
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
        let t = to_telemetry(r, "m", "ip", 0);
        assert_eq!(t.pool.unwrap().url, "a:1");
        assert_eq!((t.shares.accepted, t.shares.rejected, t.shares.stale), (7, 1, 3));
    }
}

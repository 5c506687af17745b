//! What a firmware parser fills: a source-neutral reading in SI units ([`RawReading`] and its
//! boards, fans, sensors and pools), hashrate units, and the normalised state words.
//!
//! Plain data: it must never validate or derive (that is the job of the aspects in
//! [`super::aspects`]), so a parser's output is exactly what the firmware said.

use super::super::error::ApiError;
use hashward_protocol::{AsicApi, AsicError};

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

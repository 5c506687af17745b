//! One ASIC's telemetry, normalised (docs/ARCHITECTURE.md#thresholds-normalisation): hashrate
//! in H/s whatever the source unit, temperatures in Celsius, power in watts, efficiency in J/TH.
//! source unit, temperatures in Celsius, power in watts, efficiency in J/TH.
//!
//! Readings a source sent that are impossible are listed in `invalid`, never averaged in.

use crate::units::{Celsius, Hashrate, Watts};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsicTelemetry {
    /// The miner's id within the rig (config name), also the last topic level.
    pub miner_id: String,
    pub ip_address: String,
    pub api: AsicApi,
    pub reachable: bool,
    pub model: Option<String>,
    pub firmware_version: Option<String>,
    pub hashrate: AsicHashrate,
    pub temperature: AsicTemperature,
    pub power: AsicPower,
    pub fans: Vec<Fan>,
    pub pool: Option<AsicPool>,
    pub shares: Shares,
    pub status: AsicStatus,
    pub config: AsicConfig,
    /// Readings that were impossible and left out, e.g. `board 2 chip_temp -40`.
    pub invalid: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsicApi {
    Vnish,
    Cgminer,
    Antminer,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsicHashrate {
    pub total: Hashrate,
    pub average: Option<Hashrate>,
    pub nominal: Option<Hashrate>,
    pub per_hashboard: Vec<BoardHashrate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardHashrate {
    /// Chain ids start at 1, as Vnish numbers them.
    pub board_id: u32,
    pub hashrate: Hashrate,
    pub ideal: Option<Hashrate>,
    pub frequency_mhz: Option<f32>,
    pub voltage_v: Option<f32>,
    pub chips: Option<u32>,
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsicTemperature {
    pub ambient: Option<Celsius>,
    pub avg_chip: Option<Celsius>,
    pub max_chip: Option<Celsius>,
    pub inlet_water: Option<Celsius>,
    pub outlet_water: Option<Celsius>,
    pub per_hashboard: Vec<BoardTemperature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardTemperature {
    pub board_id: u32,
    pub pcb_min: Option<Celsius>,
    pub pcb_max: Option<Celsius>,
    pub chip_min: Option<Celsius>,
    pub chip_max: Option<Celsius>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsicPower {
    pub consumption: Option<Watts>,
    /// Joules per terahash.
    pub efficiency_j_th: Option<f32>,
    pub voltage_v: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fan {
    pub fan_id: u32,
    pub rpm: Option<u32>,
    pub speed_percent: Option<f32>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsicPool {
    pub url: String,
    pub user: String,
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shares {
    pub accepted: u64,
    pub rejected: u64,
    pub stale: u64,
    pub last_share_ts_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsicStatus {
    /// `mining`, `paused`, `starting`, `failure`, `unreachable`, ...
    pub mining_status: String,
    pub uptime_s: Option<u64>,
    pub errors: Vec<AsicError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsicError {
    pub code: String,
    pub message: String,
    pub severity: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AsicConfig {
    pub frequency_mhz: Option<f32>,
    pub overclock_profile: Option<String>,
    pub power_limit: Option<Watts>,
}

//! A power-target suggestion for one ASIC, from the rig's efficiency model: where the machine
//! runs now, what the model expects of it there, and the preset it expects to do better by
//! enough to matter. The hub stores it as a record; the operator (or the coming allocation)
//! decides, through the signed `set-power-target` command.
//!
//! Advice only: nothing on the rig acts on it by itself. Units are in the field names.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerAdvice {
    /// The ASIC's id within the rig (its `[asic]` name, the last level of its telemetry topic).
    pub asic_id: String,
    /// The efficiency model that produced the figures.
    pub model_version: String,
    pub current: OperatingPoint,
    /// `None`: no preset in the model's range is expected to do better by enough to matter.
    pub suggestion: Option<PowerSuggestion>,
}

/// Settings and what the efficiency model expects of a healthy unit at them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    pub frequency_mhz: f64,
    pub voltage_v: f64,
    pub expected_ths: f64,
    pub expected_w: f64,
    pub j_per_th: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerSuggestion {
    pub target: OperatingPoint,
    /// Efficiency gain: J/TH lower by this many percent.
    pub improvement_pct: f64,
    pub hashrate_change_ths: f64,
    pub power_savings_w: f64,
    pub risk_level: RiskLevel,
}

/// How likely the suggested point is to hurt the machine (overclocking, a chip already hot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

//! What `hashward-agent inspect` prints: the discovered hardware as structured JSON for machines
//! (units in field names, enums as snake_case tags), built from a [`Hardware`] and the thread
//! plan the caller computed for it.
//!
//! Must never carry a Rust `Debug` string or a sentence where a field belongs, and never read
//! anything itself.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Hardware, HardwareSummary, PowerState, SensorRole, SensorSource};

/// Where the host's power comes from, e.g. `{"source": "battery", "charge_percent": 47}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PowerReport {
    pub source: PowerSource,
    /// Battery charge; `None` on AC, unknown, or a battery that reports no capacity.
    pub charge_percent: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerSource {
    Ac,
    Battery,
    /// No system power supply is described, or the ones present are inconclusive (treated as AC).
    Unknown,
}

impl From<PowerState> for PowerReport {
    fn from(state: PowerState) -> PowerReport {
        match state {
            PowerState::Ac => PowerReport {
                source: PowerSource::Ac,
                charge_percent: None,
            },
            PowerState::Battery { percent } => PowerReport {
                source: PowerSource::Battery,
                charge_percent: percent,
            },
            PowerState::Unknown => PowerReport {
                source: PowerSource::Unknown,
                charge_percent: None,
            },
        }
    }
}

/// One temperature input and its reading at discovery time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorReport {
    /// `{"kind": "hwmon", "dir": "hwmon3", "chip": "k10temp"}` or
    /// `{"kind": "thermal_zone", "zone": "thermal_zone0", "zone_type": "acpitz"}`.
    pub sensor: SensorSource,
    pub label: String,
    pub role: SensorRole,
    pub temp_c: Option<f32>,
    /// Why it did not read, when it did not.
    pub error: Option<String>,
}

/// The thread plan for the requested threads, as computed by `tune::numa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumaPlanReport {
    pub threads: usize,
    /// The perf-key layout, e.g. "node0:16,node1:16".
    pub layout: String,
    /// CPUs in pinning order.
    pub cpus: Vec<u32>,
    /// Fewer threads than requested fit.
    pub capped: bool,
}

/// Everything `inspect` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectReport {
    pub root: PathBuf,
    pub hardware: HardwareSummary,
    pub sensors: Vec<SensorReport>,
    pub numa_plan: NumaPlanReport,
    /// Files that could not be read or parsed.
    pub problems: Vec<String>,
}

impl InspectReport {
    pub fn new(root: &Path, hw: &Hardware, numa_plan: NumaPlanReport) -> InspectReport {
        InspectReport {
            root: root.to_path_buf(),
            hardware: hw.summary(),
            sensors: hw
                .thermal
                .sensors
                .iter()
                .map(|r| SensorReport {
                    sensor: r.sensor.source.clone(),
                    label: r.sensor.label.clone(),
                    role: r.sensor.role,
                    temp_c: r.celsius.as_ref().ok().copied(),
                    error: r.celsius.as_ref().err().map(|e| e.to_string()),
                })
                .collect(),
            numa_plan,
            problems: hw.problems.iter().map(|p| p.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn power_is_a_source_and_a_charge() {
        let v = |s: PowerState| serde_json::to_value(PowerReport::from(s)).expect("json");
        assert_eq!(
            v(PowerState::Battery { percent: Some(47) }),
            json!({"source": "battery", "charge_percent": 47})
        );
        assert_eq!(
            v(PowerState::Battery { percent: None }),
            json!({"source": "battery", "charge_percent": null})
        );
        assert_eq!(v(PowerState::Ac), json!({"source": "ac", "charge_percent": null}));
        assert_eq!(
            v(PowerState::Unknown),
            json!({"source": "unknown", "charge_percent": null})
        );
    }

    #[test]
    fn sensor_sources_are_tagged_fields() {
        let hwmon = SensorSource::Hwmon {
            dir: "hwmon3".into(),
            chip: "k10temp".into(),
        };
        assert_eq!(
            serde_json::to_value(&hwmon).expect("json"),
            json!({"kind": "hwmon", "dir": "hwmon3", "chip": "k10temp"})
        );
        let zone = SensorSource::ThermalZone {
            zone: "thermal_zone0".into(),
            kind: "acpitz".into(),
        };
        assert_eq!(
            serde_json::to_value(&zone).expect("json"),
            json!({"kind": "thermal_zone", "zone": "thermal_zone0", "zone_type": "acpitz"})
        );
        assert_eq!(
            serde_json::to_value(SensorRole::Package).expect("json"),
            json!("package")
        );
    }
}

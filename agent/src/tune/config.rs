//! The tuner's and thermal/power control's settings: profile, auto-tune search bounds and
//! timing, fleet hints and snapshots, NUMA placement, thermal limits, battery caps, and where
//! the hardware is read. They are read from the `[miner]` table of the agent's config next to
//! the CPU miner's keys (the agent's config file loader splits the table), so the file format is one table.
//!
//! Must never: import the CPU miner or the agent's config (the miner's limits arrive as
//! arguments), or accept a value control would misread (each error names its key as written in
//! the file, `miner.<key>`).

use crate::tune::power::PowerConfig;
use crate::tune::thermal::ThermalConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct TuneConfig {
    /// `laptop` (half the physical cores), `balanced` (all logical CPUs but one on hosts with 8
    /// or more) or `beast` (every logical CPU). Part of the perf key; a host on battery counts
    /// as `laptop`.
    pub mining_profile: Profile,
    /// Hill-climbs threads x batch inside the bounds below, measuring each point for
    /// `evaluation_window_secs`, and re-measures the chosen one every `reeval_interval_secs` so
    /// drift is caught.
    pub auto_tune_enabled: bool,
    pub auto_tune_mode: TuneMode,
    pub min_threads: Option<usize>,
    pub max_threads: Option<usize>,
    pub min_batch_size: u32,
    pub max_batch_size: u32,
    pub evaluation_window_secs: u64,
    pub reeval_interval_secs: u64,
    /// Publish anonymised tuning snapshots (CPU model, cores, algorithm, profile, threads,
    /// batch, hashrate; no host name, address or wallet) to the hub, which turns the fleet's
    /// snapshots into tuning hints. Off by default.
    pub telemetry_enabled: bool,
    /// The hub's HTTP base URL (`http://hub:8080`) for the telemetry privacy calls
    /// (`hashward-agent telemetry forget`); default: `inference.hub_url`. Snapshots themselves
    /// go to the hub over MQTT, never here.
    pub telemetry_endpoint: Option<String>,
    /// Start tuning from the hub's hint for this hardware when there is no local data.
    pub fleet_hints_enabled: bool,
    /// Spread threads over NUMA nodes in proportion to their CPUs and pin them, physical cores
    /// before SMT siblings. Opt-in.
    pub numa_aware_enabled: bool,
    /// Fewer threads from the soft limit, pause at the hard limit, ramp back up one step per
    /// cooldown.
    pub thermal_protection_enabled: bool,
    pub thermal_soft_limit_c: f32,
    pub thermal_hard_limit_c: f32,
    pub thermal_cooldown_secs: u64,
    /// Cap threads and batch while on battery.
    pub power_mode_sensitivity: bool,
    pub battery_threads_cap: usize,
    pub battery_batch_cap: u32,
    /// Where `sys/` and `proc/` are read for sensors, power and topology.
    pub hardware_root: PathBuf,
}

/// How much of the host a profile may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Laptop,
    #[default]
    Balanced,
    Beast,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Laptop => "laptop",
            Profile::Balanced => "balanced",
            Profile::Beast => "beast",
        }
    }

    /// Most threads the profile allows on a host.
    pub fn max_threads(self, logical: usize, physical: usize) -> usize {
        let n = match self {
            Profile::Laptop => physical / 2,
            Profile::Balanced if logical >= 8 => logical - 1,
            Profile::Balanced | Profile::Beast => logical,
        };
        n.max(1)
    }
}

/// How wide the tuner searches and how much a move must gain; spelled capitalised in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum TuneMode {
    /// Physical cores only (no SMT siblings), and a move must gain 3 %.
    Conservative,
    /// The whole range; a move must gain 1 %.
    #[default]
    Normal,
    /// The whole range with bigger first steps; a move must gain 0.5 %.
    Aggressive,
}

impl Default for TuneConfig {
    fn default() -> Self {
        TuneConfig {
            mining_profile: Profile::default(),
            auto_tune_enabled: true,
            auto_tune_mode: TuneMode::default(),
            min_threads: None,
            max_threads: None,
            min_batch_size: 1,
            max_batch_size: 32,
            evaluation_window_secs: 60,
            reeval_interval_secs: 900,
            telemetry_enabled: false,
            telemetry_endpoint: None,
            fleet_hints_enabled: true,
            numa_aware_enabled: false,
            thermal_protection_enabled: true,
            thermal_soft_limit_c: 80.0,
            thermal_hard_limit_c: 90.0,
            thermal_cooldown_secs: 120,
            power_mode_sensitivity: true,
            battery_threads_cap: 2,
            battery_batch_cap: 4,
            hardware_root: PathBuf::from("/"),
        }
    }
}

impl TuneConfig {
    /// The thermal controller's limits, or None when thermal protection is off.
    pub fn thermal(&self) -> Option<ThermalConfig> {
        self.thermal_protection_enabled.then_some(ThermalConfig {
            soft_limit_c: self.thermal_soft_limit_c,
            hard_limit_c: self.thermal_hard_limit_c,
            cooldown_secs: self.thermal_cooldown_secs,
        })
    }

    pub fn power(&self) -> PowerConfig {
        PowerConfig {
            power_mode_sensitivity: self.power_mode_sensitivity,
            battery_threads_cap: self.battery_threads_cap,
            battery_batch_cap: self.battery_batch_cap,
        }
    }

    /// Checks every value against the miner's limits (`max_threads` hashing threads, batches of
    /// at most `max_batch` blocks), passed in because the tuner does not depend on the miner.
    /// The error names the key (`miner.min_threads ...`).
    pub fn validate(&self, max_threads: usize, max_batch: u32) -> Result<(), String> {
        for (key, v) in [
            ("min_threads", self.min_threads),
            ("max_threads", self.max_threads),
        ] {
            if let Some(t) = v {
                if t == 0 || t > max_threads {
                    return Err(format!("miner.{key} {t} outside 1..={max_threads}"));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_threads, self.max_threads) {
            if lo > hi {
                return Err(format!("miner.min_threads {lo} is above max_threads {hi}"));
            }
        }
        let (lo, hi) = (self.min_batch_size, self.max_batch_size);
        if lo == 0 || lo > hi || hi > max_batch {
            return Err(format!(
                "miner.min_batch_size {lo} and max_batch_size {hi} must satisfy 1 <= min <= max <= {max_batch}"
            ));
        }
        if !(1..=3600).contains(&self.evaluation_window_secs) {
            return Err(format!(
                "miner.evaluation_window_secs {} outside 1..=3600",
                self.evaluation_window_secs
            ));
        }
        if self.reeval_interval_secs < self.evaluation_window_secs || self.reeval_interval_secs > 7 * 86_400 {
            return Err(format!(
                "miner.reeval_interval_secs {} must be at least evaluation_window_secs ({}) and at most 604800",
                self.reeval_interval_secs, self.evaluation_window_secs
            ));
        }
        if let Some(e) = &self.telemetry_endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(format!(
                    "miner.telemetry_endpoint {e:?} is not an http:// or https:// URL (the hub's \
                     HTTP base, e.g. http://hub:8080)"
                ));
            }
        }
        if let Some(t) = self.thermal() {
            t.validate().map_err(|e| format!("miner thermal limits: {e}"))?;
        }
        self.power()
            .validate()
            .map_err(|e| format!("miner battery caps: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(cfg: TuneConfig) -> String {
        cfg.validate(64, 128).expect_err("invalid")
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(TuneConfig::default().validate(64, 128), Ok(()));
    }

    #[test]
    fn thread_bounds_are_checked_against_the_miners_limit() {
        let cfg = |min_threads, max_threads| TuneConfig {
            min_threads,
            max_threads,
            ..TuneConfig::default()
        };
        assert_eq!(err(cfg(Some(0), None)), "miner.min_threads 0 outside 1..=64");
        assert_eq!(err(cfg(None, Some(65))), "miner.max_threads 65 outside 1..=64");
        assert_eq!(cfg(Some(64), Some(64)).validate(64, 128), Ok(()));
        assert_eq!(
            err(cfg(Some(8), Some(4))),
            "miner.min_threads 8 is above max_threads 4"
        );
    }

    #[test]
    fn batch_bounds_are_checked_against_the_miners_limit() {
        let cfg = |min_batch_size, max_batch_size| TuneConfig {
            min_batch_size,
            max_batch_size,
            ..TuneConfig::default()
        };
        for (lo, hi) in [(0, 4), (8, 4), (1, 129)] {
            assert_eq!(
                err(cfg(lo, hi)),
                format!(
                    "miner.min_batch_size {lo} and max_batch_size {hi} must satisfy 1 <= min <= max <= 128"
                )
            );
        }
        assert_eq!(cfg(128, 128).validate(64, 128), Ok(()));
    }

    #[test]
    fn windows_endpoint_and_limits_name_their_key() {
        let window = TuneConfig {
            evaluation_window_secs: 0,
            ..TuneConfig::default()
        };
        assert_eq!(err(window), "miner.evaluation_window_secs 0 outside 1..=3600");
        let reeval = TuneConfig {
            evaluation_window_secs: 60,
            reeval_interval_secs: 30,
            ..TuneConfig::default()
        };
        assert!(err(reeval).starts_with("miner.reeval_interval_secs 30 must be at least"));
        let endpoint = TuneConfig {
            telemetry_endpoint: Some("t.example:8080".into()),
            ..TuneConfig::default()
        };
        assert!(err(endpoint).starts_with("miner.telemetry_endpoint \"t.example:8080\" is not"));
        let limits = TuneConfig {
            thermal_soft_limit_c: 95.0,
            thermal_hard_limit_c: 90.0,
            ..TuneConfig::default()
        };
        assert!(err(limits).starts_with("miner thermal limits: "));
        // Limits that would be refused are not checked while protection is off.
        let off = TuneConfig {
            thermal_protection_enabled: false,
            thermal_soft_limit_c: 95.0,
            thermal_hard_limit_c: 90.0,
            ..TuneConfig::default()
        };
        assert_eq!(off.validate(64, 128), Ok(()));
    }

    #[test]
    fn thermal_and_power_views_carry_the_keys() {
        let cfg = TuneConfig {
            thermal_soft_limit_c: 70.0,
            thermal_hard_limit_c: 85.0,
            thermal_cooldown_secs: 30,
            battery_threads_cap: 3,
            battery_batch_cap: 8,
            power_mode_sensitivity: false,
            ..TuneConfig::default()
        };
        assert_eq!(
            cfg.thermal(),
            Some(ThermalConfig {
                soft_limit_c: 70.0,
                hard_limit_c: 85.0,
                cooldown_secs: 30
            })
        );
        assert_eq!(
            cfg.power(),
            PowerConfig {
                power_mode_sensitivity: false,
                battery_threads_cap: 3,
                battery_batch_cap: 8
            }
        );
        let off = TuneConfig {
            thermal_protection_enabled: false,
            ..cfg
        };
        assert_eq!(off.thermal(), None);
    }

    #[test]
    fn profiles_share_the_host() {
        assert_eq!(Profile::Laptop.max_threads(8, 4), 2);
        assert_eq!(Profile::Balanced.max_threads(8, 4), 7);
        assert_eq!(Profile::Balanced.max_threads(4, 2), 4);
        assert_eq!(Profile::Beast.max_threads(8, 4), 8);
        assert_eq!(Profile::Laptop.max_threads(1, 1), 1);
    }
}

//! The agent's TOML configuration: identity, broker, intervals, spool cap, data dir.
//!
//! Loading validates every value and names the bad one; an invalid file never half-applies.
//! Unknown keys are refused so a typo cannot silently leave a default in force.

pub use crate::fleet::config::FleetConfig;
pub use crate::infer::config::InferenceConfig;
pub use crate::link::config::{BrokerAddr, BrokerConfig, SpoolConfig, TelemetryConfig};
use crate::miner::engine::Priority;
use crate::miner::hash::Algo;
use crate::miner::stratum::PoolUrl;
pub use hashward_protocol::ids::MAX_ID_LEN;
use hashward_protocol::{RigId, SiteId};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub site: SiteId,
    pub rig: RigId,
    /// Where the spool and other state live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub broker: BrokerConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default)]
    pub spool: SpoolConfig,
    #[serde(default)]
    pub miner: MinerConfig,
    #[serde(default)]
    pub fleet: FleetConfig,
    /// ASIC miners on the LAN to poll (Vnish, cgminer/bmminer, stock Antminer).
    #[serde(default)]
    pub asic: crate::asic::config::AsicSection,
    #[serde(default)]
    pub inference: InferenceConfig,
    /// systemd watchdog gating and the stuck-miner restart rule.
    #[serde(default)]
    pub watchdog: crate::watchdog::WatchdogConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MinerConfig {
    /// Mine at all. Default: yes when pools are listed. Enabled without pools = benchmark mode.
    pub enabled: Option<bool>,
    #[serde(default = "default_algo")]
    pub algo: Algo,
    /// Ordered: the first is the primary, the others are failover.
    #[serde(default)]
    pub pools: Vec<PoolEntry>,
    /// Seed 004 `mining_profile`: `laptop` (half the physical cores), `balanced` (all logical
    /// CPUs but one on hosts with 8 or more) or `beast` (every logical CPU). Part of the perf key;
    /// a host on battery counts as `laptop`.
    #[serde(default)]
    pub mining_profile: Profile,
    /// Hashing threads. Set: fixed (the tuner then only tunes the batch). Unset: tuned, or one
    /// per logical CPU allowed by the profile when auto-tuning is off.
    pub mining_threads: Option<u32>,
    /// SIMD blocks per kernel call (one block = the kernel's lane count of nonces): the batch
    /// used when auto-tuning is off, and the tuner's first guess when it has no data.
    #[serde(default = "default_simd_batch")]
    pub simd_batch_size: u32,
    /// Seed 004 auto-tuner: hill-climbs threads x batch inside the bounds below, measuring each
    /// point for `evaluation_window_secs`, and re-measures the chosen one every
    /// `reeval_interval_secs` so drift is caught.
    #[serde(default = "yes")]
    pub auto_tune_enabled: bool,
    #[serde(default)]
    pub auto_tune_mode: TuneMode,
    pub min_threads: Option<usize>,
    pub max_threads: Option<usize>,
    #[serde(default = "default_min_batch")]
    pub min_batch_size: u32,
    #[serde(default = "default_max_batch")]
    pub max_batch_size: u32,
    #[serde(default = "default_evaluation_window")]
    pub evaluation_window_secs: u64,
    #[serde(default = "default_reeval_interval")]
    pub reeval_interval_secs: u64,
    /// Seed 004 network-wide telemetry: publish anonymised tuning snapshots (CPU model, cores,
    /// algorithm, profile, threads, batch, hashrate; no host name, address or wallet) to the hub,
    /// which turns the fleet's snapshots into tuning hints. Off by default, as in the seed.
    #[serde(default)]
    pub telemetry_enabled: bool,
    /// The seed's third-party collector. hashward reports to its own hub over MQTT instead, so
    /// only the default (none) is accepted.
    pub telemetry_endpoint: Option<String>,
    /// Start tuning from the hub's hint for this hardware when there is no local data.
    #[serde(default = "yes")]
    pub fleet_hints_enabled: bool,
    /// Seed 004 NUMA awareness: spread threads over NUMA nodes in proportion to their CPUs and
    /// pin them, physical cores before SMT siblings. Opt-in, as in the seed.
    #[serde(default)]
    pub numa_aware_enabled: bool,
    /// Kernel by name (default: the fastest this CPU supports).
    pub kernel: Option<String>,
    #[serde(default)]
    pub priority: Priority,
    /// CPUs to pin hashing threads to; empty = no pinning.
    #[serde(default)]
    pub cpus: Vec<usize>,
    /// Seed 004 thermal protection: fewer threads from the soft limit, pause at the hard limit,
    /// ramp back up one step per cooldown.
    #[serde(default = "yes")]
    pub thermal_protection_enabled: bool,
    #[serde(default = "default_soft_limit")]
    pub thermal_soft_limit_c: f32,
    #[serde(default = "default_hard_limit")]
    pub thermal_hard_limit_c: f32,
    #[serde(default = "default_cooldown")]
    pub thermal_cooldown_secs: u64,
    /// Seed 004 power mode: cap threads and batch while on battery.
    #[serde(default = "yes")]
    pub power_mode_sensitivity: bool,
    #[serde(default = "default_battery_threads")]
    pub battery_threads_cap: usize,
    #[serde(default = "default_battery_batch")]
    pub battery_batch_cap: u32,
    /// Where `sys/` and `proc/` are read for sensors, power and topology.
    #[serde(default = "default_hardware_root")]
    pub hardware_root: PathBuf,
}

/// Largest batch accepted, in SIMD blocks per kernel call.
pub const MAX_BATCH: u32 = 4096;

/// Seed 004 `mining_profile`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
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

/// Seed 004 `auto_tune_mode`, spelled as in the seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum TuneMode {
    /// Physical cores only (no SMT siblings), and a move must gain 3 %.
    Conservative,
    /// The whole range; a move must gain 1 %.
    #[default]
    Normal,
    /// The whole range with bigger first steps; a move must gain 0.5 %.
    Aggressive,
}

fn yes() -> bool {
    true
}
fn default_soft_limit() -> f32 {
    80.0
}
fn default_hard_limit() -> f32 {
    90.0
}
fn default_cooldown() -> u64 {
    120
}
fn default_battery_threads() -> usize {
    2
}
fn default_battery_batch() -> u32 {
    4
}
fn default_simd_batch() -> u32 {
    4
}
fn default_min_batch() -> u32 {
    1
}
fn default_max_batch() -> u32 {
    32
}
fn default_evaluation_window() -> u64 {
    60
}
fn default_reeval_interval() -> u64 {
    900
}
fn default_hardware_root() -> PathBuf {
    PathBuf::from("/")
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEntry {
    /// `stratum+tcp://host:port` or `stratum+ssl://host:port`.
    pub url: String,
    /// Wallet or account, usually `wallet.worker`.
    pub user: String,
    #[serde(default = "default_pool_pass")]
    pub pass: String,
}

fn default_algo() -> Algo {
    Algo::Sha256d
}
fn default_pool_pass() -> String {
    "x".into()
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            enabled: None,
            algo: default_algo(),
            pools: Vec::new(),
            mining_profile: Profile::default(),
            mining_threads: None,
            simd_batch_size: default_simd_batch(),
            auto_tune_enabled: true,
            auto_tune_mode: TuneMode::default(),
            min_threads: None,
            max_threads: None,
            min_batch_size: default_min_batch(),
            max_batch_size: default_max_batch(),
            evaluation_window_secs: default_evaluation_window(),
            reeval_interval_secs: default_reeval_interval(),
            telemetry_enabled: false,
            telemetry_endpoint: None,
            fleet_hints_enabled: true,
            numa_aware_enabled: false,
            kernel: None,
            priority: Priority::default(),
            cpus: Vec::new(),
            thermal_protection_enabled: true,
            thermal_soft_limit_c: default_soft_limit(),
            thermal_hard_limit_c: default_hard_limit(),
            thermal_cooldown_secs: default_cooldown(),
            power_mode_sensitivity: true,
            battery_threads_cap: default_battery_threads(),
            battery_batch_cap: default_battery_batch(),
            hardware_root: default_hardware_root(),
        }
    }
}

impl MinerConfig {
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(!self.pools.is_empty())
    }

    pub fn thermal(&self) -> Option<crate::tune::thermal::ThermalConfig> {
        self.thermal_protection_enabled
            .then_some(crate::tune::thermal::ThermalConfig {
                soft_limit_c: self.thermal_soft_limit_c,
                hard_limit_c: self.thermal_hard_limit_c,
                cooldown_secs: self.thermal_cooldown_secs,
            })
    }

    pub fn power(&self) -> crate::tune::power::PowerConfig {
        crate::tune::power::PowerConfig {
            power_mode_sensitivity: self.power_mode_sensitivity,
            battery_threads_cap: self.battery_threads_cap,
            battery_batch_cap: self.battery_batch_cap,
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/hashward")
}
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.into(),
                source,
            },
            other => other,
        })
    }

    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            source: Box::new(e),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |s: String| Err(ConfigError::Invalid(s));
        if self.site.as_str() == "fleet" {
            return invalid("site \"fleet\" is reserved for fleet-wide topics".into());
        }
        let section = |r: Result<(), String>| r.map_err(ConfigError::Invalid);
        section(self.broker.validate())?;
        section(self.telemetry.validate())?;
        section(self.inference.validate())?;
        let m = &self.miner;
        for (i, p) in m.pools.iter().enumerate() {
            PoolUrl::parse(&p.url).map_err(|e| ConfigError::Invalid(format!("miner.pools[{i}].url: {e}")))?;
            if p.user.is_empty() {
                return invalid(format!("miner.pools[{i}].user is empty"));
            }
        }
        let max = crate::miner::engine::MAX_THREADS as usize;
        for (key, v) in [
            ("mining_threads", m.mining_threads.map(|t| t as usize)),
            ("min_threads", m.min_threads),
            ("max_threads", m.max_threads),
        ] {
            if let Some(t) = v {
                if t == 0 || t > max {
                    return invalid(format!("miner.{key} {t} outside 1..={max}"));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (m.min_threads, m.max_threads) {
            if lo > hi {
                return invalid(format!("miner.min_threads {lo} is above max_threads {hi}"));
            }
        }
        if m.min_batch_size == 0 || m.min_batch_size > m.max_batch_size || m.max_batch_size > MAX_BATCH {
            return invalid(format!(
                "miner.min_batch_size {} and max_batch_size {} must satisfy 1 <= min <= max <= {MAX_BATCH}",
                m.min_batch_size, m.max_batch_size
            ));
        }
        if m.simd_batch_size == 0 || m.simd_batch_size > MAX_BATCH {
            return invalid(format!(
                "miner.simd_batch_size {} outside 1..={MAX_BATCH}",
                m.simd_batch_size
            ));
        }
        if !(1..=3600).contains(&m.evaluation_window_secs) {
            return invalid(format!(
                "miner.evaluation_window_secs {} outside 1..=3600",
                m.evaluation_window_secs
            ));
        }
        if m.reeval_interval_secs < m.evaluation_window_secs || m.reeval_interval_secs > 7 * 86_400 {
            return invalid(format!(
                "miner.reeval_interval_secs {} must be at least evaluation_window_secs ({}) and at most 604800",
                m.reeval_interval_secs, m.evaluation_window_secs
            ));
        }
        if let Some(e) = &m.telemetry_endpoint {
            return invalid(format!(
                "miner.telemetry_endpoint {e:?}: snapshots go to the hub over MQTT; remove the key \
                 and set telemetry_enabled = true"
            ));
        }
        if let Some(t) = m.thermal() {
            t.validate()
                .map_err(|e| ConfigError::Invalid(format!("miner thermal limits: {e}")))?;
        }
        m.power()
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("miner battery caps: {e}")))?;
        self.fleet.verifying_key()?;
        self.watchdog
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("watchdog: {e}")))?;
        self.asic
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("asic: {e}")))?;
        section(self.spool.validate())?;
        Ok(())
    }

    /// The configuration of an agent started with no file: site `local`, the host name as rig
    /// id, state under `./hashward-agent-data`, every other value its default.
    pub fn standalone() -> Config {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let rig: String = host
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(crate::config::MAX_ID_LEN)
            .collect();
        Config {
            site: SiteId::new("local").expect("\"local\" is a valid id"),
            rig: RigId::new(rig)
                .unwrap_or_else(|_| RigId::new("local-rig").expect("\"local-rig\" is a valid id")),
            data_dir: PathBuf::from("hashward-agent-data"),
            broker: BrokerConfig::default(),
            telemetry: TelemetryConfig::default(),
            spool: SpoolConfig::default(),
            miner: MinerConfig::default(),
            fleet: FleetConfig::default(),
            asic: Default::default(),
            inference: InferenceConfig::default(),
            watchdog: Default::default(),
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.telemetry.interval_ms)
    }

    pub fn spool_path(&self) -> PathBuf {
        self.data_dir.join("spool.redb")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_takes_defaults() {
        let c = Config::from_toml("site = \"s\"\nrig = \"r\"\n").expect("valid");
        assert_eq!(c.broker.url, "mqtt://127.0.0.1:1883");
        assert_eq!(c.telemetry.interval_ms, 10_000);
        // Seed 004's defaults.
        let m = &c.miner;
        assert_eq!(m.mining_profile, Profile::Balanced);
        assert_eq!((m.mining_threads, m.simd_batch_size), (None, 4));
        assert!(m.auto_tune_enabled);
        assert_eq!(m.auto_tune_mode, TuneMode::Normal);
        assert_eq!((m.min_threads, m.max_threads), (None, None));
        assert_eq!((m.min_batch_size, m.max_batch_size), (1, 32));
        assert_eq!((m.evaluation_window_secs, m.reeval_interval_secs), (60, 900));
        assert!(!m.telemetry_enabled && m.telemetry_endpoint.is_none());
        assert!(!m.numa_aware_enabled);
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../hashward-agent.example.toml");
        Config::from_toml(text).expect("example config must load");
    }

    /// Every section of the config is in the example, and every key the example sets is the
    /// value the loaded config holds: a key read into the wrong place, or a section silently
    /// left at its defaults, fails here.
    #[test]
    fn the_example_documents_every_section_and_each_key_is_read() {
        let text = include_str!("../hashward-agent.example.toml");
        let cfg = Config::from_toml(text).expect("example config must load");
        let example: toml::Table = toml::from_str(text).expect("toml");
        let loaded = toml::Table::try_from(&cfg).expect("config serialises");
        let sections: Vec<&String> = loaded
            .iter()
            .filter(|(_, v)| v.is_table())
            .map(|(k, _)| k)
            .collect();
        assert!(sections.len() >= 8, "{sections:?}");
        for section in sections {
            let Some(toml::Value::Table(keys)) = example.get(section) else {
                panic!("[{section}] is not in the example config");
            };
            for (key, value) in keys {
                let held = loaded[section].get(key);
                // TOML integers and floats compare by value (`80` for an f32 limit).
                let same = match (value, held) {
                    (toml::Value::Integer(a), Some(toml::Value::Float(b))) => (*a as f64 - b).abs() < 1e-9,
                    (a, Some(b)) => a == b,
                    (_, None) => false,
                };
                assert!(
                    same,
                    "{section}.{key} = {value} in the example, {held:?} in the loaded config"
                );
            }
        }
        for key in ["site", "rig", "data_dir"] {
            assert_eq!(example.get(key), loaded.get(key), "{key}");
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("site = \"s\"\nrig = \"a/b\"\n", "a/b"),
            ("site = \"fleet\"\nrig = \"r\"\n", "reserved"),
            (
                "site = \"s\"\nrig = \"r\"\n[broker]\nurl = \"http://x\"\n",
                "broker.url",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[broker]\nurl = \"mqtt://x:99999\"\n",
                "port",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[telemetry]\ninterval_ms = 1\n",
                "interval_ms",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[spool]\nmax_bytes = 10\n",
                "max_bytes",
            ),
            ("site = \"s\"\nrig = \"r\"\ntypo = 1\n", "typo"),
            ("site = \"s\"\nrig = \"r\"\n[miner]\nalgo = \"x11\"\n", "x11"),
            (
                "site = \"s\"\nrig = \"r\"\n[miner]\nmining_threads = 0\n",
                "miner.mining_threads",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[miner]\nmin_threads = 8\nmax_threads = 4\n",
                "min_threads 8 is above",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[miner]\nmin_batch_size = 64\n",
                "min_batch_size 64",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[miner]\nreeval_interval_secs = 30\n",
                "reeval_interval_secs",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[miner]\nauto_tune_mode = \"Turbo\"\n",
                "Turbo",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[miner]\ntelemetry_endpoint = \"https://t.example\"\n",
                "telemetry_endpoint",
            ),
            (
                "site = \"s\"\nrig = \"r\"\n[[miner.pools]]\nurl = \"http://p:1\"\nuser = \"w\"\n",
                "miner.pools[0].url",
            ),
        ];
        for (text, needle) in cases {
            let err = Config::from_toml(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn mining_is_on_when_pools_are_listed() {
        let c = Config::from_toml("site = \"s\"\nrig = \"r\"\n").expect("valid");
        assert!(!c.miner.is_enabled());
        let c = Config::from_toml(
            "site = \"s\"\nrig = \"r\"\n[miner]\nalgo = \"scrypt\"\n[[miner.pools]]\nurl = \"stratum+tcp://p:3333\"\nuser = \"w.1\"\n",
        )
        .expect("valid");
        assert!(c.miner.is_enabled());
        assert_eq!(c.miner.algo, Algo::Scrypt);
        assert_eq!(c.miner.pools[0].pass, "x");
    }
}

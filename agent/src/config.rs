//! The agent's TOML configuration: it aggregates each subsystem's section (identity, broker,
//! intervals, spool cap, data dir, miner, tuner, fleet, ASICs, inference, watchdog) and loads it.
//!
//! Loading validates every value and names the bad one; an invalid file never half-applies.
//! Unknown keys are refused so a typo cannot silently leave a default in force.

pub use crate::fleet::config::FleetConfig;
pub use crate::infer::config::InferenceConfig;
pub use crate::link::config::{BrokerAddr, BrokerConfig, SpoolConfig, TelemetryConfig};
pub use crate::miner::config::{MinerConfig, PoolEntry};
use crate::miner::engine::Priority;
use crate::miner::hash::Algo;
pub use crate::tune::config::{Profile, TuneConfig, TuneMode};
pub use hashward_protocol::ids::MAX_ID_LEN;
use hashward_protocol::{RigId, SiteId};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(from = "ConfigFile", into = "ConfigFile")]
pub struct Config {
    pub site: SiteId,
    pub rig: RigId,
    /// Where the spool and other state live.
    pub data_dir: PathBuf,
    pub broker: BrokerConfig,
    pub telemetry: TelemetryConfig,
    pub spool: SpoolConfig,
    /// The CPU miner's keys of `[miner]`.
    pub miner: MinerConfig,
    /// The tuner's and thermal/power control's keys of `[miner]`.
    pub tune: TuneConfig,
    pub fleet: FleetConfig,
    /// ASIC miners on the LAN to poll (Vnish, cgminer/bmminer, stock Antminer).
    pub asic: crate::asic::config::AsicSection,
    pub inference: InferenceConfig,
    /// systemd watchdog gating and the stuck-miner restart rule.
    pub watchdog: crate::watchdog::WatchdogConfig,
    /// DePIN nodes on this host to poll (Storj, Golem, Streamr).
    pub depin: crate::depin::DepinSection,
}

/// The file's layout: [`Config`] with the CPU miner's and the tuner's keys in one `[miner]`
/// table, as existing files, the example and fleet pushes (patched by key path) write them.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    site: SiteId,
    rig: RigId,
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    #[serde(default)]
    broker: BrokerConfig,
    #[serde(default)]
    telemetry: TelemetryConfig,
    #[serde(default)]
    spool: SpoolConfig,
    #[serde(default)]
    miner: MinerTable,
    #[serde(default)]
    fleet: FleetConfig,
    #[serde(default)]
    asic: crate::asic::config::AsicSection,
    #[serde(default)]
    inference: InferenceConfig,
    #[serde(default)]
    watchdog: crate::watchdog::WatchdogConfig,
    #[serde(default)]
    depin: crate::depin::DepinSection,
}

/// The `[miner]` table, flat. `serde(flatten)` would lose `deny_unknown_fields`, so the two
/// sections are read through this one struct and split (and joined back to be written).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
struct MinerTable {
    enabled: Option<bool>,
    algo: Algo,
    pools: Vec<PoolEntry>,
    mining_profile: Profile,
    mining_threads: Option<u32>,
    simd_batch_size: u32,
    auto_tune_enabled: bool,
    auto_tune_mode: TuneMode,
    min_threads: Option<usize>,
    max_threads: Option<usize>,
    min_batch_size: u32,
    max_batch_size: u32,
    evaluation_window_secs: u64,
    reeval_interval_secs: u64,
    telemetry_enabled: bool,
    telemetry_endpoint: Option<String>,
    fleet_hints_enabled: bool,
    numa_aware_enabled: bool,
    kernel: Option<String>,
    priority: Priority,
    cpus: Vec<usize>,
    thermal_protection_enabled: bool,
    thermal_soft_limit_c: f32,
    thermal_hard_limit_c: f32,
    thermal_cooldown_secs: u64,
    power_mode_sensitivity: bool,
    battery_threads_cap: usize,
    battery_batch_cap: u32,
    hardware_root: PathBuf,
}

impl Default for MinerTable {
    fn default() -> Self {
        MinerTable::join(MinerConfig::default(), TuneConfig::default())
    }
}

impl MinerTable {
    fn join(m: MinerConfig, t: TuneConfig) -> MinerTable {
        MinerTable {
            enabled: m.enabled,
            algo: m.algo,
            pools: m.pools,
            mining_threads: m.mining_threads,
            simd_batch_size: m.simd_batch_size,
            kernel: m.kernel,
            priority: m.priority,
            cpus: m.cpus,
            mining_profile: t.mining_profile,
            auto_tune_enabled: t.auto_tune_enabled,
            auto_tune_mode: t.auto_tune_mode,
            min_threads: t.min_threads,
            max_threads: t.max_threads,
            min_batch_size: t.min_batch_size,
            max_batch_size: t.max_batch_size,
            evaluation_window_secs: t.evaluation_window_secs,
            reeval_interval_secs: t.reeval_interval_secs,
            telemetry_enabled: t.telemetry_enabled,
            telemetry_endpoint: t.telemetry_endpoint,
            fleet_hints_enabled: t.fleet_hints_enabled,
            numa_aware_enabled: t.numa_aware_enabled,
            thermal_protection_enabled: t.thermal_protection_enabled,
            thermal_soft_limit_c: t.thermal_soft_limit_c,
            thermal_hard_limit_c: t.thermal_hard_limit_c,
            thermal_cooldown_secs: t.thermal_cooldown_secs,
            power_mode_sensitivity: t.power_mode_sensitivity,
            battery_threads_cap: t.battery_threads_cap,
            battery_batch_cap: t.battery_batch_cap,
            hardware_root: t.hardware_root,
        }
    }

    fn split(self) -> (MinerConfig, TuneConfig) {
        let miner = MinerConfig {
            enabled: self.enabled,
            algo: self.algo,
            pools: self.pools,
            mining_threads: self.mining_threads,
            simd_batch_size: self.simd_batch_size,
            kernel: self.kernel,
            priority: self.priority,
            cpus: self.cpus,
        };
        let tune = TuneConfig {
            mining_profile: self.mining_profile,
            auto_tune_enabled: self.auto_tune_enabled,
            auto_tune_mode: self.auto_tune_mode,
            min_threads: self.min_threads,
            max_threads: self.max_threads,
            min_batch_size: self.min_batch_size,
            max_batch_size: self.max_batch_size,
            evaluation_window_secs: self.evaluation_window_secs,
            reeval_interval_secs: self.reeval_interval_secs,
            telemetry_enabled: self.telemetry_enabled,
            telemetry_endpoint: self.telemetry_endpoint,
            fleet_hints_enabled: self.fleet_hints_enabled,
            numa_aware_enabled: self.numa_aware_enabled,
            thermal_protection_enabled: self.thermal_protection_enabled,
            thermal_soft_limit_c: self.thermal_soft_limit_c,
            thermal_hard_limit_c: self.thermal_hard_limit_c,
            thermal_cooldown_secs: self.thermal_cooldown_secs,
            power_mode_sensitivity: self.power_mode_sensitivity,
            battery_threads_cap: self.battery_threads_cap,
            battery_batch_cap: self.battery_batch_cap,
            hardware_root: self.hardware_root,
        };
        (miner, tune)
    }
}

impl From<ConfigFile> for Config {
    fn from(f: ConfigFile) -> Config {
        let (miner, tune) = f.miner.split();
        Config {
            site: f.site,
            rig: f.rig,
            data_dir: f.data_dir,
            broker: f.broker,
            telemetry: f.telemetry,
            spool: f.spool,
            miner,
            tune,
            fleet: f.fleet,
            asic: f.asic,
            inference: f.inference,
            watchdog: f.watchdog,
            depin: f.depin,
        }
    }
}

impl From<Config> for ConfigFile {
    fn from(c: Config) -> ConfigFile {
        ConfigFile {
            site: c.site,
            rig: c.rig,
            data_dir: c.data_dir,
            broker: c.broker,
            telemetry: c.telemetry,
            spool: c.spool,
            miner: MinerTable::join(c.miner, c.tune),
            fleet: c.fleet,
            asic: c.asic,
            inference: c.inference,
            watchdog: c.watchdog,
            depin: c.depin,
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
        section(self.miner.validate())?;
        section(self.tune.validate(
            crate::miner::engine::MAX_THREADS as usize,
            crate::miner::config::MAX_BATCH,
        ))?;
        self.fleet.verifying_key()?;
        self.watchdog
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("watchdog: {e}")))?;
        self.asic
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("asic: {e}")))?;
        section(self.spool.validate())?;
        section(self.depin.validate())?;
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
            tune: TuneConfig::default(),
            fleet: FleetConfig::default(),
            asic: Default::default(),
            inference: InferenceConfig::default(),
            watchdog: Default::default(),
            depin: Default::default(),
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
        // The documented defaults (docs/ARCHITECTURE.md#thresholds-tuner).
        assert_eq!((c.miner.mining_threads, c.miner.simd_batch_size), (None, 4));
        let m = &c.tune;
        assert_eq!(m.mining_profile, Profile::Balanced);
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
                "site = \"s\"\nrig = \"r\"\n[miner]\ntelemetry_endpoint = \"t.example\"\n",
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

    /// A `[miner]` table as files written before the split hold it: every key of the CPU miner
    /// and of the tuner in one table.
    const OLD_FORMAT: &str = r#"
site = "s"
rig = "r"
[miner]
enabled = true
algo = "scrypt"
mining_profile = "beast"
mining_threads = 6
simd_batch_size = 8
auto_tune_enabled = false
auto_tune_mode = "Aggressive"
min_threads = 2
max_threads = 7
min_batch_size = 2
max_batch_size = 64
evaluation_window_secs = 30
reeval_interval_secs = 600
telemetry_enabled = true
fleet_hints_enabled = false
numa_aware_enabled = true
kernel = "scalar"
priority = "normal"
cpus = [0, 2]
thermal_protection_enabled = false
thermal_soft_limit_c = 70.5
thermal_hard_limit_c = 85.0
thermal_cooldown_secs = 30
power_mode_sensitivity = false
battery_threads_cap = 3
battery_batch_cap = 6
hardware_root = "/tmp/fake-root"
[[miner.pools]]
url = "stratum+tcp://p:3333"
user = "w.1"
pass = "secret"
"#;

    #[test]
    fn an_old_format_miner_table_splits_into_both_sections_and_round_trips() {
        let cfg = Config::from_toml(OLD_FORMAT).expect("valid");
        assert_eq!(
            cfg.miner,
            MinerConfig {
                enabled: Some(true),
                algo: Algo::Scrypt,
                pools: vec![PoolEntry {
                    url: "stratum+tcp://p:3333".into(),
                    user: "w.1".into(),
                    pass: "secret".into(),
                }],
                mining_threads: Some(6),
                simd_batch_size: 8,
                kernel: Some("scalar".into()),
                priority: Priority::Normal,
                cpus: vec![0, 2],
            }
        );
        assert_eq!(
            cfg.tune,
            TuneConfig {
                mining_profile: Profile::Beast,
                auto_tune_enabled: false,
                auto_tune_mode: TuneMode::Aggressive,
                min_threads: Some(2),
                max_threads: Some(7),
                min_batch_size: 2,
                max_batch_size: 64,
                evaluation_window_secs: 30,
                reeval_interval_secs: 600,
                telemetry_enabled: true,
                telemetry_endpoint: None,
                fleet_hints_enabled: false,
                numa_aware_enabled: true,
                thermal_protection_enabled: false,
                thermal_soft_limit_c: 70.5,
                thermal_hard_limit_c: 85.0,
                thermal_cooldown_secs: 30,
                power_mode_sensitivity: false,
                battery_threads_cap: 3,
                battery_batch_cap: 6,
                hardware_root: PathBuf::from("/tmp/fake-root"),
            }
        );
        // Written out, it is still one `[miner]` table with the same keys, and reads back equal.
        let written = toml::to_string(&cfg).expect("serialises");
        let table: toml::Table = toml::from_str(&written).expect("toml");
        assert!(table.get("tune").is_none(), "{written}");
        let old: toml::Table = toml::from_str(OLD_FORMAT).expect("toml");
        let miner = table["miner"].as_table().expect("[miner]");
        for key in old["miner"].as_table().expect("[miner]").keys() {
            assert!(miner.contains_key(key), "miner.{key} not written: {written}");
        }
        assert_eq!(Config::from_toml(&written).expect("reads back"), cfg);
    }

    #[test]
    fn a_key_patched_by_path_lands_in_its_section() {
        let mut value = toml::Value::try_from(Config::from_toml(OLD_FORMAT).expect("valid")).expect("value");
        let miner = value["miner"].as_table_mut().expect("[miner]");
        miner.insert("mining_threads".into(), toml::Value::Integer(3));
        miner.insert("thermal_soft_limit_c".into(), toml::Value::Float(60.0));
        let cfg: Config = value.try_into().expect("patched config");
        assert_eq!(cfg.miner.mining_threads, Some(3));
        assert_eq!(cfg.tune.thermal_soft_limit_c, 60.0);
    }

    #[test]
    fn an_unknown_key_in_the_miner_table_is_refused_by_name() {
        for text in [
            "site = \"s\"\nrig = \"r\"\n[miner]\nthreads = 4\n",
            "site = \"s\"\nrig = \"r\"\n[miner]\nalgo = \"scrypt\"\nthermal_soft_limit = 70\n",
        ] {
            let err = Config::from_toml(text).expect_err(text).to_string();
            let key = if text.contains("threads = 4") {
                "`threads`"
            } else {
                "`thermal_soft_limit`"
            };
            assert!(err.contains(key), "{text:?}: {err}");
        }
        let tune_table = "site = \"s\"\nrig = \"r\"\n[tune]\nmining_profile = \"beast\"\n";
        let err = Config::from_toml(tune_table)
            .expect_err("no [tune] table")
            .to_string();
        assert!(err.contains("`tune`"), "{err}");
    }
}

//! The hub config file (`hashward-hub serve --config hub.toml`): every `serve` flag is also a
//! key here, and a flag given on the command line overrides the file. Sections for the coming
//! data sources, tariffs and policies are added here as they are built.
//!
//! Must never accept a key it does not know (a misspelt key would silently do nothing): the
//! error names the key and the file.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file's contents; each key is the `serve` flag of the same name (`-` written `_`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    pub broker: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub mqtt_listen: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub summary_interval_ms: Option<u64>,
    pub share_group: Option<String>,
    pub models_dir: Option<PathBuf>,
    /// `[economics]`: tariffs and hardware cost.
    pub economics: Option<crate::econ::EconomicsConfig>,
    /// `[collect]` and `[collect.SOURCE]`: market (and later pool and network) data sources.
    pub collect: Option<crate::collect::config::CollectConfig>,
    /// `[sites.NAME]`: per-site settings (`[sites.NAME.tariff]`, the electricity price).
    pub sites: Option<std::collections::BTreeMap<String, crate::collect::tariff::SiteConfig>>,
    /// `[scores]`: the score API's networks and the daily score batch (seed 003).
    pub scores: Option<ScoresSection>,
    /// `[web]`: the dashboard at `/`.
    pub web: Option<WebSection>,
    /// `[commands]`: commands the hub process signs itself (dashboard actions, Home Assistant).
    pub commands: Option<CommandsSection>,
    /// `[home_assistant]`: MQTT discovery, state and controls for Home Assistant.
    pub home_assistant: Option<HomeAssistantSection>,
    /// Alert routing and receivers (see `crate::alerts::config`).
    pub notify: Option<crate::alerts::NotifyConfig>,
    /// Where the fleet's records and rig registry live: `"redb"` (the default, `hub.redb` in
    /// the data directory) or `"postgres://user:password@host:port/dbname"` (shared by several
    /// hubs; see `crate::store::postgres`).
    pub store: Option<String>,
    /// `[nats]`: with `broker = "nats://..."`, the cluster's MQTT listener, the stream, the
    /// shared consumer and the leader lease (packaging/cluster/hub.toml).
    pub nats: Option<crate::ingest::nats_config::NatsSection>,
    /// `[sentinel]`: the pool-level Sentinel's loop (`crate::sentinel::service`).
    pub sentinel: Option<SentinelSection>,
    /// `[allocation]`: the allocation service (mode, interval, pools, presets, per-site
    /// thresholds and caps); off without it.
    pub allocation: Option<crate::alloc::AllocationConfig>,
}

/// `[sentinel]` (see hub.example.toml).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSection {
    /// Seconds between looks at the stored pool states (default 300).
    pub interval_s: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// Bearer token that allows the dashboard's actions (pause/resume); without it the pages
    /// are read-only.
    pub operator_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandsSection {
    /// The fleet signing key (`hashward-hub keygen`), mode 0600.
    pub signing_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeAssistantSection {
    #[serde(default)]
    pub enabled: bool,
    pub discovery_prefix: Option<String>,
}

/// `[scores]` (see hub.example.toml).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoresSection {
    pub networks: Option<Vec<String>>,
    pub run_at_utc: Option<String>,
    pub models_dir: Option<PathBuf>,
    pub batch: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
}

impl HubConfig {
    pub fn load(path: &Path) -> Result<HubConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
        HubConfig::parse(&text).map_err(|e| ConfigError::Parse(path.to_path_buf(), e))
    }

    pub fn parse(text: &str) -> Result<HubConfig, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../hub.example.toml");

    #[test]
    fn the_example_loads_with_every_key_uncommented() {
        let as_shipped = HubConfig::parse(EXAMPLE).expect("example parses");
        assert_eq!(as_shipped.http, Some("127.0.0.1:8080".parse().expect("addr")));
        assert_eq!(as_shipped.summary_interval_ms, Some(5000));
        // Every key the example documents in a comment is a real key.
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_')) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let all = HubConfig::parse(&uncommented).expect("every documented key parses");
        assert!(all.broker.is_some() && all.ca_file.is_some() && all.username.is_some());
        assert!(all.password.is_some() && all.share_group.is_some() && all.models_dir.is_some());
        let econ = all.economics.expect("[economics]");
        assert_eq!(
            (econ.tariff("farm2"), econ.hardware_cost_usd),
            (Some(0.06), Some(2500.0))
        );
        assert_eq!(econ.rig_power("rig-01"), Some(95.0));
        econ.validate().expect("the documented economics keys are valid");
        let scores = all.scores.expect("[scores]");
        assert!(scores.networks.is_some() && scores.run_at_utc.is_some() && scores.models_dir.is_some());
        assert_eq!(as_shipped.scores.and_then(|s| s.batch), Some(false));
        assert!(all.web.and_then(|w| w.operator_token).is_some());
        assert!(all.commands.and_then(|c| c.signing_key).is_some());
        assert!(all.home_assistant.and_then(|h| h.discovery_prefix).is_some());
        let store = all.store.expect("store");
        assert!(
            crate::store::StoreChoice::parse(&store).is_ok(),
            "the example store URL parses"
        );
    }

    #[test]
    fn the_example_tariffs_parse() {
        // The example shows them indented under comments; every one of them must be real.
        let block: String = EXAMPLE
            .lines()
            .skip_while(|l| !l.starts_with("#   [sites.barn.tariff]"))
            .filter_map(|l| l.strip_prefix("#   "))
            .collect::<Vec<_>>()
            .join("\n");
        let cfg = HubConfig::parse(&block).expect("the example tariffs parse");
        let sites = cfg.sites.expect("sites");
        assert_eq!(sites.len(), 3);
        for (name, site) in &sites {
            site.tariff.as_ref().expect("tariff").check(name).expect("valid");
        }
    }

    #[test]
    fn the_cluster_example_loads() {
        let text = include_str!("../../packaging/cluster/hub.toml");
        let cfg = HubConfig::parse(text).expect("packaging/cluster/hub.toml parses");
        let broker = cfg.broker.expect("broker");
        let nats = crate::ingest::nats_config::options(&broker, cfg.nats.as_ref()).expect("valid [nats]");
        assert_eq!(nats.replicas, 3);
    }

    #[test]
    fn an_unknown_key_is_refused_naming_it_and_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "http = \"127.0.0.1:9\"\nsumary_interval_ms = 100\n").expect("write");
        let e = HubConfig::load(&path).expect_err("unknown key").to_string();
        assert!(e.contains("sumary_interval_ms") && e.contains("hub.toml"), "{e}");
        std::fs::write(&path, "http = \"not an address\"\n").expect("write");
        let e = HubConfig::load(&path).expect_err("bad value").to_string();
        assert!(e.contains("http") && e.contains("hub.toml"), "{e}");
    }
}

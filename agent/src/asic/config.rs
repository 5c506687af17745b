//! The agent's `[asic]` TOML section and `[[asic.miners]]` list, and the credentials file the
//! miners' passwords and API keys live in.
//!
//! Validation names the bad key; an invalid section never half-applies. Unknown keys are
//! refused so a typo cannot silently leave a default in force. The credentials file is refused
//! unless only its owner can read it (mode 0600 or stricter): secrets never sit in the main
//! config, and their values never appear in errors or logs.

use super::client::{AsicKind, AsicSpec, Credentials};
use super::error::ConfigError;
use super::poller::PollerOptions;
use super::schedule::ScheduleConfig;
use super::target::Endpoint;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[asic]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AsicSection {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// TOML file of `[name]` tables with `username` / `password` / `api_key`; mode 0600.
    pub credentials_file: Option<PathBuf>,
    /// Polls in flight at once over all miners (bounded connections).
    #[serde(default = "d_concurrency")]
    pub max_concurrency: usize,
    #[serde(default = "d_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Telemetry interval while anything changes (docs/ARCHITECTURE.md#thresholds-asic-polling).
    #[serde(default = "d_interval")]
    pub telemetry_interval_s: u64,
    /// Telemetry interval once stable; equal to `telemetry_interval_s` disables adaptation.
    #[serde(default = "d_max_interval")]
    pub telemetry_max_interval_s: u64,
    /// Info / settings / presets refresh (docs/ARCHITECTURE.md#thresholds-asic-polling).
    #[serde(default = "d_config_interval")]
    pub config_interval_s: u64,
    #[serde(default)]
    pub miners: Vec<AsicEntry>,
}

/// `[[asic.miners]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AsicEntry {
    /// Unique; the MQTT topic's last level.
    pub id: String,
    /// `10.0.0.5` or `10.0.0.5:8080`.
    pub ip: Option<String>,
    /// `http://host[:port]` (Vnish, Antminer) or `tcp://host:4028` (cgminer).
    pub url: Option<String>,
    #[serde(default)]
    pub kind: AsicKind,
    /// Table in the credentials file; default: the miner's id, else `[default]`.
    pub credentials: Option<String>,
}

fn yes() -> bool {
    true
}
fn d_concurrency() -> usize {
    32
}
fn d_request_timeout_ms() -> u64 {
    5_000
}
fn d_interval() -> u64 {
    60
}
fn d_max_interval() -> u64 {
    300
}
fn d_config_interval() -> u64 {
    1_200
}

impl Default for AsicSection {
    fn default() -> Self {
        AsicSection {
            enabled: true,
            credentials_file: None,
            max_concurrency: d_concurrency(),
            request_timeout_ms: d_request_timeout_ms(),
            telemetry_interval_s: d_interval(),
            telemetry_max_interval_s: d_max_interval(),
            config_interval_s: d_config_interval(),
            miners: Vec::new(),
        }
    }
}

/// Longest miner id: it is an MQTT topic level and must fit the protocol's id cap.
pub const MAX_MINER_ID_LEN: usize = 64;

fn invalid(field: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_string(),
        detail: detail.into(),
    }
}

impl AsicSection {
    /// Parses a standalone `[asic]` document (tests, `asic probe --config`); the agent embeds
    /// [`AsicSection`] in its own config struct instead.
    pub fn from_toml(text: &str, path: &Path) -> Result<AsicSection, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            #[serde(default)]
            asic: AsicSection,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        doc.asic.validate()?;
        Ok(doc.asic)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1024).contains(&self.max_concurrency) {
            return Err(invalid("max_concurrency", "must be 1..=1024"));
        }
        if !(100..=60_000).contains(&self.request_timeout_ms) {
            return Err(invalid("request_timeout_ms", "must be 100..=60000"));
        }
        if !(1..=3_600).contains(&self.telemetry_interval_s) {
            return Err(invalid("telemetry_interval_s", "must be 1..=3600"));
        }
        if self.telemetry_max_interval_s < self.telemetry_interval_s || self.telemetry_max_interval_s > 3_600
        {
            return Err(invalid(
                "telemetry_max_interval_s",
                "must be telemetry_interval_s..=3600",
            ));
        }
        if !(60..=86_400).contains(&self.config_interval_s) {
            return Err(invalid("config_interval_s", "must be 60..=86400"));
        }
        let mut seen = HashSet::new();
        for (i, m) in self.miners.iter().enumerate() {
            let field = format!("miners[{i}]");
            if m.id.is_empty()
                || m.id.len() > MAX_MINER_ID_LEN
                || !m
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(invalid(
                    &format!("{field}.id"),
                    format!("`{}`: letters, digits, '-', '_', '.'; 1..=64 bytes", m.id),
                ));
            }
            if !seen.insert(m.id.as_str()) {
                return Err(invalid(
                    &format!("{field}.id"),
                    format!("`{}` is listed twice", m.id),
                ));
            }
            let addr = match (&m.ip, &m.url) {
                (Some(a), None) | (None, Some(a)) => a,
                _ => {
                    return Err(invalid(
                        &field,
                        format!("`{}`: give exactly one of ip or url", m.id),
                    ))
                }
            };
            Endpoint::parse(addr).map_err(|e| invalid(&field, e.to_string()))?;
        }
        Ok(())
    }

    pub fn poller_options(&self) -> PollerOptions {
        let request_timeout = Duration::from_millis(self.request_timeout_ms);
        PollerOptions {
            schedule: ScheduleConfig {
                fast: Duration::from_secs(self.telemetry_interval_s),
                slow: Duration::from_secs(self.telemetry_max_interval_s),
                config_interval: Duration::from_secs(self.config_interval_s),
                ..ScheduleConfig::default()
            },
            max_concurrency: self.max_concurrency,
            request_timeout,
            // A Vnish config refresh is five requests in a row.
            poll_timeout: request_timeout * 6,
        }
    }

    /// The miners to poll, each with its credentials.
    pub fn asic_specs(&self, creds: &CredentialStore) -> Result<Vec<AsicSpec>, ConfigError> {
        self.miners
            .iter()
            .map(|m| {
                let addr = m.ip.as_deref().or(m.url.as_deref()).unwrap_or_default();
                let endpoint = Endpoint::parse(addr).map_err(|e| invalid(&m.id, e.to_string()))?;
                if let Some(name) = &m.credentials {
                    if !creds.entries.contains_key(name) {
                        return Err(invalid(
                            &format!("{}.credentials", m.id),
                            format!("no [{name}] in the credentials file"),
                        ));
                    }
                }
                Ok(AsicSpec {
                    id: m.id.clone(),
                    endpoint,
                    kind: m.kind,
                    credentials: creds.for_miner(&m.id, m.credentials.as_deref()),
                })
            })
            .collect()
    }

    /// Loads the credentials file named in the section (or none).
    pub fn load_credentials(&self) -> Result<CredentialStore, ConfigError> {
        match &self.credentials_file {
            Some(p) => CredentialStore::load(p),
            None => Ok(CredentialStore::default()),
        }
    }
}

/// Named credential sets from the 0600 file.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    entries: HashMap<String, Credentials>,
}

impl CredentialStore {
    /// Reads the file after checking that only its owner can read it.
    pub fn load(path: &Path) -> Result<CredentialStore, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(ConfigError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        if !meta.is_file() {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                detail: "not a regular file".into(),
            });
        }
        use std::io::Read;
        let mut text = String::new();
        (&file)
            .take(1024 * 1024)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        let entries: HashMap<String, Credentials> =
            toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                // toml's full message quotes the offending line, which may hold a secret: keep the
                // position line and the message, not the quoted source.
                detail: format!(
                    "{}: {}",
                    e.to_string().lines().next().unwrap_or("invalid TOML"),
                    e.message()
                ),
            })?;
        Ok(CredentialStore { entries })
    }

    pub fn from_entries(entries: HashMap<String, Credentials>) -> Self {
        CredentialStore { entries }
    }

    /// The named set, else the miner's own id, else `[default]`, else none.
    pub fn for_miner(&self, id: &str, name: Option<&str>) -> Credentials {
        name.and_then(|n| self.entries.get(n))
            .or_else(|| self.entries.get(id))
            .or_else(|| self.entries.get("default"))
            .cloned()
            .unwrap_or_default()
    }
}

//! The link's config sections: `[broker]` (where and how to connect), `[telemetry]` (how often
//! the rig is sampled) and `[spool]` (its disk cap), each with its defaults and its checks.
//!
//! Must never accept a value the link would silently ignore (a CA file for a plain-TCP URL):
//! the error names the key.

pub use hashward_protocol::BrokerAddr;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// `mqtt://host:port`.
    #[serde(default = "default_broker_url")]
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// Reconnect backoff: first wait, doubled per failure with jitter, capped.
    #[serde(default = "default_backoff_min")]
    pub backoff_min_ms: u64,
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// Records published but not yet acknowledged by the broker, at most.
    #[serde(default = "default_inflight")]
    pub max_inflight: u16,
    /// PEM CA certificate(s) the broker's TLS certificate must chain to (`mqtts://` only).
    /// Without it, the public webpki roots are trusted.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Disk cap of unacknowledged records; past it the oldest are dropped and counted.
    #[serde(default = "default_spool_max")]
    pub max_bytes: u64,
}

fn default_broker_url() -> String {
    "mqtt://127.0.0.1:1883".into()
}
fn default_keep_alive() -> u64 {
    15
}
fn default_backoff_min() -> u64 {
    250
}
fn default_backoff_max() -> u64 {
    30_000
}
fn default_inflight() -> u16 {
    64
}
fn default_interval_ms() -> u64 {
    10_000
}
fn default_spool_max() -> u64 {
    // A day of 10 s telemetry is ~9k records of ~300 B; 64 MiB holds weeks, and ASIC telemetry.
    64 << 20
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            url: default_broker_url(),
            username: None,
            password: None,
            keep_alive_s: default_keep_alive(),
            backoff_min_ms: default_backoff_min(),
            backoff_max_ms: default_backoff_max(),
            max_inflight: default_inflight(),
            ca_file: None,
        }
    }
}
impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            interval_ms: default_interval_ms(),
        }
    }
}
impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            max_bytes: default_spool_max(),
        }
    }
}

impl BrokerConfig {
    /// Checks every key; the error names it (`broker.keep_alive_s ...`).
    pub fn validate(&self) -> Result<(), String> {
        let broker_addr = BrokerAddr::parse(&self.url).map_err(|e| format!("broker.url: {e}"))?;
        if !(5..=3600).contains(&self.keep_alive_s) {
            return Err(format!(
                "broker.keep_alive_s {} outside 5..=3600",
                self.keep_alive_s
            ));
        }
        if self.backoff_min_ms == 0 || self.backoff_min_ms > self.backoff_max_ms {
            return Err(format!(
                "broker.backoff_min_ms {} must be > 0 and <= backoff_max_ms {}",
                self.backoff_min_ms, self.backoff_max_ms
            ));
        }
        if self.max_inflight == 0 || self.max_inflight > 1000 {
            return Err(format!(
                "broker.max_inflight {} outside 1..=1000",
                self.max_inflight
            ));
        }
        if self.username.is_none() && self.password.is_some() {
            return Err("broker.password given without broker.username".into());
        }
        if self.ca_file.is_some() && !broker_addr.tls {
            // A CA for a plain-TCP URL would be silently ignored: the operator meant TLS.
            return Err(format!(
                "broker.ca_file is set but broker.url {:?} is not mqtts://",
                self.url
            ));
        }
        Ok(())
    }
}

impl TelemetryConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(100..=3_600_000).contains(&self.interval_ms) {
            return Err(format!(
                "telemetry.interval_ms {} outside 100..=3600000",
                self.interval_ms
            ));
        }
        Ok(())
    }
}

impl SpoolConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes < 64 * 1024 {
            return Err(format!("spool.max_bytes {} below 65536", self.max_bytes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(BrokerConfig::default().validate(), Ok(()));
        assert_eq!(TelemetryConfig::default().validate(), Ok(()));
        assert_eq!(SpoolConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_bad_broker_value_is_named() {
        let bad = |f: fn(&mut BrokerConfig)| {
            let mut b = BrokerConfig::default();
            f(&mut b);
            b.validate().expect_err("invalid")
        };
        assert!(bad(|b| b.url = "http://x".into()).starts_with("broker.url"));
        assert!(bad(|b| b.keep_alive_s = 4).starts_with("broker.keep_alive_s 4"));
        assert!(bad(|b| b.backoff_min_ms = 0).starts_with("broker.backoff_min_ms 0"));
        assert!(bad(|b| b.backoff_min_ms = 40_000).starts_with("broker.backoff_min_ms 40000"));
        assert!(bad(|b| b.max_inflight = 0).starts_with("broker.max_inflight 0"));
        assert!(bad(|b| b.password = Some("p".into())).starts_with("broker.password"));
        assert!(bad(|b| b.ca_file = Some("ca.pem".into())).starts_with("broker.ca_file"));
        let mut tls = BrokerConfig {
            url: "mqtts://broker:8883".into(),
            ca_file: Some("ca.pem".into()),
            ..BrokerConfig::default()
        };
        assert_eq!(tls.validate(), Ok(()));
        tls.username = Some("u".into());
        tls.password = Some("p".into());
        assert_eq!(tls.validate(), Ok(()));
    }

    #[test]
    fn telemetry_and_spool_bounds() {
        assert!(TelemetryConfig { interval_ms: 99 }.validate().is_err());
        assert!(TelemetryConfig { interval_ms: 100 }.validate().is_ok());
        assert!(TelemetryConfig {
            interval_ms: 3_600_001
        }
        .validate()
        .is_err());
        assert_eq!(
            SpoolConfig { max_bytes: 1000 }.validate(),
            Err("spool.max_bytes 1000 below 65536".into())
        );
        assert!(SpoolConfig { max_bytes: 65536 }.validate().is_ok());
    }
}

//! `[collect.prohashing]`: the WAMP endpoint and every name the session uses (the defaults are
//! the real service's, which differ from seed 002 §10.1's), the account's API key, and the HTTP
//! fallback. Without `api_key` only the public profitability feed is followed.
//!
//! Must never show the key: it is an [`ApiKey`] (redacted `Debug`, no `Display`), and the topic
//! names built from it live only inside the WAMP session.

use super::super::config::{secs, ApiKey};
use super::super::wamp::{CallSpec, SessionConfig, SubscribeSpec};
use super::normalise::ProfitUnits;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

pub const DEFAULT_URL: &str = "wss://live.prohashing.com:443/ws";
pub const DEFAULT_REALM: &str = "mining";
/// Prohashing's public WAMP login (its own web page uses it).
pub const DEFAULT_AUTH: &str = "web";
/// Seed 002 §10.1 base of the HTTP API (the prohashing-http shape: `/status`, `/profitability`).
pub const DEFAULT_HTTP_BASE: &str = "https://prohashing.com/api/v1";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProhashingConfig {
    /// Default true when the section is present.
    pub enabled: Option<bool>,
    /// The account's API key (prohashing.com, account settings). Goes into the miner and
    /// balance calls and topic names only.
    pub api_key: Option<ApiKey>,
    /// WebSocket URL (default `wss://live.prohashing.com:443/ws`).
    pub url: Option<String>,
    /// Default `mining`.
    pub realm: Option<String>,
    /// WAMP-CRA auth id and secret (default `web` / `web`).
    pub authid: Option<String>,
    pub secret: Option<ApiKey>,
    /// WebSocket ping interval, seconds (default 30, seed 002 §10.1).
    pub heartbeat_s: Option<f64>,
    /// Connect and login timeout, seconds (default 15).
    pub connect_timeout_s: Option<f64>,
    /// Reconnect backoff bounds, seconds (default 1 and 300).
    pub reconnect_min_s: Option<f64>,
    pub reconnect_max_s: Option<f64>,
    /// Procedure names (defaults `f_all_profitability_updates`, `f_all_miner_updates`,
    /// `f_all_balance_updates`).
    pub profitability_procedure: Option<String>,
    pub miners_procedure: Option<String>,
    pub balances_procedure: Option<String>,
    /// Topic names; the two per-account ones get the API key appended (defaults
    /// `profitability_updates`, `miner_update_diffs_`, `balance_updates_`).
    pub profitability_topic: Option<String>,
    pub miners_topic_prefix: Option<String>,
    pub balances_topic_prefix: Option<String>,
    /// The HTTP fallback, polled while the WAMP link is down (default on).
    pub http_enabled: Option<bool>,
    pub http_base_url: Option<String>,
    /// Seconds between fallback polls (default 900, seed 002 §10.3 `profitability`).
    pub http_interval_s: Option<f64>,
    /// H/s in one quoted profitability unit, per algorithm name (default 1e6 for all, see
    /// `normalise`).
    pub profit_unit_hs: Option<BTreeMap<String, f64>>,
}

/// Which feed a WAMP result or event belongs to (never the topic name: it holds the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    Profitability,
    Miners,
    Balances,
}

impl ProhashingConfig {
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    pub fn url(&self) -> &str {
        self.url.as_deref().unwrap_or(DEFAULT_URL)
    }

    pub fn heartbeat(&self) -> Duration {
        self.heartbeat_s.map_or(Duration::from_secs(30), secs)
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout_s.map_or(Duration::from_secs(15), secs)
    }

    pub fn backoff(&self) -> hashward_common::Backoff {
        hashward_common::Backoff::new(
            self.reconnect_min_s.map_or(Duration::from_secs(1), secs),
            self.reconnect_max_s.map_or(Duration::from_secs(300), secs),
        )
    }

    pub fn http_base(&self) -> Option<String> {
        (self.http_enabled.unwrap_or(true)).then(|| {
            self.http_base_url
                .as_deref()
                .unwrap_or(DEFAULT_HTTP_BASE)
                .trim_end_matches('/')
                .to_string()
        })
    }

    pub fn http_interval(&self) -> Duration {
        self.http_interval_s.map_or(Duration::from_secs(900), secs)
    }

    pub fn units(&self) -> ProfitUnits {
        ProfitUnits::new(&self.profit_unit_hs.clone().unwrap_or_default())
    }

    /// Refuses values that cannot work, naming the key.
    pub fn check(&self) -> Result<(), String> {
        let url = self.url();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err("collect.prohashing.url: must start with ws:// or wss://".into());
        }
        if let Some(b) = &self.http_base_url {
            if !(b.starts_with("http://") || b.starts_with("https://")) {
                return Err("collect.prohashing.http_base_url: must start with http:// or https://".into());
            }
        }
        for (key, v) in [
            ("heartbeat_s", self.heartbeat_s),
            ("connect_timeout_s", self.connect_timeout_s),
            ("reconnect_min_s", self.reconnect_min_s),
            ("reconnect_max_s", self.reconnect_max_s),
            ("http_interval_s", self.http_interval_s),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("collect.prohashing.{key}: must be above 0, not {v}"));
                }
            }
        }
        for (algo, v) in self.profit_unit_hs.iter().flatten() {
            if !(v.is_finite() && *v > 0.0) {
                return Err(format!(
                    "collect.prohashing.profit_unit_hs.{algo}: must be above 0, not {v}"
                ));
            }
        }
        if self
            .api_key
            .as_ref()
            .is_some_and(|k| k.expose().trim().is_empty())
        {
            return Err("collect.prohashing.api_key: empty".into());
        }
        Ok(())
    }

    /// The WAMP session: the public profitability feed always; the account's feeds with a key.
    pub fn session(&self) -> SessionConfig<Feed> {
        let name = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        let mut calls = vec![CallSpec {
            label: Feed::Profitability,
            procedure: name(&self.profitability_procedure, "f_all_profitability_updates"),
            args: vec![],
        }];
        let mut subscriptions = vec![SubscribeSpec {
            label: Feed::Profitability,
            topic: name(&self.profitability_topic, "profitability_updates"),
        }];
        if let Some(key) = &self.api_key {
            let key = key.expose();
            calls.push(CallSpec {
                label: Feed::Miners,
                procedure: name(&self.miners_procedure, "f_all_miner_updates"),
                args: vec![Value::String(key.to_string())],
            });
            calls.push(CallSpec {
                label: Feed::Balances,
                procedure: name(&self.balances_procedure, "f_all_balance_updates"),
                args: vec![Value::String(key.to_string())],
            });
            subscriptions.push(SubscribeSpec {
                label: Feed::Miners,
                topic: format!("{}{key}", name(&self.miners_topic_prefix, "miner_update_diffs_")),
            });
            subscriptions.push(SubscribeSpec {
                label: Feed::Balances,
                topic: format!("{}{key}", name(&self.balances_topic_prefix, "balance_updates_")),
            });
        }
        SessionConfig {
            realm: name(&self.realm, DEFAULT_REALM),
            authid: name(&self.authid, DEFAULT_AUTH),
            secret: self
                .secret
                .as_ref()
                .map_or(DEFAULT_AUTH.to_string(), |s| s.expose().to_string()),
            calls,
            subscriptions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_real_service_and_the_key_stays_hidden() {
        let c: ProhashingConfig = toml::from_str("api_key = \"k3y\"").expect("parses");
        assert!(!format!("{c:?}").contains("k3y"));
        assert_eq!(c.url(), "wss://live.prohashing.com:443/ws");
        let s = c.session();
        assert_eq!(
            (s.realm.as_str(), s.authid.as_str(), s.secret.as_str()),
            ("mining", "web", "web")
        );
        let procs: Vec<_> = s.calls.iter().map(|c| c.procedure.as_str()).collect();
        assert_eq!(
            procs,
            [
                "f_all_profitability_updates",
                "f_all_miner_updates",
                "f_all_balance_updates"
            ]
        );
        let topics: Vec<_> = s.subscriptions.iter().map(|s| s.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "profitability_updates",
                "miner_update_diffs_k3y",
                "balance_updates_k3y"
            ]
        );
        let public: ProhashingConfig = toml::from_str("").expect("parses");
        assert_eq!(public.session().calls.len(), 1, "no key: profitability only");
        assert!(c.check().is_ok());
    }

    #[test]
    fn every_name_is_configurable_and_bad_values_are_named() {
        let c: ProhashingConfig = toml::from_str(
            "url = \"wss://prohashing.com:3333/ws\"\nrealm = \"realm1\"\nprofitability_topic = \"com.prohashing.profitability\"\n",
        )
        .expect("parses");
        let s = c.session();
        assert_eq!(s.realm, "realm1");
        assert_eq!(s.subscriptions[0].topic, "com.prohashing.profitability");
        let bad: ProhashingConfig = toml::from_str("url = \"http://x\"").expect("parses");
        assert!(bad
            .check()
            .expect_err("scheme")
            .contains("collect.prohashing.url"));
        let bad: ProhashingConfig = toml::from_str("heartbeat_s = 0").expect("parses");
        assert!(bad.check().expect_err("zero").contains("heartbeat_s"));
        assert!(toml::from_str::<ProhashingConfig>("realmm = \"x\"").is_err());
    }
}

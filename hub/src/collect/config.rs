//! The `[collect]` section of hub.toml: one sub-section per source (`[collect.coingecko]`,
//! `[collect.coinmarketcap]`; `wamp` adds its own), all with the same [`SourceConfig`] shape, and
//! the coins to follow.
//!
//! Must never print a key: [`ApiKey`] has no `Display`, its `Debug` is redacted, and it is not
//! `Serialize`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// `[collect]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectConfig {
    /// CoinGecko ids of the coins to follow (default bitcoin, litecoin, dogecoin).
    pub coins: Option<Vec<String>>,
    /// Which market source wins when both are fresh (default `["coingecko", "coinmarketcap"]`).
    pub market_priority: Option<Vec<String>>,
    /// Spread the first polls of all sources over this many seconds (default 30).
    pub stagger_s: Option<f64>,
    /// Failures in a row that open a source's circuit breaker (default 5).
    pub breaker_failures: Option<u32>,
    /// How long an open breaker pauses a source, seconds (default 300).
    pub breaker_cooldown_s: Option<f64>,
    /// Market rows kept, days per tier (seed 002 §10.3: raw 30, hourly 365); daily rows are kept
    /// unless `daily_retention_days` is set (imported history feeds backtests and training).
    pub raw_retention_days: Option<u64>,
    pub hourly_retention_days: Option<u64>,
    pub daily_retention_days: Option<u64>,
    /// How often the pruner runs, seconds (default 3600).
    pub prune_interval_s: Option<f64>,
    pub coingecko: Option<SourceConfig>,
    pub coinmarketcap: Option<SourceConfig>,
    /// `[collect.prohashing]`: the pool account over WAMP (HTTP fallback). Off unless present.
    pub prohashing: Option<super::prohashing::config::ProhashingConfig>,
    /// `[collect.node.COIN]`: a coin's own full node over JSON-RPC (replaces its explorer).
    pub node: Option<BTreeMap<String, super::node_rpc::NodeConfig>>,
    /// `[collect.explorer.COIN]`: a mempool.space-style explorer (on by default for bitcoin and
    /// litecoin when no node is configured).
    pub explorer: Option<BTreeMap<String, SourceConfig>>,
    /// The top-level `[sites.NAME]` sections (tariffs), carried here for the collectors.
    #[serde(skip)]
    pub sites: BTreeMap<String, super::tariff::SiteConfig>,
}

/// Set (to anything but empty or `0`) to run the hub with every collector disabled: tests that
/// start a hub and must not reach the internet set it.
pub const NO_COLLECTORS_ENV: &str = "HASHWARD_NO_COLLECTORS";

impl CollectConfig {
    /// Every source disabled (each still listed in `/sources`, as `disabled`).
    pub fn all_disabled() -> CollectConfig {
        let off = || {
            Some(SourceConfig {
                enabled: Some(false),
                ..SourceConfig::default()
            })
        };
        CollectConfig {
            coingecko: off(),
            coinmarketcap: off(),
            explorer: Some(
                super::chain::Coin::ALL
                    .iter()
                    .filter_map(|c| off().map(|o| (c.as_str().to_string(), o)))
                    .collect(),
            ),
            ..CollectConfig::default()
        }
    }

    /// `cfg`, or every source disabled when [`NO_COLLECTORS_ENV`] is set.
    pub fn unless_disabled_by_env(cfg: CollectConfig) -> CollectConfig {
        match std::env::var(NO_COLLECTORS_ENV) {
            Ok(v) if !v.is_empty() && v != "0" => CollectConfig {
                sites: cfg.sites,
                ..CollectConfig::all_disabled()
            },
            _ => cfg,
        }
    }
}

/// One source's settings. Every key is optional: a source's file gives the defaults (seed 002
/// §10.3 intervals, the documented base URL and limits).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Default true when the section is present.
    pub enabled: Option<bool>,
    pub base_url: Option<String>,
    pub api_key: Option<ApiKey>,
    /// The plan the key is for (`demo`/`pro` for CoinGecko, `basic`... for CoinMarketCap).
    pub plan: Option<String>,
    /// Per-job poll intervals in seconds, by job name (e.g. `simple_price = 300`).
    pub intervals_s: Option<BTreeMap<String, f64>>,
    /// Per-request timeout, seconds (default 10, seed 002 §10.2).
    pub timeout_s: Option<f64>,
    /// Requests per minute (the token bucket); default the plan's documented limit.
    pub per_minute: Option<u32>,
    /// Quota units per month; default the plan's documented quota.
    pub monthly_quota: Option<u64>,
}

impl SourceConfig {
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// The configured interval of `job`, or `default`. Non-positive or non-finite values are
    /// refused when the config is checked ([`SourceConfig::check`]).
    pub fn interval(&self, job: &str, default: Duration) -> Duration {
        self.intervals_s
            .as_ref()
            .and_then(|m| m.get(job))
            .map_or(default, |s| secs(*s))
    }

    pub fn timeout(&self) -> Duration {
        self.timeout_s.map_or(Duration::from_secs(10), secs)
    }

    /// Refuses values that cannot work, naming the key; `jobs` are the job names the source has.
    pub fn check(&self, source: &str, jobs: &[&str]) -> Result<(), String> {
        if let Some(m) = &self.intervals_s {
            for (k, v) in m {
                if !jobs.contains(&k.as_str()) {
                    return Err(format!(
                        "collect.{source}.intervals_s.{k}: no such job (jobs: {})",
                        jobs.join(", ")
                    ));
                }
                if !(v.is_finite() && *v > 0.0) {
                    return Err(format!(
                        "collect.{source}.intervals_s.{k}: must be above 0, not {v}"
                    ));
                }
            }
        }
        if let Some(t) = self.timeout_s {
            if !(t.is_finite() && t > 0.0) {
                return Err(format!("collect.{source}.timeout_s: must be above 0, not {t}"));
            }
        }
        if let Some(u) = &self.base_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "collect.{source}.base_url: must start with http:// or https://"
                ));
            }
        }
        Ok(())
    }
}

/// Seconds as a `Duration`; negative or non-finite values become 1 ms (refused by `check`).
pub fn secs(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::from_secs_f64(s.min(1e9))
    } else {
        Duration::from_millis(1)
    }
}

/// A secret: readable only through [`ApiKey::expose`], redacted everywhere else.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(s: impl Into<String>) -> ApiKey {
        ApiKey(s.into())
    }

    /// For the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_never_shows_and_bad_values_name_their_key() {
        let c: SourceConfig =
            toml::from_str("api_key = \"CG-secret\"\ntimeout_s = 2.5\n[intervals_s]\nsimple_price = 60\n")
                .expect("parses");
        assert!(!format!("{c:?}").contains("CG-secret"));
        assert_eq!(
            c.interval("simple_price", Duration::from_secs(300)),
            Duration::from_secs(60)
        );
        assert_eq!(
            c.interval("markets", Duration::from_secs(900)),
            Duration::from_secs(900)
        );
        assert_eq!(c.timeout(), Duration::from_millis(2500));
        assert!(c.check("coingecko", &["simple_price"]).is_ok());
        let e = c.check("coingecko", &["markets"]).expect_err("unknown job");
        assert!(e.contains("collect.coingecko.intervals_s.simple_price"), "{e}");
        let bad: SourceConfig = toml::from_str("base_url = \"ftp://x\"").expect("parses");
        assert!(bad
            .check("coinmarketcap", &[])
            .expect_err("scheme")
            .contains("base_url"));
        assert!(toml::from_str::<SourceConfig>("intervall_s = 3").is_err());
    }
}

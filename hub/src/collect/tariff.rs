//! Electricity tariff per site (`[sites.NAME.tariff]`): a flat price, a time-of-day table, or a
//! price feed (a URL answering JSON, the price found at a dotted path such as
//! `data.0.price_usd_per_kwh`). The first two are pure lookups here; a feed is a poll source
//! ([`TariffFeed`]) whose last value is served with its age.
//!
//! Must never guess a price: a time not covered by the table and without a default, or a feed
//! not yet fetched, is `None` with the reason, never 0.

use super::config::{secs, ApiKey};
use super::http::HttpClient;
use super::source::{BoxFuture, JobSpec, Limits, PollSource, Polled, SourceError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `[sites.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub tariff: Option<TariffConfig>,
}

/// `[sites.NAME.tariff]`: `kind = "flat" | "time_of_day" | "feed"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TariffConfig {
    Flat {
        usd_per_kwh: f64,
    },
    TimeOfDay {
        /// Offset of the site's local time from UTC, minutes (e.g. -300 for UTC-5).
        #[serde(default)]
        utc_offset_min: i32,
        /// Price outside every period; without it such a time has no price.
        default_usd_per_kwh: Option<f64>,
        periods: Vec<Period>,
    },
    Feed {
        url: String,
        /// Dotted path to the number: object keys and array indices (`data.0.price`).
        json_path: String,
        /// The feed's number times this is USD/kWh (e.g. 0.001 for a feed in USD/MWh).
        #[serde(default = "one")]
        scale: f64,
        interval_s: Option<f64>,
        api_key_header: Option<String>,
        api_key: Option<ApiKey>,
    },
}

fn one() -> f64 {
    1.0
}

/// `from <= local time < to` (`"HH:MM"`); `to` before `from` wraps midnight.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub from: String,
    pub to: String,
    pub usd_per_kwh: f64,
}

/// A site's price at an instant, as served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TariffQuote {
    pub site: String,
    pub kind: &'static str,
    pub usd_per_kwh: Option<f64>,
    /// Why there is no price (`usd_per_kwh` null), or what it is from.
    pub note: Option<String>,
    /// Feeds: seconds since the value was fetched.
    pub age_s: Option<u64>,
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60)
        .then_some(h * 60 + m)
        .or((h == 24 && m == 0).then_some(1440))
}

fn price_ok(p: f64) -> bool {
    p.is_finite() && (0.0..=10.0).contains(&p)
}

impl TariffConfig {
    /// Refuses what cannot work, naming `sites.SITE.tariff.KEY`.
    pub fn check(&self, site: &str) -> Result<(), String> {
        let at = |k: &str| format!("sites.{site}.tariff.{k}");
        match self {
            TariffConfig::Flat { usd_per_kwh } if !price_ok(*usd_per_kwh) => Err(format!(
                "{}: {usd_per_kwh} is not a price in 0..=10 USD/kWh",
                at("usd_per_kwh")
            )),
            TariffConfig::TimeOfDay {
                periods,
                default_usd_per_kwh,
                utc_offset_min,
            } => {
                if utc_offset_min.abs() > 14 * 60 {
                    return Err(format!(
                        "{}: {utc_offset_min} is beyond +-14 h",
                        at("utc_offset_min")
                    ));
                }
                if default_usd_per_kwh.is_some_and(|p| !price_ok(p)) {
                    return Err(format!(
                        "{}: not a price in 0..=10 USD/kWh",
                        at("default_usd_per_kwh")
                    ));
                }
                if periods.is_empty() {
                    return Err(format!("{}: at least one period", at("periods")));
                }
                for (i, p) in periods.iter().enumerate() {
                    if minutes(&p.from).is_none() || minutes(&p.to).is_none() {
                        return Err(format!(
                            "{}: from/to must be HH:MM, got {:?}..{:?}",
                            at(&format!("periods[{i}]")),
                            p.from,
                            p.to
                        ));
                    }
                    if !price_ok(p.usd_per_kwh) {
                        return Err(format!(
                            "{}: not a price in 0..=10 USD/kWh",
                            at(&format!("periods[{i}].usd_per_kwh"))
                        ));
                    }
                }
                Ok(())
            }
            TariffConfig::Feed {
                url,
                json_path,
                scale,
                interval_s,
                ..
            } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!("{}: must start with http:// or https://", at("url")));
                }
                if json_path.is_empty() {
                    return Err(format!("{}: empty", at("json_path")));
                }
                if !(scale.is_finite() && *scale > 0.0) {
                    return Err(format!("{}: must be above 0", at("scale")));
                }
                if interval_s.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
                    return Err(format!("{}: must be above 0", at("interval_s")));
                }
                Ok(())
            }
            TariffConfig::Flat { .. } => Ok(()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TariffConfig::Flat { .. } => "flat",
            TariffConfig::TimeOfDay { .. } => "time_of_day",
            TariffConfig::Feed { .. } => "feed",
        }
    }
}

/// The price of a flat or time-of-day tariff at `ms` (UTC); `Err` says why there is none.
/// Feeds are not priced here (see [`TariffFeed`]).
pub fn price_at(t: &TariffConfig, ms: u64) -> Result<f64, String> {
    match t {
        TariffConfig::Flat { usd_per_kwh } => Ok(*usd_per_kwh),
        TariffConfig::TimeOfDay {
            utc_offset_min,
            default_usd_per_kwh,
            periods,
        } => {
            let utc_min = (ms / 60_000 % 1440) as i64;
            let local = (utc_min + i64::from(*utc_offset_min)).rem_euclid(1440) as u32;
            for p in periods {
                let (Some(from), Some(to)) = (minutes(&p.from), minutes(&p.to)) else {
                    continue;
                };
                let inside = if from <= to {
                    (from..to).contains(&local)
                } else {
                    local >= from || local < to
                };
                if inside {
                    return Ok(p.usd_per_kwh);
                }
            }
            default_usd_per_kwh.ok_or_else(|| {
                format!(
                    "{:02}:{:02} local is in no period and there is no default_usd_per_kwh",
                    local / 60,
                    local % 60
                )
            })
        }
        TariffConfig::Feed { .. } => Err("a feed tariff is priced by its feed".into()),
    }
}

/// Follows `path` (`a.0.b`) into `v` and reads a number (or a numeric string).
pub fn at_path(v: &serde_json::Value, path: &str) -> Result<f64, String> {
    let mut cur = v;
    for seg in path.split('.') {
        cur = match cur {
            serde_json::Value::Object(m) => m.get(seg),
            serde_json::Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("json_path {path:?}: nothing at {seg:?}"))?;
    }
    match cur {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
    .ok_or_else(|| format!("json_path {path:?}: not a number"))
}

/// A site's price feed as a poll source (name `tariff`; one job per site).
pub struct TariffFeed {
    http: HttpClient,
    feeds: Vec<(String, TariffConfig)>,
}

/// Seconds between feed polls by default (seed 002 has no tariff cadence; prices move hourly).
pub const FEED_INTERVAL_S: u64 = 900;

impl TariffFeed {
    /// `None` when no site has a feed.
    pub fn new(sites: &BTreeMap<String, SiteConfig>, http: HttpClient) -> Option<TariffFeed> {
        let feeds: Vec<(String, TariffConfig)> = sites
            .iter()
            .filter_map(|(n, s)| s.tariff.clone().map(|t| (n.clone(), t)))
            .filter(|(_, t)| matches!(t, TariffConfig::Feed { .. }))
            .collect();
        (!feeds.is_empty()).then_some(TariffFeed { http, feeds })
    }
}

impl PollSource for TariffFeed {
    fn name(&self) -> &'static str {
        "tariff"
    }

    fn jobs(&self) -> Vec<JobSpec> {
        self.feeds
            .iter()
            .map(|(site, t)| {
                let interval = match t {
                    TariffConfig::Feed {
                        interval_s: Some(s), ..
                    } => secs(*s),
                    _ => Duration::from_secs(FEED_INTERVAL_S),
                };
                JobSpec {
                    // Job names are static (checkpoint keys); sites are few and fixed per process.
                    name: Box::leak(format!("feed:{site}").into_boxed_str()),
                    interval,
                    expected_cost: 1,
                }
            })
            .collect()
    }

    fn limits(&self) -> Limits {
        Limits {
            per_minute: 60,
            monthly_quota: None,
            timeout: Duration::from_secs(10),
        }
    }

    fn poll<'a>(
        &'a mut self,
        job: usize,
        _cursor: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Polled, SourceError>> {
        Box::pin(async move {
            let Some((
                site,
                TariffConfig::Feed {
                    url,
                    json_path,
                    scale,
                    api_key_header,
                    api_key,
                    ..
                },
            )) = self.feeds.get(job)
            else {
                return Err(SourceError::Decode("no such feed".into()));
            };
            let body = match (api_key_header, api_key) {
                (Some(h), Some(k)) => self.http.get_ok(url, &[(h.as_str(), k.expose())]).await?,
                _ => self.http.get_ok(url, &[]).await?,
            };
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| SourceError::Decode(format!("tariff feed of {site}: {e}")))?;
            let price = at_path(&v, json_path)
                .map_err(|e| SourceError::Decode(format!("tariff feed of {site}: {e}")))?
                * scale;
            if !price_ok(price) {
                return Err(SourceError::Decode(format!(
                    "tariff feed of {site}: {price} USD/kWh is not a plausible price"
                )));
            }
            Ok(Polled {
                observations: vec![super::source::Observation::Tariff {
                    site: site.clone(),
                    usd_per_kwh: price,
                    at_ms: now_ms,
                }],
                cost: 1,
                cursor: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tod() -> TariffConfig {
        toml::from_str(
            r#"kind = "time_of_day"
               utc_offset_min = 60
               periods = [ { from = "07:00", to = "23:00", usd_per_kwh = 0.20 },
                           { from = "23:00", to = "01:00", usd_per_kwh = 0.08 } ]"#,
        )
        .expect("parses")
    }

    #[test]
    fn time_of_day_finds_the_period_in_local_time_and_wraps_midnight() {
        let t = tod();
        assert_eq!(t.check("barn"), Ok(()));
        let h = |hh: u64, mm: u64| (hh * 60 + mm) * 60_000;
        // 06:30 UTC is 07:30 local: day rate.
        assert_eq!(price_at(&t, h(6, 30)), Ok(0.20));
        // 22:30 UTC is 23:30 local: the night period across midnight.
        assert_eq!(price_at(&t, h(22, 30)), Ok(0.08));
        // 01:30 UTC is 02:30 local: no period, no default.
        assert_eq!(
            price_at(&t, h(1, 30)),
            Err("02:30 local is in no period and there is no default_usd_per_kwh".into())
        );
        let flat: TariffConfig = toml::from_str("kind = \"flat\"\nusd_per_kwh = 0.05").expect("flat");
        assert_eq!(price_at(&flat, 0), Ok(0.05));
    }

    #[test]
    fn bad_tariffs_are_refused_by_key_and_json_paths_resolve() {
        let bad: TariffConfig = toml::from_str("kind = \"flat\"\nusd_per_kwh = -1.0").expect("parses");
        assert!(bad
            .check("barn")
            .expect_err("negative")
            .starts_with("sites.barn.tariff.usd_per_kwh"));
        let bad: TariffConfig = toml::from_str(
            "kind = \"time_of_day\"\nperiods = [ { from = \"7am\", to = \"23:00\", usd_per_kwh = 0.2 } ]",
        )
        .expect("parses");
        assert!(bad.check("barn").expect_err("hh:mm").contains("periods[0]"));
        assert!(toml::from_str::<TariffConfig>("kind = \"flat\"\nprice = 1").is_err());
        let v = serde_json::json!({"data": [{"price": "123.4"}], "n": 5});
        assert_eq!(at_path(&v, "data.0.price"), Ok(123.4));
        assert_eq!(at_path(&v, "n"), Ok(5.0));
        assert!(at_path(&v, "data.1.price")
            .expect_err("missing")
            .contains("\"1\""));
    }
}

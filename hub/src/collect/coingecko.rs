//! CoinGecko (`/api/v3`): `simple_price` (price usd/btc, market cap, 24 h volume and change),
//! `markets` (`/coins/markets`: adds 1 h and 7 d change) and `market_chart` (daily history per
//! coin, fetched from the last stored day on: the job's cursor).
//!
//! Keyless by default; a key goes in `x-cg-demo-api-key` (plan `demo`) or `x-cg-pro-api-key`
//! (plan `pro`, base `https://pro-api.coingecko.com/api/v3`). Defaults follow seed 002 §10.3 for
//! keyless use; the demo plan's 10 000 calls a month cannot hold them, so its defaults are slower.
//!
//! Must never accept an answer that lacks the coins' prices as a success: a changed schema is a
//! `decode` error, so the other source takes over.

use super::coins::CoinRow;
use super::config::{ApiKey, SourceConfig};
use super::dates::{day_start, DAY_MS};
use super::http::HttpClient;
use super::market::{blank, finite, sane};
use super::source::{BoxFuture, JobSpec, Limits, Observation, PollSource, Polled, SourceError};
use hashward_protocol::market::DailyPoint;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

pub const NAME: &str = "coingecko";
pub const JOBS: [&str; 3] = ["simple_price", "markets", "market_chart"];
const PUBLIC_BASE: &str = "https://api.coingecko.com/api/v3";
const PRO_BASE: &str = "https://pro-api.coingecko.com/api/v3";
/// The longest history asked for on a first start (days).
pub const HISTORY_DAYS: u64 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Keyless,
    Demo,
    Pro,
}

pub struct CoinGecko {
    http: HttpClient,
    base: String,
    key: Option<ApiKey>,
    plan: Plan,
    coins: Vec<&'static CoinRow>,
    jobs: Vec<JobSpec>,
    limits: Limits,
}

impl CoinGecko {
    pub fn new(
        cfg: &SourceConfig,
        coins: Vec<&'static CoinRow>,
        http: HttpClient,
    ) -> Result<CoinGecko, String> {
        cfg.check(NAME, &JOBS)?;
        let plan = match (cfg.plan.as_deref(), &cfg.api_key) {
            (None, None) | (Some("keyless"), None) => Plan::Keyless,
            (None | Some("demo"), Some(_)) => Plan::Demo,
            (Some("pro"), Some(_)) => Plan::Pro,
            (Some(p @ ("demo" | "pro")), None) => {
                return Err(format!("collect.coingecko: plan {p:?} needs an api_key"))
            }
            (Some("keyless"), Some(_)) => {
                return Err("collect.coingecko: plan \"keyless\" with an api_key".into())
            }
            (Some(p), _) => {
                return Err(format!(
                    "collect.coingecko.plan: {p:?} is not keyless, demo or pro"
                ))
            }
        };
        // (simple_price, markets, market_chart) seconds; per_minute; monthly quota.
        let (defaults, per_minute, quota) = match plan {
            Plan::Keyless => ([300, 900, 3600], 10, None),
            Plan::Demo => ([600, 1800, 21_600], 30, Some(10_000)),
            Plan::Pro => ([300, 900, 3600], 500, Some(500_000)),
        };
        let n = coins.len() as u64;
        let jobs = JOBS
            .iter()
            .zip(defaults)
            .map(|(name, d)| JobSpec {
                name,
                interval: cfg.interval(name, Duration::from_secs(d)),
                expected_cost: if *name == "market_chart" { n } else { 1 },
            })
            .collect();
        let base = cfg
            .base_url
            .clone()
            .unwrap_or_else(|| if plan == Plan::Pro { PRO_BASE } else { PUBLIC_BASE }.to_string());
        Ok(CoinGecko {
            http,
            base: base.trim_end_matches('/').to_string(),
            key: cfg.api_key.clone(),
            plan,
            coins,
            jobs,
            limits: Limits {
                per_minute: cfg.per_minute.unwrap_or(per_minute),
                monthly_quota: cfg.monthly_quota.or(quota),
                timeout: cfg.timeout(),
            },
        })
    }

    async fn get(&self, path_and_query: &str) -> Result<bytes::Bytes, SourceError> {
        let url = format!("{}{path_and_query}", self.base);
        let header = match self.plan {
            Plan::Keyless => None,
            Plan::Demo => Some("x-cg-demo-api-key"),
            Plan::Pro => Some("x-cg-pro-api-key"),
        };
        match (header, &self.key) {
            (Some(h), Some(k)) => self.http.get_ok(&url, &[(h, k.expose())]).await,
            _ => self.http.get_ok(&url, &[]).await,
        }
    }

    fn ids(&self) -> String {
        self.coins.iter().map(|c| c.id).collect::<Vec<_>>().join(",")
    }

    async fn simple_price(&self, now_ms: u64) -> Result<Polled, SourceError> {
        let body = self
            .get(&format!(
                "/simple/price?ids={}&vs_currencies=usd,btc&include_market_cap=true&include_24hr_vol=true&include_24hr_change=true&include_last_updated_at=true",
                self.ids()
            ))
            .await?;
        let observations = parse_simple_price(&body, &self.coins, now_ms)?;
        Ok(Polled {
            observations,
            cost: 1,
            cursor: None,
        })
    }

    async fn markets(&self, now_ms: u64) -> Result<Polled, SourceError> {
        let body = self
            .get(&format!(
                "/coins/markets?vs_currency=usd&ids={}&order=market_cap_desc&per_page=250&page=1&sparkline=false&price_change_percentage=1h,24h,7d",
                self.ids()
            ))
            .await?;
        Ok(Polled {
            observations: parse_markets(&body, &self.coins, now_ms)?,
            cost: 1,
            cursor: None,
        })
    }

    async fn market_chart(&self, cursor: Option<u64>, now_ms: u64) -> Result<Polled, SourceError> {
        let days = history_days(cursor, now_ms);
        let mut observations = Vec::new();
        let mut newest = cursor;
        let mut cost = 0;
        for coin in &self.coins {
            let body = self
                .get(&format!(
                    "/coins/{}/market_chart?vs_currency=usd&days={days}&interval=daily",
                    coin.id
                ))
                .await?;
            cost += 1;
            let points = parse_market_chart(&body, now_ms)?;
            if let Some(last) = points.last() {
                newest = Some(
                    newest
                        .map_or(last.day_ms, |n| n.min(last.day_ms))
                        .max(cursor.unwrap_or(0)),
                );
            }
            observations.push(Observation::MarketDaily {
                coin: coin.id.to_string(),
                points,
            });
        }
        Ok(Polled {
            observations,
            cost,
            cursor: newest,
        })
    }
}

/// Days of history to ask for: everything up to [`HISTORY_DAYS`] on a first run, else from the
/// newest stored day on (it is asked again: its close was not final when it was fetched).
pub fn history_days(cursor: Option<u64>, now_ms: u64) -> u64 {
    match cursor {
        None => HISTORY_DAYS,
        Some(c) => (day_start(now_ms).saturating_sub(c) / DAY_MS + 1).clamp(1, HISTORY_DAYS),
    }
}

impl PollSource for CoinGecko {
    fn name(&self) -> &'static str {
        NAME
    }

    fn jobs(&self) -> Vec<JobSpec> {
        self.jobs.clone()
    }

    fn limits(&self) -> Limits {
        self.limits.clone()
    }

    fn poll<'a>(
        &'a mut self,
        job: usize,
        cursor: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Polled, SourceError>> {
        Box::pin(async move {
            match job {
                0 => self.simple_price(now_ms).await,
                1 => self.markets(now_ms).await,
                _ => self.market_chart(cursor, now_ms).await,
            }
        })
    }
}

#[derive(Deserialize)]
struct SimplePrice {
    usd: Option<f64>,
    btc: Option<f64>,
    usd_market_cap: Option<f64>,
    btc_market_cap: Option<f64>,
    usd_24h_vol: Option<f64>,
    btc_24h_vol: Option<f64>,
    usd_24h_change: Option<f64>,
    last_updated_at: Option<u64>,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|e| SourceError::Decode(format!("{what}: {e}")))
}

/// `/simple/price`: `{id: {usd, btc, usd_market_cap, ...}}`. Every coin asked for must be there
/// with a USD price.
pub fn parse_simple_price(
    body: &[u8],
    coins: &[&'static CoinRow],
    now_ms: u64,
) -> Result<Vec<Observation>, SourceError> {
    let map: HashMap<String, SimplePrice> = decode("simple/price", body)?;
    let mut out = Vec::new();
    for coin in coins {
        let p = map
            .get(coin.id)
            .ok_or_else(|| SourceError::Decode(format!("simple/price: no entry for {}", coin.id)))?;
        let usd = sane(p.usd)
            .ok_or_else(|| SourceError::Decode(format!("simple/price: {} has no usd price", coin.id)))?;
        let ts = p
            .last_updated_at
            .map_or(now_ms, |s| s.saturating_mul(1000).min(now_ms));
        let mut d = blank(coin, NAME, ts, now_ms);
        d.price.usd = Some(usd);
        d.price.btc = sane(p.btc);
        d.market_cap.usd = sane(p.usd_market_cap);
        d.market_cap.btc = sane(p.btc_market_cap);
        d.volume_24h.usd = sane(p.usd_24h_vol);
        d.volume_24h.btc = sane(p.btc_24h_vol);
        d.price_change.percent_24h = finite(p.usd_24h_change);
        out.push(Observation::Market(Box::new(d)));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct MarketRow {
    id: String,
    current_price: Option<f64>,
    market_cap: Option<f64>,
    total_volume: Option<f64>,
    price_change_percentage_24h: Option<f64>,
    price_change_percentage_1h_in_currency: Option<f64>,
    price_change_percentage_7d_in_currency: Option<f64>,
    last_updated: Option<String>,
}

/// `/coins/markets`: an array of rows; the coins asked for must be there with a price.
pub fn parse_markets(
    body: &[u8],
    coins: &[&'static CoinRow],
    now_ms: u64,
) -> Result<Vec<Observation>, SourceError> {
    let rows: Vec<MarketRow> = decode("coins/markets", body)?;
    let mut out = Vec::new();
    for coin in coins {
        let r = rows
            .iter()
            .find(|r| r.id == coin.id)
            .ok_or_else(|| SourceError::Decode(format!("coins/markets: no row for {}", coin.id)))?;
        let usd = sane(r.current_price)
            .ok_or_else(|| SourceError::Decode(format!("coins/markets: {} has no current_price", coin.id)))?;
        let ts = r
            .last_updated
            .as_deref()
            .and_then(super::dates::parse_iso)
            .map_or(now_ms, |t| t.min(now_ms));
        let mut d = blank(coin, NAME, ts, now_ms);
        d.price.usd = Some(usd);
        d.market_cap.usd = sane(r.market_cap);
        d.volume_24h.usd = sane(r.total_volume);
        d.price_change.percent_1h = finite(r.price_change_percentage_1h_in_currency);
        d.price_change.percent_24h = finite(r.price_change_percentage_24h);
        d.price_change.percent_7d = finite(r.price_change_percentage_7d_in_currency);
        out.push(Observation::Market(Box::new(d)));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Chart {
    prices: Vec<(f64, f64)>,
    market_caps: Option<Vec<(f64, f64)>>,
    total_volumes: Option<Vec<(f64, f64)>>,
}

/// `/coins/{id}/market_chart`: `{prices: [[ms, usd]], market_caps, total_volumes}` to one point
/// per UTC day (the day's last point; today's is provisional and refetched next time).
pub fn parse_market_chart(body: &[u8], now_ms: u64) -> Result<Vec<DailyPoint>, SourceError> {
    let c: Chart = decode("market_chart", body)?;
    let by_day = |series: &[(f64, f64)]| -> HashMap<u64, f64> {
        series
            .iter()
            .filter(|(t, v)| t.is_finite() && *t >= 0.0 && v.is_finite() && *v >= 0.0)
            .map(|(t, v)| (day_start(*t as u64), *v))
            .collect()
    };
    let caps = by_day(c.market_caps.as_deref().unwrap_or(&[]));
    let vols = by_day(c.total_volumes.as_deref().unwrap_or(&[]));
    let mut days: Vec<(u64, f64)> = by_day(&c.prices)
        .into_iter()
        .filter(|(d, _)| *d <= now_ms)
        .collect();
    days.sort_by_key(|p| p.0);
    if days.is_empty() && !c.prices.is_empty() {
        return Err(SourceError::Decode("market_chart: no usable price point".into()));
    }
    Ok(days
        .into_iter()
        .map(|(day_ms, price_usd)| DailyPoint {
            day_ms,
            price_usd,
            market_cap_usd: caps.get(&day_ms).copied(),
            volume_usd: vols.get(&day_ms).copied(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::coins::lookup;

    fn coins() -> Vec<&'static CoinRow> {
        vec![lookup("bitcoin").expect("btc"), lookup("dogecoin").expect("doge")]
    }

    #[test]
    fn simple_price_maps_the_recorded_shape_and_refuses_a_changed_one() {
        let body = br#"{"bitcoin":{"usd":97123.5,"btc":1.0,"usd_market_cap":1.92e12,"btc_market_cap":19790000,"usd_24h_vol":3.1e10,"btc_24h_vol":320000,"usd_24h_change":-1.25,"last_updated_at":1764663000},
                        "dogecoin":{"usd":0.3812,"btc":3.925e-6,"usd_market_cap":5.6e10,"usd_24h_vol":2.2e9,"usd_24h_change":4.5,"last_updated_at":1764663010}}"#;
        let obs = parse_simple_price(body, &coins(), 1_764_663_473_000).expect("parses");
        let Observation::Market(doge) = &obs[1] else {
            panic!("market")
        };
        assert_eq!(doge.coin.symbol, "DOGE");
        assert_eq!((doge.price.usd, doge.price.btc), (Some(0.3812), Some(3.925e-6)));
        assert_eq!(doge.market_cap.btc, None);
        assert_eq!(doge.timestamp_ms, 1_764_663_010_000);
        assert_eq!(doge.mining_metrics.mining_algorithm.as_deref(), Some("scrypt"));
        // A renamed field (the price moved under "price") is a decode error naming the coin.
        let changed = br#"{"bitcoin":{"price":97123.5},"dogecoin":{"price":0.38}}"#;
        let e = parse_simple_price(changed, &coins(), 0).expect_err("changed schema");
        assert_eq!(
            e.to_string(),
            "unexpected response: simple/price: bitcoin has no usd price"
        );
        assert!(matches!(
            parse_simple_price(b"<html>", &coins(), 0),
            Err(SourceError::Decode(_))
        ));
    }

    #[test]
    fn markets_and_chart_map_their_shapes() {
        let body = br#"[{"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":97000,"market_cap":1.9e12,"total_volume":3e10,"price_change_percentage_24h":-1.2,"price_change_percentage_1h_in_currency":0.1,"price_change_percentage_7d_in_currency":5.5},
                        {"id":"dogecoin","symbol":"doge","name":"Dogecoin","current_price":0.38,"market_cap":5.6e10,"total_volume":2e9,"price_change_percentage_24h":4.5,"price_change_percentage_1h_in_currency":null,"price_change_percentage_7d_in_currency":-3}]"#;
        let obs = parse_markets(body, &coins(), 5).expect("parses");
        let Observation::Market(btc) = &obs[0] else {
            panic!("market")
        };
        assert_eq!(btc.price_change.percent_7d, Some(5.5));
        let Observation::Market(doge) = &obs[1] else {
            panic!("market")
        };
        assert_eq!(doge.price_change.percent_1h, None);
        let chart = br#"{"prices":[[1764547200000,95000.0],[1764633600000,96000.0],[1764663000000,97000.0]],
                         "market_caps":[[1764547200000,1.8e12]],"total_volumes":[]}"#;
        let pts = parse_market_chart(chart, 1_764_663_473_000).expect("parses");
        assert_eq!(pts.len(), 2);
        assert_eq!(
            (pts[0].day_ms, pts[0].price_usd, pts[0].market_cap_usd),
            (1_764_547_200_000, 95000.0, Some(1.8e12))
        );
        // The day's last point wins: today's close so far.
        assert_eq!((pts[1].day_ms, pts[1].price_usd), (1_764_633_600_000, 97000.0));
        assert!(parse_market_chart(br#"{"data":[]}"#, 0).is_err());
    }

    #[test]
    fn history_is_fetched_from_the_newest_stored_day_on() {
        let now = 1_764_663_473_000;
        assert_eq!(history_days(None, now), 365);
        assert_eq!(history_days(Some(day_start(now)), now), 1);
        assert_eq!(history_days(Some(day_start(now) - 3 * DAY_MS), now), 4);
        assert_eq!(history_days(Some(0), now), 365);
    }

    #[test]
    fn plans_pick_defaults_and_a_demo_key_fits_its_quota() {
        let http = HttpClient::new().expect("tls");
        let keyless = CoinGecko::new(&SourceConfig::default(), coins(), http.clone()).expect("keyless");
        assert_eq!(keyless.jobs[0].interval, Duration::from_secs(300));
        assert_eq!(keyless.limits.monthly_quota, None);
        let demo = SourceConfig {
            api_key: Some(ApiKey::new("CG-x")),
            ..SourceConfig::default()
        };
        let demo = CoinGecko::new(&demo, coins(), http.clone()).expect("demo");
        let used = crate::collect::policy::check_budget(NAME, &demo.jobs, demo.limits.monthly_quota, "calls")
            .expect("fits");
        assert!(used <= 10_000, "{used}");
        let bad = SourceConfig {
            plan: Some("pro".into()),
            ..SourceConfig::default()
        };
        assert!(CoinGecko::new(&bad, coins(), http).is_err());
    }
}

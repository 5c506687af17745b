//! CoinMarketCap (`/v1`, key in `X-CMC_PRO_API_KEY`, required): `quotes` (the followed coins by
//! CMC id, `/cryptocurrency/quotes/latest`), `listings` (`/cryptocurrency/listings/latest`, the
//! top 100 by market cap, seed 002 §10.3) and `global_metrics` (`/global-metrics/quotes/latest`).
//! Credits spent are read from each answer's `status.credit_count`; the free (basic) plan has
//! 10 000 a month and 30 requests a minute.
//!
//! BTC prices: the free plan converts to one currency, so `price.btc` is the coin's USD price over
//! bitcoin's USD price from the same answer (bitcoin is always asked for).
//!
//! Must never treat a `status.error_code` other than 0 as a success.

use super::coins::CoinRow;
use super::config::{ApiKey, SourceConfig};
use super::dates::rfc3339;
use super::http::HttpClient;
use super::market::{blank, finite, sane};
use super::source::{BoxFuture, JobSpec, Limits, Observation, PollSource, Polled, SourceError};
use hashward_protocol::market::{GlobalMarket, MarketData};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

pub const NAME: &str = "coinmarketcap";
pub const JOBS: [&str; 3] = ["quotes", "listings", "global_metrics"];
const BASE: &str = "https://pro-api.coinmarketcap.com/v1";

pub struct CoinMarketCap {
    http: HttpClient,
    base: String,
    key: ApiKey,
    coins: Vec<&'static CoinRow>,
    jobs: Vec<JobSpec>,
    limits: Limits,
}

impl CoinMarketCap {
    /// `Ok(None)` without a key: every CoinMarketCap endpoint needs one, so the source is off.
    pub fn new(
        cfg: &SourceConfig,
        coins: Vec<&'static CoinRow>,
        http: HttpClient,
    ) -> Result<Option<CoinMarketCap>, String> {
        cfg.check(NAME, &JOBS)?;
        let Some(key) = cfg.api_key.clone() else {
            return Ok(None);
        };
        let (per_minute, quota) = match cfg.plan.as_deref().unwrap_or("basic") {
            "basic" | "free" => (30, 10_000),
            "hobbyist" => (30, 110_000),
            "startup" => (30, 300_000),
            "standard" => (60, 1_200_000),
            p => {
                return Err(format!(
                    "collect.coinmarketcap.plan: {p:?} is not basic, hobbyist, startup or standard"
                ))
            }
        };
        let mut coins = coins;
        if let Some(btc) = super::coins::lookup("bitcoin") {
            if !coins.iter().any(|c| c.id == "bitcoin") {
                coins.push(btc);
            }
        }
        let defaults = [900, 900, 3600];
        let jobs = JOBS
            .iter()
            .zip(defaults)
            .map(|(name, d)| JobSpec {
                name,
                interval: cfg.interval(name, Duration::from_secs(d)),
                expected_cost: 1,
            })
            .collect();
        Ok(Some(CoinMarketCap {
            http,
            base: cfg
                .base_url
                .clone()
                .unwrap_or_else(|| BASE.into())
                .trim_end_matches('/')
                .to_string(),
            key,
            coins,
            jobs,
            limits: Limits {
                per_minute: cfg.per_minute.unwrap_or(per_minute),
                monthly_quota: Some(cfg.monthly_quota.unwrap_or(quota)),
                timeout: cfg.timeout(),
            },
        }))
    }

    async fn get(&self, path_and_query: &str) -> Result<bytes::Bytes, SourceError> {
        let url = format!("{}{path_and_query}", self.base);
        self.http
            .get_ok(&url, &[("X-CMC_PRO_API_KEY", self.key.expose())])
            .await
    }
}

impl PollSource for CoinMarketCap {
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
        _cursor: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Polled, SourceError>> {
        Box::pin(async move {
            match job {
                0 => {
                    let ids: Vec<String> = self.coins.iter().map(|c| c.cmc_id.to_string()).collect();
                    let body = self
                        .get(&format!(
                            "/cryptocurrency/quotes/latest?id={}&convert=USD",
                            ids.join(",")
                        ))
                        .await?;
                    parse_quotes(&body, &self.coins, now_ms)
                }
                1 => {
                    let body = self
                        .get("/cryptocurrency/listings/latest?start=1&limit=100&convert=USD")
                        .await?;
                    parse_listings(&body, &self.coins, now_ms)
                }
                _ => {
                    let body = self.get("/global-metrics/quotes/latest?convert=USD").await?;
                    parse_global(&body, now_ms)
                }
            }
        })
    }
}

#[derive(Deserialize)]
struct Status {
    error_code: Option<i64>,
    error_message: Option<String>,
    credit_count: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: Status,
    data: Option<T>,
}

#[derive(Deserialize)]
struct Listing {
    id: u64,
    quote: HashMap<String, UsdQuote>,
}

#[derive(Deserialize)]
struct UsdQuote {
    price: Option<f64>,
    volume_24h: Option<f64>,
    percent_change_1h: Option<f64>,
    percent_change_24h: Option<f64>,
    percent_change_7d: Option<f64>,
    market_cap: Option<f64>,
    last_updated: Option<String>,
}

/// The envelope's data, or the service's own error; the credits the call cost.
fn open<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<(T, u64), SourceError> {
    let env: Envelope<T> =
        serde_json::from_slice(body).map_err(|e| SourceError::Decode(format!("{what}: {e}")))?;
    let code = env.status.error_code.unwrap_or(0);
    if code != 0 {
        return Err(SourceError::Api(format!(
            "{what}: error_code {code}: {}",
            env.status.error_message.unwrap_or_default()
        )));
    }
    let data = env
        .data
        .ok_or_else(|| SourceError::Decode(format!("{what}: no data")))?;
    Ok((data, env.status.credit_count.unwrap_or(1)))
}

fn to_records(
    rows: Vec<Listing>,
    coins: &[&'static CoinRow],
    now_ms: u64,
    what: &str,
    need_all: bool,
) -> Result<Vec<Observation>, SourceError> {
    let mut by_id: HashMap<u64, UsdQuote> = HashMap::new();
    for mut r in rows {
        if let Some(q) = r.quote.remove("USD") {
            by_id.insert(r.id, q);
        }
    }
    let btc_usd = by_id.get(&1).and_then(|q| sane(q.price));
    let mut out = Vec::new();
    for coin in coins {
        let Some(q) = by_id.get(&u64::from(coin.cmc_id)) else {
            if need_all {
                return Err(SourceError::Decode(format!(
                    "{what}: no quote for {}",
                    coin.symbol
                )));
            }
            continue;
        };
        let usd = sane(q.price)
            .ok_or_else(|| SourceError::Decode(format!("{what}: {} has no USD price", coin.symbol)))?;
        let mut d: MarketData = blank(coin, NAME, now_ms, now_ms);
        if let Some(ts) = q.last_updated.as_deref().and_then(super::dates::parse_iso) {
            d.timestamp_ms = ts.min(now_ms);
            d.timestamp = rfc3339(d.timestamp_ms);
        }
        d.price.usd = Some(usd);
        d.price.btc = btc_usd.filter(|b| *b > 0.0).map(|b| usd / b);
        d.market_cap.usd = sane(q.market_cap);
        d.volume_24h.usd = sane(q.volume_24h);
        d.price_change.percent_1h = finite(q.percent_change_1h);
        d.price_change.percent_24h = finite(q.percent_change_24h);
        d.price_change.percent_7d = finite(q.percent_change_7d);
        out.push(Observation::Market(Box::new(d)));
    }
    Ok(out)
}

/// `quotes/latest?id=1,2,74`: `data` is an object keyed by id; every coin must be there.
pub fn parse_quotes(body: &[u8], coins: &[&'static CoinRow], now_ms: u64) -> Result<Polled, SourceError> {
    let (data, credits): (HashMap<String, Listing>, u64) = open("quotes/latest", body)?;
    let observations = to_records(data.into_values().collect(), coins, now_ms, "quotes/latest", true)?;
    Ok(Polled {
        observations,
        cost: credits,
        cursor: None,
    })
}

/// `listings/latest`: `data` is an array; followed coins outside the top 100 are skipped.
pub fn parse_listings(body: &[u8], coins: &[&'static CoinRow], now_ms: u64) -> Result<Polled, SourceError> {
    let (data, credits): (Vec<Listing>, u64) = open("listings/latest", body)?;
    let observations = to_records(data, coins, now_ms, "listings/latest", false)?;
    Ok(Polled {
        observations,
        cost: credits,
        cursor: None,
    })
}

#[derive(Deserialize)]
struct Global {
    btc_dominance: Option<f64>,
    active_cryptocurrencies: Option<u64>,
    quote: HashMap<String, GlobalQuote>,
}

#[derive(Deserialize)]
struct GlobalQuote {
    total_market_cap: Option<f64>,
    total_volume_24h: Option<f64>,
}

pub fn parse_global(body: &[u8], now_ms: u64) -> Result<Polled, SourceError> {
    let (g, credits): (Global, u64) = open("global-metrics/quotes/latest", body)?;
    let usd = g
        .quote
        .get("USD")
        .ok_or_else(|| SourceError::Decode("global-metrics/quotes/latest: no USD quote".into()))?;
    Ok(Polled {
        observations: vec![Observation::GlobalMarket(GlobalMarket {
            timestamp: rfc3339(now_ms),
            timestamp_ms: now_ms,
            source: NAME.into(),
            total_market_cap_usd: sane(usd.total_market_cap),
            total_volume_24h_usd: sane(usd.total_volume_24h),
            btc_dominance_pct: sane(g.btc_dominance),
            active_cryptocurrencies: g.active_cryptocurrencies,
        })],
        cost: credits,
        cursor: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::coins::lookup;

    fn coins() -> Vec<&'static CoinRow> {
        vec![lookup("bitcoin").expect("btc"), lookup("litecoin").expect("ltc")]
    }

    const QUOTES: &[u8] = br#"{"status":{"timestamp":"2026-12-02T08:15:00.000Z","error_code":0,"error_message":null,"elapsed":10,"credit_count":1},
      "data":{"1":{"id":1,"name":"Bitcoin","symbol":"BTC","slug":"bitcoin","cmc_rank":1,"quote":{"USD":{"price":100000.0,"volume_24h":3.0e10,"percent_change_1h":0.2,"percent_change_24h":-1.0,"percent_change_7d":4.0,"market_cap":1.98e12,"last_updated":"2026-12-02T08:14:00.000Z"}}},
              "2":{"id":2,"name":"Litecoin","symbol":"LTC","slug":"litecoin","cmc_rank":20,"quote":{"USD":{"price":120.0,"volume_24h":9.0e8,"percent_change_1h":null,"percent_change_24h":2.0,"percent_change_7d":-5.0,"market_cap":9.0e9,"last_updated":"2026-12-02T08:13:00.000Z"}}}}}"#;

    #[test]
    fn quotes_map_by_cmc_id_with_btc_from_bitcoin_and_credits_counted() {
        let p = parse_quotes(QUOTES, &coins(), u64::MAX / 2).expect("parses");
        assert_eq!(p.cost, 1);
        let Observation::Market(ltc) = &p.observations[1] else {
            panic!("market")
        };
        assert_eq!(ltc.coin.id, "litecoin");
        assert_eq!(ltc.price.btc, Some(0.0012));
        assert_eq!(ltc.price_change.percent_1h, None);
        assert_eq!(ltc.timestamp, "2026-12-02T08:13:00Z");
    }

    #[test]
    fn a_service_error_or_missing_coin_is_an_error_not_a_value() {
        let refused =
            br#"{"status":{"error_code":1002,"error_message":"API key missing.","credit_count":0}}"#;
        let e = parse_quotes(refused, &coins(), 0).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "service error: quotes/latest: error_code 1002: API key missing."
        );
        let partial = br#"{"status":{"error_code":0,"credit_count":1},"data":{"1":{"id":1,"quote":{"USD":{"price":1.0}}}}}"#;
        assert!(matches!(
            parse_quotes(partial, &coins(), 0),
            Err(SourceError::Decode(_))
        ));
        // Listings skip followed coins outside the top 100.
        let listing = br#"{"status":{"error_code":0,"credit_count":1},"data":[{"id":1,"quote":{"USD":{"price":1.0}}}]}"#;
        assert_eq!(
            parse_listings(listing, &coins(), 0)
                .expect("ok")
                .observations
                .len(),
            1
        );
        let global = br#"{"status":{"error_code":0,"credit_count":1},"data":{"btc_dominance":57.1,"active_cryptocurrencies":9000,"quote":{"USD":{"total_market_cap":3.4e12,"total_volume_24h":1.1e11}}}}"#;
        let g = parse_global(global, 5).expect("global");
        let Observation::GlobalMarket(g) = &g.observations[0] else {
            panic!("global")
        };
        assert_eq!(g.btc_dominance_pct, Some(57.1));
    }

    #[test]
    fn no_key_means_off_and_a_bad_plan_is_named() {
        let http = HttpClient::new().expect("tls");
        assert!(
            CoinMarketCap::new(&SourceConfig::default(), coins(), http.clone())
                .expect("ok")
                .is_none()
        );
        let cfg = SourceConfig {
            api_key: Some(ApiKey::new("k")),
            plan: Some("gold".into()),
            ..SourceConfig::default()
        };
        let e = CoinMarketCap::new(&cfg, coins(), http).err().expect("bad plan");
        assert!(e.contains("collect.coinmarketcap.plan"), "{e}");
    }
}

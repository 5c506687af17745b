//! Loopback fakes of CoinGecko, CoinMarketCap and a tariff feed for `tests/collect.rs`, answering
//! in the real services' JSON shapes (recorded field names and nesting), with a switchable mode
//! for each way a service fails.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a fake answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Ok,
    /// 503, as a service behind a failing load balancer.
    Down,
    /// Answers after 3 s (the hub's timeout in these tests is 0.5 s).
    Slow,
    /// 429 with `Retry-After: 1`.
    Limited,
    /// HTML instead of JSON.
    Garbage,
    /// Valid JSON in a shape the source no longer matches.
    Changed,
}

#[derive(Default)]
pub struct FakeState {
    mode: Mutex<Option<Mode>>,
    /// Requests seen per path, and the `days` of each market_chart request.
    hits: Mutex<BTreeMap<String, u64>>,
    pub chart_days: Mutex<Vec<String>>,
    /// The header a key must arrive in (only its presence is checked).
    key_header: Mutex<Option<String>>,
    pub keys_seen: Mutex<u64>,
}

pub type Fake = Arc<FakeState>;

impl FakeState {
    pub fn set(&self, m: Mode) {
        *self.mode.lock().expect("lock") = Some(m);
    }
    pub fn mode(&self) -> Mode {
        self.mode.lock().expect("lock").unwrap_or(Mode::Ok)
    }
    pub fn hits(&self, path: &str) -> u64 {
        self.hits.lock().expect("lock").get(path).copied().unwrap_or(0)
    }
}

/// Applies the fake's mode; `None` means answer normally.
pub async fn misbehave(f: &FakeState, path: &str, headers: &HeaderMap) -> Option<Response> {
    *f.hits.lock().expect("lock").entry(path.to_string()).or_insert(0) += 1;
    if let Some(h) = f.key_header.lock().expect("lock").clone() {
        if headers.get(h.as_str()).is_some() {
            *f.keys_seen.lock().expect("lock") += 1;
        } else {
            return Some((StatusCode::UNAUTHORIZED, "no key").into_response());
        }
    }
    match f.mode() {
        Mode::Ok => None,
        Mode::Down => Some((StatusCode::SERVICE_UNAVAILABLE, "down").into_response()),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            None
        }
        Mode::Limited => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                r#"{"status":{"error_code":429,"error_message":"You've exceeded your API Key's HTTP request rate limit."}}"#,
            )
                .into_response(),
        ),
        Mode::Garbage => Some((StatusCode::OK, "<html>maintenance</html>").into_response()),
        Mode::Changed => Some((StatusCode::OK, r#"{"data":{"bitcoin":{"price":{"usd":1}}}}"#).into_response()),
    }
}

pub fn json(v: String) -> Response {
    ([("content-type", "application/json")], v).into_response()
}

/// Source timestamps are fixed per fake (a re-poll of an unchanged price is the same row).
/// The services' own "last updated" instant: fixed for the whole test process (a re-poll of an
/// unchanged price is the same row), ten minutes before it started, so it is recent.
pub fn updated_ms() -> u64 {
    static AT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *AT.get_or_init(|| (hashward_common::clock::now_ms() - 600_000) / 1000 * 1000)
}

/// [`updated_ms`] as the services write it (`2026-12-02T08:00:00.000Z`).
fn updated_iso() -> String {
    hashward_hub::collect::dates::rfc3339(updated_ms()).replace('Z', ".000Z")
}

pub async fn cg_simple(State(f): State<Fake>, h: HeaderMap) -> Response {
    if let Some(r) = misbehave(&f, "simple_price", &h).await {
        return r;
    }
    json(format!(
        r#"{{"bitcoin":{{"usd":100000.0,"btc":1.0,"usd_market_cap":1.98e12,"btc_market_cap":19800000.0,"usd_24h_vol":3.0e10,"usd_24h_change":-1.5,"last_updated_at":{t}}},
            "litecoin":{{"usd":120.0,"btc":0.0012,"usd_market_cap":9.0e9,"usd_24h_vol":9.0e8,"usd_24h_change":2.0,"last_updated_at":{t}}}}}"#,
        t = updated_ms() / 1000
    ))
}

pub async fn cg_markets(State(f): State<Fake>, h: HeaderMap) -> Response {
    if let Some(r) = misbehave(&f, "markets", &h).await {
        return r;
    }
    json(
        r#"[{"id":"bitcoin","symbol":"btc","name":"Bitcoin","current_price":100000.0,"market_cap":1.98e12,"total_volume":3.0e10,"price_change_percentage_24h":-1.5,"price_change_percentage_1h_in_currency":0.2,"price_change_percentage_7d_in_currency":4.0,"last_updated":"@UPDATED@"},
            {"id":"litecoin","symbol":"ltc","name":"Litecoin","current_price":120.0,"market_cap":9.0e9,"total_volume":9.0e8,"price_change_percentage_24h":2.0,"price_change_percentage_1h_in_currency":-0.1,"price_change_percentage_7d_in_currency":-3.0,"last_updated":"@UPDATED@"}]"#
            .replace("@UPDATED@", &updated_iso()),
    )
}

pub async fn cg_chart(
    State(f): State<Fake>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    if let Some(r) = misbehave(&f, "market_chart", &h).await {
        return r;
    }
    let days: u64 = q.get("days").and_then(|d| d.parse().ok()).unwrap_or(1);
    f.chart_days.lock().expect("lock").push(format!("{id}:{days}"));
    let now = hashward_common::clock::now_ms();
    let today = now - now % 86_400_000;
    let base = if id == "bitcoin" { 90_000.0 } else { 100.0 };
    // Daily points like CoinGecko's: one per day at 00:00, and the current one last.
    let mut pts = Vec::new();
    for d in (1..days.min(400)).rev() {
        pts.push(format!("[{},{}]", today - d * 86_400_000, base + d as f64));
    }
    pts.push(format!("[{now},{base}]"));
    json(format!(
        r#"{{"prices":[{p}],"market_caps":[{p}],"total_volumes":[{p}]}}"#,
        p = pts.join(",")
    ))
}

pub async fn cmc_quotes(State(f): State<Fake>, h: HeaderMap) -> Response {
    if let Some(r) = misbehave(&f, "quotes", &h).await {
        return r;
    }
    json(
        r#"{"status":{"timestamp":"@UPDATED@","error_code":0,"error_message":null,"elapsed":12,"credit_count":1,"notice":null},
            "data":{"1":{"id":1,"name":"Bitcoin","symbol":"BTC","slug":"bitcoin","cmc_rank":1,"quote":{"USD":{"price":100500.0,"volume_24h":3.1e10,"percent_change_1h":0.1,"percent_change_24h":-1.4,"percent_change_7d":4.1,"market_cap":1.99e12,"last_updated":"@UPDATED@"}}},
                    "2":{"id":2,"name":"Litecoin","symbol":"LTC","slug":"litecoin","cmc_rank":20,"quote":{"USD":{"price":120.6,"volume_24h":9.1e8,"percent_change_1h":0.0,"percent_change_24h":2.1,"percent_change_7d":-2.9,"market_cap":9.1e9,"last_updated":"@UPDATED@"}}}}}"#
            .replace("@UPDATED@", &updated_iso()),
    )
}

pub async fn cmc_listings(State(f): State<Fake>, h: HeaderMap) -> Response {
    if let Some(r) = misbehave(&f, "listings", &h).await {
        return r;
    }
    json(
        r#"{"status":{"error_code":0,"error_message":null,"credit_count":1},
            "data":[{"id":1,"name":"Bitcoin","symbol":"BTC","slug":"bitcoin","cmc_rank":1,"quote":{"USD":{"price":100500.0,"volume_24h":3.1e10,"percent_change_1h":0.1,"percent_change_24h":-1.4,"percent_change_7d":4.1,"market_cap":1.99e12,"last_updated":"@UPDATED@"}}}]}"#
            .replace("@UPDATED@", &updated_iso()),
    )
}

pub async fn cmc_global(State(f): State<Fake>, h: HeaderMap) -> Response {
    if let Some(r) = misbehave(&f, "global_metrics", &h).await {
        return r;
    }
    json(
        r#"{"status":{"error_code":0,"credit_count":1},"data":{"btc_dominance":57.2,"active_cryptocurrencies":9800,"quote":{"USD":{"total_market_cap":3.45e12,"total_volume_24h":1.2e11}}}}"#
            .replace("@UPDATED@", &updated_iso()),
    )
}

pub async fn start_fake(router: Router<Fake>) -> (SocketAddr, Fake) {
    let state: Fake = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router.with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (addr, state)
}

pub async fn coingecko_fake() -> (SocketAddr, Fake) {
    start_fake(
        Router::new()
            .route("/api/v3/simple/price", get(cg_simple))
            .route("/api/v3/coins/markets", get(cg_markets))
            .route("/api/v3/coins/{id}/market_chart", get(cg_chart)),
    )
    .await
}

pub async fn cmc_fake() -> (SocketAddr, Fake) {
    let (addr, f) = start_fake(
        Router::new()
            .route("/v1/cryptocurrency/quotes/latest", get(cmc_quotes))
            .route("/v1/cryptocurrency/listings/latest", get(cmc_listings))
            .route("/v1/global-metrics/quotes/latest", get(cmc_global)),
    )
    .await;
    *f.key_header.lock().expect("lock") = Some("x-cmc_pro_api_key".into());
    (addr, f)
}

pub async fn tariff_feed(State(f): State<Fake>, h: HeaderMap) -> Response {
    if let Some(r) = misbehave(&f, "tariff", &h).await {
        return r;
    }
    json(r#"{"data":[{"region":"north","price":"95.5","unit":"USD/MWh"}]}"#.into())
}

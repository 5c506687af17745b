//! The collectors against loopback fakes of CoinGecko and CoinMarketCap that answer in the real
//! services' JSON shapes: each source failing in each way (down, slow, 429 with Retry-After,
//! garbage, changed schema) while the hub keeps serving, the other source taking over, errors
//! counted by kind, recovery; a restart resuming from checkpoints; the budget refusal.
//!
//! Run: `cargo test -p hashward-hub --test collect`.

#[path = "collect/fakes.rs"]
mod fakes;

use axum::routing::get;
use axum::Router;
use fakes::{cmc_fake, coingecko_fake, start_fake, tariff_feed, Mode};
use hashward_hub::collect::config::{ApiKey, CollectConfig, SourceConfig};
use hashward_hub::serve::{self, BrokerChoice, ServeOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const CMC_KEY: &str = "cmc-secret-7f3a";

fn intervals(pairs: &[(&str, f64)]) -> Option<BTreeMap<String, f64>> {
    Some(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
}

fn config(cg: SocketAddr, cmc: SocketAddr, chart_s: f64) -> CollectConfig {
    CollectConfig {
        coins: Some(vec!["bitcoin".into(), "litecoin".into()]),
        stagger_s: Some(0.1),
        breaker_failures: Some(1000),
        breaker_cooldown_s: Some(0.5),
        coingecko: Some(SourceConfig {
            base_url: Some(format!("http://{cg}/api/v3")),
            intervals_s: intervals(&[("simple_price", 0.2), ("markets", 0.3), ("market_chart", chart_s)]),
            timeout_s: Some(0.5),
            per_minute: Some(6000),
            ..SourceConfig::default()
        }),
        coinmarketcap: Some(SourceConfig {
            base_url: Some(format!("http://{cmc}/v1")),
            api_key: Some(ApiKey::new(CMC_KEY)),
            intervals_s: intervals(&[("quotes", 0.2), ("listings", 0.5), ("global_metrics", 0.5)]),
            timeout_s: Some(0.5),
            per_minute: Some(6000),
            // At these test intervals a month is millions of calls: a plan that large.
            monthly_quota: Some(100_000_000),
            ..SourceConfig::default()
        }),
        // No network source: the default explorers would reach the internet.
        explorer: CollectConfig::all_disabled().explorer,
        ..CollectConfig::default()
    }
}

struct Hub {
    http: SocketAddr,
    mqtt: (String, u16),
    stop: watch::Sender<bool>,
    running: tokio::task::JoinHandle<Result<(), serve::ServeError>>,
}

async fn start_hub(dir: &FsPath, collect: CollectConfig) -> Result<Hub, serve::ServeError> {
    let (stop, shutdown) = watch::channel(false);
    let running = serve::start(
        ServeOptions {
            data_dir: dir.to_path_buf(),
            http: "127.0.0.1:0".parse().expect("addr"),
            broker: BrokerChoice::Embedded("127.0.0.1:0".parse().expect("addr")),
            client_id: "hub-collect-test".into(),
            username: None,
            password: None,
            summary_interval: Duration::from_secs(60),
            share_group: None,
            models_dir: None,
            collect,
            economics: Default::default(),
            scores: Default::default(),
            dashboards: Default::default(),
            notify: None,
            store: Default::default(),
            sentinel: Default::default(),
            allocation: None,
        },
        shutdown,
    )
    .await?;
    let http = running.http_addr;
    Ok(Hub {
        http,
        mqtt: (running.mqtt_host.clone(), running.mqtt_port),
        stop,
        running: tokio::spawn(running.wait()),
    })
}

impl Hub {
    async fn get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.http);
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut r = agent.get(&url).call().expect("hub answers");
            (r.status().as_u16(), r.body_mut().read_to_string().expect("body"))
        })
        .await
        .expect("join")
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }

    async fn source(&self, name: &str) -> Value {
        let v = self.json("/sources").await;
        v["sources"]
            .as_array()
            .expect("list")
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .expect("listed")
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        self.running.await.expect("join").expect("clean shutdown");
    }
}

/// Polls `check` until it holds (bounded: 20 s).
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Polls `get` until it gives a value (bounded: 20 s).
async fn until_some<F, Fut>(what: &str, mut get: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(v) = get().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn bitcoin(hub: &Hub) -> Value {
    hub.json("/market/bitcoin").await["market_data"].clone()
}

fn errors(src: &Value, kind: &str) -> u64 {
    src["errors"][kind].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_fail_every_way_the_other_takes_over_and_both_recover() {
    let (cg, cgf) = coingecko_fake().await;
    let (cmc, cmcf) = cmc_fake().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = start_hub(dir.path(), config(cg, cmc, 3600.0))
        .await
        .expect("hub starts");

    let b = until_some("both sources ok and bitcoin served from coingecko", || async {
        let ok = hub.source("coingecko").await["state"] == "ok"
            && hub.source("coinmarketcap").await["state"] == "ok";
        // Agreement is measured against the other source while it is fresh (its last fetch under
        // 3 intervals old), which a loaded machine can miss for a moment.
        bitcoin_opt(&hub).await.filter(|b| {
            ok && b["source"] == "coingecko" && b["stale"] == false && b["quality"]["agreement"] != 1.0
        })
    })
    .await;
    assert_eq!(b["price"]["usd"], 100000.0);
    // Merged from simple_price and markets; 100 000 vs 100 500 is 0.5 % apart: agreement 0.9.
    assert_eq!(b["price_change"]["percent_7d"], 4.0);
    let agreement = b["quality"]["agreement"].as_f64().expect("agreement");
    assert!(
        (agreement - (1.0 - 500.0 / 100_500.0 / 0.05)).abs() < 1e-9,
        "{agreement}"
    );
    assert!(cmcf.keys_seen.lock().expect("lock").to_owned() > 0);
    // Dashboards get the same record, retained, on hashward/json/market/bitcoin.
    let retained = retained_market(&hub, "bitcoin").await;
    assert_eq!(
        (retained["coin"]["id"].as_str(), retained["source"].as_str()),
        (Some("bitcoin"), Some("coingecko"))
    );
    assert!(retained["quality"]["score"].is_f64(), "{retained}");

    // Each way CoinGecko can fail: counted by kind, CoinMarketCap serves meanwhile.
    for (mode, kind) in [
        (Mode::Garbage, "decode"),
        (Mode::Changed, "decode"),
        (Mode::Slow, "timeout"),
        (Mode::Limited, "rate_limited"),
        (Mode::Down, "http_status"),
    ] {
        let before = errors(&hub.source("coingecko").await, kind);
        cgf.set(mode);
        // Read in one poll: a request sent under the previous mode may still end after this one.
        let s = until_some(
            &format!("coingecko {mode:?} counted as {kind}, coinmarketcap serving"),
            || async {
                let s = hub.source("coingecko").await;
                let b = bitcoin(&hub).await;
                (errors(&s, kind) > before
                    && s["state"] != "ok"
                    && s["last_error"]["kind"] == kind
                    && b["source"] == "coinmarketcap"
                    && b["stale"] == false)
                    .then_some(s)
            },
        )
        .await;
        if mode == Mode::Limited {
            assert!(
                s["last_error"]["message"]
                    .as_str()
                    .expect("msg")
                    .contains("retry after 1 s"),
                "{s}"
            );
            // Retry-After: 1 s holds the source back even though its interval is 0.2 s.
            let hits = cgf.hits("simple_price");
            tokio::time::sleep(Duration::from_millis(600)).await;
            assert!(cgf.hits("simple_price") <= hits + 1, "polled during Retry-After");
        }
    }

    // CoinGecko back; now CoinMarketCap fails each way, counted, while CoinGecko serves.
    cgf.set(Mode::Ok);
    for (mode, kind) in [
        (Mode::Garbage, "decode"),
        (Mode::Changed, "decode"),
        (Mode::Slow, "timeout"),
        (Mode::Limited, "rate_limited"),
    ] {
        let before = errors(&hub.source("coinmarketcap").await, kind);
        cmcf.set(mode);
        until_some(
            &format!("coinmarketcap {mode:?} counted as {kind}, coingecko serving"),
            || async {
                let s = hub.source("coinmarketcap").await;
                let b = bitcoin(&hub).await;
                (errors(&s, kind) > before
                    && s["last_error"]["kind"] == kind
                    && b["source"] == "coingecko"
                    && b["stale"] == false)
                    .then_some(s)
            },
        )
        .await;
    }
    cgf.set(Mode::Down);

    // Both down: the last good value is served, stale, with its age.
    cmcf.set(Mode::Down);
    until("bitcoin served stale", || async {
        bitcoin(&hub).await["stale"] == true
    })
    .await;
    let b = bitcoin(&hub).await;
    assert!(b["age_s"].is_u64() && b["price"]["usd"].is_f64(), "{b}");
    let (status, health) = hub.get("/health").await;
    assert_eq!(status, 200, "{health}");

    // Metrics carry the per-source series, errors by kind.
    let (_, metrics) = hub.get("/metrics").await;
    for needle in [
        "hashward_hub_collect_errors_total{source=\"coingecko\",kind=\"timeout\"}",
        "hashward_hub_collect_errors_total{source=\"coingecko\",kind=\"rate_limited\"}",
        "hashward_hub_collect_requests_total{source=\"coinmarketcap\"}",
        "hashward_hub_collect_budget_used{source=\"coinmarketcap\"}",
    ] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle} in {metrics}"));
        assert!(!line.ends_with(" 0"), "{line}");
    }
    assert!(
        metrics.contains("hashward_hub_collect_staleness_seconds{source=\"coingecko\"} "),
        "{metrics}"
    );
    assert!(
        metrics.contains("hashward_hub_market_pruned_rows_total{tier=\"raw\"} "),
        "{metrics}"
    );
    // The key is never shown.
    let (_, sources) = hub.get("/sources").await;
    assert!(!sources.contains(CMC_KEY) && !metrics.contains(CMC_KEY));

    // Both come back: the hub recovers on its own.
    cgf.set(Mode::Ok);
    cmcf.set(Mode::Ok);
    until("coingecko serving fresh again", || async {
        let b = bitcoin(&hub).await;
        b["source"] == "coingecko"
            && b["stale"] == false
            && hub.source("coinmarketcap").await["state"] == "ok"
    })
    .await;
    let g = hub.json("/market/global").await;
    assert_eq!(g["btc_dominance_pct"], 57.2);
    hub.stop().await;
}

/// The retained JSON on `hashward/json/market/{coin}`, read by a fresh subscriber.
async fn retained_market(hub: &Hub, coin: &str) -> Value {
    let mut opts = rumqttc::MqttOptions::new("collect-test-dashboard", hub.mqtt.0.clone(), hub.mqtt.1);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 16);
    client
        .subscribe(format!("hashward/json/market/{coin}"), rumqttc::QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), events.poll()).await {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) => {
                client.try_disconnect().ok();
                return serde_json::from_slice(&p.payload).expect("JSON");
            }
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => panic!("dashboard link: {e}"),
        }
    }
    panic!("no retained market record for {coin}");
}

async fn bitcoin_opt(hub: &Hub) -> Option<Value> {
    let (status, body) = hub.get("/market/bitcoin").await;
    (status == 200).then(|| serde_json::from_str::<Value>(&body).expect("JSON")["market_data"].clone())
}

async fn raw_rows(hub: &Hub, coin: &str) -> usize {
    hub.json(&format!("/market/{coin}/history?interval=raw&limit=5000"))
        .await["points"]
        .as_array()
        .expect("points")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_hub_resumes_from_its_checkpoints() {
    let (cg, cgf) = coingecko_fake().await;
    let (cmc, _cmcf) = cmc_fake().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // History every 2 s: the first run fetches a year, later ones from the newest stored day.
    let hub = start_hub(dir.path(), config(cg, cmc, 2.0))
        .await
        .expect("hub starts");
    until("history and prices stored", || async {
        cgf.hits("market_chart") >= 2 && cgf.hits("simple_price") >= 3 && raw_rows(&hub, "bitcoin").await >= 2
    })
    .await;
    let days = hub.json("/market/bitcoin/history?interval=1d&limit=5000").await["points"]
        .as_array()
        .expect("points")
        .len();
    assert!((364..=366).contains(&days), "{days} daily points");
    let hourly = hub.json("/market/bitcoin/history?interval=1h").await;
    assert_eq!(hourly["interval"], "1h");
    assert!(hourly["points"][0]["high_usd"].is_f64(), "{hourly}");
    let raw = raw_rows(&hub, "bitcoin").await;
    // Unchanged source timestamps: re-polls added no row (one per source).
    assert_eq!(raw, 2);
    let b = bitcoin(&hub).await;
    assert!(
        b["technical_indicators"]["ma_200"].is_f64() && b["technical_indicators"]["rsi_14"].is_f64(),
        "{b}"
    );
    let credits = hub.source("coinmarketcap").await["budget"]["used"]
        .as_u64()
        .expect("budget");
    assert!(credits > 0);
    hub.stop().await;
    let fetched_before = cgf.chart_days.lock().expect("lock").clone();
    assert_eq!(
        &fetched_before[..2],
        &["bitcoin:365".to_string(), "litecoin:365".to_string()]
    );

    let hub = start_hub(dir.path(), config(cg, cmc, 2.0))
        .await
        .expect("hub restarts");
    // The month's credits carry over the restart.
    let after = until_some("the budget loaded", || async {
        let used = hub.source("coinmarketcap").await["budget"]["used"].clone();
        used.is_u64().then_some(used)
    })
    .await
    .as_u64()
    .expect("budget");
    assert!(after >= credits, "{after} < {credits}");
    // Right after the restart the last values are served (stale until a source answers).
    let b = bitcoin_opt(&hub)
        .await
        .expect("served from the store after restart");
    assert_eq!(b["price"]["usd"].as_f64().map(|p| p > 0.0), Some(true));
    let n_before = fetched_before.len();
    until("history polled again after the restart", || async {
        cgf.chart_days.lock().expect("lock").len() >= n_before + 2
    })
    .await;
    let after = cgf.chart_days.lock().expect("lock")[n_before..].to_vec();
    assert!(
        after.iter().all(|d| d.ends_with(":1") || d.ends_with(":2")),
        "refetched history: {after:?}"
    );
    assert_eq!(raw_rows(&hub, "bitcoin").await, 2, "duplicate rows after restart");
    let days_after = hub.json("/market/bitcoin/history?interval=1d&limit=5000").await["points"]
        .as_array()
        .expect("points")
        .len();
    assert_eq!(days_after, days);
    hub.stop().await;
}

#[tokio::test]
async fn an_over_quota_config_is_refused_with_the_arithmetic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = CollectConfig {
        coinmarketcap: Some(SourceConfig {
            api_key: Some(ApiKey::new(CMC_KEY)),
            intervals_s: intervals(&[("quotes", 60.0)]),
            ..SourceConfig::default()
        }),
        coingecko: Some(SourceConfig {
            enabled: Some(false),
            ..SourceConfig::default()
        }),
        // No network source: the default explorers would reach the internet.
        explorer: CollectConfig::all_disabled().explorer,
        ..CollectConfig::default()
    };
    let e = start_hub(dir.path(), cfg)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert_eq!(
        e,
        "collect budget: coinmarketcap: the configured intervals need 48360 credits a month \
         (quotes: 31 d x 86400 s / 60 s = 44640 calls x 1 = 44640 + listings: 31 d x 86400 s / 900 s \
         = 2976 calls x 1 = 2976 + global_metrics: 31 d x 86400 s / 3600 s = 744 calls x 1 = 744), \
         over the plan's 10000; raise the intervals or the plan's monthly_quota"
    );
    assert!(!e.contains(CMC_KEY));
    let bad = CollectConfig {
        market_priority: Some(vec!["coinmarketcap".into(), "coinbase".into()]),
        ..CollectConfig::all_disabled()
    };
    let e = start_hub(dir.path(), bad)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert_eq!(
        e,
        "collect config: collect.market_priority: unknown source \"coinbase\" (market sources: coingecko, coinmarketcap)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_sources_are_listed_with_the_reason_and_the_hub_serves() {
    // A port nobody listens on: what a hub without internet sees.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(closed, closed, 3600.0);
    cfg.coinmarketcap = None;
    let hub = start_hub(dir.path(), cfg).await.expect("hub starts");
    until("coingecko unreachable", || async {
        let s = hub.source("coingecko").await;
        s["state"] == "unreachable" && s["last_error"]["kind"] == "connect"
    })
    .await;
    let cmc = hub.source("coinmarketcap").await;
    assert_eq!(cmc["state"], "disabled");
    assert!(cmc["note"].as_str().expect("note").contains("api_key"), "{cmc}");
    let m = hub.json("/market").await;
    assert_eq!(m["market_data"].as_array().map(Vec::len), Some(0));
    assert_eq!(m["no_data_yet"], serde_json::json!(["bitcoin", "litecoin"]));
    assert_eq!(hub.get("/market/monero").await.0, 404);
    assert_eq!(hub.get("/market/bitcoin/history?interval=5m").await.0, 400);
    assert_eq!(hub.get("/health").await.0, 200);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sites_tariff_is_served_and_a_feed_failure_is_a_source_error() {
    let (feed, feedf) = start_fake(Router::new().route("/price", get(tariff_feed))).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sites: BTreeMap<String, hashward_hub::collect::tariff::SiteConfig> = toml::from_str(&format!(
        r#"[barn.tariff]
           kind = "flat"
           usd_per_kwh = 0.07
           [dc.tariff]
           kind = "feed"
           url = "http://{feed}/price"
           json_path = "data.0.price"
           scale = 0.001
           interval_s = 0.2"#
    ))
    .expect("sites");
    let cfg = CollectConfig {
        sites,
        stagger_s: Some(0.0),
        ..CollectConfig::all_disabled()
    };
    let hub = start_hub(dir.path(), cfg).await.expect("hub starts");
    let tariff = |v: &Value, site: &str| {
        v["tariffs"]
            .as_array()
            .expect("list")
            .iter()
            .find(|t| t["site"] == site)
            .cloned()
            .expect("site")
    };
    until("the feed's price", || async {
        tariff(&hub.json("/tariffs").await, "dc")["usd_per_kwh"].is_f64()
    })
    .await;
    let t = hub.json("/tariffs").await;
    assert_eq!(tariff(&t, "barn")["usd_per_kwh"], 0.07);
    let dc = tariff(&t, "dc");
    assert!(
        (dc["usd_per_kwh"].as_f64().expect("price") - 0.0955).abs() < 1e-12,
        "{dc}"
    );
    assert_eq!(dc["kind"], "feed");
    feedf.set(Mode::Changed);
    until("the feed's changed schema counted", || async {
        errors(&hub.source("tariff").await, "decode") > 0
    })
    .await;
    // The last price is still served, with its age.
    assert!(tariff(&hub.json("/tariffs").await, "dc")["age_s"].is_u64());
    hub.stop().await;
}

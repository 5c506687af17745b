//! The economics endpoints over real HTTP on loopback: with no market data (503 naming what is
//! missing), with inputs given by a fake [`EconInputs`] (values checked by hand), and bad bodies
//! (4xx naming the field).

use super::*;
use crate::econ::{FleetMiners, MinerSnapshot, NetworkState, NoMarketData};

struct Inputs;

const NOW: i64 = 1_544_320;

impl EconInputs for Inputs {
    fn price_usd(&self, _: Coin) -> Result<f64, Unavailable> {
        Ok(25_107.754695880594)
    }
    fn network(&self, _: Coin) -> Result<NetworkState, Unavailable> {
        // Half-way through epoch 794,304; blocks every 540 s since 1,000,000 (see econ's
        // retarget::epoch::tests::half_way_through_a_fast_epoch: +11.2214 %).
        Ok(NetworkState {
            difficulty: 52_350_439_455_487.47,
            height: 795_312,
            fees_per_block_coin: 41.02129533 / 148.0,
            epoch_start_unix_s: Some(1_000_000),
            tip_unix_s: Some(1_544_000),
        })
    }
    fn tariff_usd_kwh(&self, _: &str) -> Result<f64, Unavailable> {
        Ok(0.06)
    }
    fn miner(&self, _: MinerKind, id: &str) -> Result<Option<MinerSnapshot>, Unavailable> {
        Ok((id == "r1").then(|| MinerSnapshot {
            kind: MinerKind::Rig,
            id: id.into(),
            rig: id.into(),
            site: "s".into(),
            coin: Coin::Bitcoin,
            hashrate_hs: 1e14,
            power_w: 3250.0,
        }))
    }
    fn fleet(&self) -> Result<FleetMiners, Unavailable> {
        Ok(FleetMiners {
            miners: vec![self.miner(MinerKind::Rig, "r1")?.expect("r1"); 2],
            excluded: vec![],
        })
    }
    fn hardware_cost_usd(&self, _: &str) -> Result<f64, Unavailable> {
        Ok(2000.0)
    }
}

/// An empty store in a directory the caller keeps.
fn empty_store() -> (tempfile::TempDir, Arc<crate::store::Store>) {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(crate::store::Store::open(&dir.path().join("hub.redb")).expect("store"));
    (dir, store)
}

/// The server's address and its store's directory (removed when the caller drops it).
async fn serve(inputs: Arc<dyn EconInputs>) -> (String, tempfile::TempDir) {
    let (dir, store) = empty_store();
    (serve_with(inputs, store).await, dir)
}

async fn serve_with(inputs: Arc<dyn EconInputs>, store: Arc<crate::store::Store>) -> String {
    let app = router(EconState {
        inputs,
        store,
        now_s: || NOW,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn call(method: &'static str, url: String, body: Option<String>) -> (u16, Value) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = match body {
            Some(b) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(b.as_bytes())
                .expect("request"),
            None if method == "GET" => agent.get(&url).call().expect("request"),
            None => agent.post(&url).send_empty().expect("request"),
        };
        (resp.status().as_u16(), resp.body_mut().read_json().expect("json"))
    })
    .await
    .expect("join")
}

fn close(v: &Value, want: f64, tol: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < tol)
}

#[tokio::test]
async fn without_market_data_every_live_endpoint_says_what_is_missing() {
    let (base, _dir) = serve(Arc::new(NoMarketData)).await;
    let (st, v) = call(
        "GET",
        format!("{base}/api/v1/predict/difficulty?coin=bitcoin"),
        None,
    )
    .await;
    assert_eq!(st, 503);
    assert!(
        v["detail"]
            .as_str()
            .expect("detail")
            .starts_with("no network data for bitcoin yet"),
        "{v}"
    );
    for path in [
        "/rigs/r1/economics",
        "/asics/r1%2Fa0/economics",
        "/fleet/economics",
    ] {
        let (st, v) = call("GET", format!("{base}{path}"), None).await;
        assert_eq!(st, 503, "{path}: {v}");
        assert!(v["detail"].is_string(), "{v}");
    }
    let (st, v) = call(
        "POST",
        format!("{base}/api/v1/predict/earnings"),
        Some(r#"{"user_id":"r1","hashrate_history":[1e14]}"#.into()),
    )
    .await;
    assert_eq!(st, 503, "{v}");
    assert!(v["detail"].as_str().expect("d").contains("bitcoin"), "{v}");
}

#[test]
fn configured_inputs_give_tariffs_and_nothing_else() {
    let c = crate::econ::ConfiguredInputs {
        config: toml::from_str("tariff_usd_kwh = 0.06\nhardware_cost_usd = 2500.0\n").expect("toml"),
    };
    assert_eq!(c.tariff_usd_kwh("any"), Ok(0.06));
    assert_eq!(c.hardware_cost_usd("r1"), Ok(2500.0));
    assert!(c
        .price_usd(Coin::Bitcoin)
        .expect_err("no market")
        .0
        .contains("bitcoin"));
    let none = crate::econ::ConfiguredInputs::default();
    assert!(none
        .tariff_usd_kwh("farm")
        .expect_err("none")
        .0
        .contains("tariff_usd_kwh"));
}

#[tokio::test]
async fn difficulty_and_miner_economics_from_given_inputs() {
    let (base, _dir) = serve(Arc::new(Inputs)).await;
    let (st, v) = call("GET", format!("{base}/api/v1/predict/difficulty"), None).await;
    assert_eq!(st, 200, "{v}");
    // +11.2214 % of 52,350,439,455,487.47 = 58,225,005,... ; 1,008 blocks x 540 s = 151.2 h.
    assert!(close(&v["change_percentage"], 11.2214, 1e-3), "{v}");
    assert!(
        close(&v["predicted_difficulty"], 52_350_439_455_487.47 * 1.112214, 1e9),
        "{v}"
    );
    assert_eq!(
        (v["direction"].as_str(), v["eta_hours"].as_i64()),
        (Some("up"), Some(151))
    );
    assert!(close(&v["confidence"], 0.5, 1e-12));
    let (st, v) = call("GET", format!("{base}/api/v1/predict/difficulty?coin=doge"), None).await;
    assert_eq!((st, v["field"].as_str()), (422, Some("coin")), "{v}");
    let (st, v) = call(
        "GET",
        format!("{base}/api/v1/predict/difficulty?coin=monero"),
        None,
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("coin")), "{v}");

    // The 2023-06-15 day (econ's golden): 6.29747 revenue, 4.68 cost, 1.61747 profit.
    let (st, v) = call("GET", format!("{base}/rigs/r1/economics"), None).await;
    assert_eq!(st, 200, "{v}");
    assert!(close(&v["economics"]["revenue_usd_day"], 6.29747, 1e-4), "{v}");
    assert!(close(&v["economics"]["profit_usd_day"], 1.61747, 1e-4), "{v}");
    // 2,000 USD / 1.61747 USD/day = 1,236.49 days.
    assert!(close(&v["payback_days"], 1236.49, 0.01), "{v}");
    let (st, _) = call("GET", format!("{base}/rigs/nope/economics"), None).await;
    assert_eq!(st, 404);
    let (st, v) = call("GET", format!("{base}/fleet/economics"), None).await;
    assert_eq!(st, 200);
    assert!(close(&v["profit_usd_day"], 2.0 * 1.61747, 2e-4), "{v}");
    assert_eq!(v["miners"].as_u64(), Some(2));
}

#[tokio::test]
async fn earnings_with_a_history_and_bad_bodies() {
    let (base, _dir) = serve(Arc::new(NoMarketData)).await;
    let url = format!("{base}/api/v1/predict/earnings");
    // Explicit inputs: no live data needed. History 90, 100, 110 TH/s: mean 100 -> 6.29747 USD;
    // 10th percentile 92 TH/s -> 5.793672, 90th 108 -> 6.801268; confidence = stability
    // 0.918350 (econ's derived::tests::stability_golden); 30 d = 188.924.
    let ok = r#"{"user_id":"r1","hashrate_history":[9e13,1e14,1.1e14],"difficulty":52350439455487.47,
        "price_usd":25107.754695880594,"height":794500,"fees_per_block_coin":0.27717091439189173}"#;
    let (st, v) = call("POST", url.clone(), Some(ok.into())).await;
    assert_eq!(st, 200, "{v}");
    assert!(close(&v["estimated_24h"], 6.29747, 1e-4), "{v}");
    assert!(close(&v["estimated_30d"], 188.924, 1e-2), "{v}");
    assert!(
        close(&v["lower_bound_24h"], 5.793672, 1e-4) && close(&v["upper_bound_24h"], 6.801268, 1e-4),
        "{v}"
    );
    assert!(close(&v["confidence"], 0.918350, 1e-6), "{v}");
    // 1,544,320 s = 17 days (1,468,800) + 75,520 s = 20 h 58 min 40 s.
    assert_eq!(v["generated_at"], "1970-01-18T20:58:40Z");

    for (body, status, field) in [
        (r#"{"hashrate_history":[1]}"#, 422, "user_id"),
        (
            r#"{"user_id":"r1","hashrate_history":[1,-5],"difficulty":1,"height":1,"price_usd":1}"#,
            422,
            "hashrate_history[1]",
        ),
        (
            r#"{"user_id":"r1","hashrate_history":[1],"pool_fee":2}"#,
            422,
            "pool_fee",
        ),
        (
            r#"{"user_id":"r1","hashrate_history":[1],"difficulty":1}"#,
            422,
            "height",
        ),
        (
            r#"{"user_id":"r1","hashrate_history":[1],"difficulty":0,"height":1,"price_usd":1}"#,
            422,
            "difficulty",
        ),
        (
            r#"{"user_id":"r1","hashrate_history":[1],"bogus":1}"#,
            422,
            "bogus",
        ),
        (r#"{"user_id":"r1","#, 400, "body"),
    ] {
        let (st, v) = call("POST", url.clone(), Some(body.into())).await;
        assert_eq!((st, v["field"].as_str()), (status, Some(field)), "{body}: {v}");
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    }
}

#[tokio::test]
async fn optimize_one_worker_and_a_batch() {
    let (base, _dir) = serve(Arc::new(NoMarketData)).await;
    let worker = r#"{"worker_id":"rig1/asic0","current_hashrate_ths":100,"current_power_w":3250,
        "current_temp_c":70,"max_temp_c":90,"expected_hashrate_ths":104,"expected_power_w":3200,
        "advice":{"target_power_w":2900,"target_hashrate_ths":96,"risk_level":"low"},
        "hashprice_usd_per_ths_day":0.0629747,"tariff_usd_kwh":0.06}"#;
    // econ's optimise::tests::power_target_golden: +0.252101 USD/day, 7.0513 % better J/TH.
    let (st, v) = call(
        "POST",
        format!("{base}/api/v1/optimize/worker"),
        Some(worker.into()),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["suggestions"][0]["type"], "power_target");
    assert!(close(&v["profit_change_usd_day"], 0.252101, 1e-6), "{v}");
    assert!(close(&v["improvement_pct"], 7.0513, 1e-4), "{v}");
    assert_eq!(v["risk_level"], "low");

    let bad = worker.replace("\"current_power_w\":3250", "\"current_power_w\":-1");
    let (st, v) = call(
        "POST",
        format!("{base}/api/v1/optimize/batch"),
        Some(format!("[{worker},{bad}]")),
    )
    .await;
    assert_eq!(
        (st, v["field"].as_str()),
        (422, Some("[1].current_power_w")),
        "{v}"
    );
    let (st, v) = call(
        "POST",
        format!("{base}/api/v1/optimize/batch"),
        Some(format!("[{worker},{worker}]")),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["results"].as_array().map(Vec::len), Some(2));
    let missing = worker.replace("\"tariff_usd_kwh\":0.06", "\"x\":1");
    let (st, v) = call("POST", format!("{base}/api/v1/optimize/worker"), Some(missing)).await;
    assert_eq!(st, 422, "{v}");
    assert!(v["detail"].as_str().expect("d").contains('x'), "{v}");
}

/// The economics routes sit beside `/rigs/{rig}/{listing}` in the served router.
#[tokio::test]
async fn merges_with_the_main_router() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(crate::store::Store::open(&dir.path().join("hub.redb")).expect("store"));
    let app = crate::api::router(crate::api::AppState {
        store: store as Arc<dyn crate::store::StoreRead>,
        metrics: Arc::new(crate::metrics::Metrics::default()),
        started: std::time::Instant::now(),
        scores: Arc::new(crate::api::scores::ScoresApi {
            store: Arc::new(crate::store::scores::tests::NoBatches),
            networks: vec!["bitcoin".into()],
            models_dir: None,
            cache: Default::default(),
        }),
    })
    .merge(router(EconState {
        inputs: Arc::new(Inputs),
        store: Arc::new(crate::store::Store::open(&dir.path().join("other.redb")).expect("store")),
        now_s: || NOW,
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (st, v) = call("GET", format!("http://{addr}/rigs/r1/economics"), None).await;
    assert_eq!(st, 200, "{v}");
    let (st, _) = call("GET", format!("http://{addr}/rigs/r1/scores"), None).await;
    assert_eq!(
        st, 404,
        "the rig is not in this empty store; the listing route still answers"
    );
}

fn incoming(seq: u64, ts_ms: u64, body: hashward_protocol::Body) -> crate::store::Incoming {
    use hashward_protocol::{Envelope, RigId, SiteId};
    let envelope = Envelope::new(RigId::new("r1").expect("id"), seq, ts_ms, body);
    let bytes = hashward_protocol::encode(&envelope).expect("encode");
    crate::store::Incoming {
        site: SiteId::new("s").expect("id"),
        envelope,
        bytes,
        received_ms: ts_ms,
    }
}

fn tele(seq: u64, ts_ms: u64, hashrate_hs: f64) -> crate::store::Incoming {
    use hashward_protocol::{AgentCounters, Body, MinerTelemetry, RigTelemetry};
    let rate = hashward_protocol::Hashrate(hashrate_hs);
    incoming(
        seq,
        ts_ms,
        Body::Tele(RigTelemetry {
            uptime_s: seq,
            load_1m: 0.0,
            load_5m: 0.0,
            load_15m: 0.0,
            cpu_usage_pct: 1.0,
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            temperatures: vec![],
            miner: Some(MinerTelemetry {
                algo: "sha256d".into(),
                kernel: "sha256d-generic".into(),
                threads: 1,
                batch: 1,
                paused: false,
                hashrate_10s: rate,
                hashrate_60s: rate,
                hashrate_15m: rate,
                pool: None,
                constraints: vec![],
            }),
            agent: AgentCounters::default(),
        }),
    )
}

/// Derived metrics from telemetry and scores ingested into a real store: the last hour has
/// samples every 10 s for its first 30 min, alternating 90 / 110 MH/s (uptime 50 %,
/// stability 0.9, as in econ::derived's golden test), and a fan-failure score of 0.8.
#[tokio::test]
async fn derived_metrics_from_the_store() {
    use hashward_protocol::{Body, Score, Severity, ThreatType};
    let (_dir, store) = empty_store();
    let start_ms = (NOW as u64 - 3600) * 1000;
    let mut batch: Vec<_> = (0..180u64)
        .map(|i| {
            tele(
                i + 1,
                start_ms + i * 10_000 + 1,
                if i % 2 == 0 { 90e6 } else { 110e6 },
            )
        })
        .collect();
    batch.push(incoming(
        181,
        start_ms + 5_000,
        Body::Score(Score {
            subject: "rig".into(),
            score: 0.8,
            threat_type: ThreatType::FanFailure,
            severity: Severity::from_score(0.8),
            model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
            sample_ts_ms: start_ms + 5_000,
        }),
    ));
    // Before the hour: not counted.
    batch.push(tele(182, start_ms - 50_000, 1.0));
    store.ingest(&batch).expect("ingest");
    let base = serve_with(Arc::new(NoMarketData), store).await;
    let (st, v) = call("GET", format!("{base}/rigs/r1/derived?period=1h"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["samples"].as_u64(), v["sample_interval_ms"].as_u64()),
        (Some(180), Some(10_000)),
        "{v}"
    );
    assert!(
        close(&v["operational_efficiency"]["uptime_percentage"], 50.0, 1e-9),
        "{v}"
    );
    assert!(
        close(&v["operational_efficiency"]["hashrate_stability"], 0.9, 1e-9),
        "{v}"
    );
    assert!(close(&v["anomaly_scores"]["temperature"], 0.8, 1e-6), "{v}");
    assert!(v["anomaly_scores"]["power"].is_null(), "{v}");
    let (st, v) = call("GET", format!("{base}/rigs/r1/derived?period=2w"), None).await;
    assert_eq!((st, v["field"].as_str()), (400, Some("period")), "{v}");
    let (st, _) = call("GET", format!("{base}/rigs/nope/derived"), None).await;
    assert_eq!(st, 404);
}

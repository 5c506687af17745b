//! The economics end to end through a running hub: a fake CoinGecko (prices) and a fake
//! bitcoind (difficulty, height, fees, the epoch's first block) on loopback, a CPU rig's and an
//! ASIC's telemetry published to the hub's embedded broker as an agent would, a site tariff in
//! `[sites.NAME.tariff]`. `/rigs/{rig}/economics`, `/asics/{id}/economics` and
//! `/fleet/economics` are checked against `hashward_econ::MinerDay` computed here from the
//! fakes' own values; the retained topics and the `/metrics` gauges carry the same numbers;
//! with CoinGecko down the endpoints answer 503 naming the price, and bad input is a 4xx
//! naming the field.
//!
//! Run: `cargo test -p hashward-hub --test econ_live`.

#[path = "collect/fakes.rs"]
#[allow(dead_code)]
mod fakes;
mod support {
    pub mod chain_fakes;
}

use hashward_econ::{Coin, DailyEconomics, Difficulty, Hashrate, MinerDay, Usd, Watts};
use hashward_hub::collect::config::{ApiKey, CollectConfig, SourceConfig};
use hashward_hub::collect::node_rpc::NodeConfig;
use hashward_hub::econ::EconomicsConfig;
use hashward_hub::serve::{self, BrokerChoice, ServeOptions};
use hashward_protocol::{
    encode, AgentCounters, AsicHashrate, AsicPool, AsicPower, AsicTelemetry, Body, Envelope, MinerTelemetry,
    PoolTelemetry, RigId, RigTelemetry,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::chain_fakes::{self, RPC_PASSWORD, RPC_USER, TIP};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

// What the fakes serve (hub/tests/collect/fakes.rs, hub/tests/support/chain_fakes.rs).
const BTC_USD: f64 = 100_000.0;
const DIFFICULTY: f64 = 9.0e13;
/// Mean `totalfee` of blocks 869,995..=870,000: odd heights 30 M sat, even 10 M -> 20 M sat.
const FEES_BTC: f64 = 0.2;

const RIG_HS: f64 = 4.0e9;
const RIG_W: f64 = 95.0;
const ASIC_HS: f64 = 14.0e12;
const ASIC_W: f32 = 1400.0;
const FARM_USD_KWH: f64 = 0.06;

fn day(hs: f64, w: f64) -> DailyEconomics {
    MinerDay {
        coin: Coin::Bitcoin,
        hashrate: Hashrate::new(hs).expect("h"),
        power: Watts::new(w).expect("w"),
        tariff_usd_kwh: Usd::new(FARM_USD_KWH).expect("t"),
        difficulty: Difficulty::new(DIFFICULTY).expect("d"),
        price_usd: Usd::new(BTC_USD).expect("p"),
        height: TIP,
        fees_per_block_coin: FEES_BTC,
        pool_fee_pct: 0.0,
    }
    .economics()
    .expect("economics")
}

fn collect_config(cg: SocketAddr, node: SocketAddr) -> CollectConfig {
    let mut nodes = BTreeMap::new();
    nodes.insert(
        "bitcoin".to_string(),
        NodeConfig {
            url: Some(format!("http://{node}/")),
            user: Some(RPC_USER.into()),
            password: Some(ApiKey::new(RPC_PASSWORD)),
            interval_s: Some(0.3),
            timeout_s: Some(0.5),
            ..NodeConfig::default()
        },
    );
    let sites = toml::from_str("[farm.tariff]\nkind = \"flat\"\nusd_per_kwh = 0.06\n").expect("sites");
    CollectConfig {
        coins: Some(vec!["bitcoin".into()]),
        stagger_s: Some(0.0),
        breaker_failures: Some(1000),
        breaker_cooldown_s: Some(0.5),
        coingecko: Some(SourceConfig {
            base_url: Some(format!("http://{cg}/api/v3")),
            intervals_s: Some(
                [("simple_price", 0.2), ("markets", 0.3), ("market_chart", 1000.0)]
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
            ),
            timeout_s: Some(0.5),
            per_minute: Some(6000),
            ..SourceConfig::default()
        }),
        node: Some(nodes),
        sites,
        ..CollectConfig::all_disabled()
    }
}

struct Hub {
    http: SocketAddr,
    mqtt: (String, u16),
    stop: watch::Sender<bool>,
    running: tokio::task::JoinHandle<Result<(), serve::ServeError>>,
}

async fn start_hub(dir: &Path, collect: CollectConfig) -> Hub {
    let (stop, shutdown) = watch::channel(false);
    let economics = EconomicsConfig {
        // The default for sites without [sites.NAME.tariff]: rig-b's site "home".
        tariff_usd_kwh: Some(0.1),
        rig_power_w: [("rig-a".to_string(), RIG_W)].into_iter().collect(),
        publish_interval_s: Some(0.2),
        ..EconomicsConfig::default()
    };
    economics.validate().expect("valid economics");
    let running = serve::start(
        ServeOptions {
            data_dir: dir.to_path_buf(),
            http: "127.0.0.1:0".parse().expect("addr"),
            broker: BrokerChoice::Embedded("127.0.0.1:0".parse().expect("addr")),
            client_id: "hub-econ-test".into(),
            username: None,
            password: None,
            summary_interval: Duration::from_secs(60),
            share_group: None,
            models_dir: None,
            collect,
            economics,
            scores: Default::default(),
            dashboards: Default::default(),
            notify: None,
            store: Default::default(),
            sentinel: Default::default(),
            allocation: None,
        },
        shutdown,
    )
    .await
    .expect("hub starts");
    Hub {
        http: running.http_addr,
        mqtt: (running.mqtt_host.clone(), running.mqtt_port),
        stop,
        running: tokio::spawn(running.wait()),
    }
}

impl Hub {
    async fn call(&self, method: &'static str, path: &str, body: Option<&str>) -> (u16, Value) {
        let url = format!("http://{}{path}", self.http);
        let body = body.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut r = match (method, body) {
                ("POST", Some(b)) => agent
                    .post(&url)
                    .header("content-type", "application/json")
                    .send(b.as_bytes())
                    .expect("hub answers"),
                _ => agent.get(&url).call().expect("hub answers"),
            };
            let text = r.body_mut().read_to_string().expect("body");
            let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (r.status().as_u16(), v)
        })
        .await
        .expect("join")
    }

    async fn text(&self, path: &str) -> String {
        match self.call("GET", path, None).await {
            (200, Value::String(s)) => s,
            other => panic!("{path}: {other:?}"),
        }
    }

    /// Polls `path` until `ok` holds on (status, body), bounded by [`WAIT`].
    async fn until(&self, path: &str, ok: impl Fn(u16, &Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (st, v) = self.call("GET", path, None).await;
            if ok(st, &v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{path} never matched; last {st} {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        tokio::time::timeout(WAIT, self.running)
            .await
            .expect("hub stops")
            .expect("join")
            .expect("clean stop");
    }
}

fn cpu_tele(hs: f64) -> Body {
    Body::Tele(RigTelemetry {
        uptime_s: 100,
        load_1m: 1.0,
        load_5m: 1.0,
        load_15m: 1.0,
        cpu_usage_pct: 95.0,
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 1 << 33,
        temperatures: vec![],
        miner: Some(MinerTelemetry {
            algo: "sha256d".into(),
            kernel: "sha256d-avx2x8".into(),
            threads: 8,
            batch: 4096,
            paused: false,
            hashrate_10s: hashward_protocol::Hashrate(hs),
            hashrate_60s: hashward_protocol::Hashrate(hs),
            hashrate_15m: hashward_protocol::Hashrate(hs),
            pool: Some(PoolTelemetry {
                url: "stratum+tcp://pool.example:3333".into(),
                user: "me.rig".into(),
                connected: true,
                difficulty: 1.0,
                accepted: 10,
                rejected: 0,
                stale_dropped: 0,
                last_share_ts_ms: None,
                latency_ms: Some(20),
            }),
            constraints: vec![],
        }),
        agent: AgentCounters::default(),
    })
}

fn asic_reading() -> Body {
    Body::Asic(AsicTelemetry {
        miner_id: "s19-1".into(),
        ip_address: "10.0.0.5".into(),
        api: hashward_protocol::AsicApi::Vnish,
        reachable: true,
        model: Some("Antminer S19j Pro".into()),
        firmware_version: None,
        hashrate: AsicHashrate {
            total: hashward_protocol::Hashrate(ASIC_HS),
            ..AsicHashrate::default()
        },
        temperature: Default::default(),
        power: AsicPower {
            consumption: Some(hashward_protocol::Watts(ASIC_W)),
            ..AsicPower::default()
        },
        fans: vec![],
        pool: Some(AsicPool {
            url: "stratum+tcp://btc.pool.example:3333".into(),
            user: "me.s19".into(),
            status: "alive".into(),
        }),
        shares: Default::default(),
        status: Default::default(),
        config: Default::default(),
        invalid: vec![],
    })
}

/// Publishes as an agent would (QoS 1), waiting for every acknowledgement.
async fn publish(hub: &Hub, msgs: Vec<(String, Body)>) {
    let mut opts = rumqttc::MqttOptions::new("econ-test-agent", hub.mqtt.0.clone(), hub.mqtt.1);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 16);
    let now = hashward_common::clock::now_ms();
    let n = msgs.len();
    for (i, (topic, body)) in msgs.into_iter().enumerate() {
        let rig = topic.split('/').nth(3).expect("rig level").to_string();
        let bytes = encode(&Envelope::new(
            RigId::new(&rig).expect("rig"),
            i as u64 + 1,
            now,
            body,
        ))
        .expect("encode");
        client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, bytes)
            .await
            .expect("queue");
    }
    let mut acked = 0;
    let deadline = Instant::now() + WAIT;
    while acked < n {
        assert!(Instant::now() < deadline, "broker acknowledged {acked} of {n}");
        if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)))) =
            tokio::time::timeout(Duration::from_secs(1), events.poll()).await
        {
            acked += 1;
        }
    }
    client.try_disconnect().ok();
}

/// The retained JSON on `topic` once `ok` holds, read by fresh subscribers (bounded wait).
async fn retained(hub: &Hub, topic: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    let mut round = 0;
    loop {
        round += 1;
        let mut opts =
            rumqttc::MqttOptions::new(format!("econ-test-dash-{round}"), hub.mqtt.0.clone(), hub.mqtt.1);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = rumqttc::AsyncClient::new(opts, 16);
        client
            .subscribe(topic, rumqttc::QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        let mut last = Value::Null;
        let round_end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < round_end {
            if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) =
                tokio::time::timeout(Duration::from_millis(500), events.poll()).await
            {
                last = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                if ok(&last) {
                    client.try_disconnect().ok();
                    return last;
                }
            }
        }
        client.try_disconnect().ok();
        assert!(Instant::now() < deadline, "{topic}: never matched; last {last}");
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

fn gauge(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_economics_match_the_formula_and_name_what_is_missing() {
    let (cg_addr, cg) = fakes::coingecko_fake().await;
    let node = chain_fakes::bitcoind("127.0.0.1:0".parse().expect("addr")).await;
    let dir = tempfile::tempdir().expect("dir");
    let hub = start_hub(dir.path(), collect_config(cg_addr, node.addr)).await;
    hub.until("/health", |st, v| st == 200 && v["ingest_subscribed"] == true)
        .await;
    publish(
        &hub,
        vec![
            ("hashward/v1/farm/rig-a/tele".into(), cpu_tele(RIG_HS)),
            ("hashward/v1/farm/rig-a/asic/s19-1".into(), asic_reading()),
            // No power configured for rig-b: left out of the fleet, its own endpoint says why.
            ("hashward/v1/home/rig-b/tele".into(), cpu_tele(RIG_HS)),
        ],
    )
    .await;

    // The CPU rig: the formula on the fakes' price, difficulty, fees and the site tariff.
    let want_rig = day(RIG_HS, RIG_W);
    let v = hub.until("/rigs/rig-a/economics", |st, _| st == 200).await;
    let e = &v["economics"];
    for (k, want) in [
        ("revenue_usd_day", want_rig.revenue_usd_day),
        ("cost_usd_day", want_rig.cost_usd_day),
        ("profit_usd_day", want_rig.profit_usd_day),
        ("coins_per_day", want_rig.coins_per_day),
    ] {
        assert!(close(e[k].as_f64().expect(k), want), "{k}: {} vs {want}", e[k]);
    }
    // 95 W x 24 h x 0.06 USD/kWh, by hand.
    assert!(close(want_rig.cost_usd_day, 0.0950 * 24.0 * 0.06));
    assert_eq!(
        (v["site"].as_str(), v["coin"].as_str()),
        (Some("farm"), Some("bitcoin"))
    );
    assert_eq!(v["tariff_usd_kwh"].as_f64(), Some(FARM_USD_KWH));

    // The ASIC, by `RIG/MINER` (encoded) and by its bare miner id.
    let want_asic = day(ASIC_HS, f64::from(ASIC_W));
    for path in ["/asics/rig-a%2Fs19-1/economics", "/asics/s19-1/economics"] {
        let v = hub.until(path, |st, _| st == 200).await;
        assert!(close(
            v["economics"]["revenue_usd_day"].as_f64().expect("r"),
            want_asic.revenue_usd_day
        ));
        assert!(close(
            v["economics"]["efficiency_j_per_th"].as_f64().expect("j"),
            f64::from(ASIC_W) / 14.0
        ));
    }

    // The fleet: both miners summed, rig-b left out naming the key to set.
    let f = hub
        .until("/fleet/economics", |st, v| st == 200 && v["miners"] == 2)
        .await;
    let want_rev = want_rig.revenue_usd_day + want_asic.revenue_usd_day;
    let want_cost = want_rig.cost_usd_day + want_asic.cost_usd_day;
    assert!(close(f["revenue_usd_day"].as_f64().expect("r"), want_rev), "{f}");
    assert!(close(f["cost_usd_day"].as_f64().expect("c"), want_cost));
    assert!(close(
        f["profit_usd_day"].as_f64().expect("p"),
        want_rev - want_cost
    ));
    assert!(close(
        f["by_coin"]["bitcoin"]["hashprice_usd_per_ths_day"]
            .as_f64()
            .expect("hp"),
        want_rev / ((RIG_HS + ASIC_HS) / 1e12)
    ));
    let excluded = f["excluded"].as_array().expect("excluded");
    assert_eq!(excluded.len(), 1, "{f}");
    assert_eq!(excluded[0]["id"], "rig-b");
    assert!(excluded[0]["reason"]
        .as_str()
        .expect("why")
        .contains("rig_power_w.rig-b"));
    let (st, v) = hub.call("GET", "/rigs/rig-b/economics", None).await;
    assert_eq!(st, 503, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .expect("detail")
            .contains("rig_power_w.rig-b"),
        "{v}"
    );

    // The epoch estimate from the node's first block of the epoch: 870,000 is 1,104 blocks in.
    let d = hub
        .until("/api/v1/predict/difficulty?coin=bitcoin", |st, _| st == 200)
        .await;
    assert_eq!(d["remaining_blocks"].as_u64(), Some(2016 - 1104));
    assert!(close(
        d["progress_pct"].as_f64().expect("p"),
        1104.0 / 2016.0 * 100.0
    ));
    // Blocks exactly 600 s apart: the change is within a block's worth of 0.
    assert!(d["change_percentage"].as_f64().expect("c").abs() < 0.2, "{d}");

    // The retained topics carry the same numbers.
    let t = retained(&hub, "hashward/json/economics/rigs/rig-a", |v| {
        v["economics"].is_object()
    })
    .await;
    assert!(close(
        t["economics"]["revenue_usd_day"].as_f64().expect("r"),
        want_rig.revenue_usd_day
    ));
    let t = retained(&hub, "hashward/json/economics/fleet", |v| v["miners"] == 2).await;
    assert!(close(
        t["profit_usd_day"].as_f64().expect("p"),
        want_rev - want_cost
    ));
    let t = retained(&hub, "hashward/json/economics/asics/rig-a/s19-1", |v| {
        v["economics"].is_object()
    })
    .await;
    assert_eq!(t["id"], "rig-a/s19-1");

    // And the gauges.
    let m = hub.text("/metrics").await;
    let rig_rev = gauge(
        &m,
        "hashward_hub_rig_revenue_usd_per_day{rig=\"rig-a\",site=\"farm\"}",
    )
    .expect(&m);
    assert!(close(rig_rev, want_rig.revenue_usd_day), "{rig_rev}");
    let asic_cost = gauge(
        &m,
        "hashward_hub_asic_cost_usd_per_day{rig=\"rig-a\",asic=\"s19-1\",site=\"farm\"}",
    )
    .expect("asic cost");
    assert!(close(asic_cost, want_asic.cost_usd_day));
    assert!(gauge(
        &m,
        "hashward_hub_rig_profit_usd_per_day{rig=\"rig-a\",site=\"farm\"}"
    )
    .is_some());
    assert!(gauge(
        &m,
        "hashward_hub_rig_efficiency_j_per_th{rig=\"rig-a\",site=\"farm\"}"
    )
    .is_some());
    assert!(close(
        gauge(&m, "hashward_hub_fleet_profit_usd_per_day").expect("fleet"),
        want_rev - want_cost
    ));
    assert_eq!(gauge(&m, "hashward_hub_economics_up"), Some(1.0));

    // Bad input: 4xx naming the field, 404 naming the miner.
    let (st, v) = hub
        .call("GET", "/api/v1/predict/difficulty?coin=ethereum", None)
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("coin")), "{v}");
    let (st, v) = hub
        .call(
            "POST",
            "/api/v1/predict/earnings",
            Some(r#"{"user_id": "rig-a", "pool_fee": 2}"#),
        )
        .await;
    assert_eq!((st, v["field"].as_str()), (422, Some("pool_fee")), "{v}");
    let (st, v) = hub.call("GET", "/rigs/nobody/economics", None).await;
    assert_eq!(st, 404, "{v}");
    assert!(v["detail"].as_str().expect("d").contains("nobody"));
    // Earnings from the live inputs agree with the rig's day.
    let (st, v) = hub
        .call(
            "POST",
            "/api/v1/predict/earnings",
            Some(r#"{"user_id": "rig-a"}"#),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(close(
        v["estimated_24h"].as_f64().expect("24h"),
        want_rig.revenue_usd_day
    ));

    // CoinGecko down: the price turns stale and every figure that needs it is a 503 naming it.
    cg.set(fakes::Mode::Down);
    let v = hub.until("/rigs/rig-a/economics", |st, _| st == 503).await;
    assert!(
        v["detail"]
            .as_str()
            .expect("d")
            .contains("price of bitcoin is stale"),
        "{v}"
    );
    let v = hub.until("/fleet/economics", |st, _| st == 503).await;
    assert!(
        v["detail"].as_str().expect("d").contains("price of bitcoin"),
        "{v}"
    );
    let t = retained(&hub, "hashward/json/economics/fleet", |v| v["detail"].is_string()).await;
    assert!(t.get("revenue_usd_day").is_none(), "{t}");
    let m = hub.text("/metrics").await;
    assert_eq!(gauge(&m, "hashward_hub_economics_up"), Some(0.0), "{m}");
    assert!(
        !m.contains("hashward_hub_rig_revenue_usd_per_day{"),
        "no figure without a price"
    );
    // The node's network data is unaffected.
    let (st, _) = hub
        .call("GET", "/api/v1/predict/difficulty?coin=bitcoin", None)
        .await;
    assert_eq!(st, 200);

    hub.stop().await;
    drop(node);
}

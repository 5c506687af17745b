//! Pool and network data end to end through a running hub: a fake Prohashing WAMP router (CRA
//! login, recorded-shape calls and events) with its HTTP fallback, a fake bitcoind (auth
//! checked) and a fake litecoin explorer, all on loopback. The hub serves `/pools`,
//! `/pools/prohashing/workers` and `/network/{coin}`; each fake failing (garbage, changed schema,
//! slow, dead) is counted by kind in `/sources` and `/metrics` while the last good value is
//! served as stale; everything recovers on its own; a restarted hub serves its stored values
//! (stale) and stores no row twice.
//!
//! Run: `cargo test -p hashward-hub --test pools_network`.

mod support {
    pub mod chain_fakes;
    pub mod wamp_router;
}

use hashward_hub::collect::config::{ApiKey, CollectConfig, SourceConfig};
use hashward_hub::collect::node_rpc::NodeConfig;
use hashward_hub::collect::prohashing::config::ProhashingConfig;
use hashward_hub::serve::{self, BrokerChoice, ServeOptions};
use hashward_hub::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::chain_fakes::{self, Mode, RPC_PASSWORD, RPC_USER};
use support::wamp_router::{self, Router, API_KEY};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

fn config(router: SocketAddr, fallback: SocketAddr, node: SocketAddr, explorer: SocketAddr) -> CollectConfig {
    let mut explorers = BTreeMap::new();
    explorers.insert(
        "litecoin".to_string(),
        SourceConfig {
            base_url: Some(format!("http://{explorer}")),
            intervals_s: Some([("network".to_string(), 0.3)].into_iter().collect()),
            timeout_s: Some(0.5),
            per_minute: Some(6000),
            ..SourceConfig::default()
        },
    );
    explorers.insert(
        "dogecoin".to_string(),
        SourceConfig {
            enabled: Some(false),
            ..SourceConfig::default()
        },
    );
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
    let prohashing: ProhashingConfig = toml::from_str(&format!(
        "api_key = \"{API_KEY}\"\nurl = \"ws://{router}/ws\"\nheartbeat_s = 0.3\nconnect_timeout_s = 2\n\
         reconnect_min_s = 0.05\nreconnect_max_s = 0.3\nhttp_base_url = \"http://{fallback}/api/v1\"\n\
         http_interval_s = 0.3\n"
    ))
    .expect("prohashing config");
    CollectConfig {
        stagger_s: Some(0.0),
        breaker_failures: Some(1000),
        prohashing: Some(prohashing),
        node: Some(nodes),
        explorer: Some(explorers),
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
    let running = serve::start(
        ServeOptions {
            data_dir: dir.to_path_buf(),
            http: "127.0.0.1:0".parse().expect("addr"),
            broker: BrokerChoice::Embedded("127.0.0.1:0".parse().expect("addr")),
            client_id: "hub-pools-test".into(),
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

    /// Polls `path` until `ok` holds (bounded by [`WAIT`]); returns the last answer.
    async fn until(&self, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.json(path).await;
            if ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {path} never matched; last {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn source(&self, name: &str) -> Value {
        let v = self.json("/sources").await;
        v["sources"]
            .as_array()
            .expect("list")
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in /sources: {v}"))
    }

    async fn errors(&self, source: &str, kind: &str) -> u64 {
        self.source(source).await["errors"][kind].as_u64().unwrap_or(0)
    }

    async fn until_errors(&self, source: &str, kind: &str, above: u64) {
        let deadline = Instant::now() + WAIT;
        while self.errors(source, kind).await <= above {
            assert!(
                Instant::now() < deadline,
                "{source}: no {kind} error counted: {}",
                self.source(source).await
            );
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

/// The retained JSON on `topic`, read by a fresh subscriber (bounded wait).
async fn retained(hub: &Hub, topic: &str) -> Value {
    let mut opts = rumqttc::MqttOptions::new("pools-test-dashboard", hub.mqtt.0.clone(), hub.mqtt.1);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 16);
    client
        .subscribe(topic, rumqttc::QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let deadline = Instant::now() + WAIT;
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
    panic!("nothing retained on {topic}");
}

fn worker<'a>(pools: &'a Value, name: &str) -> Option<&'a Value> {
    pools["pools"][0]["workers"]
        .as_array()?
        .iter()
        .find(|w| w["worker_id"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_and_network_served_stale_through_failures_and_recover() {
    let mut router = Router::start("127.0.0.1:0".parse().expect("addr"), false).await;
    let (fallback, fallback_hits, _fb) = wamp_router::http_fallback().await;
    let node = chain_fakes::bitcoind("127.0.0.1:0".parse().expect("addr")).await;
    let explorer = chain_fakes::explorer("127.0.0.1:0".parse().expect("addr")).await;
    let dir = tempfile::tempdir().expect("dir");
    let hub = start_hub(
        dir.path(),
        config(router.addr, fallback, node.addr, explorer.addr),
    )
    .await;

    // The account, normalised: USD per MH/s per day x 1e6 = USD per TH/s per day.
    let pools = hub
        .until("/pools", "workers and quotes", |v| {
            v["pools"][0]["workers"].as_array().is_some_and(|w| w.len() == 2)
                && v["pools"][0]["profitability"]
                    .as_array()
                    .is_some_and(|p| p.len() == 2)
                && v["pools"][0]["balances"].as_array().is_some_and(|b| b.len() == 2)
        })
        .await;
    let p = &pools["pools"][0];
    assert_eq!(
        (p["pool_id"].as_str(), p["stale"].as_bool()),
        (Some("prohashing"), Some(false))
    );
    let sha = p["profitability"]
        .as_array()
        .expect("quotes")
        .iter()
        .find(|q| q["algorithm"] == "SHA-256")
        .expect("sha");
    assert!(
        (sha["usd_per_th_day"].as_f64().expect("f64") - 0.13292067065643).abs() < 1e-9,
        "{sha}"
    );
    assert_eq!(sha["timestamp"], "2019-01-15T00:04:40Z");
    let s9 = worker(&pools, "acct.s9a").expect("worker");
    assert_eq!(
        (
            s9["hashrate"]["effective"].as_f64(),
            s9["hashrate"]["unit"].as_str()
        ),
        (Some(13.1e12), Some("H/s"))
    );
    assert_eq!(
        (s9["shares"]["accepted"].as_u64(), s9["difficulty"].as_f64()),
        (Some(1804), Some(65536.0))
    );
    assert_eq!(s9["profitability"]["unit"], "USD/TH/day");
    assert_eq!(s9["source"], "prohashing_wamp");
    assert!(
        !pools.to_string().contains(API_KEY),
        "the key never appears in API output"
    );

    // A diff event changes one worker.
    let deadline = Instant::now() + WAIT;
    while router.seen.subscriptions.load(Ordering::Relaxed) < 3 {
        assert!(Instant::now() < deadline, "subscriptions");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    router.publish(
        &format!("miner_update_diffs_{API_KEY}"),
        json!([{"uuid": "6b1e0c1a-1", "hashrate": 12.0e12}]),
    );
    hub.until("/pools", "diff applied", |v| {
        worker(v, "acct.s9a").is_some_and(|w| w["hashrate"]["effective"] == 12.0e12)
    })
    .await;
    // A changed schema (hashrate as text) is refused whole and counted; the worker keeps its value.
    router.publish(
        &format!("miner_update_diffs_{API_KEY}"),
        json!([{"uuid": "6b1e0c1a-1", "hashrate": "12 TH/s"}]),
    );
    hub.until_errors("prohashing", "decode", 0).await;
    let after = hub.json("/pools").await;
    assert_eq!(
        worker(&after, "acct.s9a").map(|w| w["hashrate"]["effective"].clone()),
        Some(json!(12.0e12))
    );
    let joined = hub.json("/pools/prohashing/workers").await;
    assert_eq!(joined["workers"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        joined["workers"][0]["rig"],
        Value::Null,
        "no rig mines as acct.s9a here"
    );
    assert_eq!(hub.get("/pools/nopool/workers").await.0, 404);

    // Network: bitcoin from the node, litecoin from the explorer.
    let btc = hub
        .until("/network/bitcoin", "bitcoin", |v| v["height"] == 870_000)
        .await;
    assert_eq!(
        (btc["source"].as_str(), btc["stale"].as_bool()),
        (Some("node_rpc"), Some(false))
    );
    assert_eq!(
        (
            btc["blocks_to_retarget"].as_u64(),
            btc["mean_fees_coins"].as_f64()
        ),
        (Some(912), Some(0.2))
    );
    let ltc = hub
        .until("/network/litecoin", "litecoin", |v| v["height"] == 870_000)
        .await;
    assert_eq!(
        (ltc["source"].as_str(), ltc["subsidy_coins"].as_f64()),
        (Some("explorer"), Some(25.0))
    );
    // Dashboards get the same records, retained.
    let topic = retained(&hub, "hashward/json/network/bitcoin").await;
    assert_eq!(
        (topic["coin"].as_str(), topic["height"].as_u64()),
        (Some("bitcoin"), Some(870_000))
    );
    assert_eq!(topic["source"], "node_rpc");
    let topic = retained(&hub, "hashward/json/pools/prohashing").await;
    assert_eq!(
        (topic["pool_id"].as_str(), topic["workers_total"].as_u64()),
        (Some("prohashing"), Some(2))
    );
    assert!(!topic.to_string().contains(API_KEY));
    let doge = hub.json("/network/dogecoin").await;
    assert_eq!(doge["no_data_yet"], true);
    assert_eq!(hub.get("/network/ethereum").await.0, 404);

    // bitcoind answers garbage, then a changed schema, then too slowly: each counted by kind,
    // the last good value served as stale, nothing crashes.
    for (mode, kind) in [
        (Mode::Garbage, "decode"),
        (Mode::ChangedSchema, "decode"),
        (Mode::Slow, "timeout"),
    ] {
        let before = hub.errors("node_bitcoin", kind).await;
        node.control.set(mode);
        hub.until_errors("node_bitcoin", kind, before).await;
        let btc = hub
            .until("/network/bitcoin", "stale", |v| v["stale"] == true)
            .await;
        assert_eq!(btc["height"], 870_000, "the last good value");
    }
    node.control.set(Mode::Ok);
    node.control.tip.store(870_001, Ordering::Relaxed);
    hub.until("/network/bitcoin", "recovered", |v| {
        v["stale"] == false && v["height"] == 870_001
    })
    .await;
    explorer.control.set(Mode::ChangedSchema);
    hub.until_errors("explorer_litecoin", "decode", 0).await;
    hub.until("/network/litecoin", "stale", |v| v["stale"] == true)
        .await;
    explorer.control.set(Mode::Ok);
    hub.until("/network/litecoin", "recovered", |v| v["stale"] == false)
        .await;

    // The router dies: workers go stale, the HTTP fallback keeps the profitability fresh; the
    // router comes back and the link recovers on its own.
    router.kill();
    hub.until_errors("prohashing", "connect", 0).await;
    let stale = hub
        .until("/pools", "stale", |v| v["pools"][0]["stale"] == true)
        .await;
    assert_eq!(
        worker(&stale, "acct.s9a").map(|w| w["hashrate"]["effective"].clone()),
        Some(json!(12.0e12))
    );
    hub.until("/pools", "fallback", |v| {
        v["pools"][0]["profitability_stale"] == false
    })
    .await;
    assert!(fallback_hits.load(Ordering::Relaxed) >= 1);
    assert_eq!(hub.source("prohashing_http").await["state"], "ok");
    router.restart().await;
    hub.until("/pools", "relinked", |v| v["pools"][0]["stale"] == false)
        .await;
    assert_eq!(router.seen.logins_ok.load(Ordering::Relaxed), 2);

    let (_, metrics) = hub.get("/metrics").await;
    let decode_line = metrics
        .lines()
        .find(|l| l.starts_with("hashward_hub_collect_errors_total{source=\"node_bitcoin\",kind=\"decode\"}"))
        .expect("per-source error series");
    let n: f64 = decode_line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("value");
    assert!(n >= 2.0, "{decode_line}");
    assert!(!metrics.contains(API_KEY) && !metrics.contains(RPC_PASSWORD));
    let (_, sources) = hub.get("/sources").await;
    assert!(
        !sources.contains(API_KEY) && !sources.contains(RPC_PASSWORD),
        "{sources}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_hub_serves_stored_values_as_stale_and_stores_nothing_twice() {
    let router = Router::start("127.0.0.1:0".parse().expect("addr"), false).await;
    // Today's data time: the 2019 recording would be older than the pruner's 30 days.
    *router.profitability.lock().expect("lock") = wamp_router::fresh_profitability();
    let (fallback, _, fb) = wamp_router::http_fallback().await;
    let node = chain_fakes::bitcoind("127.0.0.1:0".parse().expect("addr")).await;
    let explorer = chain_fakes::explorer("127.0.0.1:0".parse().expect("addr")).await;
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(router.addr, fallback, node.addr, explorer.addr);

    let hub = start_hub(dir.path(), cfg.clone()).await;
    hub.until("/pools", "first run", |v| {
        v["pools"][0]["workers"].as_array().is_some_and(|w| w.len() == 2)
    })
    .await;
    hub.until("/network/bitcoin", "first run", |v| v["height"] == 870_000)
        .await;
    // Several polls of the same tip (each poll is 9 RPC calls) and the same quotes.
    let deadline = Instant::now() + WAIT;
    while node.control.requests.load(Ordering::Relaxed) < 30
        || explorer.control.requests.load(Ordering::Relaxed) < 12
    {
        assert!(Instant::now() < deadline, "the sources did not poll again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hub.stop().await;

    // Everything is gone now; the hub starts anyway and serves what it stored, as stale.
    drop(router);
    fb.abort();
    node.kill();
    explorer.kill();
    let hub = start_hub(dir.path(), cfg).await;
    let pools = hub.json("/pools").await;
    assert_eq!(pools["pools"][0]["stale"], true);
    assert_eq!(pools["pools"][0]["workers"].as_array().map(Vec::len), Some(2));
    let btc = hub.json("/network/bitcoin").await;
    assert_eq!(
        (btc["height"].as_u64(), btc["stale"].as_bool()),
        (Some(870_000), Some(true))
    );
    hub.until_errors("prohashing", "connect", 0).await;
    hub.until_errors("node_bitcoin", "connect", 0).await;
    hub.stop().await;

    let store = Store::open(&dir.path().join("hub.redb")).expect("store");
    assert_eq!(
        store
            .network_history("bitcoin", 0, u64::MAX, 100)
            .expect("history")
            .len(),
        1,
        "one row per height"
    );
    assert_eq!(
        store
            .network_history("litecoin", 0, u64::MAX, 100)
            .expect("history")
            .len(),
        1
    );
    for algo in ["1", "2"] {
        let rows = store
            .pool_profitability("prohashing", algo, 0, u64::MAX, 100)
            .expect("rows");
        assert_eq!(rows.len(), 1, "algorithm {algo}: one row per data time");
    }
}

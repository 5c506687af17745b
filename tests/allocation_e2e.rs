//! The allocation service end to end on a real mosquitto (issue 17's "must show"): a real hub
//! in `auto` mode with its collectors pointed at loopback fakes (CoinGecko's price shapes, a
//! coin node's JSON-RPC) moves a real agent from one Stratum test pool to the other by a signed
//! config push once the faked market makes the other coin more profitable for long enough, and
//! does not move it back on a one-cycle price spike; an ASIC site over its power cap gets its
//! Vnish's power target lowered (a signed `set-power-target`, seen on the fake Vnish); a
//! restarted hub carries on from its stored state without moving the rig. A rig that pinned no
//! hub key refuses the same move: it is rolled back and raised as an alert (`source: allocation`).
//!
//! The two pools are valued as litecoin and dogecoin (both scrypt; the agent mines scrypt, the
//! sha256d test pools only see it connect and authorise, at a share difficulty it never meets).

#[path = "../agent/tests/asic_support/mod.rs"]
mod asic_support;
#[path = "../agent/tests/support/pool.rs"]
mod pool;
mod support;

use asic_support::{fixtures, serve_http, FakeVnish, HttpReq, HttpResp};
use pool::{PoolOptions, TestPool};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// Every coin's network as the fake node serves it: a low difficulty, so a CPU's scrypt rate is
/// worth cents an hour and the solver compares real numbers.
const DIFFICULTY: f64 = 2.5e5;
const HEIGHT: u64 = 2_016_000;

type Prices = Arc<Mutex<BTreeMap<&'static str, f64>>>;

/// CoinGecko's `/simple/price`, `/coins/markets` and `/coins/{id}/market_chart` shapes.
fn coingecko(prices: &Prices, req: HttpReq) -> HttpResp {
    let p = prices.lock().expect("lock").clone();
    let now_ms = hashward_common::clock::now_ms();
    let now_s = now_ms / 1000;
    match req.path.as_str() {
        "/api/v3/simple/price" => {
            let body: serde_json::Map<String, Value> = p
                .iter()
                .map(|(id, usd)| {
                    (
                        id.to_string(),
                        json!({"usd": usd, "usd_market_cap": 1.0e9, "usd_24h_vol": 1.0e8,
                        "usd_24h_change": 0.0, "last_updated_at": now_s}),
                    )
                })
                .collect();
            HttpResp::json(Value::Object(body).to_string())
        }
        "/api/v3/coins/markets" => {
            let iso = hashward_hub::collect::dates::rfc3339(now_s * 1000);
            let rows: Vec<Value> = p
                .iter()
                .map(|(id, usd)| {
                    json!({"id": id, "symbol": &id[..3], "name": id, "current_price": usd, "market_cap": 1.0e9,
                        "total_volume": 1.0e8, "price_change_percentage_24h": 0.0, "last_updated": iso})
                })
                .collect();
            HttpResp::json(Value::Array(rows).to_string())
        }
        path if path.starts_with("/api/v3/coins/") && path.ends_with("/market_chart") => {
            let id = &path["/api/v3/coins/".len()..path.len() - "/market_chart".len()];
            let usd = p.get(id).copied().unwrap_or(1.0);
            let pts = json!([[now_ms, usd]]);
            HttpResp::json(json!({"prices": pts, "market_caps": pts, "total_volumes": pts}).to_string())
        }
        _ => HttpResp::status(404),
    }
}

/// A coin node's JSON-RPC (bitcoind's methods, which litecoind and dogecoind share).
fn node(req: HttpReq) -> HttpResp {
    let Ok(r) = serde_json::from_slice::<Value>(&req.body) else {
        return HttpResp::status(400);
    };
    let now = hashward_common::clock::now_s();
    let result = match r["method"].as_str() {
        Some("getblockchaininfo") => json!({"chain": "main", "blocks": HEIGHT,
            "bestblockhash": format!("{HEIGHT:064x}"), "difficulty": DIFFICULTY}),
        Some("getmininginfo") => json!({"blocks": HEIGHT, "difficulty": DIFFICULTY, "networkhashps": 1.0e15}),
        Some("getblockheader") => json!({"height": HEIGHT, "time": now, "difficulty": DIFFICULTY}),
        Some("getblockhash") => json!(format!("{:064x}", r["params"][0].as_u64().unwrap_or(0))),
        _ => {
            let mut resp = HttpResp::json(
                json!({"result": null, "error": {"code": -32601, "message": "Method not found"}, "id": r["id"]})
                    .to_string(),
            );
            resp.status = 500;
            return resp;
        }
    };
    HttpResp::json(json!({"result": result, "error": null, "id": r["id"]}).to_string())
}

fn hashprice(coin: hashward_econ::Coin, price: f64) -> f64 {
    hashward_econ::alloc::target::usd_per_th_day(coin, DIFFICULTY, price, HEIGHT, 0.0, 0.0)
        .expect("hashprice")
}

fn allocation(http: u16) -> Value {
    get_json(&format!("http://127.0.0.1:{http}/allocation")).unwrap_or(Value::Null)
}

fn miner<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v["miners"].as_array()?.iter().find(|m| m["id"] == id)
}

fn pool_opts() -> PoolOptions {
    PoolOptions {
        // A share is a 2^-60 event: none is ever found, so no scrypt share meets a sha256d check.
        share_bits: 60,
        job_interval: Some(Duration::from_millis(1000)),
        ..PoolOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_switches_a_rig_on_a_lasting_move_not_on_a_spike_and_obeys_a_site_cap() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut mosq = Mosquitto::new(bin, dir.path(), mqtt, "");
    mosq.start();
    let (ltc_pool, doge_pool) = (
        TestPool::start(pool_opts()).await,
        TestPool::start(pool_opts()).await,
    );
    let prices: Prices = Arc::new(Mutex::new(BTreeMap::from([
        ("bitcoin", 100_000.0),
        ("litecoin", 100.0),
        ("dogecoin", 0.1),
    ])));
    let cg = {
        let p = prices.clone();
        serve_http(Arc::new(move |req| coingecko(&p, req))).await
    };
    let chain = serve_http(Arc::new(node)).await;
    let vnish = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    // Litecoin pays 25 % more than dogecoin per hash at first.
    use hashward_econ::Coin;
    assert!(hashprice(Coin::Litecoin, 100.0) > 1.2 * hashprice(Coin::Dogecoin, 0.1));

    let keys = dir.path().join("keys");
    let (ok, out, err) = cli(&["hub", "keygen", "--dir", keys.to_str().expect("utf8")]);
    assert!(ok, "keygen: {err}");
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("hub_public_key = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("public key")
        .to_string();
    let node_section = |coin: &str| {
        format!("[collect.node.{coin}]\nurl = \"http://{chain}/\"\ninterval_s = 0.3\ntimeout_s = 1.0\nfee_blocks = 1\n")
    };
    let hub_toml = dir.path().join("hub.toml");
    std::fs::write(
        &hub_toml,
        format!(
            "[commands]\nsigning_key = \"{key}\"\n\
             [economics]\nrig_power_w = {{ cpu-1 = 100.0, cpu-2 = 100.0 }}\n\
             [sites.home.tariff]\nkind = \"flat\"\nusd_per_kwh = 0.0\n\
             [sites.farm.tariff]\nkind = \"flat\"\nusd_per_kwh = 0.0\n\
             [sites.lab.tariff]\nkind = \"flat\"\nusd_per_kwh = 0.0\n\
             [collect]\ncoins = [\"bitcoin\", \"litecoin\", \"dogecoin\"]\nstagger_s = 0.0\nbreaker_failures = 1000\n\
             [collect.coingecko]\nbase_url = \"http://{cg}/api/v3\"\ntimeout_s = 1.0\nper_minute = 6000\n\
             intervals_s = {{ simple_price = 0.3, markets = 0.3, market_chart = 1000.0 }}\n\
             [collect.coinmarketcap]\nenabled = false\n\
             {btc}{ltc}{doge}\
             [allocation]\nmode = \"auto\"\ninterval_s = 2\nack_timeout_s = 20\nasic_presets_w = [2200, 3068, 3400]\n\
             [allocation.rebalance]\nmin_net_usd_h = 0.0\nmin_dwell_s = 0\nrise_confirm_cycles = 2\nlarge_move_pct = 100000.0\n\
             [allocation.sites.farm]\npower_cap_kw = 2.5\n\
             [[allocation.pools]]\nname = \"ltc-a\"\ncoin = \"litecoin\"\nurl = \"stratum+tcp://{a}\"\nuser = \"wallet.{{rig}}\"\nrestart_s = 5.0\n\
             [[allocation.pools]]\nname = \"doge-b\"\ncoin = \"dogecoin\"\nurl = \"stratum+tcp://{b}\"\nuser = \"wallet.{{rig}}\"\nrestart_s = 5.0\n",
            key = keys.join("hub.key").display(),
            btc = node_section("bitcoin"),
            ltc = node_section("litecoin"),
            doge = node_section("dogecoin"),
            a = ltc_pool.addr(),
            b = doge_pool.addr(),
        ),
    )
    .expect("hub.toml");
    let mut hub = hub_env(
        dir.path(),
        http,
        Some(mqtt),
        0,
        &["--config", hub_toml.to_str().expect("utf8")],
        &[("HASHWARD_NO_COLLECTORS", "0")],
    );
    wait_for_http(http);

    // The CPU rig mines scrypt on the litecoin pool; the ASIC controller polls the fake Vnish.
    let cpu = agent_spec(dir.path(), "home", "cpu-1", mqtt, 500);
    let mut text = std::fs::read_to_string(&cpu.config).expect("config");
    text.push_str(&format!(
        "[fleet]\nhub_public_key = \"{public}\"\n\
         [miner]\nalgo = \"scrypt\"\nmining_threads = 1\n[[miner.pools]]\nurl = \"stratum+tcp://{}\"\nuser = \"wallet.cpu-1\"\n",
        ltc_pool.addr()
    ));
    std::fs::write(&cpu.config, text).expect("config");
    // A second rig, on its own site, that pinned no hub key: it refuses every push.
    let refuser = agent_spec(dir.path(), "lab", "cpu-2", mqtt, 500);
    let mut text = std::fs::read_to_string(&refuser.config).expect("config");
    text.push_str(&format!(
        "[miner]\nalgo = \"scrypt\"\nmining_threads = 1\n[[miner.pools]]\nurl = \"stratum+tcp://{}\"\nuser = \"wallet.cpu-2\"\n",
        ltc_pool.addr()
    ));
    std::fs::write(&refuser.config, text).expect("config");
    let ctl = agent_spec(dir.path(), "farm", "ctl-1", mqtt, 1000);
    let creds = dir.path().join("asic-credentials.toml");
    std::fs::write(&creds, "[default]\npassword = \"admin\"\n").expect("creds");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut text = std::fs::read_to_string(&ctl.config).expect("config");
    text.push_str(&format!(
        "[fleet]\nhub_public_key = \"{public}\"\n\
         [asic]\ncredentials_file = \"{}\"\ntelemetry_interval_s = 1\ntelemetry_max_interval_s = 2\n\
         [[asic.miners]]\nid = \"s19jpro-21\"\nurl = \"{}\"\nkind = \"vnish\"\n",
        creds.display(),
        vnish.url()
    ));
    std::fs::write(&ctl.config, text).expect("config");
    let mut agents = [agent(&cpu), agent(&ctl), agent(&refuser)];
    let logs = || {
        format!(
            "hub log:\n{}\ncpu-1 log:\n{}\nctl-1 log:\n{}\ncpu-2 log:\n{}",
            std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default(),
            agent_log(&cpu),
            agent_log(&ctl),
            agent_log(&refuser)
        )
    };
    let started = Instant::now();

    // 1. The ASIC site draws 3,068 W against a 2.5 kW cap: its Vnish is set to the 2,200 W
    //    preset. The CPU rig stays on litecoin, the better coin, for several cycles.
    let preset = || {
        vnish.with(|s| {
            s.settings["miner"]["overclock"]["preset"]
                .as_str()
                .map(str::to_string)
        })
    };
    let mut last;
    let settled = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            last = allocation(http);
            let cpu_ok = miner(&last, "cpu-1").is_some_and(|m| m["current_target"] == "ltc-a");
            let cycles = last["decided_ms"].as_u64().is_some();
            if cpu_ok && cycles && preset().as_deref() == Some("2200") || Instant::now() > deadline {
                break cpu_ok && preset().as_deref() == Some("2200");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert!(settled, "preset {:?}; /allocation {last:#}\n{}", preset(), logs());
    let farm = &last["sites"]["farm"];
    assert_eq!(farm["power_cap_kw"], 2.5, "{farm}");
    let asic = miner(&last, "ctl-1/s19jpro-21").expect("the ASIC is allocated");
    let a = &asic["assignment"];
    assert_eq!(
        (a["from_target"].as_str(), a["to_target"].as_str()),
        (Some("3068w"), Some("2200w")),
        "{asic}"
    );
    assert_eq!(
        (a["status"].as_str(), a["awaited"][0]["name"].as_str()),
        (Some("applied"), Some("set-power-target")),
        "{asic}"
    );
    // Several cycles on litecoin, so the outlier windows hold enough values.
    let first = last["decided_ms"].as_u64().unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(20), || allocation(http)["decided_ms"]
            .as_u64()
            >= Some(first + 8_000)),
        "cycles stopped"
    );
    let v = allocation(http);
    assert_eq!(
        miner(&v, "cpu-1").map(|m| m["decided_target"].clone()),
        Some(json!("ltc-a")),
        "{v:#}"
    );
    assert_eq!(
        doge_pool.counters().connections_total,
        0,
        "no move while litecoin is better"
    );

    // 2. Dogecoin doubles and stays there: after the outlier hold and the rise confirmation the
    //    hub pushes the dogecoin pool, signed; the agent verifies, applies and connects there.
    prices.lock().expect("lock").insert("dogecoin", 0.2);
    let moved_at = Instant::now();
    doge_pool
        .wait_for("the rig on the dogecoin pool", Duration::from_secs(30), |c| {
            c.authorized >= 1
        })
        .await;
    let took = moved_at.elapsed();
    let switched = {
        let mut v = Value::Null;
        let ok = wait_until(Duration::from_secs(20), || {
            v = allocation(http);
            miner(&v, "cpu-1")
                .is_some_and(|m| m["current_target"] == "doge-b" && m["assignment"]["status"] == "applied")
        });
        assert!(ok, "/allocation {v:#}\n{}", logs());
        v
    };
    let a = &miner(&switched, "cpu-1").expect("cpu-1")["assignment"];
    assert_eq!(
        (a["from_target"].as_str(), a["to_target"].as_str()),
        (Some("ltc-a"), Some("doge-b")),
        "{a}"
    );
    assert_eq!(a["awaited"][0]["kind"], "config", "a signed config push: {a}");
    let hist = get_json(&format!("http://127.0.0.1:{http}/allocation/history?limit=500")).expect("history");
    let switch = hist["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| {
            d["assignments"]
                .as_array()
                .is_some_and(|x| x.iter().any(|a| a["id"] == "cpu-1" && a["to_target"] == "doge-b"))
        })
        .expect("the switching decision is stored");
    assert_eq!(
        switch["decision"]["sites"]["home"]["verdict"], "switch_confirmed_rise",
        "{switch:#}"
    );
    let alts = &switch["decision"]["alternatives"]["cpu-1"];
    assert!(
        alts.as_array().is_some_and(|x| x.len() == 3),
        "ltc-a, doge-b and pause priced: {alts}"
    );
    // The first cycles that saw the new price held it back or waited: no switch on first sight.
    let earlier: Vec<&Value> = hist["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|d| d["decided_ms"].as_u64() < switch["decided_ms"].as_u64())
        .take(2)
        .collect();
    assert!(
        earlier
            .iter()
            .any(|d| d["decision"]["held_back"]["pool:doge-b"].is_number()
                || d["decision"]["sites"]["home"]["verdict"] == "awaiting_confirmation"),
        "the move was confirmed before acting: {earlier:#?}"
    );
    eprintln!("switched {:.1} s after the move", took.as_secs_f64());
    // The rig that pinned no key refused the same move: rolled back, raised as an alert.
    let mut alerts = Value::Null;
    let raised = wait_until(Duration::from_secs(20), || {
        alerts = get_json(&format!("http://127.0.0.1:{http}/alerts")).unwrap_or(Value::Null);
        alerts["alerts"].as_array().is_some_and(|x| {
            x.iter().any(|a| {
                a["kind"] == "allocation_rejected"
                    && a["source"] == "allocation"
                    && a["subject"]["rig"] == "cpu-2"
            })
        })
    });
    assert!(raised, "no allocation alert for cpu-2: {alerts:#}\n{}", logs());
    let refused = get_json(&format!("http://127.0.0.1:{http}/allocation/history?limit=500"))
        .and_then(|h| h["decisions"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .flat_map(|d| d["assignments"].as_array().cloned().unwrap_or_default())
        .find(|a| a["id"] == "cpu-2" && a["status"] == "rejected")
        .expect("cpu-2's refused move is stored as rejected");
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("hub public key")),
        "the rig's own reason: {refused}"
    );
    assert_eq!(
        miner(&allocation(http), "cpu-2").map(|m| m["current_target"].clone()),
        Some(json!("ltc-a")),
        "cpu-2 still runs what it ran"
    );

    // 3. Litecoin spikes to 3x for one cycle: held back as an outlier, no move back.
    let cycles_after = |from: u64| {
        get_json(&format!("http://127.0.0.1:{http}/allocation/history?limit=500"))
            .and_then(|h| h["decisions"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d["decided_ms"].as_u64() > Some(from))
            .collect::<Vec<Value>>()
    };
    // Let the dogecoin window refill after its regime change, with the rig settled there.
    let now_ms = allocation(http)["decided_ms"].as_u64().unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(20), || cycles_after(now_ms).len() >= 5),
        "cycles stopped"
    );
    let ltc_conns = ltc_pool.counters().connections_total;
    let spike_from = allocation(http)["decided_ms"].as_u64().unwrap_or(0);
    prices.lock().expect("lock").insert("litecoin", 300.0);
    let seen = wait_until(Duration::from_secs(10), || {
        cycles_after(spike_from).iter().any(|d| {
            d["inputs"]["market"]["pool:ltc-a"].as_f64() > Some(2.0 * hashprice(Coin::Litecoin, 100.0))
        })
    });
    prices.lock().expect("lock").insert("litecoin", 100.0);
    assert!(seen, "the spike reached a decision\n{}", logs());
    let spike_cycle = cycles_after(spike_from)
        .into_iter()
        .filter(|d| {
            d["inputs"]["market"]["pool:ltc-a"].as_f64() > Some(2.0 * hashprice(Coin::Litecoin, 100.0))
        })
        .min_by_key(|d| d["decided_ms"].as_u64())
        .expect("spike cycle");
    assert!(
        spike_cycle["decision"]["held_back"]["pool:ltc-a"].is_number(),
        "the spike was held back: {spike_cycle:#}"
    );
    // Four more cycles at the old price: no decision moved the rig back.
    let spike_ms = spike_cycle["decided_ms"].as_u64().unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(20), || cycles_after(spike_ms).len() >= 4),
        "cycles stopped"
    );
    for d in cycles_after(spike_from) {
        assert!(
            !d["assignments"]
                .as_array()
                .is_some_and(|x| x.iter().any(|a| a["id"] == "cpu-1")),
            "moved on a spike: {d:#}"
        );
    }
    let v = allocation(http);
    assert_eq!(
        miner(&v, "cpu-1").map(|m| m["current_target"].clone()),
        Some(json!("doge-b")),
        "{v:#}"
    );
    assert_eq!(
        ltc_pool.counters().connections_total,
        ltc_conns,
        "no reconnect to litecoin"
    );

    // 4. A restarted hub carries on from its stored state and decisions: the last decision is
    //    served at once, and the next cycles keep the rig where it is.
    let before_restart = allocation(http)["decided_ms"].as_u64().expect("decided");
    hub.stop(Duration::from_secs(10));
    let mut hub = hub_env(
        dir.path(),
        http,
        Some(mqtt),
        0,
        &["--config", hub_toml.to_str().expect("utf8")],
        &[("HASHWARD_NO_COLLECTORS", "0")],
    );
    wait_for_http(http);
    let v = allocation(http);
    assert!(
        v["decided_ms"].as_u64() >= Some(before_restart),
        "the stored decision is served: {v:#}"
    );
    assert!(
        wait_until(Duration::from_secs(20), || cycles_after(before_restart).len()
            >= 3),
        "no cycles after the restart\n{}",
        logs()
    );
    for d in cycles_after(before_restart) {
        assert!(
            !d["assignments"]
                .as_array()
                .is_some_and(|x| x.iter().any(|a| a["id"] == "cpu-1")),
            "moved after the restart: {d:#}"
        );
    }
    assert_eq!(
        ltc_pool.counters().connections_total,
        ltc_conns,
        "no reconnect to litecoin"
    );

    // Bad demand-response input is refused naming the field (no operator token configured:
    // the write is refused before anything else).
    let r = ureq::post(&format!("http://127.0.0.1:{http}/sites/farm/curtail"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(json!({"reduce_kw": 1.0, "minutes": 10}))
        .expect("post");
    assert_eq!(r.status().as_u16(), 403);
    eprintln!("allocation e2e took {:.1} s", started.elapsed().as_secs_f64());
    for a in &mut agents {
        a.stop(Duration::from_secs(10));
    }
    hub.stop(Duration::from_secs(10));
}

/// `auto` without the signing key refuses to start, naming the key; a bad `[allocation]` key is
/// refused naming it.
#[test]
fn auto_without_a_signing_key_or_with_a_bad_key_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (toml, want) in [
        ("[allocation]\nmode = \"auto\"\n", "[commands] signing_key"),
        ("[allocation]\ninterval_s = 0\n", "allocation.interval_s"),
        (
            "[allocation.sites.farm]\npower_cap_kw = -2.0\n",
            "allocation.sites.farm.power_cap_kw",
        ),
    ] {
        let cfg = dir.path().join("hub.toml");
        std::fs::write(&cfg, toml).expect("hub.toml");
        let (http, mqtt) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let data = dir.path().join("data");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hashward"))
            .args([
                "hub",
                "serve",
                "--config",
                cfg.to_str().expect("utf8"),
                "--http",
                &http,
            ])
            .args(["--mqtt-listen", &mqtt, "--data-dir", data.to_str().expect("utf8")])
            .env("HASHWARD_NO_COLLECTORS", "1")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let exited = wait_until(Duration::from_secs(20), || {
            child.try_wait().ok().flatten().is_some()
        });
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the hub started with {toml:?}");
        }
        let out = child.wait_with_output().expect("output");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{toml:?}: {err}");
    }
}

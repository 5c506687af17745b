//! The hub's pool-level Sentinel end to end (issue 22): a real hub process with the repository's
//! models and `[sentinel] interval_s = 1`, a real mosquitto, four real agent processes (sites
//! `north` with three rigs, `south` with one) each polling three fake Vnish ASICs (real wire
//! format), and a fake Prohashing WAMP router (`hub/tests/support/wamp_router.rs`, its real
//! wire format) whose miner-diff events this test publishes: it is the pool.
//!
//! The test drives the fleet in rounds; one round is one pool update: the ASICs' share counters
//! and hashrates move, the test waits until the hub holds those readings, publishes the pool's
//! view of every worker in one `miner_update_diffs` event, and waits for the Sentinel's
//! assessment of that state on `/api/v1/sentinel/findings`. Scenarios share the one pool
//! (Prohashing is one account) and run one after another: (e) a quiet warm-up with an agent
//! restart and an ASIC reboot raises nothing; (a) a worker whose pool user was swapped pays
//! someone else (the pool sees it fall to nothing, the miner reports full speed) ->
//! `hashrate_hijacking`; (b) invalid shares surging on two thirds of the workers ->
//! `share_manipulation`; (d) the three rigs of `north` lose most of their hashrate on both sides
//! and their agents alert -> the site-level finding (`unknown`, subject site `north`). Each threat
//! must alert within two pool updates, on the findings, `/alerts` and a webhook receiver.
//! (c) a short payout: the Prohashing feed carries balances, not payouts (see
//! `sentinel::service::build_update`), so it is asked of the same hub through
//! `POST /api/v1/sentinel/detect`, with a full payout as the control.

#[path = "../agent/tests/asic_support/mod.rs"]
mod asic_support;
#[path = "support/receivers.rs"]
mod receivers;
mod support;
#[path = "../hub/tests/support/wamp_router.rs"]
mod wamp_router;

use asic_support::{fixtures, FakeVnish};
use receivers::FakeHttp;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use support::*;
use wamp_router::{Router, API_KEY};

const RIGS: [(&str, &str); 4] = [("north", "n1"), ("north", "n2"), ("north", "n3"), ("south", "s1")];
const ASICS_PER_RIG: usize = 3;
/// Shares each ASIC finds per pool update at full speed (the surge rule needs >= 20).
const SHARES: f64 = 100.0;
const POOL: &str = "prohashing";

/// SplitMix64 and Box-Muller: deterministic noise without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct Asic {
    rig: usize,
    id: String,
    worker: String,
    uuid: String,
    vnish: FakeVnish,
    /// GH/s, as Vnish reports it.
    nominal_ghs: f64,
    accepted: u64,
    rejected: u64,
    stale: u64,
    /// What the miner reports now, GH/s.
    reported_ghs: f64,
}

impl Asic {
    /// Writes the current counters and hashrate into the fake's summary.
    fn publish(&self) {
        let (hr, a, r, s) = (self.reported_ghs, self.accepted, self.rejected, self.stale);
        let factor = hr / self.nominal_ghs;
        self.vnish.with(|st| {
            let m = &mut st.summary["miner"];
            m["hr_realtime"] = json!(hr);
            m["hr_average"] = json!(hr);
            if let Some(chains) = m["chains"].as_array_mut() {
                let n = chains.len() as f64;
                for c in chains {
                    c["hashrate_rt"] = json!(self.nominal_ghs / n * factor);
                }
            }
            let p = &mut m["pools"][0];
            p["user"] = json!(self.worker);
            p["accepted"] = json!(a);
            p["rejected"] = json!(r);
            p["stale"] = json!(s);
            // The backup pool found nothing: the reading's shares are pool 0's.
            for k in ["accepted", "rejected", "stale"] {
                m["pools"][1][k] = json!(0);
            }
        });
    }
}

/// What is different about one pool update, by ASIC index.
#[derive(Default)]
struct Mods {
    /// Factor on what the pool measures only (a swapped wallet, a reboot's lag).
    pool: BTreeMap<usize, f64>,
    /// Factor on both sides (a site losing power): set on the fakes before the round.
    both: BTreeMap<usize, f64>,
    /// Invalid share rate (default 0.5 %).
    invalid: BTreeMap<usize, f64>,
    /// ASICs that rebooted: their counters start again from zero.
    reset: Vec<usize>,
}

struct Fleet {
    asics: Vec<Asic>,
    router: Router,
    http: u16,
    rng: Rng,
    last_at_ms: u64,
    round: usize,
}

fn url(http: u16, path: &str) -> String {
    format!("http://127.0.0.1:{http}{path}")
}

impl Fleet {
    fn findings(&self) -> Value {
        get_json(&url(self.http, "/api/v1/sentinel/findings")).unwrap_or(Value::Null)
    }

    fn pool_finding(&self) -> Option<Value> {
        self.findings()["findings"]
            .as_array()?
            .iter()
            .find(|f| f["pool"] == POOL)
            .cloned()
    }

    /// Sets what the miners report (the `both` factors) without a pool update.
    fn set_reported(&mut self, both: &BTreeMap<usize, f64>) {
        for (i, a) in self.asics.iter_mut().enumerate() {
            let f = both.get(&i).copied().unwrap_or(1.0);
            a.reported_ghs = a.nominal_ghs * f * (1.0 + 0.005 * self.rng.normal());
            a.publish();
        }
    }

    /// One pool update: the miners' counters move, the hub gets their readings, the pool
    /// publishes its view, the Sentinel assesses it. Returns the finding.
    fn round(&mut self, m: &Mods) -> Value {
        self.round += 1;
        let t0 = hashward_common::clock::now_ms();
        self.set_reported(&m.both);
        let mut pool_view = Vec::new();
        for (i, a) in self.asics.iter_mut().enumerate() {
            let f = a.reported_ghs / a.nominal_ghs;
            let shares = (SHARES * f * (1.0 + 0.05 * self.rng.normal())).max(0.0).round() as u64;
            let p_inv = m.invalid.get(&i).copied().unwrap_or(0.005);
            let inv = (shares as f64 * p_inv + self.rng.next()).floor() as u64;
            let stale = (shares as f64 * 0.01 + self.rng.next()).floor() as u64;
            if m.reset.contains(&i) {
                (a.accepted, a.rejected, a.stale) = (0, 0, 0);
            }
            a.accepted += shares.saturating_sub(inv + stale);
            a.rejected += inv;
            a.stale += stale;
            a.publish();
            let seen = m.pool.get(&i).copied().unwrap_or(1.0);
            let pool_hs = a.reported_ghs * 1e9 * seen * (1.0 + 0.04 * self.rng.normal()).max(0.0);
            pool_view.push(
                json!({"uuid": a.uuid, "miner_name": a.worker, "coin_name": "bitcoin",
                "algorithm_name": "SHA-256", "hashrate": pool_hs, "share_count": a.accepted}),
            );
        }
        // The hub holds every ASIC's new reading before the pool reports.
        let http = self.http;
        let ok = wait_until(Duration::from_secs(30), || {
            self.asics.iter().all(|a| {
                hub_records(http, RIGS[a.rig].1, &format!("asics?from={t0}"))
                    .iter()
                    .any(|r| r["asic"]["miner_id"] == a.id && r["asic"]["shares"]["accepted"] == a.accepted)
            })
        });
        assert!(
            ok,
            "round {}: the hub did not get every ASIC's reading",
            self.round
        );
        self.router
            .publish(&format!("miner_update_diffs_{API_KEY}"), Value::Array(pool_view));
        let last = self.last_at_ms;
        let mut found = None;
        let ok = wait_until(Duration::from_secs(15), || {
            found = self
                .pool_finding()
                .filter(|f| f["at_ms"].as_u64().is_some_and(|at| at > last && at >= t0));
            found.is_some()
        });
        assert!(
            ok,
            "round {}: no Sentinel assessment of the pool update",
            self.round
        );
        let f = found.unwrap_or_default();
        self.last_at_ms = f["at_ms"].as_u64().unwrap_or(last);
        eprintln!(
            "round {:2}: anomaly {} threat {} severity {} score {:.3} features {}",
            self.round, f["is_anomaly"], f["threat_type"], f["severity"], f["ensemble_score"], f["features"]
        );
        f
    }

    fn sentinel_alerts(&self) -> Vec<Value> {
        get_json(&url(self.http, "/alerts"))
            .and_then(|v| v["alerts"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["source"] == "sentinel")
            .collect()
    }
}

/// A finding that raises an alert: an anomaly of medium severity or above.
fn alerting(f: &Value) -> bool {
    f["is_anomaly"] == true && ["medium", "high", "critical"].contains(&f["severity"].as_str().unwrap_or(""))
}

/// Runs `rounds` pool updates of `mods(k)`; returns the first alerting finding and its round.
fn threat(fleet: &mut Fleet, rounds: usize, mods: impl Fn(usize) -> Mods) -> Option<(usize, Value)> {
    let mut first = None;
    for k in 0..rounds {
        let f = fleet.round(&mods(k));
        if first.is_none() && alerting(&f) {
            first = Some((k, f));
        }
    }
    first
}

/// Waits for the Sentinel's active alert of `kind` in `/alerts`.
fn wait_alert(fleet: &Fleet, kind: &str) -> Value {
    let mut found = None;
    let ok = wait_until(Duration::from_secs(10), || {
        found = fleet
            .sentinel_alerts()
            .into_iter()
            .find(|a| a["kind"] == kind && a["state"] != "resolved");
        found.is_some()
    });
    assert!(ok, "no {kind} alert in /alerts: {:?}", fleet.sentinel_alerts());
    found.unwrap_or_default()
}

fn agent_config(spec: &AgentSpec, asics: &[Asic], rig: usize, creds: &Path) {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut text = std::fs::read_to_string(&spec.config).expect("config");
    text.push_str(&format!(
        "[inference]\nenabled = true\nbundled_models_dir = \"{}\"\n\
         [asic]\ncredentials_file = \"{}\"\ntelemetry_interval_s = 1\ntelemetry_max_interval_s = 2\n",
        models.display(),
        creds.display()
    ));
    for a in asics.iter().filter(|a| a.rig == rig) {
        text.push_str(&format!(
            "[[asic.miners]]\nid = \"{}\"\nurl = \"{}\"\nkind = \"vnish\"\n",
            a.id,
            a.vnish.url()
        ));
    }
    std::fs::write(&spec.config, text).expect("write config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_threats_raise_the_right_findings_and_a_quiet_fleet_none() {
    let Some(bin) = mosquitto_binary() else { return };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(22);

    // The miners: three ASICs per rig, each its own fake Vnish and pool worker.
    let mut asics = Vec::new();
    for (r, (_, rig)) in RIGS.iter().enumerate() {
        for k in 0..ASICS_PER_RIG {
            let vnish = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
            let nominal_ghs = 100_000.0 + 8_000.0 * rng.next();
            let a = Asic {
                rig: r,
                id: format!("{rig}-asic{k}"),
                worker: format!("acct.{rig}a{k}"),
                uuid: format!("6b1e0c1a-{rig}-{k}"),
                vnish,
                nominal_ghs,
                accepted: 1000,
                rejected: 5,
                stale: 10,
                reported_ghs: nominal_ghs,
            };
            a.publish();
            asics.push(a);
        }
    }
    // The pool: the login snapshot lists every worker at full speed.
    let router = Router::start("127.0.0.1:0".parse().expect("addr"), false).await;
    *router.miners.lock().expect("miners") = Value::Array(
        asics
            .iter()
            .map(|a| {
                json!({"uuid": a.uuid, "miner_name": a.worker, "coin_name": "bitcoin",
                "algorithm_name": "SHA-256", "hashrate": a.nominal_ghs * 1e9, "difficulty": 65536,
                "difficulty_is_static": false, "share_count": a.accepted})
            })
            .collect(),
    );
    *router.profitability.lock().expect("profitability") = wamp_router::fresh_profitability();
    let hook = FakeHttp::webhook();

    let (broker, http) = (free_port(), free_port());
    let mut mosquitto = Mosquitto::new(bin, dir.path(), broker, "");
    mosquitto.start();
    let cfg = dir.path().join("hub.toml");
    let explorers: String = ["bitcoin", "litecoin", "dogecoin"]
        .iter()
        .map(|c| format!("[collect.explorer.{c}]\nenabled = false\n"))
        .collect();
    std::fs::write(
        &cfg,
        format!(
            "[sentinel]\ninterval_s = 1\n\
             [collect.coingecko]\nenabled = false\n[collect.coinmarketcap]\nenabled = false\n{explorers}\
             [collect.prohashing]\napi_key = \"{API_KEY}\"\nurl = \"ws://{}/ws\"\nhttp_enabled = false\n\
             reconnect_min_s = 0.2\nreconnect_max_s = 2\n\
             [notify]\ntick_ms = 100\n[[notify.receivers]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}/sentinel\"\n\
             [[notify.routes]]\nreceivers = [\"hook\"]\ngroup_wait_ms = 100\n",
            router.addr,
            hook.url()
        ),
    )
    .expect("hub.toml");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let models_arg = models.to_str().expect("utf8");
    let mut hub = hub_with_config(dir.path(), http, broker, &cfg, &["--models-dir", models_arg]);
    wait_for_ingest(http);

    let creds = dir.path().join("asic-credentials.toml");
    std::fs::write(&creds, "[default]\npassword = \"admin\"\n").expect("creds");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let specs: Vec<AgentSpec> = RIGS
        .iter()
        .enumerate()
        .map(|(r, (site, rig))| {
            let spec = agent_spec(dir.path(), site, rig, broker, 1000);
            agent_config(&spec, &asics, r, &creds);
            spec
        })
        .collect();
    let mut agents: Vec<Proc> = specs.iter().map(agent).collect();

    // The pool's login snapshot arrives and its subscriptions are in place.
    let ok = wait_until(Duration::from_secs(20), || {
        router.seen.subscriptions.load(Ordering::Relaxed) >= 3
    });
    assert!(
        ok,
        "the hub never subscribed to the pool's feeds; hub log:\n{}",
        hub_log(dir.path())
    );
    let findings = get_json(&url(http, "/api/v1/sentinel/findings")).expect("findings");
    assert_eq!(findings["model"]["loaded"], true, "{findings}");
    let mut fleet = Fleet {
        asics,
        router,
        http,
        rng,
        last_at_ms: 0,
        round: 0,
    };

    // (e) A quiet fleet, with an agent restarted and an ASIC rebooted, raises nothing.
    let mut quiet = Vec::new();
    for _ in 0..4 {
        quiet.push(fleet.round(&Mods::default()));
    }
    agents[3].stop(Duration::from_secs(10));
    agents[3] = agent(&specs[3]);
    quiet.push(fleet.round(&Mods::default()));
    quiet.push(fleet.round(&Mods {
        reset: vec![4],
        pool: BTreeMap::from([(4, 0.8)]),
        ..Mods::default()
    }));
    quiet.push(fleet.round(&Mods::default()));
    let loud: Vec<&Value> = quiet.iter().filter(|f| alerting(f)).collect();
    assert!(loud.is_empty(), "the quiet fleet alerted: {loud:?}");
    assert!(
        fleet.sentinel_alerts().is_empty(),
        "{:?}",
        fleet.sentinel_alerts()
    );
    let f = &quiet[quiet.len() - 1];
    let ratio = f["features"]["hashrate_ratio"].as_f64().unwrap_or(0.0);
    assert!(
        (0.85..1.15).contains(&ratio),
        "our workers joined to the pool's: {f}"
    );

    // (a) n1's second ASIC: its pool user now pays someone else; the pool sees it fall to 30 %
    // of an update, then to nothing, while the ASIC reports full speed.
    let hijacked = 1;
    let worker = fleet.asics[hijacked].worker.clone();
    let (k, f) = threat(&mut fleet, 2, |k| Mods {
        pool: BTreeMap::from([(hijacked, if k == 0 { 0.3 } else { 0.0 })]),
        ..Mods::default()
    })
    .expect("no alerting finding within two pool updates of the swapped wallet");
    assert_eq!(f["threat_type"], "hashrate_hijacking", "update {k}: {f}");
    assert_eq!(f["culprits"]["low_workers"][0][0], worker.as_str(), "{f}");
    assert_eq!(f["culprits"]["low_workers"][0][1], "n1", "{f}");
    let a = wait_alert(&fleet, "hashrate_hijacking");
    assert_eq!(a["subject"]["pool"], POOL, "{a}");
    assert!(a["message"].as_str().is_some_and(|m| m.contains(&worker)), "{a}");
    for _ in 0..3 {
        fleet.round(&Mods::default());
    }

    // (b) Invalid shares surge to 20 % on eight of the twelve workers at once.
    let surging: Vec<usize> = (0..fleet.asics.len()).filter(|i| i % 3 != 0).collect();
    let (k, f) = threat(&mut fleet, 2, |_| Mods {
        invalid: surging.iter().map(|i| (*i, 0.2)).collect(),
        ..Mods::default()
    })
    .expect("no alerting finding within two pool updates of the share surge");
    assert_eq!(f["threat_type"], "share_manipulation", "update {k}: {f}");
    let named = f["culprits"]["surging_workers"].as_array().map_or(0, Vec::len);
    assert!(named >= surging.len(), "{f}");
    let a = wait_alert(&fleet, "share_manipulation");
    assert_eq!(a["subject"]["pool"], POOL, "{a}");
    for _ in 0..3 {
        fleet.round(&Mods::default());
    }

    // (d) Site north loses 70 % of its hashrate on both sides (miners and pool) and its three
    // agents alert: a site problem, not a rig problem.
    let north: BTreeMap<usize, f64> = (0..fleet.asics.len())
        .filter(|i| fleet.asics[*i].rig < 3)
        .map(|i| (i, 0.3))
        .collect();
    fleet.set_reported(&north);
    let ok = wait_until(Duration::from_secs(40), || {
        let active: Vec<Value> = get_json(&url(http, "/alerts?site=north"))
            .and_then(|v| v["alerts"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["source"] == "agent" && a["state"] != "resolved")
            .collect();
        ["n1", "n2", "n3"]
            .iter()
            .all(|r| active.iter().any(|a| a["subject"]["rig"] == *r))
    });
    assert!(
        ok,
        "north's agents did not alert; n1 log:\n{}",
        agent_log(&specs[0])
    );
    let (k, f) = threat(&mut fleet, 2, |_| Mods {
        both: north.clone(),
        ..Mods::default()
    })
    .expect("no alerting finding within two pool updates of the site-wide event");
    assert_eq!(f["threat_type"], "unknown", "update {k}: {f}");
    assert_eq!(f["culprits"]["site"]["site"], "north", "{f}");
    let a = wait_alert(&fleet, "unknown");
    assert_eq!(a["subject"]["site"], "north", "{a}");
    assert!(
        a["message"].as_str().is_some_and(|m| m.contains("site-wide")),
        "{a}"
    );
    // A critical finding acts on nothing by itself: it holds pool switches, listed as such.
    assert_eq!(f["recommended_action"]["auto_execute"], false, "{f}");
    if a["level"] == "critical" {
        let holds = fleet.findings()["pool_switch_holds"].clone();
        let held = holds
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["pool"] == POOL));
        assert!(held, "critical {a} but no hold: {holds}");
    }

    // Each raise reached the webhook receiver.
    let ok = wait_until(Duration::from_secs(10), || {
        let bodies: Vec<String> = hook.requests().iter().map(|r| r.text()).collect();
        ["hashrate_hijacking", "share_manipulation", "site-wide"]
            .iter()
            .all(|k| bodies.iter().any(|b| b.contains(k)))
    });
    assert!(
        ok,
        "webhook got: {:?}",
        hook.requests().iter().map(|r| r.text()).collect::<Vec<_>>()
    );

    // (c) A short payout, asked of the same hub's endpoint: half of what the work implies is
    // suspicious, all of it is not.
    let detect = |paid: f64| -> Value {
        let body = json!({"connections_per_second": 0, "hashrate": 1.25e15, "reported_hashrate": 1.25e15,
            "valid_shares_rate": 1188.0, "invalid_shares_rate": 6.0, "stale_shares_rate": 12.0,
            "avg_share_difficulty": 65536, "unique_workers": 12,
            "payout_amount": paid, "expected_payout_amount": 0.002});
        let mut resp = ureq::post(&url(http, "/api/v1/sentinel/detect"))
            .send_json(&body)
            .expect("detect");
        resp.body_mut().read_json::<Value>().expect("json")
    };
    let short = detect(0.001);
    assert_eq!(short["threat_type"], "suspicious_payout", "{short}");
    assert!(alerting(&short), "{short}");
    let full = detect(0.002);
    assert_eq!(full["is_anomaly"], false, "{full}");

    let findings = fleet.findings();
    assert_eq!(findings["failed_updates"], 0, "{findings}");
    eprintln!(
        "{} pool updates assessed, {} Sentinel alerts raised, {:.1} s",
        findings["assessed_updates"],
        findings["alerts_raised"],
        started.elapsed().as_secs_f64()
    );
    for a in &mut agents {
        a.stop(Duration::from_secs(10));
    }
    hub.stop(Duration::from_secs(10));
    mosquitto.stop();
}

fn hub_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("hub.log")).unwrap_or_default()
}

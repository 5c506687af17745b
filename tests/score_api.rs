//! Seed 003's score API end to end: rigs of three sites on two chains send back-dated alerts
//! of three days over MQTT to a hub (multi-network: bitcoin and litecoin); with the hub stopped,
//! `score-batch` scores each day (and a re-run with damaged models FAILS, leaving the day's
//! COMPLETED batch served); `export alerts` writes them for retraining; the restarted hub then
//! answers every endpoint, walked by a stdlib-only Python client like the seed's validator
//! (tests/scores/seed003_client.py: every field's type and range, the seed's errors, CORS, gzip,
//! pagination).

mod support;

use hashward_protocol::{
    encode, AgentCounters, Alert, Body, Envelope, Hardware, MinerTelemetry, PoolTelemetry, RecommendedAction,
    RigId, RigState, RigTelemetry, Severity, ThreatType,
};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::*;

const DAY_MS: u64 = 86_400_000;
const H: u64 = 3_600_000;
const MIN: u64 = 60_000;

struct Rig {
    site: &'static str,
    rig: &'static str,
    cpu: &'static str,
    algo: &'static str,
    pool: &'static str,
}

const RIGS: [Rig; 11] = [
    Rig {
        site: "alpha",
        rig: "a1",
        cpu: "EPYC 7302",
        algo: "sha256d",
        pool: "stratum+tcp://btc.pool.example:3333",
    },
    Rig {
        site: "alpha",
        rig: "a2",
        cpu: "EPYC 7302",
        algo: "sha256d",
        pool: "stratum+tcp://btc.pool.example:3333",
    },
    Rig {
        site: "alpha",
        rig: "a3",
        cpu: "EPYC 7302",
        algo: "sha256d",
        pool: "stratum+tcp://btc.pool.example:3333",
    },
    Rig {
        site: "alpha",
        rig: "a4",
        cpu: "EPYC 7302",
        algo: "sha256d",
        pool: "stratum+tcp://btc.pool.example:3333",
    },
    Rig {
        site: "alpha",
        rig: "a5",
        cpu: "EPYC 7302",
        algo: "sha256d",
        pool: "stratum+tcp://btc.pool.example:3333",
    },
    Rig {
        site: "beta",
        rig: "b1",
        cpu: "Ryzen 9 5950X",
        algo: "sha256d",
        pool: "stratum+tcp://solo.btc.example:3333",
    },
    Rig {
        site: "beta",
        rig: "b2",
        cpu: "Ryzen 9 5950X",
        algo: "sha256d",
        pool: "stratum+tcp://solo.btc.example:3333",
    },
    Rig {
        site: "beta",
        rig: "b3",
        cpu: "Ryzen 9 5950X",
        algo: "sha256d",
        pool: "stratum+tcp://solo.btc.example:3333",
    },
    Rig {
        site: "gamma",
        rig: "l1",
        cpu: "Xeon E5",
        algo: "scrypt",
        pool: "stratum+tcp://ltc.pool.example:3333",
    },
    Rig {
        site: "gamma",
        rig: "l2",
        cpu: "Xeon E5",
        algo: "scrypt",
        pool: "stratum+tcp://ltc.pool.example:3333",
    },
    Rig {
        site: "gamma",
        rig: "l3",
        cpu: "Xeon E5",
        algo: "scrypt",
        pool: "stratum+tcp://ltc.pool.example:3333",
    },
];

fn alert(threat: ThreatType, score: f32) -> Body {
    Body::Alert(Alert {
        subject: "rig".into(),
        score,
        threat_type: threat,
        severity: Severity::from_score(score),
        action: RecommendedAction {
            action: "alert".into(),
            description: "check the rig".into(),
            auto_execute: false,
        },
        model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
        message: format!("{threat:?} at {score}"),
    })
}

/// The alerts of day `i` (0..3) starting at `day_ms`: (rig index, ts, body).
fn day_alerts(i: u64, day_ms: u64) -> Vec<(usize, u64, Body)> {
    let mut out = Vec::new();
    // A site-wide cooling failure at alpha: all five rigs within ten minutes.
    for r in 0..5 {
        out.push((
            r,
            day_ms + 3 * H + r as u64 * 2 * MIN,
            alert(ThreatType::Overheat, 0.75 + 0.03 * r as f32),
        ));
    }
    // One rig's fan dies: three alerts, 20 minutes apart.
    for k in 0..3 {
        out.push((
            5,
            day_ms + 10 * H + k * 20 * MIN,
            alert(ThreatType::FanFailure, 0.95),
        ));
    }
    // A transient hashrate dip, and `i` more on another rig (the days differ in size).
    out.push((6, day_ms + 15 * H, alert(ThreatType::HashrateDrop, 0.6)));
    for k in 0..i {
        out.push((
            7,
            day_ms + 16 * H + k * 90 * MIN,
            alert(ThreatType::HashrateDrop, 0.55),
        ));
    }
    // Litecoin: the pool rejects two rigs' shares, a third overheats in the evening.
    out.push((8, day_ms + 8 * H, alert(ThreatType::RejectionSurge, 0.7)));
    out.push((
        9,
        day_ms + 8 * H + 5 * MIN,
        alert(ThreatType::RejectionSurge, 0.72),
    ));
    out.push((10, day_ms + 20 * H, alert(ThreatType::Overheat, 0.92)));
    out
}

fn publish_all(port: u16, msgs: &[(String, Vec<u8>)]) {
    let mut opts = MqttOptions::new("score-sender", "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, msgs.len() + 10);
    for (topic, payload) in msgs {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
            .expect("queue");
    }
    let mut acked = 0;
    for ev in conn.iter() {
        match ev {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked == msgs.len() {
                    break;
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => panic!("sender: {e} after {acked} acks"),
        }
    }
    let _ = client.disconnect();
}

/// Alerts published per (network, processing date).
type Counts = BTreeMap<(String, String), u64>;

fn messages(first_day_ms: u64) -> (Vec<(String, Vec<u8>)>, Counts) {
    let mut seq = [0u64; RIGS.len()];
    let mut msgs = Vec::new();
    let env = |r: usize, seq: u64, ts: u64, body: Body| {
        let leaf = body.kind();
        let bytes = encode(&Envelope::new(
            RigId::new(RIGS[r].rig).expect("id"),
            seq,
            ts,
            body,
        ))
        .expect("encode");
        (
            format!("hashward/v1/{}/{}/{leaf}", RIGS[r].site, RIGS[r].rig),
            bytes,
        )
    };
    for (r, rig) in RIGS.iter().enumerate() {
        msgs.push(env(
            r,
            0,
            first_day_ms,
            Body::State(RigState {
                online: true,
                boot: 1,
                agent_version: "test".into(),
                hardware: Some(Hardware {
                    cpu_model: rig.cpu.into(),
                    logical_cores: 16,
                    physical_cores: 8,
                    numa_nodes: 1,
                    memory_bytes: 1 << 34,
                    arch: "x86_64".into(),
                    os: "linux".into(),
                    hostname: rig.rig.into(),
                }),
                capabilities: vec![],
            }),
        ));
        seq[r] += 1;
        msgs.push(env(
            r,
            seq[r],
            first_day_ms,
            Body::Tele(RigTelemetry {
                uptime_s: 1,
                load_1m: 1.0,
                load_5m: 1.0,
                load_15m: 1.0,
                cpu_usage_pct: 90.0,
                memory_used_bytes: 1,
                memory_total_bytes: 2,
                temperatures: vec![],
                miner: Some(MinerTelemetry {
                    algo: rig.algo.into(),
                    kernel: "x".into(),
                    threads: 8,
                    batch: 1,
                    paused: false,
                    hashrate_10s: Default::default(),
                    hashrate_60s: Default::default(),
                    hashrate_15m: Default::default(),
                    pool: Some(PoolTelemetry {
                        url: rig.pool.into(),
                        user: "w".into(),
                        connected: true,
                        difficulty: 1.0,
                        accepted: 1,
                        rejected: 0,
                        stale_dropped: 0,
                        last_share_ts_ms: None,
                        latency_ms: None,
                    }),
                    constraints: vec![],
                }),
                agent: AgentCounters::default(),
            }),
        ));
    }
    let mut counts = BTreeMap::new();
    for i in 0..3u64 {
        let day_ms = first_day_ms + i * DAY_MS;
        let date = hashward_hub::scores::date::ProcessingDate::of_ms(day_ms).to_string();
        for (r, ts, body) in day_alerts(i, day_ms) {
            seq[r] += 1;
            let net = if RIGS[r].algo == "scrypt" {
                "litecoin"
            } else {
                "bitcoin"
            };
            *counts.entry((net.to_string(), date.clone())).or_default() += 1;
            msgs.push(env(r, seq[r], ts, body));
        }
    }
    (msgs, counts)
}

fn run_json(args: &[&str]) -> (bool, Vec<Value>, String) {
    let (ok, out, err) = cli(args);
    let lines = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (ok, lines, err)
}

fn copy_models(from: &Path, to: &Path) {
    for mt in ["alert_scorer", "cluster_scorer"] {
        std::fs::create_dir_all(to.join(mt)).expect("mkdir");
        for f in ["metadata.json", "model.onnx"] {
            std::fs::copy(from.join(mt).join(f), to.join(mt).join(f)).expect("copy");
        }
    }
}

#[test]
fn three_days_of_alerts_are_scored_and_every_endpoint_answers_in_the_seed_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let now = hashward_common::clock::now_ms();
    let today = now - now % DAY_MS;
    let first_day = today - 3 * DAY_MS;
    let date = |ms: u64| hashward_hub::scores::date::ProcessingDate::of_ms(ms).to_string();
    let days: Vec<String> = (0..3).map(|i| date(first_day + i * DAY_MS)).collect();
    let cfg = dir.path().join("hub.toml");
    std::fs::write(
        &cfg,
        "[scores]\nnetworks = [\"bitcoin\", \"litecoin\"]\nbatch = true\n",
    )
    .expect("config");
    let cfg_s = cfg.to_str().expect("utf8").to_string();
    let models_s = models.to_str().expect("utf8").to_string();
    let data = dir.path().join("hub");
    let data_s = data.to_str().expect("utf8").to_string();

    // The alerts reach the hub over MQTT, back-dated.
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub_with(
        dir.path(),
        http,
        None,
        mqtt,
        &["--config", &cfg_s, "--models-dir", &models_s],
    );
    wait_for_ingest(http);
    let (msgs, counts) = messages(first_day);
    let total: u64 = counts.values().sum();
    publish_all(mqtt, &msgs);
    let stored = wait_until(Duration::from_secs(30), || {
        RIGS.iter()
            .map(|r| hub_records(http, r.rig, "alerts?limit=1000").len() as u64)
            .sum::<u64>()
            == total
    });
    assert!(stored, "the hub did not store {total} alerts");
    // `[scores] batch = true`: on start the service caught up the day that ended (the runs by
    // hand below replace it).
    let log = || std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
    let caught_up = wait_until(Duration::from_secs(30), || {
        ["bitcoin", "litecoin"]
            .iter()
            .all(|net| log().contains(&format!("score batch {net}/{}: Completed", days[2])))
    });
    assert!(
        caught_up,
        "the batch service did not catch up {}:\n{}",
        days[2],
        log()
    );
    hub.stop(Duration::from_secs(10));

    // With the hub stopped, each day's batch by hand.
    let mut first_runs = BTreeMap::new();
    for d in &days {
        let (ok, metas, err) = run_json(&[
            "hub",
            "score-batch",
            "--date",
            d,
            "--data-dir",
            &data_s,
            "--config",
            &cfg_s,
            "--models-dir",
            &models_s,
        ]);
        assert!(ok, "score-batch {d}: {err}");
        assert_eq!(metas.len(), 2, "one batch per network: {metas:?}");
        for m in metas {
            let net = m["network"].as_str().expect("network").to_string();
            assert_eq!(m["status"], "COMPLETED", "{m}");
            assert_eq!(
                m["input_counts_alerts"].as_u64(),
                counts.get(&(net.clone(), d.clone())).copied(),
                "{m}"
            );
            assert_eq!(m["output_counts_alert_rankings"], m["input_counts_alerts"], "{m}");
            assert!(m["model_versions_alert_scorer"]
                .as_str()
                .is_some_and(|v| v.starts_with("alert_scorer_v")));
            first_runs.insert((net, d.clone()), m);
        }
    }
    // A re-run whose cluster model is damaged FAILS, and the day's first batch stays served; a
    // day that only ever FAILED is not served at all.
    let broken = dir.path().join("broken-models");
    copy_models(&models, &broken);
    std::fs::write(broken.join("cluster_scorer/model.onnx"), b"not onnx").expect("damage");
    let broken_s = broken.to_str().expect("utf8");
    let failed_date = date(today - 5 * DAY_MS);
    for d in [&days[1], &failed_date] {
        let (ok, metas, err) = run_json(&[
            "hub",
            "score-batch",
            "--date",
            d,
            "--data-dir",
            &data_s,
            "--config",
            &cfg_s,
            "--models-dir",
            broken_s,
        ]);
        assert!(!ok, "a damaged model must fail the batch");
        assert!(err.contains("FAILED") && err.contains("cluster_scorer"), "{err}");
        assert!(
            metas
                .iter()
                .all(|m| m["status"] == "FAILED" && m["error"].is_string()),
            "{metas:?}"
        );
    }
    let (ok, _, err) = cli(&[
        "hub",
        "score-batch",
        "--date",
        "2026-02-30",
        "--data-dir",
        &data_s,
        "--models-dir",
        &models_s,
    ]);
    assert!(!ok && err.contains("YYYY-MM-DD"), "{err}");

    // The export for retraining: one line per scored alert, features by name, label to fill.
    let out = dir.path().join("alerts.jsonl");
    let (ok, _, err) = cli(&[
        "hub",
        "export",
        "alerts",
        "--from",
        &days[0],
        "--to",
        &days[2],
        "--data-dir",
        &data_s,
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(ok, "export: {err}");
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .expect("export file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len() as u64, total);
    assert!(lines
        .iter()
        .all(|l| l["label"].is_null() && l["features"].as_object().is_some_and(|f| f.len() == 12)));
    let alpha: Vec<&Value> = lines.iter().filter(|l| l["site"] == "alpha").collect();
    assert!(
        alpha
            .iter()
            .all(|l| l["features"]["site_rigs_alerting"].as_f64() == Some(4.0)),
        "{:?}",
        alpha[0]
    );

    // The hub, restarted, serves what the batches stored.
    let mut hub = hub_with(
        dir.path(),
        http,
        None,
        mqtt,
        &["--config", &cfg_s, "--models-dir", &models_s],
    );
    wait_for_http(http);
    let base = format!("http://127.0.0.1:{http}");
    let served = get_json(&format!("{base}/scores/alerts/bitcoin/{}", days[1])).expect("served");
    let first = &first_runs[&("bitcoin".to_string(), days[1].clone())];
    assert_eq!(
        served["metadata"]["processed_at"].as_str(),
        Some(hashward_hub::scores::date::rfc3339(first["updated_ms"].as_u64().expect("ms")).as_str()),
        "the FAILED re-run replaced the COMPLETED batch"
    );
    let mut alerts_per_date: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut total_alerts: BTreeMap<&str, u64> = BTreeMap::new();
    for ((net, d), n) in &counts {
        alerts_per_date.entry(net).or_default().insert(d, *n);
        *total_alerts.entry(net).or_default() += n;
    }
    let newest_first: Vec<&String> = days.iter().rev().collect();
    let client_cfg = json!({
        "networks": ["bitcoin", "litecoin"],
        "dates": {"bitcoin": newest_first, "litecoin": newest_first},
        "alerts_per_date": alerts_per_date,
        "total_alerts": total_alerts,
        "failed_date": failed_date,
        "future_date": date(today + 3 * DAY_MS),
        "empty_date": date(today - 10 * DAY_MS),
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scores/seed003_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&base)
        .arg(client_cfg.to_string())
        .output()
        .expect("python3 is needed to run the seed 003 client");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "seed 003 client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ALL OK"));
    // The client's bad input, counted: 25 bad dates, 5 unknown networks, 4 bad pages.
    assert_eq!(
        metric(http, "hashward_hub_score_api_bad_requests_total"),
        Some(34)
    );
    hub.stop(Duration::from_secs(10));
}

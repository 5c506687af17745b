//! The private tuning telemetry (seed 004, issue 22 part 2) against a real redb store and the
//! real HTTP routes: snapshots are folded at ingest and never kept, aggregates expire after 90
//! days, `DELETE /telem/my-data` removes exactly one contribution, bad ids change nothing, and
//! no telemetry table holds a rig id, host name or wallet after a realistic run.

use hashward_hub::api::telem::{router, TelemApi};
use hashward_hub::store::telem::{Forget, TelemStore, TABLES};
use hashward_hub::store::{Incoming, Outcome, RecordsRead, RigsRead, Store};
use hashward_hub::telem::aggregate::RETENTION_MS;
use hashward_protocol::{
    AgentCounters, Body, Envelope, Hardware, Hashrate, MinerTelemetry, PoolTelemetry, RigId, RigState,
    RigTelemetry, SiteId, TelemSnapshot, TelemetryId, TuningSnapshot,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const T0: u64 = 1_790_000_000_000;
/// A value only the snapshot carries: found anywhere in the store file, a raw record was kept.
const MARKER_VERSION: &str = "0.1.0+marker-7f3a9c";

fn id(n: u8) -> TelemetryId {
    TelemetryId::from_bytes([n; 16])
}

fn snapshot(threads: u32, batch: u32, rate: f64) -> TuningSnapshot {
    TuningSnapshot {
        cpu_model: "amd ryzen 9 5900x".into(),
        logical_cores: 24,
        physical_cores: 12,
        pow_algo: "sha256d".into(),
        profile: "balanced".into(),
        threads,
        batch_size: batch,
        numa_layout: "node0:12,node1:12".into(),
        avg_hashrate_hs: rate,
        sample_count: 30,
        client_version: MARKER_VERSION.into(),
    }
}

fn incoming(site: &str, rig: &str, seq: u64, ts: u64, body: Body) -> Incoming {
    let envelope = Envelope::new(RigId::new(rig).expect("id"), seq, ts, body);
    let bytes = hashward_protocol::encode(&envelope).expect("encode");
    Incoming {
        site: SiteId::new(site).expect("id"),
        envelope,
        bytes,
        received_ms: ts,
    }
}

fn telem(rig: &str, seq: u64, ts: u64, who: TelemetryId, s: TuningSnapshot) -> Incoming {
    incoming(
        "north",
        rig,
        seq,
        ts,
        Body::Telem(TelemSnapshot {
            telemetry_id: who,
            snapshot: s,
        }),
    )
}

fn tele(rig: &str, seq: u64, ts: u64, wallet: &str) -> Incoming {
    let t = RigTelemetry {
        uptime_s: seq,
        load_1m: 1.0,
        load_5m: 1.0,
        load_15m: 1.0,
        cpu_usage_pct: 90.0,
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 8 << 30,
        temperatures: vec![],
        miner: Some(MinerTelemetry {
            algo: "sha256d".into(),
            kernel: "sha256d-avx2x8".into(),
            threads: 12,
            batch: 8,
            paused: false,
            hashrate_10s: Hashrate(1.0e8),
            hashrate_60s: Hashrate(1.0e8),
            hashrate_15m: Hashrate(1.0e8),
            pool: Some(PoolTelemetry {
                url: "stratum+tcp://pool.example:3333".into(),
                user: format!("{wallet}.{rig}"),
                connected: true,
                difficulty: 1.0,
                accepted: 3,
                rejected: 0,
                stale_dropped: 0,
                last_share_ts_ms: Some(ts),
                latency_ms: Some(20),
            }),
            constraints: vec![],
        }),
        agent: AgentCounters::default(),
    };
    incoming("north", rig, seq, ts, Body::Tele(t))
}

fn open() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("hub.redb")).expect("open");
    (dir, Arc::new(store))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_snapshot_is_folded_never_kept_and_its_seq_still_counts() {
    let (dir, store) = open();
    let out = store
        .ingest(&[
            tele("rig-a", 1, T0, "bc1qwallet"),
            telem("rig-a", 2, T0 + 1, id(1), snapshot(12, 8, 100.0)),
            // An agent from before the telemetry id: accepted, folded into the shared legacy key.
            incoming("north", "rig-a", 3, T0 + 2, Body::Perf(snapshot(24, 16, 90.0))),
            telem("rig-a", 2, T0 + 1, id(1), snapshot(12, 8, 100.0)),
            tele("rig-a", 5, T0 + 5, "bc1qwallet"),
        ])
        .expect("ingest");
    assert_eq!(
        out,
        vec![
            Outcome::Stored,
            Outcome::Stored,
            Outcome::Stored,
            Outcome::Duplicate,
            Outcome::Stored
        ]
    );
    let rig = store.rig("rig-a").expect("read").expect("rig");
    assert_eq!((rig.seq.received, rig.seq.duplicates, rig.missing), (4, 1, 1));
    assert!(store
        .records_of_kind("rig-a", "perf", 0, u64::MAX, 100)
        .expect("list")
        .is_empty());
    let kept: Vec<u64> = store
        .records("rig-a", 0, u64::MAX, 100)
        .expect("list")
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(kept, vec![1, 5]);
    // The duplicate was not folded twice; the legacy snapshot is its own configuration.
    let aggs = store.telem_aggregates().expect("aggregates");
    assert_eq!(aggs.len(), 2);
    let a = aggs.iter().find(|a| a.key.threads == 12).expect("12 threads");
    assert_eq!((a.snapshots, a.contributions, a.avg_hashrate_hs), (1, 1, 100.0));
    assert_eq!(store.telem_counters().folded.load(Ordering::Relaxed), 2);
    // Not a byte of the snapshots anywhere in the store file.
    let file = std::fs::read(dir.path().join("hub.redb")).expect("read store");
    assert!(!contains(&file, MARKER_VERSION.as_bytes()));
    assert!(!contains(&file, b"node0:12,node1:12"));
}

#[test]
fn an_aggregate_older_than_ninety_days_is_gone() {
    let (_dir, store) = open();
    store
        .ingest(&[
            telem("rig-a", 1, T0, id(1), snapshot(12, 8, 100.0)),
            telem("rig-b", 1, T0, id(2), snapshot(24, 16, 200.0)),
            telem("rig-c", 1, T0 + 10 * 86_400_000, id(3), snapshot(24, 16, 100.0)),
        ])
        .expect("ingest");
    let p = store.telem_prune(T0 + RETENTION_MS - 1).expect("prune");
    assert_eq!((p.contributions, p.aggregates), (0, 0));
    assert_eq!(store.telem_aggregates().expect("read").len(), 2);

    let p = store.telem_prune(T0 + RETENTION_MS).expect("prune");
    assert_eq!((p.contributions, p.aggregates), (2, 1));
    let aggs = store.telem_aggregates().expect("read");
    // The 12-thread aggregate (last update T0) is gone; the 24-thread one lost rig-b's older
    // contribution and was recomputed from rig-c's alone.
    assert_eq!(aggs.len(), 1);
    assert_eq!(
        (
            aggs[0].key.threads,
            aggs[0].contributions,
            aggs[0].avg_hashrate_hs
        ),
        (24, 1, 100.0)
    );
    let c = store.telem_counters();
    assert_eq!(c.pruned_contributions.load(Ordering::Relaxed), 2);
    assert_eq!(c.removed_aggregates.load(Ordering::Relaxed), 1);
    let mut metrics = String::new();
    c.render(&mut metrics);
    assert!(
        metrics.contains("hashward_telem_contributions_pruned_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hashward_telem_aggregates_removed_total 1"),
        "{metrics}"
    );

    store
        .telem_prune(T0 + 10 * 86_400_000 + RETENTION_MS)
        .expect("prune");
    assert!(store.telem_aggregates().expect("read").is_empty());
}

static NOW: AtomicU64 = AtomicU64::new(T0);

async fn serve(store: Arc<Store>) -> String {
    let app = router(TelemApi {
        store,
        now_ms: || NOW.load(Ordering::Relaxed),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// One request with the status and JSON body, whatever the status.
async fn call(
    method: &'static str,
    url: String,
    header: Option<String>,
    body: Option<String>,
) -> (u16, serde_json::Value) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = match method {
            "GET" => agent.get(&url).call(),
            _ => {
                let mut req = agent.delete(&url).force_send_body();
                if let Some(h) = header {
                    req = req.header("X-Telemetry-Id", h);
                }
                req.send(body.unwrap_or_default())
            }
        }
        .expect("request");
        let status = resp.status().as_u16();
        (
            status,
            resp.body_mut().read_json().unwrap_or(serde_json::Value::Null),
        )
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn forgetting_one_contribution_changes_the_suggestions_and_bad_ids_change_nothing() {
    let (_dir, store) = open();
    store
        .ingest(&[
            telem("rig-a", 1, T0, id(1), snapshot(12, 8, 300.0)),
            telem("rig-a", 2, T0 + 1, id(1), snapshot(24, 16, 400.0)),
            telem("rig-b", 1, T0 + 2, id(2), snapshot(24, 16, 100.0)),
        ])
        .expect("ingest");
    let base = serve(store.clone()).await;
    let q = format!(
        "{base}/telem/suggestions?cpu_model=AMD%20Ryzen%209%205900X%2012-Core%20Processor&cores=24&pow_algo=sha256d&profile=balanced"
    );
    let (status, before) = call("GET", q.clone(), None, None).await;
    assert_eq!(status, 200, "{before}");
    let shape = |v: &serde_json::Value| -> Vec<(u64, u64, f64, u64)> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| {
                assert!(s["confidence"].as_f64().is_some(), "{s}");
                (
                    s["threads"].as_u64().expect("threads"),
                    s["batch_size"].as_u64().expect("batch"),
                    s["expected_hashrate"].as_f64().expect("rate"),
                    s["contributions"].as_u64().expect("n"),
                )
            })
            .collect()
    };
    assert_eq!(shape(&before), vec![(12, 8, 300.0, 1), (24, 16, 250.0, 2)]);
    let (status, board) = call("GET", format!("{base}/telem/leaderboard?limit=1"), None, None).await;
    assert_eq!(status, 200);
    assert_eq!(board["cpu_models"][0]["cpu_model"], "amd ryzen 9 5900x");
    assert_eq!(board["cpu_models"][0]["top"].as_array().map(Vec::len), Some(1));

    // Bad requests: each a 4xx naming the problem, and not a byte changes.
    let snapshot_of = || store.telem_raw_dump().expect("dump");
    let untouched = snapshot_of();
    let forget = format!("{base}/telem/my-data");
    let bad = [
        (None, None, 400, "no telemetry id"),
        (Some("xyz".to_string()), None, 400, "only hex digits"),
        (Some("ab".repeat(8)), None, 400, "characters long"),
        (
            None,
            Some("{\"telemetry_id\": 7}".to_string()),
            400,
            "must be a string",
        ),
        (None, Some("not json".to_string()), 400, "not JSON"),
        (
            Some(id(1).to_string()),
            Some(format!("{{\"telemetry_id\": \"{}\"}}", id(2))),
            400,
            "different",
        ),
        (
            Some(id(9).to_string()),
            None,
            404,
            "no contribution under this telemetry id",
        ),
    ];
    for (header, body, want, needle) in bad {
        let (status, v) = call("DELETE", forget.clone(), header.clone(), body.clone()).await;
        assert_eq!(status, want, "{header:?} {body:?}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{header:?} {body:?}: {v}"
        );
        assert_eq!(v["telemetry_id"].is_null(), want != 404, "{v}");
        if want == 400 {
            assert_eq!(
                (v["code"].as_str(), v["parameter"].as_str()),
                (Some("bad_parameter"), Some("telemetry_id"))
            );
        }
        assert_eq!(snapshot_of(), untouched, "{header:?} {body:?} changed the store");
    }
    assert_eq!(store.telem_counters().forget_refused.load(Ordering::Relaxed), 7);

    // rig-a's contribution (two configurations) goes; rig-b's stays as it was.
    let (status, v) = call(
        "DELETE",
        forget.clone(),
        None,
        Some(format!(
            "{{\"telemetry_id\": \"{}\"}}",
            id(1).to_string().to_uppercase()
        )),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (
            v["removed_contributions"].as_u64(),
            v["removed_aggregates"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let (_, after) = call("GET", q.clone(), None, None).await;
    assert_eq!(shape(&after), vec![(24, 16, 100.0, 1)]);

    // A snapshot sent before the forget that arrives after it does not bring it back.
    store
        .ingest(&[telem("rig-a", 3, T0 + 3, id(1), snapshot(12, 8, 300.0))])
        .expect("ingest");
    assert_eq!(
        shape(&call("GET", q.clone(), None, None).await.1),
        vec![(24, 16, 100.0, 1)]
    );
    assert_eq!(store.telem_counters().after_forget.load(Ordering::Relaxed), 1);
    // The same id again: nothing left under it.
    let (status, v) = call("DELETE", forget.clone(), Some(id(1).to_string()), None).await;
    assert_eq!((status, v["code"].as_str()), (404, Some("unknown_telemetry_id")));
    assert!(matches!(
        store.telem_forget(&id(2), T0),
        Ok(Forget::Removed {
            contributions: 1,
            aggregates_removed: 1
        })
    ));
    assert_eq!(call("GET", q, None, None).await.1, serde_json::json!([]));

    let (status, v) = call("GET", format!("{base}/telem/suggestions?cores=24"), None, None).await;
    assert_eq!((status, v["parameter"].as_str()), (400, Some("cpu_model")));
    let (status, v) = call(
        "GET",
        format!("{base}/telem/suggestions?cpu_model=x&cores=many"),
        None,
        None,
    )
    .await;
    assert_eq!((status, v["parameter"].as_str()), (400, Some("cores")));
}

#[test]
fn no_telemetry_table_holds_a_rig_id_host_name_or_wallet_after_a_realistic_run() {
    let (_dir, store) = open();
    let rigs = [
        (
            "basement-miner-01.home.lan",
            "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
            id(0x11),
        ),
        (
            "garage-rig-7",
            "ltc1qhw80dfq2kvtsj9hn3h8hycdexzxs2kq3y7z9fw",
            id(0x22),
        ),
        ("10.0.0.17", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", id(0x33)),
    ];
    let mut batch = Vec::new();
    for (i, (rig, wallet, who)) in rigs.iter().enumerate() {
        let ts = T0 + i as u64 * 1000;
        batch.push(incoming(
            "north",
            rig,
            0,
            ts,
            Body::State(RigState {
                online: true,
                boot: 1,
                agent_version: "0.1.0".into(),
                hardware: Some(Hardware {
                    cpu_model: "amd ryzen 9 5900x".into(),
                    logical_cores: 24,
                    physical_cores: 12,
                    numa_nodes: 2,
                    memory_bytes: 32 << 30,
                    arch: "x86_64".into(),
                    os: "linux".into(),
                    hostname: format!("host-{rig}"),
                }),
                capabilities: vec![],
            }),
        ));
        for seq in 1..=20u64 {
            let t = ts + seq * 60_000;
            batch.push(tele(rig, 2 * seq - 1, t, wallet));
            batch.push(telem(
                rig,
                2 * seq,
                t,
                *who,
                snapshot(12 + (seq % 3) as u32 * 6, 8, 1.0e8 + seq as f64),
            ));
        }
        batch.push(incoming(
            "north",
            rig,
            41,
            ts + 41 * 60_000,
            Body::Perf(snapshot(12, 8, 9.0e7)),
        ));
    }
    store.ingest(&batch).expect("ingest");
    assert!(store.telem_forget(&id(0x22), T0 + 3_600_000).is_ok());
    // The run stored what a hub stores: the rigs, their hosts and wallets are in the rig data.
    assert!(store
        .rigs()
        .expect("rigs")
        .iter()
        .any(|r| r.rig.as_str() == "garage-rig-7"));

    let dump = store.telem_raw_dump().expect("dump");
    let tables: std::collections::BTreeSet<&str> = dump.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        tables,
        TABLES.iter().copied().collect(),
        "every telemetry table has rows to scan"
    );
    let mut needles: Vec<String> = vec!["north".into()];
    for (rig, wallet, _) in &rigs {
        needles.extend([
            rig.to_string(),
            format!("host-{rig}"),
            wallet.to_string(),
            format!("{wallet}.{rig}"),
        ]);
    }
    for (table, key, value) in &dump {
        for n in &needles {
            assert!(
                !contains(key, n.as_bytes()) && !contains(value, n.as_bytes()),
                "{table} holds {n:?}: key {:?} value {:?}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            );
        }
        assert!(
            !contains(value, MARKER_VERSION.as_bytes()),
            "{table} kept a raw snapshot field"
        );
    }
}

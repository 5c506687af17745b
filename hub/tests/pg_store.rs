//! The PostgreSQL fleet store against a real PostgreSQL started here (tests/support/postgres.rs):
//! the redb store's ingest scenarios run on both backends and must agree (outcomes, registry,
//! listings, hints, pushes, and the API's JSON), a restart loses nothing and stores nothing twice,
//! two hubs migrating and ingesting the same rigs at once stay exact, and the start refuses an
//! unreachable server or a schema from a newer hub with a clear error.
//!
//! Skips (printing why) without PostgreSQL unless HASHWARD_REQUIRE_POSTGRES=1.

#[path = "../../tests/support/postgres.rs"]
mod postgres;

use hashward_hub::api::{self, AppState};
use hashward_hub::domain::rollout::PushRecord;
use hashward_hub::metrics::Metrics;
use hashward_hub::store::backend::{FleetStore, StoreChoice};
use hashward_hub::store::postgres::{PgStore, StartPolicy};
use hashward_hub::store::{FleetRead, Incoming, Outcome, RecordsRead, RigsRead, Store, StoreRead};
use hashward_protocol::{
    AgentCounters, Body, Envelope, RigId, RigState, RigTelemetry, Score, Severity, SiteId, ThreatType,
    TuningSnapshot,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pg_store(url: &str) -> PgStore {
    let StoreChoice::Postgres(url) = StoreChoice::parse(url).expect("url") else {
        panic!("not a postgres url");
    };
    PgStore::open(&url, &StartPolicy::default()).expect("open the postgres store")
}

fn msg(rig: &str, seq: u64, ts: u64, body: Body) -> Incoming {
    let envelope = Envelope::new(RigId::new(rig).expect("id"), seq, ts, body);
    let bytes = hashward_protocol::encode(&envelope).expect("encode");
    Incoming {
        site: SiteId::new("barn").expect("id"),
        envelope,
        bytes,
        received_ms: ts,
    }
}

fn tele(rig: &str, seq: u64, ts: u64) -> Incoming {
    msg(
        rig,
        seq,
        ts,
        Body::Tele(RigTelemetry {
            uptime_s: seq,
            load_1m: 0.5,
            load_5m: 0.0,
            load_15m: 0.0,
            cpu_usage_pct: 10.0,
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            temperatures: vec![],
            miner: None,
            agent: AgentCounters::default(),
        }),
    )
}

fn score(rig: &str, seq: u64, ts: u64, value: f32) -> Incoming {
    msg(
        rig,
        seq,
        ts,
        Body::Score(Score {
            subject: "rig".into(),
            score: value,
            threat_type: ThreatType::Overheat,
            severity: Severity::from_score(value),
            model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
            sample_ts_ms: ts,
        }),
    )
}

fn perf(rig: &str, seq: u64, ts: u64, threads: u32, rate: f64) -> Incoming {
    msg(
        rig,
        seq,
        ts,
        Body::Perf(TuningSnapshot {
            cpu_model: "amd ryzen 9 5900x".into(),
            logical_cores: 24,
            physical_cores: 12,
            pow_algo: "sha256d".into(),
            profile: "balanced".into(),
            threads,
            batch_size: 8,
            numa_layout: "unpinned".into(),
            avg_hashrate_hs: rate,
            sample_count: 1,
            client_version: "0.1.0".into(),
        }),
    )
}

fn state(rig: &str, online: bool, ts: u64) -> Incoming {
    msg(
        rig,
        0,
        ts,
        Body::State(RigState {
            online,
            boot: 1,
            agent_version: "0.1.0".into(),
            hardware: None,
            capabilities: vec![],
        }),
    )
}

/// The redb store's scenarios in batches: duplicates inside a batch and across batches (a
/// redelivery), gaps, out-of-order arrival, state messages, tuning snapshots, and a rig whose id
/// holds a `.`.
fn scenario() -> Vec<Vec<Incoming>> {
    vec![
        vec![
            state("r1", true, 50),
            tele("r1", 1, 100),
            tele("r1", 2, 200),
            tele("r1", 2, 200),
            tele("r1", 5, 500),
            score("r1", 6, 510, 0.2),
            tele("rig.with.dots", 1, 100),
        ],
        vec![
            // Redelivered after an unacknowledged commit, then the gap filled out of order.
            tele("r1", 5, 500),
            tele("r1", 4, 400),
            tele("r1", 3, 300),
            score("r1", 7, 520, 0.9),
            perf("r1", 8, 600, 12, 100.0),
            perf("r2", 1, 610, 24, 150.0),
            tele("rig.with.dots", 3, 300),
        ],
        vec![
            tele("r2", 2, 700),
            tele("r2", 2, 700),
            state("r2", false, 710),
            perf("r1", 9, 720, 12, 110.0),
        ],
    ]
}

fn seqs(store: &dyn StoreRead, rig: &str, kind: &str) -> Vec<u64> {
    store
        .records_of_kind(rig, kind, 0, u64::MAX, 1000)
        .expect("records")
        .iter()
        .map(|r| r.seq)
        .collect()
}

#[test]
fn both_backends_store_count_and_list_the_same() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let redb = Store::open(&dir.path().join("hub.redb")).expect("redb");
    let pgs = pg_store(&pg.create_db("same"));
    for batch in scenario() {
        let a = FleetStore::ingest(&redb, &batch).expect("redb ingest");
        let b = pgs.ingest(&batch).expect("postgres ingest");
        assert_eq!(a, b, "outcomes");
    }
    let push = PushRecord {
        scope: "fleet".into(),
        version: 3,
        issued_ms: 42,
        patch: "{\"mining\":{}}".into(),
    };
    for s in [&redb as &dyn FleetStore, &pgs] {
        s.record_push("fleet", Some(&push)).expect("push");
        s.record_push("site/barn", Some(&push)).expect("push");
        s.record_push("site/barn", None).expect("cleared");
    }

    // What the redb store's own tests expect, checked on PostgreSQL directly.
    let r1 = pgs.rig("r1").expect("read").expect("r1 known");
    assert_eq!((r1.seq.received, r1.seq.duplicates, r1.missing), (9, 2, 0));
    assert!(r1.online);
    assert_eq!(seqs(&pgs, "r1", "tele"), vec![1, 2, 3, 4, 5]);
    assert_eq!(seqs(&pgs, "r1", "score"), vec![6, 7]);
    let dotted = pgs.rig("rig.with.dots").expect("read").expect("known");
    assert_eq!((dotted.seq.received, dotted.missing), (2, 1), "seq 2 never came");
    let r2 = pgs.rig("r2").expect("read").expect("known");
    assert_eq!((r2.seq.received, r2.seq.duplicates, r2.online), (2, 1, false));
    let window: Vec<u64> = pgs
        .records_of_kind("r1", "tele", 150, 450, 2)
        .expect("window")
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(window, vec![2, 3], "range and limit");
    assert!(pgs.rig("nobody").expect("read").is_none());

    // And everything the API reads agrees with redb.
    assert_eq!(pgs.rigs().expect("rigs"), redb.rigs().expect("rigs"));
    for rig in ["r1", "r2", "rig.with.dots"] {
        for kind in ["tele", "score", "perf", "alert"] {
            assert_eq!(
                pgs.records_of_kind(rig, kind, 0, u64::MAX, 100).expect("pg"),
                redb.records_of_kind(rig, kind, 0, u64::MAX, 100).expect("redb"),
                "{rig} {kind}"
            );
        }
    }
    let now = 1_000;
    assert_eq!(
        pgs.fleet_hints(now).expect("hints"),
        redb.fleet_hints(now).expect("hints")
    );
    assert_eq!(pgs.pushes().expect("pushes"), vec![push]);
    assert_eq!(pgs.pushes().expect("pushes"), redb.pushes().expect("pushes"));
    assert!(pgs.size_bytes() > 0);

    // Forgetting a rig drops its entry, keeps its records; it registers afresh when it reports.
    assert!(pgs.forget_rig("r2").expect("forget"));
    assert!(!pgs.forget_rig("r2").expect("forget again"));
    assert!(pgs.rig("r2").expect("read").is_none());
    assert_eq!(seqs(&pgs, "r2", "tele"), vec![2]);
}

#[test]
fn a_restart_loses_nothing_and_stores_nothing_twice() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let url = pg.create_db("restart");
    {
        let s = pg_store(&url);
        let out = s
            .ingest(&[tele("r1", 1, 100), tele("r1", 2, 200)])
            .expect("ingest");
        assert_eq!(out, vec![Outcome::Stored, Outcome::Stored]);
    }
    // A new hub process on the same database: the broker redelivers what it had not seen
    // acknowledged (seq 2) alongside new records.
    let s = pg_store(&url);
    let out = s
        .ingest(&[tele("r1", 2, 200), tele("r1", 3, 300)])
        .expect("ingest after restart");
    assert_eq!(out, vec![Outcome::Duplicate, Outcome::Stored]);
    assert_eq!(seqs(&s, "r1", "tele"), vec![1, 2, 3]);
    let e = s.rig("r1").expect("read").expect("known");
    assert_eq!((e.seq.received, e.seq.duplicates, e.missing), (3, 1, 0));

    // The server itself crashes and comes back: calls fail meanwhile, then reconnect.
    pg.kill();
    let down = s.ingest(&[tele("r1", 4, 400)]);
    assert!(down.is_err(), "a batch while the server is down must not be Ok");
    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        match s.ingest(&[tele("r1", 4, 400)]) {
            Ok(o) => break o,
            Err(e) if Instant::now() < deadline => eprintln!("waiting for postgres: {e}"),
            Err(e) => panic!("the store did not reconnect: {e}"),
        }
    };
    assert_eq!(out, vec![Outcome::Stored], "the failed batch was not half-stored");
    assert_eq!(seqs(&s, "r1", "tele"), vec![1, 2, 3, 4]);
}

#[test]
fn two_hubs_migrate_once_and_ingest_the_same_rigs_at_once_exactly() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let url = pg.create_db("two");
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| pg_store(&url));
        let b = scope.spawn(|| pg_store(&url));
        (a.join().expect("hub a"), b.join().expect("hub b"))
    });
    // Each hub gets every record of 20 rigs, in different batchings and orders, as two hubs
    // behind one shared queue can after redeliveries: every (rig, seq) must be stored once.
    let rigs: Vec<String> = (0..20).map(|i| format!("rig-{i:02}")).collect();
    let per_rig = 60u64;
    let run = |store: &PgStore, reverse: bool, size: usize| {
        let mut all: Vec<(usize, u64)> = (1..=per_rig)
            .flat_map(|seq| (0..rigs.len()).map(move |r| (r, seq)))
            .collect();
        if reverse {
            all.reverse();
        }
        let mut stored = 0usize;
        for chunk in all.chunks(size) {
            let batch: Vec<Incoming> = chunk
                .iter()
                .map(|&(r, seq)| tele(&rigs[r], seq, seq * 1000))
                .collect();
            let out = store.ingest(&batch).expect("ingest");
            stored += out.iter().filter(|o| **o == Outcome::Stored).count();
        }
        stored
    };
    let stored = std::thread::scope(|scope| {
        let ta = scope.spawn(|| run(&a, false, 37));
        let tb = scope.spawn(|| run(&b, true, 53));
        ta.join().expect("a") + tb.join().expect("b")
    });
    let total = rigs.len() * per_rig as usize;
    assert_eq!(stored, total, "each record Stored by exactly one hub");
    for rig in &rigs {
        assert_eq!(seqs(&a, rig, "tele"), (1..=per_rig).collect::<Vec<_>>(), "{rig}");
        let e = b.rig(rig).expect("read").expect("known");
        assert_eq!(
            (e.seq.received, e.seq.duplicates, e.missing),
            (per_rig, per_rig, 0),
            "{rig}"
        );
    }
    // Migrations ran once.
    assert_eq!(sql(&url, "SELECT version FROM schema_migrations"), vec![1]);
}

/// Runs `statement` on its own connection; the first column of each row (an integer).
fn sql(url: &str, statement: &str) -> Vec<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
            .query(statement, &[])
            .await
            .expect("query")
            .iter()
            .map(|r| r.get(0))
            .collect()
    })
}

#[test]
fn the_start_refuses_a_newer_schema_and_an_unreachable_server_clearly() {
    // Unreachable: a port nothing listens on; the start retries, then names the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let StoreChoice::Postgres(url) =
        StoreChoice::parse(&format!("postgres://hub:secret@127.0.0.1:{port}/fleet")).expect("url")
    else {
        panic!("not postgres");
    };
    let policy = StartPolicy {
        give_up_after: Duration::from_millis(1500),
    };
    let e = PgStore::open(&url, &policy)
        .err()
        .expect("unreachable")
        .to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port}/fleet")) && e.contains("unreachable"),
        "{e}"
    );
    assert!(!e.contains("secret"), "{e}");

    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let url = pg.create_db("newer");
    drop(pg_store(&url));
    sql(
        &url,
        "INSERT INTO schema_migrations (version, name) VALUES (99, 'future') RETURNING version",
    );
    let StoreChoice::Postgres(parsed) = StoreChoice::parse(&url).expect("url") else {
        panic!("not postgres");
    };
    let e = PgStore::open(&parsed, &StartPolicy::default())
        .err()
        .expect("newer schema")
        .to_string();
    assert!(e.contains("99") && e.contains("newer"), "{e}");
}

/// GET and the JSON body.
async fn get(url: String) -> (u16, serde_json::Value) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent.get(&url).call().expect("request");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_json().expect("json"))
    })
    .await
    .expect("join")
}

async fn serve(store: Arc<dyn StoreRead>, scores: Arc<Store>) -> String {
    let app = api::router(AppState {
        store,
        metrics: Arc::new(Metrics::default()),
        started: Instant::now(),
        scores: Arc::new(api::scores::ScoresApi {
            store: scores,
            networks: vec!["bitcoin".into()],
            models_dir: None,
            cache: Default::default(),
        }),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_the_same_json_on_both_backends() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let redb = Arc::new(Store::open(&dir.path().join("hub.redb")).expect("redb"));
    let url = pg.create_db("api");
    let pgs: Arc<PgStore> = Arc::new(
        tokio::task::spawn_blocking(move || pg_store(&url))
            .await
            .expect("open"),
    );
    for batch in scenario() {
        FleetStore::ingest(redb.as_ref(), &batch).expect("redb");
        pgs.ingest(&batch).expect("pg");
    }
    let on_redb = serve(redb.clone(), redb.clone()).await;
    let on_pg = serve(pgs.clone(), redb.clone()).await;
    for path in [
        "/rigs",
        "/rigs/r1",
        "/rigs/rig.with.dots",
        "/rigs/r1/telemetry",
        "/rigs/r1/telemetry?from=150&to=450&limit=2",
        "/rigs/r1/scores",
        "/rigs/r2/telemetry",
        "/rigs/nobody",
        "/rigs/r1/nonsense",
        "/fleet/hints",
        "/fleet/config",
    ] {
        let (sa, mut a) = get(format!("{on_redb}{path}")).await;
        let (sb, mut b) = get(format!("{on_pg}{path}")).await;
        // When each answer was made is the only field allowed to differ.
        for v in [&mut a, &mut b] {
            if let Some(o) = v.as_object_mut() {
                o.remove("generated_ms");
            }
        }
        assert_eq!((sa, &a), (sb, &b), "{path}");
    }
    let (status, rigs) = get(format!("{on_pg}/rigs")).await;
    assert_eq!(status, 200);
    assert_eq!(rigs.as_array().map(Vec::len), Some(3), "{rigs}");
    let (_, tele) = get(format!("{on_pg}/rigs/r1/telemetry")).await;
    assert_eq!(tele["records"].as_array().map(Vec::len), Some(5), "{tele}");
    drop(pgs);
}

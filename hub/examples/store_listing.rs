//! Benchmark: list 100 scores of a rig that has many telemetry records in the hub store, through
//! the full time-range scan (`Store::records_where`, decodes every record in range and keeps one
//! kind) and through the (rig, kind, time) index (`RecordsRead::records_of_kind`), in the same
//! run on the same store. Prints the median of repetitions of each, as JSON. BENCHMARKS.md
//! records the figures; CI does not run it (the store tests check the index's results).
//!
//! `cargo run -p hashward-hub --example store_listing -- [telemetry_records] [repetitions]`
//! (default 1,000,000 records, 11 repetitions). Must never be a timed assertion: it measures.

use hashward_hub::store::{Incoming, RecordsRead, Store};
use hashward_protocol::{
    AgentCounters, Body, Envelope, RigId, RigTelemetry, Score, Severity, SiteId, ThreatType,
};
use std::time::{Duration, Instant};

const SCORES: u64 = 100;
const BATCH: u64 = 20_000;

fn incoming(rig: &RigId, site: &SiteId, seq: u64, body: Body) -> Incoming {
    let envelope = Envelope::new(rig.clone(), seq, seq, body);
    let bytes = hashward_protocol::encode(&envelope).expect("encode");
    Incoming {
        site: site.clone(),
        envelope,
        bytes,
        received_ms: seq,
    }
}

fn tele(seq: u64) -> Body {
    Body::Tele(RigTelemetry {
        uptime_s: seq,
        load_1m: 1.5,
        load_5m: 1.2,
        load_15m: 1.0,
        cpu_usage_pct: 97.0,
        memory_used_bytes: 3 << 30,
        memory_total_bytes: 16 << 30,
        temperatures: vec![],
        miner: None,
        agent: AgentCounters::default(),
    })
}

fn score(seq: u64) -> Body {
    Body::Score(Score {
        subject: "rig".into(),
        score: 0.25,
        threat_type: ThreatType::Overheat,
        severity: Severity::from_score(0.25),
        model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
        sample_ts_ms: seq,
    })
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records: u64 = args
        .next()
        .map(|a| a.parse().expect("telemetry_records: an integer"))
        .unwrap_or(1_000_000);
    let reps: usize = args
        .next()
        .map(|a| a.parse().expect("repetitions: an integer"))
        .unwrap_or(11)
        .max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("hub.redb")).expect("open store");
    let (rig, site) = (RigId::new("r1").expect("id"), SiteId::new("s").expect("id"));
    // The scores are spread evenly through the telemetry, so the scan has to read all of it.
    let every = (records / SCORES).max(1);
    let started = Instant::now();
    let mut seq = 0;
    let mut batch = Vec::with_capacity(BATCH as usize);
    for i in 0..records {
        seq += 1;
        batch.push(incoming(&rig, &site, seq, tele(seq)));
        if i % every == every - 1 {
            seq += 1;
            batch.push(incoming(&rig, &site, seq, score(seq)));
        }
        if batch.len() as u64 >= BATCH {
            store.ingest(&batch).expect("ingest");
            batch.clear();
        }
    }
    store.ingest(&batch).expect("ingest");
    let fill_s = started.elapsed().as_secs_f64();

    let mut scan = Vec::new();
    let mut index = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let a = store
            .records_where("r1", 0, u64::MAX, SCORES as usize, |b| b.kind() == "score")
            .expect("scan");
        scan.push(t.elapsed());
        let t = Instant::now();
        let b = store
            .records_of_kind("r1", "score", 0, u64::MAX, SCORES as usize)
            .expect("index");
        index.push(t.elapsed());
        assert_eq!(a.len() as u64, SCORES);
        assert_eq!(a, b, "the scan and the index list the same records");
    }
    let (scan, index) = (median(scan), median(index));
    println!(
        "{}",
        serde_json::json!({
            "telemetry_records": records,
            "scores_listed": SCORES,
            "repetitions": reps,
            "fill_s": fill_s,
            "store_bytes": std::fs::metadata(dir.path().join("hub.redb")).map(|m| m.len()).unwrap_or(0),
            "scan_median_ms": scan.as_secs_f64() * 1e3,
            "index_median_ms": index.as_secs_f64() * 1e3,
            "speedup": scan.as_secs_f64() / index.as_secs_f64(),
        })
    );
}

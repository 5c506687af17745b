//! Benchmark for issue 20, without a broker: fills a fresh hub store as the ingest would
//! (batches of 512 interleaving many rigs, records shaped like the fleet simulator's: telemetry
//! with a CPU miner and pool every tick, a score every other tick), then reports the store's
//! bytes per record against the records' wire size, and the time to answer `/rigs` pages at
//! that fleet size (first page, a page from a cursor half-way, site / online / text filters)
//! against the unpaginated registry read in the same run. Prints one JSON line.
//!
//! `cargo run --release -p hashward-hub --example fleet_store -- [rigs] [ticks] [repetitions]`
//! (default 100,000 rigs, 2 ticks, 11 repetitions). Must never be a timed assertion: it measures.

use hashward_hub::store::rig_query::RigQuery;
use hashward_hub::store::{Incoming, RigsRead, Store, StoreRead};
use hashward_protocol::{
    AgentCounters, Body, Celsius, Envelope, Hashrate, MinerTelemetry, PoolTelemetry, RigId, RigTelemetry,
    Score, Severity, SiteId, TempReading, ThreatType,
};
use std::time::{Duration, Instant};

const BATCH: usize = 512;

fn tele(rig: &str, tick: u64, now_ms: u64) -> Body {
    let hashrate = 30.0e6 * (1.0 + (tick % 7) as f64 / 100.0);
    Body::Tele(RigTelemetry {
        uptime_s: tick * 10,
        load_1m: 2.0,
        load_5m: 2.0,
        load_15m: 1.9,
        cpu_usage_pct: 99.0,
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 8 << 30,
        temperatures: vec![TempReading {
            label: "Package id 0".into(),
            celsius: Celsius(62.0 + (tick % 4) as f32),
        }],
        miner: Some(MinerTelemetry {
            algo: "sha256d".into(),
            kernel: "sha256d-avx512x16".into(),
            threads: 2,
            batch: 4096,
            paused: false,
            hashrate_10s: Hashrate(hashrate),
            hashrate_60s: Hashrate(hashrate),
            hashrate_15m: Hashrate(30.0e6),
            pool: Some(PoolTelemetry {
                url: "stratum+tcp://pool.example:3333".into(),
                user: format!("wallet.{rig}"),
                connected: true,
                difficulty: 65536.0,
                accepted: tick,
                rejected: 0,
                stale_dropped: 0,
                last_share_ts_ms: Some(now_ms),
                latency_ms: Some(20),
            }),
            constraints: vec![],
        }),
        agent: AgentCounters::default(),
    })
}

fn score(now_ms: u64, tick: u64) -> Body {
    Body::Score(Score {
        subject: "rig".into(),
        score: (tick % 20) as f32 / 100.0,
        threat_type: ThreatType::Unknown,
        severity: Severity::Low,
        model_version: "sentinel_rig_sim".into(),
        sample_ts_ms: now_ms,
    })
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn time(reps: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut n = 0;
    let times = (0..reps)
        .map(|_| {
            let t = Instant::now();
            n = f();
            t.elapsed()
        })
        .collect();
    (median(times), n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let rigs = *args.first().unwrap_or(&100_000) as usize;
    let ticks = *args.get(1).unwrap_or(&2);
    let reps = *args.get(2).unwrap_or(&11) as usize;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hub.redb");
    let store = Store::open(&path)?;
    let ids: Vec<(RigId, SiteId)> = (0..rigs)
        .map(|i| {
            Ok((
                RigId::new(format!("sim-{i:06}"))?,
                SiteId::new(format!("site{:03}", i % 100))?,
            ))
        })
        .collect::<Result<_, hashward_protocol::IdError>>()?;
    let (mut records, mut wire) = (0u64, 0u64);
    let mut seqs = vec![0u64; rigs];
    let t0 = hashward_common::now_ms();
    let fill = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for tick in 1..=ticks {
        for (i, (rig, site)) in ids.iter().enumerate() {
            let now_ms = t0 + tick * 10_000 + i as u64 % 10_000;
            let mut bodies = vec![tele(rig.as_str(), tick, now_ms)];
            if tick % 2 == 0 {
                bodies.push(score(now_ms, tick));
            }
            for body in bodies {
                seqs[i] += 1;
                let envelope = Envelope::new(rig.clone(), seqs[i], now_ms, body);
                let bytes = hashward_protocol::encode(&envelope)?;
                wire += bytes.len() as u64;
                records += 1;
                batch.push(Incoming {
                    site: site.clone(),
                    envelope,
                    bytes,
                    received_ms: now_ms,
                });
                if batch.len() == BATCH {
                    store.ingest(&batch)?;
                    batch.clear();
                }
            }
        }
    }
    if !batch.is_empty() {
        store.ingest(&batch)?;
    }
    let fill_s = fill.elapsed().as_secs_f64();
    let store_bytes = store.size_bytes();
    let (record_bytes, held) = store.records_footprint()?;
    assert_eq!(held, records, "the store holds every record once");

    let store = &store;
    let page = |q: RigQuery| move || store.rigs_page(&q).map(|p| p.rigs.len()).unwrap_or(0);
    let q = |f: fn(&mut RigQuery)| {
        let mut q = RigQuery {
            limit: 100,
            ..RigQuery::default()
        };
        f(&mut q);
        q
    };
    let (first_ms, first_n) = time(reps, page(q(|_| {})));
    let (cursor_ms, cursor_n) = time(reps, page(q(|q| q.after = Some("sim-050000".into()))));
    let (site_ms, site_n) = time(reps, page(q(|q| q.site = Some("site042".into()))));
    let (offline_ms, offline_n) = time(reps, page(q(|q| q.online = Some(false))));
    let (text_ms, text_n) = time(reps, page(q(|q| q.text = Some("99".into()))));
    let (all_ms, all_n) = time(reps.min(3), || store.rigs().map(|r| r.len()).unwrap_or(0));
    println!(
        "{}",
        serde_json::json!({
            "rigs": rigs,
            "records": records,
            "fill_s": fill_s,
            "wire_bytes_per_record": wire as f64 / records as f64,
            "store_bytes": store_bytes,
            "store_bytes_per_record": store_bytes as f64 / records as f64,
            "record_tables_bytes": record_bytes,
            "record_tables_bytes_per_record": record_bytes as f64 / records as f64,
            "page_first_ms": first_ms, "page_first_rigs": first_n,
            "page_from_cursor_ms": cursor_ms, "page_from_cursor_rigs": cursor_n,
            "page_site_ms": site_ms, "page_site_rigs": site_n,
            "page_offline_ms": offline_ms, "page_offline_rigs": offline_n,
            "page_text_ms": text_ms, "page_text_rigs": text_n,
            "all_rigs_ms": all_ms, "all_rigs": all_n,
        })
    );
    Ok(())
}

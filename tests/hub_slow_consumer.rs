//! A slow consumer (issue 20): API clients paging `/rigs`, reading whole telemetry listings and
//! the unpaginated registry over a large store, while publishers push telemetry at full rate
//! through a real mosquitto. The ingest must lose nothing (every rig holds seqs 1..=N once) and
//! every query must answer, with pages that neither skip nor repeat a rig.

#[path = "support/publisher.rs"]
mod publisher;
mod support;

use hashward_hub::store::{Incoming, Store};
use hashward_protocol::SiteId;
use publisher::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

const RIGS: usize = 400;
/// Records per rig written into the store before the hub starts.
const BEFORE: u64 = 100;
/// Records per rig published while the queries run.
const DURING: u64 = 50;
const PUBLISHERS: usize = 8;

fn rig_name(i: usize) -> String {
    format!("slow-rig-{i:04}")
}

/// The large store: RIGS x BEFORE telemetry records, written as the ingest would.
fn prefill(data: &std::path::Path, t0: u64) {
    std::fs::create_dir_all(data).expect("data dir");
    let store = Store::open(&data.join("hub.redb")).expect("open store");
    for seq in 1..=BEFORE {
        let batch: Vec<Incoming> = (0..RIGS)
            .map(|i| {
                let rig = rig_name(i);
                let bytes = tele(&rig, seq, t0 + seq * 1000);
                Incoming {
                    site: SiteId::new(format!("site{}", i % 4)).expect("site"),
                    envelope: hashward_protocol::decode(&bytes).expect("decode"),
                    bytes,
                    received_ms: t0 + seq * 1000,
                }
            })
            .collect();
        store.ingest(&batch).expect("prefill");
    }
}

/// Pages through `/rigs?limit=` once; the rig ids in order, or None if a page did not answer.
fn page_through(http: u16, limit: usize, filter: &str) -> Option<Vec<String>> {
    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("http://127.0.0.1:{http}/rigs?limit={limit}{filter}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get_json(&url)?;
        for r in page["rigs"].as_array()? {
            got.push(r["rig"].as_str()?.to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Some(got),
        }
    }
}

#[test]
fn queries_answer_and_ingest_loses_nothing_while_publishers_run_at_full_rate() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = hashward_common::now_ms() - 3_600_000;
    prefill(&dir.path().join("hub"), t0);

    let (mqtt, http) = (free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), mqtt, "max_inflight_messages 1000\n");
    broker.start();
    let _hub = hub(dir.path(), http, Some(mqtt), 0);
    wait_for_ingest(http);

    let publishing = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let all: Vec<String> = (0..RIGS).map(rig_name).collect();
    let queriers: Vec<_> = (0..3)
        .map(|q| {
            let (publishing, answered, failed, all) =
                (publishing.clone(), answered.clone(), failed.clone(), all.clone());
            std::thread::spawn(move || {
                let mut round = 0usize;
                // At least one full round of each query, and as many as fit while ingest runs.
                while round < 2 || publishing.load(Ordering::SeqCst) {
                    let ok = match (q + round) % 3 {
                        // Every rig once, in order, across pages (the registry is complete
                        // from the start, so pages of it must be too).
                        0 => page_through(http, 37, "").is_some_and(|ids| {
                            assert_eq!(ids, all, "pages skipped or repeated a rig");
                            true
                        }),
                        // A filtered paging: one site in four.
                        1 => page_through(http, 25, "&site=site1").is_some_and(|ids| {
                            let want: Vec<&String> = all.iter().skip(1).step_by(4).collect();
                            assert_eq!(ids.iter().collect::<Vec<_>>(), want, "site filter");
                            true
                        }),
                        // A whole listing of one rig's telemetry, and the unpaginated registry.
                        _ => {
                            let rig = &all[(round * 7 + q) % RIGS];
                            let seqs = hub_seqs(http, rig);
                            let sorted = seqs.windows(2).all(|w| w[0] < w[1]);
                            assert!(sorted, "{rig}: telemetry out of order or doubled");
                            seqs.len() as u64 >= BEFORE
                                && get_json(&format!("http://127.0.0.1:{http}/rigs"))
                                    .and_then(|v| v.as_array().map(Vec::len))
                                    == Some(RIGS)
                        }
                    };
                    let counter = if ok { &answered } else { &failed };
                    counter.fetch_add(1, Ordering::SeqCst);
                    round += 1;
                }
            })
        })
        .collect();

    // Publishers: each a slice of the rigs, seqs BEFORE+1..=BEFORE+DURING, interleaved.
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let mut msgs = Vec::new();
            for seq in BEFORE + 1..=BEFORE + DURING {
                for i in (p..RIGS).step_by(PUBLISHERS) {
                    let rig = rig_name(i);
                    let site = format!("site{}", i % 4);
                    msgs.push((tele_topic(&site, &rig), tele(&rig, seq, t0 + seq * 1000)));
                }
            }
            std::thread::spawn(move || publish_all(mqtt, &format!("slow-pub-{p}"), &msgs))
        })
        .collect();
    for p in publishers {
        p.join().expect("publisher");
    }
    publishing.store(false, Ordering::SeqCst);
    for q in queriers {
        q.join().expect("querier");
    }

    let total = RIGS as u64 * DURING;
    let stored = || metric(http, "hashward_hub_records_stored_total").unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(120), || stored() >= total),
        "the hub stored {} of {total} records published during the queries",
        stored()
    );
    for rig in &all {
        let (missing, doubles) = gaps_and_doubles(hub_seqs(http, rig), BEFORE + DURING);
        assert!(
            missing.is_empty() && doubles.is_empty(),
            "{rig}: missing {missing:?}, doubled {doubles:?}"
        );
    }
    let (ok, bad) = (answered.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert_eq!(bad, 0, "{bad} queries did not answer ({ok} did)");
    assert!(ok >= 6, "only {ok} queries ran");
}

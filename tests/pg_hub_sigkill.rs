//! Two hubs sharing one fleet store in a real PostgreSQL (and one mosquitto shared-subscription
//! group), one of them SIGKILLed mid-ingest twice and restarted, while publishers send telemetry
//! of several rigs at QoS 1. Each hub acknowledges only after its PostgreSQL commit, so whatever
//! was in flight is redelivered: at the end every record must be stored exactly once (per rig,
//! seqs 1..=N, no gap, no double), and both hubs' APIs must answer for the whole fleet.
//!
//! Skips without mosquitto or PostgreSQL unless HASHWARD_REQUIRE_MOSQUITTO=1 /
//! HASHWARD_REQUIRE_POSTGRES=1.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/publisher.rs"]
mod publisher;
mod support;

use publisher::*;
use std::time::Duration;
use support::*;

const RIGS: usize = 4;
const PER_RIG: u64 = 2_000;

#[test]
fn two_hubs_on_postgres_one_sigkilled_store_every_record_once() {
    let Some(bin) = mosquitto_binary() else { return };
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let url = pg.create_db("fleet");
    let dir = tempfile::tempdir().expect("tempdir");
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).expect("mkdir");
    std::fs::create_dir_all(&dir_b).expect("mkdir");
    let (mqtt, http_a, http_b) = (free_port(), free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), mqtt, "");
    broker.start();
    let args_a = [
        "--store",
        url.as_str(),
        "--share-group",
        "hubs",
        "--client-id",
        "hub-a",
    ];
    let args_b = [
        "--store",
        url.as_str(),
        "--share-group",
        "hubs",
        "--client-id",
        "hub-b",
    ];
    let mut hub_a = hub_with(&dir_a, http_a, Some(mqtt), 0, &args_a);
    let mut hub_b = hub_with(&dir_b, http_b, Some(mqtt), 0, &args_b);
    wait_for_ingest(http_a);
    wait_for_ingest(http_b);

    // A rig id with a `.` too (NATS maps topics to subjects on `.`; PostgreSQL must not care).
    let rigs: Vec<String> = (0..RIGS).map(|i| format!("pg-rig.{i}")).collect();
    let t0 = hashward_common::now_ms();
    let publishers: Vec<_> = rigs
        .iter()
        .map(|rig| {
            let msgs: Vec<(String, Vec<u8>)> = (1..=PER_RIG)
                .map(|seq| (tele_topic("s", rig), tele(rig, seq, t0 + seq * 1000)))
                .collect();
            let id = format!("pub-{rig}");
            std::thread::spawn(move || publish_all(mqtt, &id, &msgs))
        })
        .collect();

    let total = RIGS as u64 * PER_RIG;
    let stored = |http| metric(http, "hashward_hub_records_stored_total").unwrap_or(0);
    let mut kills = 0;
    for round in 0..2u64 {
        let want = 150 + round * 100;
        let ok = wait_until(Duration::from_secs(60), || stored(http_a) >= want);
        assert!(ok, "round {round}: hub a stored fewer than {want} records");
        let s = stored(http_a) + stored(http_b);
        hub_a.kill9();
        if s < total {
            kills += 1;
        }
        hub_a = hub_with(&dir_a, http_a, Some(mqtt), 0, &args_a);
        wait_for_http(http_a);
    }
    assert!(
        kills >= 1,
        "every kill came after the ingest had finished; nothing was tested"
    );

    for p in publishers {
        p.join().expect("publisher");
    }
    let settled = || rigs.iter().all(|r| hub_seqs(http_b, r).len() as u64 >= PER_RIG);
    let ok = wait_until(Duration::from_secs(60), settled);
    let log = |d: &std::path::Path| std::fs::read_to_string(d.join("hub.log")).unwrap_or_default();
    for rig in &rigs {
        for http in [http_a, http_b] {
            let (missing, doubles) = gaps_and_doubles(hub_seqs(http, rig), PER_RIG);
            assert!(
                ok && missing.is_empty() && doubles.is_empty(),
                "{rig} via :{http}: {} missing (first {:?}), {} stored twice (first {:?}); hub a log:\n{}",
                missing.len(),
                &missing[..missing.len().min(10)],
                doubles.len(),
                &doubles[..doubles.len().min(10)],
                log(&dir_a)
            );
            let entry = get_json(&format!("http://127.0.0.1:{http}/rigs/{rig}")).expect("rig entry");
            assert_eq!(entry["missing"], 0, "{rig}: {entry}");
            assert_eq!(entry["seq"]["received"], PER_RIG, "{rig}: {entry}");
        }
    }
    assert_eq!(metric(http_b, "hashward_hub_store_errors_total"), Some(0));
    eprintln!(
        "pg_hub_sigkill: {total} records, {kills} kills of hub a mid-ingest; last processes stored a {} b {}, duplicates a {} b {}",
        stored(http_a),
        stored(http_b),
        metric(http_a, "hashward_hub_duplicates_total").unwrap_or(0),
        metric(http_b, "hashward_hub_duplicates_total").unwrap_or(0)
    );
    hub_a.stop(Duration::from_secs(10));
    hub_b.stop(Duration::from_secs(10));
    broker.stop();
}

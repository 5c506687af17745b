//! The hub SIGKILLed mid-ingest, three times, and restarted on the same store, while a publisher
//! sends telemetry of several rigs at QoS 1 through a real mosquitto with persistence. The hub's
//! session is persistent and it acknowledges only after its commit, so the broker redelivers
//! whatever was in flight: at the end every record must be stored exactly once (per rig, seqs
//! 1..=N, no gap, no double). Redeliveries of committed-but-unacknowledged records may show in
//! `hashward_hub_duplicates_total`; the store must not hold them twice.

#[path = "support/publisher.rs"]
mod publisher;
mod support;

use publisher::*;
use std::time::Duration;
use support::*;

const RIGS: usize = 4;
const PER_RIG: u64 = 3_000;

#[test]
fn hub_sigkilled_mid_ingest_stores_every_record_once() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), mqtt, "");
    broker.start();
    let mut hub = hub(dir.path(), http, Some(mqtt), 0);
    // The hub's persistent session must exist before the first publish, or the broker drops it.
    wait_for_ingest(http);

    let rigs: Vec<String> = (0..RIGS).map(|i| format!("kill-rig-{i}")).collect();
    let t0 = hashward_common::now_ms();
    // One publisher per rig, interleaved so each hub batch holds several rigs.
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
    let mut stored_before_kills = 0;
    for round in 0..3u64 {
        // Kill while records are flowing: after this hub process stored some, before all.
        let want = 200 + round * 150;
        let ok = wait_until(Duration::from_secs(30), || stored(http) >= want);
        assert!(ok, "round {round}: the hub stored fewer than {want} records");
        let s = stored(http);
        hub.kill9();
        stored_before_kills += s;
        if s < total {
            kills += 1;
        }
        hub = support::hub(dir.path(), http, Some(mqtt), 0);
        wait_for_http(http);
    }
    assert!(
        kills >= 1,
        "every kill came after the ingest had finished; nothing was tested"
    );

    for p in publishers {
        p.join().expect("publisher");
    }
    let settled = || rigs.iter().all(|r| hub_seqs(http, r).len() as u64 >= PER_RIG);
    let ok = wait_until(Duration::from_secs(40), settled);
    for rig in &rigs {
        let (missing, doubles) = gaps_and_doubles(hub_seqs(http, rig), PER_RIG);
        assert!(
            ok && missing.is_empty() && doubles.is_empty(),
            "{rig}: {} missing (first {:?}), {} stored twice (first {:?}); hub log:\n{}",
            missing.len(),
            &missing[..missing.len().min(10)],
            doubles.len(),
            &doubles[..doubles.len().min(10)],
            std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default()
        );
        let entry = get_json(&format!("http://127.0.0.1:{http}/rigs/{rig}")).expect("rig entry");
        assert_eq!(entry["missing"], 0, "{rig}: {entry}");
    }
    assert_eq!(metric(http, "hashward_hub_gaps"), Some(0));
    assert_eq!(metric(http, "hashward_hub_store_errors_total"), Some(0));
    eprintln!(
        "hub_sigkill: {total} records, {kills} kills mid-ingest (at least {stored_before_kills} stored by killed processes), \
         last process: {} stored, {} duplicates dropped",
        stored(http),
        metric(http, "hashward_hub_duplicates_total").unwrap_or(0)
    );
    hub.stop(Duration::from_secs(10));
    broker.stop();
}

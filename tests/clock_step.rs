//! The wall clock stepping back and forward an hour, on an agent and on the hub, while the agent
//! publishes through a real mosquitto: no record rejected, none stored twice or lost, the rig's
//! latest telemetry is the one with the highest seq (not the one with the latest timestamp).
//!
//! The system clock cannot be stepped from a test: each process reads a test-only offset file
//! (`HASHWARD_CLOCK_OFFSET_FILE`, see `common/src/clock.rs`) on every `now_ms()`, and the test
//! rewrites it. Limits: only timestamps taken through `hashward_common::now_ms` step (record
//! `ts_ms`, the hub's `received_ms`); `Instant`-based timers (intervals, backoff, keep-alive)
//! do not, as they would not on a real NTP step either; the TLS certificate clock is not covered.

mod support;

use std::path::Path;
use std::time::Duration;
use support::*;

const HOUR_MS: i64 = 3_600_000;

fn set_offset(file: &Path, ms: i64) {
    // Written whole, then renamed: a reader never sees a half-written number.
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, ms.to_string()).expect("write offset");
    std::fs::rename(&tmp, file).expect("rename offset");
}

#[test]
fn clock_steps_on_agent_and_hub_lose_reorder_or_merge_nothing() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let hub_clock = dir.path().join("hub-clock");
    let agent_clock = dir.path().join("agent-clock");
    set_offset(&hub_clock, 0);
    set_offset(&agent_clock, 0);
    // Inherited by the hub spawned below; the agent gets its own file. Only test in this file.
    std::env::set_var("HASHWARD_CLOCK_OFFSET_FILE", &hub_clock);

    let (mqtt, http) = (free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), mqtt, "");
    broker.start();
    let mut hub = hub(dir.path(), http, Some(mqtt), 0);
    wait_for_http(http);
    let spec = agent_spec(dir.path(), "site", "stepped", mqtt, 100);
    let agent_file = agent_clock.to_str().expect("utf8").to_string();
    let mut a = agent_env(&spec, &[("HASHWARD_CLOCK_OFFSET_FILE", &agent_file)]);

    // (agent offset, hub offset) per phase; each phase runs until 15 more records are stored.
    let phases = [
        (0, 0),
        (-HOUR_MS, 0),
        (0, 0),
        (HOUR_MS, 0),
        (0, -HOUR_MS),
        (0, HOUR_MS),
        (-HOUR_MS, HOUR_MS),
        (0, 0),
    ];
    for (i, (agent_off, hub_off)) in phases.iter().enumerate() {
        set_offset(&agent_clock, *agent_off);
        set_offset(&hub_clock, *hub_off);
        let before = hub_seqs(http, &spec.rig).len();
        let ok = wait_until(Duration::from_secs(20), || {
            hub_seqs(http, &spec.rig).len() >= before + 15
        });
        assert!(
            ok,
            "phase {i} (agent {agent_off} ms, hub {hub_off} ms): records stopped"
        );
    }
    a.stop(Duration::from_secs(15));

    let produced = spool_stats(&spec);
    let ok = wait_until(Duration::from_secs(20), || {
        hub_seqs(http, &spec.rig).len() as u64 >= produced.last_seq
    });
    let records = hub_records(http, &spec.rig, "telemetry?limit=100000");
    let mut by_seq: Vec<(u64, u64)> = records
        .iter()
        .filter_map(|r| Some((r["seq"].as_u64()?, r["ts_ms"].as_u64()?)))
        .collect();
    by_seq.sort_unstable();
    let seqs: Vec<u64> = by_seq.iter().map(|(s, _)| *s).collect();
    let want: Vec<u64> = (1..=produced.last_seq).collect();
    assert!(
        ok && seqs == want,
        "hub holds {} of {} records, or doubles: {seqs:?}",
        seqs.len(),
        want.len()
    );
    assert_eq!(produced.dropped, 0);

    // The steps really happened at the agent: its timestamps, in seq order, jump back and
    // forward by about an hour.
    let jumps: Vec<i64> = by_seq
        .windows(2)
        .map(|w| w[1].1 as i64 - w[0].1 as i64)
        .filter(|d| d.abs() > HOUR_MS / 2)
        .collect();
    assert!(
        jumps.iter().any(|d| *d < 0) && jumps.iter().any(|d| *d > 0),
        "no clock step visible in the records' timestamps: {jumps:?}"
    );

    let entry = get_json(&format!("http://127.0.0.1:{http}/rigs/{}", spec.rig)).expect("rig entry");
    assert_eq!(entry["missing"], 0, "{entry}");
    let (last_seq, last_ts) = *by_seq.last().expect("records");
    assert_eq!(
        entry["last_telemetry_ms"].as_u64(),
        Some(last_ts),
        "the rig's latest telemetry is not its last record (seq {last_seq}): {entry}"
    );
    assert_eq!(metric(http, "hashward_hub_decode_errors_total"), Some(0));
    assert_eq!(metric(http, "hashward_hub_mismatched_total"), Some(0));
    assert_eq!(metric(http, "hashward_hub_gaps"), Some(0));
    eprintln!(
        "clock_step: {} records over {} phases, {} clock steps seen in ts_ms",
        produced.last_seq,
        phases.len(),
        jumps.len()
    );
    hub.stop(Duration::from_secs(10));
    broker.stop();
}

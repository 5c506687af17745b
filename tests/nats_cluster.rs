//! Hubs on a real three-node NATS cluster (JetStream + MQTT listeners, loopback) with their
//! fleet store in a real PostgreSQL: records published over MQTT through different nodes reach
//! two hubs through the shared JetStream consumer, each stored once, while one node and one hub
//! are SIGKILLed and restarted mid-run; a real agent whose ids hold a `.` (refused raw by
//! nats-server 2.9's MQTT listener) gets through; only the leader runs the once-per-fleet work;
//! and the leader lease moves to the other hub when the leader is SIGKILLed.
//!
//! Skips without nats-server or PostgreSQL unless HASHWARD_REQUIRE_NATS=1 /
//! HASHWARD_REQUIRE_POSTGRES=1.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/publisher.rs"]
mod publisher;
mod support;

use publisher::*;
use std::time::Duration;
use support::nats::{hub_config, nats_binary, NatsCluster};
use support::*;

const RIGS: usize = 4;

/// One cluster at a time: each test runs three servers and two hubs, and two such sets on two
/// cores starve NATS's MQTT layer of the JetStream answers it waits for.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
const PER_RIG: u64 = 1_500;

fn nats_hub(dir: &std::path::Path, config: &std::path::Path, http: u16) -> Proc {
    let cfg = config.to_str().expect("utf8");
    hub_with(dir, http, None, free_port(), &["--config", cfg])
}

/// Issue 21's whole deployment on one machine: three NATS nodes, PostgreSQL, two hubs sharing
/// the consumer and the store; publishers and a real agent (dotted ids) on different nodes; one
/// node and one hub SIGKILLed and restarted mid-run.
#[test]
fn two_hubs_on_postgres_survive_a_node_kill_and_a_hub_kill_storing_every_record_once() {
    let Some(bin) = nats_binary() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let url = pg.create_db("fleet");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = NatsCluster::start(bin, dir.path(), 3);
    let (dir_a, dir_b) = (dir.path().join("hub-a"), dir.path().join("hub-b"));
    let cfg_a = hub_config(&dir_a, &cluster, "hub-a", 0, 3_000, Some(&url));
    let cfg_b = hub_config(&dir_b, &cluster, "hub-b", 1, 3_000, Some(&url));
    let (http_a, http_b) = (free_port(), free_port());
    let mut hub_a = nats_hub(&dir_a, &cfg_a, http_a);
    let hub_b = nats_hub(&dir_b, &cfg_b, http_b);
    // The stream must exist before the first publish, or NATS keeps nothing of it.
    wait_for_ingest(http_a);
    wait_for_ingest(http_b);

    // A real agent with a dotted site and rig id, through node 2's MQTT listener.
    let agent_spec = agent_spec(dir.path(), "farm.eu", "rig.dot", cluster.nodes[1].mqtt_port, 200);
    let _agent = agent(&agent_spec);

    let rigs: Vec<String> = (0..RIGS).map(|i| format!("nats-rig-{i}")).collect();
    let t0 = hashward_common::now_ms();
    // Rigs publish through nodes 1 and 2; node 3 is the one killed below.
    let publishers: Vec<_> = rigs
        .iter()
        .enumerate()
        .map(|(i, rig)| {
            let msgs: Vec<(String, Vec<u8>)> = (1..=PER_RIG)
                .map(|seq| (tele_topic("s", rig), tele(rig, seq, t0 + seq * 1000)))
                .collect();
            let (id, port) = (format!("pub-{rig}"), cluster.nodes[i % 2].mqtt_port);
            std::thread::spawn(move || publish_all_resending(port, &id, &msgs))
        })
        .collect();

    let total = RIGS as u64 * PER_RIG;
    let stored = |http| metric(http, "hashward_hub_records_stored_total").unwrap_or(0);
    let log = |d: &std::path::Path| std::fs::read_to_string(d.join("hub.log")).unwrap_or_default();
    // Never two leaders at once, sampled all along (a dead hub answers nothing: not a leader).
    let leaders = || {
        [http_a, http_b]
            .iter()
            .filter(|&&h| metric(h, "hashward_hub_leader") == Some(1))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(60), || stored(http_a) + stored(http_b) >= 300),
        "the hubs stored fewer than 300 records; hub a log:\n{}",
        log(&dir_a)
    );
    let (at_kill, b_at_kill) = (stored(http_a) + stored(http_b), stored(http_b));
    cluster.kill9(2);
    hub_a.kill9();
    assert!(leaders() <= 1, "two hubs lead");
    // Records keep flowing through hub b on two nodes (the stream has three replicas).
    let grew = wait_until(Duration::from_secs(60), || {
        stored(http_b) > b_at_kill + 200 || at_kill + stored(http_b) - b_at_kill >= total
    });
    cluster.restart(2);
    hub_a = nats_hub(&dir_a, &cfg_a, http_a);
    wait_for_ingest(http_a);
    assert!(
        grew,
        "ingest stopped while node 3 and hub a were down; hub b log:\n{}",
        log(&dir_b)
    );
    assert!(
        at_kill < total,
        "the kills came after the ingest had finished; nothing was tested"
    );

    let reconnects: usize = publishers.into_iter().map(|p| p.join().expect("publisher")).sum();
    let settled = || {
        rigs.iter().all(|r| {
            hub_seqs(http_a, r).len() as u64 >= PER_RIG && hub_seqs(http_b, r).len() as u64 >= PER_RIG
        })
    };
    let ok = wait_until(Duration::from_secs(90), settled);
    // Either hub answers for the whole fleet, whichever ingested what.
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

    // The dotted rig: its records arrived under its real id, without a gap, on both hubs.
    let dotted = wait_until(Duration::from_secs(30), || hub_seqs(http_b, "rig.dot").len() >= 5);
    let seqs = hub_seqs(http_b, "rig.dot");
    let max = seqs.iter().copied().max().unwrap_or(0);
    let (missing, doubles) = gaps_and_doubles(seqs, max);
    assert!(
        dotted && missing.is_empty() && doubles.is_empty(),
        "rig.dot: {max} seqs, missing {missing:?}, doubled {doubles:?}; agent log:\n{}",
        agent_log(&agent_spec)
    );
    for http in [http_a, http_b] {
        assert_eq!(metric(http, "hashward_hub_decode_errors_total"), Some(0));
        assert_eq!(metric(http, "hashward_hub_store_errors_total"), Some(0));
    }

    // The once-per-fleet work (summaries, hints, score batch) runs on the one leader only.
    assert!(
        wait_until(Duration::from_secs(30), || leaders() == 1),
        "no hub leads after the restarts"
    );
    let (leader, follower) = if metric(http_a, "hashward_hub_leader") == Some(1) {
        (http_a, http_b)
    } else {
        (http_b, http_a)
    };
    let summaries = |http| metric(http, "hashward_hub_summaries_published_total").unwrap_or(0);
    let (l0, f0) = (summaries(leader), summaries(follower));
    for _ in 0..20 {
        assert_eq!(leaders(), 1, "two hubs lead, or none");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(summaries(leader) > l0, "the leader stopped publishing summaries");
    assert_eq!(summaries(follower), f0, "the follower published summaries");
    eprintln!("nats_cluster: {total} records, publishers reconnected {reconnects} time(s)");
    drop((hub_a, hub_b));
}

#[test]
fn the_lease_moves_to_the_other_hub_when_the_leader_dies() {
    let Some(bin) = nats_binary() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = NatsCluster::start(bin, dir.path(), 3);
    let ttl_ms = 3_000;
    let (dir_a, dir_b) = (dir.path().join("hub-a"), dir.path().join("hub-b"));
    let (cfg_a, cfg_b) = (
        hub_config(&dir_a, &cluster, "hub-a", 0, ttl_ms, None),
        hub_config(&dir_b, &cluster, "hub-b", 1, ttl_ms, None),
    );
    let (http_a, http_b) = (free_port(), free_port());
    let mut hub_a = nats_hub(&dir_a, &cfg_a, http_a);
    let hub_b = nats_hub(&dir_b, &cfg_b, http_b);
    wait_for_ingest(http_a);
    wait_for_ingest(http_b);

    let leads = |http| metric(http, "hashward_hub_leader");
    let summaries = |http| metric(http, "hashward_hub_summaries_published_total").unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(30), || {
            leads(http_a) == Some(1) || leads(http_b) == Some(1)
        }),
        "no hub took the lease; hub a log:\n{}\nnode 1 log:\n{}",
        std::fs::read_to_string(dir_a.join("hub.log")).unwrap_or_default(),
        cluster.log(0)
    );
    // One leader: whoever got it first; the other must not lead at the same time.
    let (leader, follower) = if leads(http_a) == Some(1) {
        (http_a, http_b)
    } else {
        (http_b, http_a)
    };
    let (mut leader_proc, follower_proc) = if leader == http_a {
        (hub_a, hub_b)
    } else {
        (hub_b, hub_a)
    };
    // Summaries run every 500 ms on the leader only.
    assert!(wait_until(Duration::from_secs(10), || summaries(leader) >= 3));
    for _ in 0..10 {
        assert_eq!(leads(follower), Some(0), "both hubs lead");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(summaries(follower), 0, "the follower published summaries");

    leader_proc.kill9();
    let took_over = wait_until(Duration::from_secs(4 * ttl_ms / 1000 + 10), || {
        leads(follower) == Some(1)
    });
    assert!(
        took_over,
        "the lease did not move within the lease time after the leader died"
    );
    assert!(
        wait_until(Duration::from_secs(10), || summaries(follower) >= 3),
        "the new leader does not run the summaries"
    );

    // The dead hub comes back: it follows, the lease stays where it is.
    let (old_dir, old_cfg) = if leader == http_a {
        (&dir_a, &cfg_a)
    } else {
        (&dir_b, &cfg_b)
    };
    hub_a = nats_hub(old_dir, old_cfg, leader);
    wait_for_ingest(leader);
    for _ in 0..(2 * ttl_ms / 100) {
        assert_eq!(leads(leader), Some(0), "the restarted hub took a held lease");
        assert_eq!(leads(follower), Some(1), "the leader lost a lease it renews");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop((hub_a, follower_proc, leader_proc));
}

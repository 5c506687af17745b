//! The broker restarted under many connected rigs. 1,000 real agents are too heavy for this
//! 2-core machine next to the other tests, so the rigs here are RIGS (1,000) light publishers in one
//! process (the fleet simulator's hand-rolled MQTT 3.1.1 client, benches/fleet-sim/src/mqtt.rs):
//! each its own connection, client id and persistent session, publishing real telemetry
//! envelopes at QoS 1 with its own seqs, resending the unacknowledged one after a reconnect with
//! jittered backoff, as an agent's spool does. Mosquitto (with persistence) is stopped under
//! them and started again: every rig must reconnect and publish again, and the hub must hold
//! every acknowledged record of every rig exactly once. (`tests/broker_outage.rs` covers real
//! agents and their spools across an outage.)

#[path = "../benches/fleet-sim/src/mqtt.rs"]
mod mqtt;
#[path = "support/publisher.rs"]
mod publisher;
mod support;

use hashward_common::{Backoff, Retry};
use publisher::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// Rigs by default (the size; about 12 s here); `HASHWARD_RESTART_RIGS=N` overrides.
const RIGS: usize = 1000;
const INTERVAL: Duration = Duration::from_millis(1000);

#[derive(Default)]
struct RigCounters {
    /// The last seq the broker acknowledged (all below it were acknowledged before it).
    acked: AtomicU64,
    /// Successful connections.
    connects: AtomicU64,
}

/// One light rig: publishes seq 1, 2, ... at INTERVAL; a failed publish is resent on a new
/// connection (dup flag set) after a jittered backoff, never skipped. Stops once `stop` is set
/// and its last record was acknowledged, so what it counts as sent is exactly what it sent.
async fn rig(broker: SocketAddr, name: String, c: Arc<RigCounters>, stop: Arc<AtomicBool>) {
    let topic = tele_topic("many", &name);
    let mut retry = Retry::new(Backoff::new(Duration::from_millis(100), Duration::from_secs(2)));
    let mut conn: Option<mqtt::Conn> = None;
    let mut seq = 1u64;
    let mut resend = false;
    // Bounded: the test stops every rig well before this many attempts.
    for _ in 0..100_000 {
        if stop.load(Ordering::Relaxed) && !resend {
            return;
        }
        let Some(link) = conn.as_mut() else {
            let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
            match mqtt::Conn::connect(broker, source, &format!("light-{name}"), 30).await {
                Ok(fresh) => {
                    c.connects.fetch_add(1, Ordering::Relaxed);
                    retry.reset();
                    conn = Some(fresh);
                }
                Err(_) => {
                    let delay = retry.next_delay(&mut rand::thread_rng());
                    tokio::time::sleep(delay).await;
                }
            }
            continue;
        };
        let payload = tele(&name, seq, hashward_common::now_ms());
        match link
            .publish(&topic, &payload, resend, Duration::from_secs(5))
            .await
        {
            Ok(()) => {
                c.acked.store(seq, Ordering::Relaxed);
                seq += 1;
                resend = false;
                tokio::time::sleep(INTERVAL).await;
            }
            Err(_) => {
                conn = None;
                resend = true;
                let delay = retry.next_delay(&mut rand::thread_rng());
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[test]
fn broker_restarted_under_a_thousand_rigs_loses_nothing() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, http) = (free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), port, "");
    broker.start();
    let mut hub = hub(dir.path(), http, Some(port), 0);
    wait_for_ingest(http);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let stop = Arc::new(AtomicBool::new(false));
    let rigs: usize = std::env::var("HASHWARD_RESTART_RIGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RIGS);
    let names: Vec<String> = (0..rigs).map(|i| format!("m{i:04}")).collect();
    let counters: Vec<Arc<RigCounters>> = names.iter().map(|_| Arc::default()).collect();
    let tasks: Vec<_> = names
        .iter()
        .zip(&counters)
        .map(|(n, c)| rt.spawn(rig(addr, n.clone(), c.clone(), stop.clone())))
        .collect();
    let min_acked = |cs: &[Arc<RigCounters>]| {
        cs.iter()
            .map(|c| c.acked.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };

    assert!(
        wait_until(Duration::from_secs(30), || min_acked(&counters) >= 2),
        "not every rig published before the restart (slowest at {})",
        min_acked(&counters)
    );
    broker.stop();
    let at_stop: Vec<u64> = counters.iter().map(|c| c.acked.load(Ordering::Relaxed)).collect();
    // Down long enough that every rig's publish fails and it backs off (timers, not readiness:
    // the outage itself is what is tested).
    std::thread::sleep(Duration::from_secs(3));
    broker.start();

    // Every rig reconnected and got at least three more records through.
    let all_back = || {
        counters
            .iter()
            .zip(&at_stop)
            .all(|(c, s)| c.connects.load(Ordering::Relaxed) >= 2 && c.acked.load(Ordering::Relaxed) >= s + 3)
    };
    assert!(
        wait_until(Duration::from_secs(45), all_back),
        "not every rig came back after the restart"
    );
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
    });
    let sent: Vec<u64> = counters.iter().map(|c| c.acked.load(Ordering::Relaxed)).collect();
    let total: u64 = sent.iter().sum();

    let stored = || metric(http, "hashward_hub_records_stored_total").unwrap_or(0);
    let ok = wait_until(Duration::from_secs(40), || stored() >= total);
    let mut bad = Vec::new();
    for (name, n) in names.iter().zip(&sent) {
        let (missing, doubles) = gaps_and_doubles(hub_seqs(http, name), *n);
        if !missing.is_empty() || !doubles.is_empty() {
            bad.push(format!(
                "{name}: sent {n}, missing {missing:?}, doubled {doubles:?}"
            ));
        }
    }
    let logs = || {
        let hub_log = std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
        let broker_log =
            std::fs::read_to_string(dir.path().join("mosquitto/mosquitto.log")).unwrap_or_default();
        let tail = |t: &str| {
            t.lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        let hub_lines: Vec<&str> = broker_log.lines().filter(|l| !l.contains("light-")).collect();
        let metrics = get_text(&format!("http://127.0.0.1:{http}/metrics")).unwrap_or_default();
        let metrics: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("hashward_hub_"))
            .collect();
        format!(
            "hub metrics: {metrics:?}\nhub log (tail):\n{}\nmosquitto log (not light rigs):\n{}",
            tail(&hub_log),
            hub_lines.join("\n")
        )
    };
    assert!(
        ok && bad.is_empty(),
        "hub stored {} of {total}; {} rigs wrong: {:?}\n{}",
        stored(),
        bad.len(),
        &bad[..bad.len().min(10)],
        logs()
    );
    assert_eq!(stored(), total, "the hub stored records no rig counted as sent");
    assert_eq!(metric(http, "hashward_hub_gaps"), Some(0));
    let reconnects: u64 = counters
        .iter()
        .map(|c| c.connects.load(Ordering::Relaxed) - 1)
        .sum();
    eprintln!("broker_restart_many: {rigs} rigs, {total} records stored once, {reconnects} reconnects");
    hub.stop(Duration::from_secs(10));
    broker.stop();
}

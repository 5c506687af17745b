//! A light MQTT publisher for the fault tests: builds real telemetry envelopes (the agents' wire
//! format) and publishes them at QoS 1 until the broker acknowledged every one. Stands in for
//! agents where a test needs many rigs or exact control of seqs and timestamps; it has no spool,
//! so it must only publish once the hub's session exists (`support::wait_for_ingest`).
#![allow(dead_code)]

use hashward_protocol::{encode, AgentCounters, Body, Envelope, RigId, RigTelemetry};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use std::time::{Duration, Instant};

/// A telemetry record of `rig` with `seq`, sampled at `ts_ms`, as an agent would encode it.
pub fn tele(rig: &str, seq: u64, ts_ms: u64) -> Vec<u8> {
    let t = RigTelemetry {
        uptime_s: seq,
        load_1m: 0.5,
        load_5m: 0.5,
        load_15m: 0.5,
        cpu_usage_pct: 10.0,
        memory_used_bytes: 1 << 20,
        memory_total_bytes: 1 << 30,
        temperatures: vec![],
        miner: None,
        agent: AgentCounters::default(),
    };
    encode(&Envelope::new(
        RigId::new(rig).expect("rig id"),
        seq,
        ts_ms,
        Body::Tele(t),
    ))
    .expect("encode")
}

/// The topic an agent of `site`/`rig` publishes telemetry on.
pub fn tele_topic(site: &str, rig: &str) -> String {
    format!("hashward/v1/{site}/{rig}/tele")
}

/// Publishes everything at QoS 1 as `client_id` and returns once the broker acknowledged all of
/// it. Panics (a test helper) on a connection error: the broker is up for the whole call.
pub fn publish_all(port: u16, client_id: &str, msgs: &[(String, Vec<u8>)]) {
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20)
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(100);
    let (client, mut conn) = Client::new(opts, msgs.len() + 10);
    for (topic, payload) in msgs {
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
            .expect("queue");
    }
    let mut acked = 0;
    for ev in conn.iter() {
        match ev {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked == msgs.len() {
                    break;
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => panic!("publisher {client_id}: {e} after {acked} acks"),
        }
    }
    let _ = client.disconnect();
}

/// As [`publish_all`], for a broker that may drop connections mid-run (a NATS cluster losing a
/// node resets the MQTT connections of the others): publishes in windows and, after a
/// connection error, reconnects and sends the unfinished window again, as an agent resends its
/// unacknowledged spool (the hub drops the duplicates). Returns how many times it reconnected.
pub fn publish_all_resending(port: u16, client_id: &str, msgs: &[(String, Vec<u8>)]) -> usize {
    const WINDOW: usize = 100;
    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut done, mut reconnects) = (0, 0);
    while done < msgs.len() {
        assert!(
            Instant::now() < deadline,
            "publisher {client_id}: {done} of {} acknowledged after 180 s",
            msgs.len()
        );
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20)
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(WINDOW as u16);
        let (client, mut conn) = Client::new(opts, WINDOW + 10);
        'connection: while done < msgs.len() {
            let window = &msgs[done..(done + WINDOW).min(msgs.len())];
            for (topic, payload) in window {
                client
                    .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
                    .expect("queue");
            }
            let mut acked = 0;
            while acked < window.len() {
                match conn.recv_timeout(Duration::from_secs(10)) {
                    Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) | Err(_) => {
                        reconnects += 1;
                        std::thread::sleep(Duration::from_millis(200));
                        break 'connection;
                    }
                }
            }
            done += window.len();
        }
        let _ = client.disconnect();
    }
    reconnects
}

/// Sorted seqs, and what is missing from / doubled in them against `1..=n`.
pub fn gaps_and_doubles(mut got: Vec<u64>, n: u64) -> (Vec<u64>, Vec<u64>) {
    got.sort_unstable();
    let doubles: Vec<u64> = got.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    got.dedup();
    let missing: Vec<u64> = (1..=n).filter(|q| got.binary_search(q).is_err()).collect();
    (missing, doubles)
}

//! The hub survives garbage on every topic it subscribes to — random bytes, truncated and
//! bit-flipped envelopes, a payload far over the protocol cap, a rig writing as another — counts
//! each in its metrics, keeps serving, and still stores the valid records sent in between.

mod support;

use hashward_protocol::{encode, AgentCounters, Body, Envelope, RigId, RigTelemetry};
use rand::{Rng, SeedableRng};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use std::time::Duration;
use support::*;

fn tele(rig: &str, seq: u64) -> Vec<u8> {
    let t = RigTelemetry {
        uptime_s: 1,
        load_1m: 0.0,
        load_5m: 0.0,
        load_15m: 0.0,
        cpu_usage_pct: 0.0,
        memory_used_bytes: 0,
        memory_total_bytes: 1,
        temperatures: vec![],
        miner: None,
        agent: AgentCounters::default(),
    };
    encode(&Envelope::new(
        RigId::new(rig).expect("id"),
        seq,
        seq * 1000,
        Body::Tele(t),
    ))
    .expect("encode")
}

/// Publishes everything at QoS 1 and waits until the broker acknowledged all of it.
fn publish_all(port: u16, msgs: &[(String, Vec<u8>)]) {
    let mut opts = MqttOptions::new("garbage-sender", "127.0.0.1", port);
    opts.set_max_packet_size(8 << 20, 8 << 20)
        .set_keep_alive(Duration::from_secs(30));
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
            Err(e) => panic!("sender: {e} after {acked} acks"),
        }
    }
    let _ = client.disconnect();
}

#[test]
fn garbage_on_every_topic_is_counted_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub(dir.path(), http, None, mqtt);
    wait_for_ingest(http);

    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let leaves = ["state", "tele", "perf", "alert", "ack", "asic/s19-a"];
    let valid = tele("r1", 1);
    let mut msgs = Vec::new();
    let mut garbage = 0u64;
    let mut mismatched = 0u64;
    for leaf in leaves {
        let topic = format!("hashward/v1/s/r1/{leaf}");
        let random: Vec<u8> = (0..rng.gen_range(1..300)).map(|_| rng.gen()).collect();
        for payload in [
            random,
            valid[..valid.len() / 2].to_vec(),
            vec![],
            vec![0xAB; 900 * 1024],
        ] {
            msgs.push((topic.clone(), payload));
            garbage += 1;
        }
        // A flipped byte in the rig id still decodes, as an envelope from rig "rd": refused as
        // a mismatch with the topic, never stored under either rig.
        let mut flipped = valid.clone();
        flipped[3] ^= 0x55;
        msgs.push((topic, flipped));
        mismatched += 1;
    }
    // Topics that do not parse are garbage too.
    for topic in [
        "hashward/v1/s/r1/unknown",
        "hashward/v1/s/bad id/tele",
        "hashward/v1/s/r1/asic/a/b",
    ] {
        msgs.push((topic.to_string(), valid.clone()));
        garbage += 1;
    }
    // A well-formed record for another rig: refused as a mismatch, not stored.
    msgs.push(("hashward/v1/s/r2/tele".to_string(), valid.clone()));
    mismatched += 1;
    // Valid records in between must still be stored.
    for seq in 1..=5 {
        msgs.push(("hashward/v1/s/r1/tele".to_string(), tele("r1", seq)));
    }
    publish_all(mqtt, &msgs);

    // The counters move as each message is decoded, the seqs when its batch commits: wait for
    // all of them together, since the last garbage is decoded before the last mismatch and
    // before the valid records behind it.
    let settled = || {
        metric(http, "hashward_hub_decode_errors_total") == Some(garbage)
            && metric(http, "hashward_hub_mismatched_total") == Some(mismatched)
            && hub_seqs(http, "r1") == vec![1, 2, 3, 4, 5]
    };
    assert!(
        wait_until(Duration::from_secs(20), settled),
        "decode errors {:?} (expected {garbage}), mismatched {:?} (expected {mismatched}), r1 seqs {:?}; hub log:\n{}",
        metric(http, "hashward_hub_decode_errors_total"),
        metric(http, "hashward_hub_mismatched_total"),
        hub_seqs(http, "r1"),
        std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default()
    );
    assert!(
        get_json(&format!("http://127.0.0.1:{http}/rigs/r2")).is_none(),
        "spoofed rig was registered"
    );
    assert!(matches!(hub.child.try_wait(), Ok(None)), "hub exited");
    assert_eq!(
        get_json(&format!("http://127.0.0.1:{http}/health")).expect("health")["status"],
        "healthy"
    );
    hub.stop(Duration::from_secs(10));
}

#[test]
fn hub_http_rejects_bad_queries_with_json_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let _hub = hub(dir.path(), http, None, mqtt);
    wait_for_ingest(http);
    publish_all(mqtt, &[("hashward/v1/s/r1/tele".to_string(), tele("r1", 1))]);
    assert!(wait_until(Duration::from_secs(10), || hub_seqs(http, "r1") == vec![1]));
    for (path, status) in [
        ("/rigs/nope", 404),
        ("/rigs/r1/telemetry?from=abc", 400),
        ("/rigs/r1/telemetry?from=5&to=4", 400),
        ("/rigs/nope/telemetry", 404),
        ("/rigs/nope/scores", 404),
        ("/rigs/r1/alerts?limit=-1", 400),
        ("/rigs/r1/nonsense", 404),
    ] {
        let resp = ureq::get(&format!("http://127.0.0.1:{http}{path}"))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .expect("request");
        assert_eq!(resp.status().as_u16(), status, "{path}");
        let body: serde_json::Value = resp.into_body().read_json().expect("json error body");
        assert!(
            body["error"].is_string() && body["code"].is_string(),
            "{path}: {body}"
        );
    }
    let t = get_json(&format!(
        "http://127.0.0.1:{http}/rigs/r1/telemetry?from=1000&to=1000"
    ))
    .expect("json");
    assert_eq!(t["records"].as_array().map(|a| a.len()), Some(1));
}

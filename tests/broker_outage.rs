//! Three agents and a hub on a real mosquitto; the broker is stopped for 20 s mid-run and started
//! again. At the end the hub must hold every record each agent produced — checked seq by seq
//! against each agent's own spool counter — with zero gaps and zero duplicates stored.

mod support;

use std::time::Duration;
use support::*;

#[test]
fn three_agents_lose_nothing_across_a_20s_broker_outage() {
    let Some(bin) = mosquitto_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), mqtt, "");
    broker.start();
    let mut hub = hub(dir.path(), http, Some(mqtt), 0);
    wait_for_http(http);

    let specs: Vec<AgentSpec> = ["north-1", "north-2", "south-1"]
        .iter()
        .map(|rig| {
            agent_spec(
                dir.path(),
                if rig.starts_with("north") {
                    "north"
                } else {
                    "south"
                },
                rig,
                mqtt,
                200,
            )
        })
        .collect();
    let mut agents: Vec<Proc> = specs.iter().map(agent).collect();
    assert!(
        wait_until(Duration::from_secs(20), || specs.iter().all(|s| hub_seqs(
            http, &s.rig
        )
        .len()
            >= 10)),
        "agents did not report before the outage"
    );

    broker.stop();
    std::thread::sleep(Duration::from_secs(20));
    broker.start();

    // Let the agents replay their spools and keep producing for a while on the new connection.
    let before: Vec<usize> = specs.iter().map(|s| hub_seqs(http, &s.rig).len()).collect();
    assert!(
        wait_until(Duration::from_secs(30), || specs
            .iter()
            .zip(&before)
            .all(|(s, b)| hub_seqs(http, &s.rig).len() >= b + 100 + 10)),
        "agents did not deliver the outage backlog"
    );
    for a in &mut agents {
        a.stop(Duration::from_secs(15));
    }

    for s in &specs {
        let produced = spool_stats(s);
        assert_eq!(produced.dropped, 0, "{}: spool dropped records", s.rig);
        assert!(
            produced.last_seq >= 120,
            "{}: only {} records produced",
            s.rig,
            produced.last_seq
        );
        let want: Vec<u64> = (1..=produced.last_seq).collect();
        let ok = wait_until(Duration::from_secs(20), || {
            let mut got = hub_seqs(http, &s.rig);
            got.sort_unstable();
            got == want
        });
        let mut got = hub_seqs(http, &s.rig);
        got.sort_unstable();
        let missing: Vec<u64> = want
            .iter()
            .copied()
            .filter(|q| got.binary_search(q).is_err())
            .collect();
        assert!(
            ok,
            "{}: hub holds {} of {} records; missing {:?}",
            s.rig,
            got.len(),
            want.len(),
            missing
        );
        got.dedup();
        assert_eq!(
            got.len() as u64,
            produced.last_seq,
            "{}: duplicates stored",
            s.rig
        );
        assert_eq!(
            produced.records, 0,
            "{}: records left unacknowledged in the spool",
            s.rig
        );

        let rig = get_json(&format!("http://127.0.0.1:{http}/rigs/{}", s.rig)).expect("rig entry");
        assert_eq!(rig["missing"], 0, "{}: {rig}", s.rig);
        assert_eq!(rig["online"], false, "{}: stopped agent still online", s.rig);
        // The outage really happened from the agent's point of view: records piled up.
        let records = get_json(&format!(
            "http://127.0.0.1:{http}/rigs/{}/telemetry?limit=100000",
            s.rig
        ))
        .expect("records");
        let peak = records["records"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|r| r["telemetry"]["agent"]["spool_records"].as_u64())
            .max()
            .unwrap_or(0);
        assert!(
            peak >= 50,
            "{}: spool never held the outage backlog (peak {peak})",
            s.rig
        );
    }
    assert_eq!(metric(http, "hashward_hub_gaps"), Some(0));
    assert_eq!(metric(http, "hashward_hub_decode_errors_total"), Some(0));
    hub.stop(Duration::from_secs(10));
    broker.stop();
}

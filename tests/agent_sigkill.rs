//! An agent killed with SIGKILL while publishing and restarted loses no record, and its `seq`
//! continues where it stopped (it is persisted with the records, not counted in memory).

mod support;

use std::time::Duration;
use support::*;

#[test]
fn sigkill_mid_publish_loses_nothing_and_seq_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub(dir.path(), http, None, mqtt);
    wait_for_http(http);
    let spec = agent_spec(dir.path(), "site", "kill-me", mqtt, 100);

    let mut last_before = 0;
    for round in 0..4 {
        let mut a = agent(&spec);
        // Kill at a different point in each round, while records are flowing.
        let ok = wait_until(Duration::from_secs(20), || {
            hub_seqs(http, &spec.rig).len() as u64 >= last_before + 20 + round * 7
        });
        assert!(ok, "round {round}: agent did not publish");
        a.kill9();
        let st = spool_stats(&spec);
        assert!(
            st.last_seq > last_before,
            "round {round}: seq went from {last_before} to {}",
            st.last_seq
        );
        last_before = st.last_seq;
    }
    let mut a = agent(&spec);
    assert!(wait_until(
        Duration::from_secs(20),
        || hub_seqs(http, &spec.rig).len() as u64 > last_before
    ));
    a.stop(Duration::from_secs(15));

    let produced = spool_stats(&spec);
    let want: Vec<u64> = (1..=produced.last_seq).collect();
    let ok = wait_until(Duration::from_secs(20), || {
        let mut got = hub_seqs(http, &spec.rig);
        got.sort_unstable();
        got == want
    });
    let mut got = hub_seqs(http, &spec.rig);
    got.sort_unstable();
    assert!(ok, "hub holds {} of {} records", got.len(), want.len());
    let rig = get_json(&format!("http://127.0.0.1:{http}/rigs/{}", spec.rig)).expect("rig");
    assert_eq!(rig["boot"], 5, "boot counter survives SIGKILL: {rig}");
    assert_eq!(rig["missing"], 0);
    hub.stop(Duration::from_secs(10));
}

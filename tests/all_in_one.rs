//! `hashward` with no arguments (here on free ports) starts broker, hub and a local agent, and
//! the rig shows up online at `/rigs` within 15 s.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

#[test]
fn all_in_one_shows_a_rig_online_within_15s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("aio.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_hashward"))
        .env("HASHWARD_NO_COLLECTORS", "1")
        .args([
            "--mqtt-listen",
            &format!("127.0.0.1:{mqtt}"),
            "--http",
            &format!("127.0.0.1:{http}"),
        ])
        .current_dir(dir.path())
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut p = Proc {
        child,
        name: "hashward".into(),
    };
    let start = Instant::now();
    let online = wait_until(Duration::from_secs(15), || {
        get_json(&format!("http://127.0.0.1:{http}/rigs"))
            .and_then(|v| v.as_array().cloned())
            .is_some_and(|rigs| {
                rigs.iter()
                    .any(|r| r["online"] == true && r["hardware"].is_object())
            })
    });
    let log = std::fs::read_to_string(dir.path().join("aio.log")).unwrap_or_default();
    assert!(online, "no rig online after {:?}; log:\n{log}", start.elapsed());
    assert!(
        log.contains(&format!("http://127.0.0.1:{http}/rigs")),
        "banner names the URL:\n{log}"
    );
    assert!(
        dir.path().join("hashward-data/agent/spool.redb").exists(),
        "state under ./hashward-data"
    );
    p.stop(Duration::from_secs(15));
}

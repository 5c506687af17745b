//! The inference circuit breaker on an ASIC, end to end in the agent binary: a Vnish miner
//! (fake, real wire format) goes into thermal runaway (its chips climb 4 C per poll, as when
//! the HVAC fails), `sentinel_asic` (the shipped model) scores it critical overheat, and the
//! agent pauses it through `POST /mining/pause`. A healthy miner beside it is never paused.

mod asic_support;
mod support;

use asic_support::{fixtures, FakeVnish};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use support::agent;

/// The 1.2.6 summary with every chip sensor (and the summary's maxima) at `base`..`base`+6 C.
fn hot_summary(base: i64) -> String {
    let mut v: Value = serde_json::from_str(fixtures::VNISH_126_SUMMARY).expect("fixture");
    let miner = &mut v["miner"];
    if let Some(chains) = miner["chains"].as_array_mut() {
        for c in chains {
            if let Some(sens) = c["chip_temp_sens"].as_array_mut() {
                for (i, s) in sens.iter_mut().enumerate() {
                    s["temp"] = Value::from(base + 2 * i as i64);
                }
            }
            c["chip_temp"] = serde_json::json!({ "min": base, "max": base + 6 });
        }
    }
    miner["chip_temp"] = serde_json::json!({ "min": base, "max": base + 6 });
    v.to_string()
}

fn pause_calls(m: &FakeVnish) -> usize {
    m.with(|s| {
        s.calls
            .iter()
            .filter(|(method, path, _)| method == "POST" && path == "/api/v1/mining/pause")
            .count()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_overheat_on_an_asic_pauses_that_asic_only() {
    let hot = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let cool = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let creds = dir.path().join("asic-credentials.toml");
    std::fs::write(&creds, "[default]\npassword = \"admin\"\n").expect("creds");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let config = agent::write_config(
        dir.path(),
        "ctl",
        &format!(
            "[inference]\nenabled = true\nbundled_models_dir = \"{}\"\n\
             [asic]\ncredentials_file = \"{}\"\ntelemetry_interval_s = 1\ntelemetry_max_interval_s = 2\n\
             [[asic.miners]]\nid = \"hot\"\nurl = \"{}\"\nkind = \"vnish\"\n\
             [[asic.miners]]\nid = \"cool\"\nurl = \"{}\"\nkind = \"vnish\"\n",
            models.display(),
            creds.display(),
            hot.url(),
            cool.url()
        ),
    );
    let log = dir.path().join("agent.log");
    let agent_proc = agent::run(&config, &[], &log);

    // A few normal polls first: the model judges a sample against the window before it.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(pause_calls(&hot), 0, "paused while normal:\n{text}");
    let mut base = 72;
    let deadline = Instant::now() + Duration::from_secs(90);
    while pause_calls(&hot) == 0 && Instant::now() < deadline {
        if base < 118 {
            base += 4;
            let summary: Value = serde_json::from_str(&hot_summary(base)).expect("json");
            hot.with(|s| s.summary = summary);
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(pause_calls(&hot), 1, "the hot miner was not paused once:\n{text}");
    assert!(text.contains("on ASIC hot: pausing it"), "{text}");
    assert!(hot.with(|s| s.paused), "the fake did not record the pause");
    // The healthy miner was polled all along and never paused.
    assert!(cool.with(|s| s.calls.iter().any(|(_, p, _)| p == "/api/v1/summary")));
    assert_eq!(pause_calls(&cool), 0, "{text}");
    // Still critical on later polls: the breaker extends, it does not pause again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pause_calls(&hot), 1);

    // The pause is on record in the data dir. The agent restarts (crash, upgrade) after the
    // breaker's time is up, the miner has cooled: the new agent resumes it.
    drop(agent_proc);
    let record = dir.path().join("data/asic-breakers.json");
    let held: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(&record).expect("breaker record")).expect("json");
    assert_eq!(held.keys().collect::<Vec<_>>(), vec!["hot"], "{held:?}");
    std::fs::write(&record, r#"{"hot": 1}"#).expect("expire the record");
    let cool_summary: Value = serde_json::from_str(fixtures::VNISH_126_SUMMARY).expect("json");
    hot.with(|s| s.summary = cool_summary);
    let _agent = agent::run(&config, &[], &dir.path().join("agent-2.log"));
    let deadline = Instant::now() + Duration::from_secs(40);
    while hot.with(|s| s.paused) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = std::fs::read_to_string(dir.path().join("agent-2.log")).unwrap_or_default();
    assert!(
        !hot.with(|s| s.paused),
        "the restarted agent did not resume the miner:\n{text}"
    );
    assert!(text.contains("circuit breaker on ASIC hot released"), "{text}");
}

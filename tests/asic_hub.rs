//! ASIC readings end to end: an agent polls a Vnish miner (fake, real wire format and field
//! names), spools the normalised reading, the hub stores it and serves it on
//! `/rigs/{rig}/asics`; the sentinel's score of each reading arrives on `/rigs/{rig}/scores`
//! under the miner's id, and the rig's entry and MQTT summary carry the latest one.

#[path = "../agent/tests/asic_support/mod.rs"]
mod asic_support;
mod support;

use asic_support::{fixtures, FakeVnish};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asic_readings_and_their_scores_reach_the_hub() {
    let vnish = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub(dir.path(), http, None, mqtt);
    wait_for_http(http);

    let spec = agent_spec(dir.path(), "farm", "ctl-1", mqtt, 1000);
    let creds = dir.path().join("asic-credentials.toml");
    std::fs::write(&creds, "[default]\npassword = \"admin\"\n").expect("creds");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut text = std::fs::read_to_string(&spec.config).expect("config");
    text.push_str(&format!(
        "[inference]\nenabled = true\nbundled_models_dir = \"{}\"\n\
         [asic]\ncredentials_file = \"{}\"\ntelemetry_interval_s = 1\ntelemetry_max_interval_s = 2\n\
         [[asic.miners]]\nid = \"s19jpro-21\"\nurl = \"{}\"\nkind = \"vnish\"\n",
        models.display(),
        creds.display(),
        vnish.url()
    ));
    std::fs::write(&spec.config, text).expect("write config");
    let mut agent = agent(&spec);

    // Polled on a blocking wait: the fake lives on this runtime's worker threads.
    let deadline = Instant::now() + Duration::from_secs(40);
    let (mut asics, mut scores) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        // Scores first: every reading they name is stored before its score is made.
        scores = hub_records(http, "ctl-1", "scores")
            .into_iter()
            .filter(|r| r["score"]["subject"] == "s19jpro-21")
            .collect();
        asics = hub_records(http, "ctl-1", "asics");
        if asics.len() >= 3 && scores.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        asics.len() >= 3 && scores.len() >= 3,
        "{} readings, {} scores at the hub; agent log:\n{}",
        asics.len(),
        scores.len(),
        agent_log(&spec)
    );
    let a = &asics[0]["asic"];
    assert_eq!(a["miner_id"], "s19jpro-21", "{a}");
    assert_eq!(a["api"], "vnish", "{a}");
    assert_eq!(a["reachable"], true, "{a}");
    // The fixture's 104.5 TH/s (Vnish reports GH/s), normalised to H/s.
    let total = a["hashrate"]["total"].as_f64().unwrap_or(0.0);
    assert!((total - 104.5e12).abs() < 1e9, "{a}");
    // Each score names a reading the hub holds.
    let reading_ts: Vec<u64> = asics.iter().filter_map(|r| r["ts_ms"].as_u64()).collect();
    for s in &scores {
        let ts = s["score"]["sample_ts_ms"].as_u64().expect("sample_ts_ms");
        assert!(reading_ts.contains(&ts), "score for an unknown reading: {s}");
        assert!(s["score"]["model_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("sentinel_asic_v")));
    }
    let rig = get_json(&format!("http://127.0.0.1:{http}/rigs/ctl-1")).expect("rig");
    assert!(rig["anomaly"]["s19jpro-21"]["score"].as_f64().is_some(), "{rig}");
    agent.stop(Duration::from_secs(10));
    hub.stop(Duration::from_secs(10));
}

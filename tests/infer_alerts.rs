//! On-device inference end to end: an agent with the shipped models, on a copied sysfs tree whose
//! CPU package then overheats (4 C per sample, a failed cooler), sends a score with every
//! telemetry sample and an overheat alert; both reach the hub through the broker and show in
//! `/rigs/{rig}`, `/rigs/{rig}/scores` and `/rigs/{rig}/alerts`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::fixture::copy_tree;
use support::*;

/// Every `tempN_input` under the tree's hwmon devices.
fn temp_inputs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root.join("sys/class/hwmon"))
        .expect("hwmon")
        .flatten()
    {
        for f in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with("temp") && name.ends_with("_input") {
                out.push(f.path());
            }
        }
    }
    assert!(!out.is_empty(), "no temperature sensor in the fixture");
    out
}

fn set_temps(inputs: &[PathBuf], celsius: i64) {
    for p in inputs {
        std::fs::write(p, format!("{}\n", celsius * 1000)).expect("write temp");
    }
}

#[test]
fn scores_and_an_overheat_alert_reach_the_hub() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("hw");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("agent/tests/data/hw/ryzen-desktop"),
        &root,
    );
    let temps = temp_inputs(&root);
    set_temps(&temps, 55);
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub(dir.path(), http, None, mqtt);
    wait_for_http(http);

    let spec = agent_spec(dir.path(), "lab", "hot-rig", mqtt, 300);
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut text = std::fs::read_to_string(&spec.config).expect("config");
    text.push_str(&format!(
        "[miner]\nhardware_root = \"{}\"\n[inference]\nenabled = true\nbundled_models_dir = \"{}\"\n",
        root.display(),
        models.display()
    ));
    std::fs::write(&spec.config, text).expect("write config");
    let mut agent = agent(&spec);

    // Normal: a low score per sample, no alert.
    let scored = wait_until(Duration::from_secs(30), || {
        hub_records(http, "hot-rig", "scores").len() >= 8
    });
    assert!(scored, "no scores at the hub; agent log:\n{}", agent_log(&spec));
    let normal = hub_records(http, "hot-rig", "scores");
    for r in &normal {
        assert_eq!(r["score"]["subject"], "rig", "{r}");
        assert_eq!(r["score"]["severity"], "low", "a cool, idle rig scored: {r}");
        assert!(r["score"]["model_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("sentinel_rig_v")));
    }
    assert!(hub_records(http, "hot-rig", "alerts").is_empty());
    // Each score names the telemetry sample it scored.
    let tele_ts: Vec<u64> = hub_records(http, "hot-rig", "telemetry")
        .iter()
        .filter_map(|r| r["ts_ms"].as_u64())
        .collect();
    assert!(normal
        .iter()
        .filter_map(|r| r["score"]["sample_ts_ms"].as_u64())
        .all(|ts| tele_ts.contains(&ts)));

    // The cooler fails: +4 C per sample up to 107 C.
    let (mut c, mut stepped) = (55, std::time::Instant::now());
    let alerted = wait_until(Duration::from_secs(60), || {
        if c < 107 && stepped.elapsed() >= Duration::from_millis(300) {
            c += 4;
            stepped = std::time::Instant::now();
            set_temps(&temps, c);
        }
        hub_records(http, "hot-rig", "alerts")
            .iter()
            .any(|r| r["alert"]["threat_type"] == "overheat")
    });
    assert!(
        alerted,
        "no overheat alert at the hub; agent log:\n{}",
        agent_log(&spec)
    );
    let alerts = hub_records(http, "hot-rig", "alerts");
    let a = alerts
        .iter()
        .find(|r| r["alert"]["threat_type"] == "overheat")
        .expect("overheat");
    eprintln!("first overheat alert at {c} C: {a}");
    assert_eq!(a["alert"]["subject"], "rig", "{a}");
    assert!(a["alert"]["score"].as_f64().is_some_and(|s| s > 0.5), "{a}");
    assert!(a["alert"]["action"]["action"].is_string(), "{a}");

    let rig = get_json(&format!("http://127.0.0.1:{http}/rigs/hot-rig")).expect("rig");
    assert!(rig["anomaly"]["rig"]["score"].as_f64().is_some(), "{rig}");
    assert!(rig["last_alert"]["message"].is_string(), "{rig}");
    agent.stop(Duration::from_secs(10));
    hub.stop(Duration::from_secs(10));
}

//! The private tuning telemetry end to end (seed 004, issue 22 part 2): a real agent process
//! with `telemetry_enabled` tunes, settles and shares its snapshot under its random telemetry id
//! over the broker; the hub folds it and `/telem/suggestions` serves it; `hashward agent
//! telemetry forget` (a real process, over HTTP) removes it and draws a new id; the suggestions
//! are empty again, and the store kept no raw snapshot.

mod support;

use std::time::Duration;
use support::*;

/// Bench-mode mining on the 2-CPU VM fixture (as tests/fleet_hints.rs), with the hub's HTTP
/// base as the telemetry endpoint the forget goes to.
fn tuning_agent(root: &std::path::Path, rig: &str, mqtt: u16, http: u16) -> AgentSpec {
    let spec = agent_spec(root, "lab", rig, mqtt, 500);
    let hw = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("agent/tests/data/hw/vm");
    let mut text = std::fs::read_to_string(&spec.config).expect("config");
    text.push_str(&format!(
        "[miner]\nenabled = true\nalgo = \"sha256d\"\ntelemetry_enabled = true\nevaluation_window_secs = 1\n\
         reeval_interval_secs = 600\nhardware_root = \"{}\"\ntelemetry_endpoint = \"http://127.0.0.1:{http}\"\n",
        hw.display()
    ));
    std::fs::write(&spec.config, text).expect("write config");
    spec
}

#[test]
fn a_shared_snapshot_is_suggested_then_forgotten_on_the_agents_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut hub = hub(dir.path(), http, None, mqtt);
    wait_for_http(http);

    let spec = tuning_agent(dir.path(), "rig-a", mqtt, http);
    let config = spec.config.to_str().expect("utf8").to_string();
    let suggestions = format!(
        "http://127.0.0.1:{http}/telem/suggestions?cpu_model=Intel%20Xeon%20(Cascadelake)&cores=2&pow_algo=sha256d&profile=balanced"
    );
    let mut a = agent(&spec);
    let shared = wait_until(Duration::from_secs(120), || {
        get_json(&suggestions)
            .and_then(|v| v.as_array().cloned())
            .is_some_and(|s| !s.is_empty())
    });
    let log = agent_log(&spec);
    assert!(shared, "no suggestion within 120 s; agent log:\n{log}");
    a.stop(Duration::from_secs(10));

    let before = get_json(&suggestions).expect("suggestions");
    let s = &before[0];
    assert!(
        s["threads"].as_u64().is_some_and(|t| (1..=2).contains(&t)),
        "{before}"
    );
    assert!(
        s["expected_hashrate"].as_f64().is_some_and(|r| r > 0.0),
        "{before}"
    );
    assert_eq!(s["contributions"], 1, "{before}");
    // The snapshot was folded, not kept: the rig has no perf record.
    assert!(hub_records(http, "rig-a", "telemetry?limit=100000")
        .iter()
        .all(|r| r.get("perf").is_none() && r.get("telem").is_none()));
    let board = get_json(&format!("http://127.0.0.1:{http}/telem/leaderboard")).expect("leaderboard");
    assert_eq!(
        board["cpu_models"][0]["cpu_model"], "intel xeon (cascadelake)",
        "{board}"
    );

    let (ok, id, err) = cli(&["agent", "telemetry", "id", "--config", &config]);
    assert!(ok, "{err}");
    let id = id.trim().to_string();
    assert_eq!(id.len(), 32, "{id}");
    assert!(!id.contains("rig-a"));

    let (ok, out, err) = cli(&["agent", "telemetry", "forget", "--config", &config, "--json"]);
    assert!(ok, "forget failed: {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["forgotten_id"], id.as_str(), "{v}");
    assert_eq!(v["known_to_hub"], true, "{v}");
    assert!(v["removed_contributions"].as_u64().is_some_and(|n| n >= 1), "{v}");
    assert_ne!(v["new_id"], id.as_str());

    assert_eq!(
        get_json(&suggestions).expect("suggestions"),
        serde_json::json!([])
    );
    assert_eq!(metric(http, "hashward_telem_forget_refused_total"), Some(0));
    assert!(metric(http, "hashward_telem_contributions_forgotten_total").is_some_and(|n| n >= 1));
    // The new id is not known to the hub yet: forgetting it again is a clear "nothing held".
    let (ok, out, err) = cli(&["agent", "telemetry", "forget", "--config", &config, "--json"]);
    assert!(ok, "{err}");
    assert!(out.contains("\"known_to_hub\":false"), "{out}");
    hub.stop(Duration::from_secs(10));
}

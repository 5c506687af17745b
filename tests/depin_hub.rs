//! DePIN reports end to end: an agent polls a fake Storj node (real dashboard JSON shapes) and a
//! Streamr node that is down, spools one report per poll, mosquitto carries them, the hub stores
//! them and `GET /depin` serves the latest per node: the Storj figures the fake served, and the
//! down node as down with its error kind.

#[path = "../agent/tests/depin_support/mod.rs"]
mod depin_support;
mod support;

use depin_support::{closed_port, storj, StorjFigures};
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depin_reports_reach_the_hub_through_mosquitto() {
    let Some(bin) = mosquitto_binary() else { return };
    let figures = StorjFigures {
        used: 900_000_000_000,
        available: 4_000_000_000_000,
        trash: 1_000_000_000,
        bandwidth_summary: 77_000_000_000,
        payout_cents: 250.0,
        expectations_cents: 900,
        started_at: "2026-01-01T00:00:00Z".into(),
    };
    let fake = storj(figures.clone()).await;
    let down = closed_port().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mqtt, http) = (free_port(), free_port());
    let mut broker = Mosquitto::new(bin, dir.path(), mqtt, "");
    broker.start();
    let mut hub = hub(dir.path(), http, Some(mqtt), mqtt);
    wait_for_http(http);

    let spec = agent_spec(dir.path(), "farm", "depin-rig", mqtt, 1000);
    let mut text = std::fs::read_to_string(&spec.config).expect("config");
    text.push_str(&format!(
        "[depin]\nrequest_timeout_ms = 2000\n\
         [[depin.nodes]]\nid = \"storj-1\"\nkind = \"storj\"\nurl = \"{}\"\npoll_interval_s = 60\n\
         [[depin.nodes]]\nid = \"streamr-down\"\nkind = \"streamr\"\nurl = \"http://{down}\"\npoll_interval_s = 60\n",
        fake.url()
    ));
    std::fs::write(&spec.config, text).expect("write config");
    let mut agent = agent(&spec);

    let deadline = Instant::now() + Duration::from_secs(40);
    let mut nodes = Vec::new();
    while Instant::now() < deadline {
        nodes = get_json(&format!("http://127.0.0.1:{http}/depin"))
            .and_then(|v| v["nodes"].as_array().cloned())
            .unwrap_or_default();
        if nodes.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(nodes.len(), 2, "{nodes:?}; agent log:\n{}", agent_log(&spec));
    let storj_node = nodes
        .iter()
        .find(|n| n["report"]["node"] == "storj-1")
        .expect("storj-1 listed");
    let r = &storj_node["report"];
    assert_eq!(storj_node["rig"], "depin-rig");
    assert_eq!(storj_node["site"], "farm");
    assert_eq!(storj_node["stale"], false, "{storj_node}");
    assert_eq!(r["kind"], "storj");
    assert_eq!(r["reachable"], true, "{r}");
    assert_eq!(r["disk_used_bytes"].as_u64(), Some(figures.used as u64));
    assert_eq!(
        r["disk_available_bytes"].as_u64(),
        Some((figures.available - figures.used - figures.trash) as u64)
    );
    assert_eq!(
        r["bandwidth_bytes"].as_u64(),
        Some(figures.bandwidth_summary as u64)
    );
    assert_eq!(r["earnings"]["usd"].as_f64(), Some(figures.payout_cents / 100.0));
    assert_eq!(r["earnings"]["period"], "current_month");
    assert!(r["earnings"]["token_amount"].is_null());
    let down_node = nodes
        .iter()
        .find(|n| n["report"]["node"] == "streamr-down")
        .expect("the down node is listed, not left out");
    let d = &down_node["report"];
    assert_eq!(d["reachable"], false, "{d}");
    assert_eq!(d["error_kind"], "unreachable");
    assert!(
        d["earnings"].is_null() && d["earnings_unavailable"].is_string(),
        "{d}"
    );

    agent.stop(Duration::from_secs(10));
    hub.stop(Duration::from_secs(10));
    broker.stop();
}

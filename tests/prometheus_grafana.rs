//! A real Prometheus (Debian package `prometheus`) scrapes a hub fed by an agent that mines and
//! polls a fake Vnish ASIC; every panel query of the Grafana dashboard in
//! `dashboards/grafana/` must return data from it, and the per-rig and per-ASIC series carry
//! only id labels.
//!
//! Skips with a notice without prometheus, unless HASHWARD_REQUIRE_PROMETHEUS=1 (CI).

#[path = "../agent/tests/asic_support/mod.rs"]
mod asic_support;
mod support;

use asic_support::{fixtures, FakeVnish};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

fn prometheus() -> Option<PathBuf> {
    let found = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("HASHWARD_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
            "HASHWARD_REQUIRE_PROMETHEUS=1 and no prometheus found"
        );
        eprintln!("SKIP: prometheus not installed (apt-get install prometheus)");
    }
    found
}

/// The dashboard's panels: (title, PromQL).
fn panel_queries() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/grafana/hashward-fleet.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("json");
    dash["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("").to_string();
            p["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |t| (title.clone(), t["expr"].as_str().expect("expr").to_string()))
        })
        .collect()
}

/// The instant query's result vector (empty when Prometheus has no data for it yet).
fn query(port: u16, expr: &str) -> Vec<Value> {
    ureq::get(&format!("http://127.0.0.1:{port}/api/v1/query"))
        .query("query", expr)
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grafana_panel_query_returns_data_from_a_real_prometheus() {
    let Some(bin) = prometheus() else { return };
    let queries = panel_queries();
    assert!(queries.len() >= 10, "{queries:?}");
    let vnish = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (mqtt, http, prom) = (free_port(), free_port(), free_port());
    let mut hub = hub(d, http, None, mqtt);
    wait_for_http(http);

    let spec = agent_spec(d, "farm", "rig-a", mqtt, 1000);
    let creds = d.join("asic-credentials.toml");
    std::fs::write(&creds, "[default]\npassword = \"admin\"\n").expect("creds");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut text = std::fs::read_to_string(&spec.config).expect("config");
    text.push_str(&format!(
        "[inference]\nenabled = true\nbundled_models_dir = \"{}\"\n\
         [miner]\nenabled = true\nmining_threads = 1\nauto_tune_enabled = false\n\
         [asic]\ncredentials_file = \"{}\"\ntelemetry_interval_s = 1\ntelemetry_max_interval_s = 2\n\
         [[asic.miners]]\nid = \"s19-1\"\nurl = \"{}\"\nkind = \"vnish\"\n",
        models.display(),
        creds.display(),
        vnish.url()
    ));
    std::fs::write(&spec.config, text).expect("agent config");
    let mut agent = agent(&spec);

    let conf = d.join("prometheus.yml");
    std::fs::write(
        &conf,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: hub\n    \
             static_configs:\n      - targets: [\"127.0.0.1:{http}\"]\n"
        ),
    )
    .expect("prometheus.yml");
    let log = std::fs::File::create(d.join("prometheus.log")).expect("log");
    let child = Command::new(bin)
        .arg(format!("--config.file={}", conf.display()))
        .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let mut prometheus = Proc {
        child,
        name: "prometheus".into(),
    };

    let mut missing = Vec::new();
    let all = wait_until(Duration::from_secs(120), || {
        missing = queries
            .iter()
            .filter(|(_, q)| query(prom, q).is_empty())
            .map(|(t, q)| format!("{t}: {q}"))
            .collect();
        missing.is_empty()
    });
    assert!(
        all,
        "panels without data: {missing:#?}\nprometheus log:\n{}\nhub /metrics:\n{}",
        std::fs::read_to_string(d.join("prometheus.log")).unwrap_or_default(),
        get_text(&format!("http://127.0.0.1:{http}/metrics")).unwrap_or_default()
    );
    // The ASIC's hashrate as scraped is the hub's reading of the fixture (104.5 TH/s).
    let hs = query(prom, "hashward_asic_hashrate_hashes_per_second");
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0]["metric"]["asic"], "s19-1");
    let v: f64 = hs[0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("value");
    assert!((v - 104.5e12).abs() < 1e9, "{v}");
    // Only id labels on the fleet series (plus Prometheus' own job and instance).
    let keys: std::collections::BTreeSet<String> = query(prom, "{__name__=~\"hashward_(rig|asic)_.*\"}")
        .iter()
        .flat_map(|s| {
            s["metric"]
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, _)| k)
        })
        .collect();
    let allowed = [
        "__name__", "job", "instance", "rig", "site", "asic", "algo", "sensor",
    ];
    assert!(keys.iter().all(|k| allowed.contains(&k.as_str())), "{keys:?}");

    prometheus.stop(Duration::from_secs(10));
    agent.stop(Duration::from_secs(10));
    hub.stop(Duration::from_secs(10));
}

//! Benchmark: CPU time and memory of the pool and network sources at their default intervals
//! (Prohashing over WAMP with a 30 s heartbeat, a bitcoind node polled every 60 s, a litecoin
//! explorer every 300 s) against loopback fakes, next to a reference hub without collectors, both
//! run at the same time for the same period. The fake router publishes a profitability update
//! every 10 s and a worker diff every 30 s.
//!
//! The parent runs the fakes (the tests' own, included by path); each hub is a child process
//! (this example re-run with `--phase`) that measures itself from /proc after `seconds`.
//!
//! `cargo run -p hashward-hub --example pools_bench -- [seconds]` (default 600).
//! Must never be a timed assertion: it measures.

#[path = "../tests/support/chain_fakes.rs"]
mod chain_fakes;
#[path = "../tests/support/wamp_router.rs"]
mod wamp_router;

use hashward_hub::collect::config::{ApiKey, CollectConfig, SourceConfig};
use hashward_hub::collect::node_rpc::NodeConfig;
use hashward_hub::collect::prohashing::config::ProhashingConfig;
use hashward_hub::serve::{self, BrokerChoice, ServeOptions};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn proc_stats() -> (f64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let cpu_s = (ticks(11) + ticks(12)) as f64 / 100.0;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (cpu_s, kib("VmRSS:"), kib("VmHWM:"))
}

fn config(router: &str, node: &str, explorer: &str) -> CollectConfig {
    let prohashing: ProhashingConfig = toml::from_str(&format!(
        "api_key = \"{}\"\nurl = \"ws://{router}/ws\"\nhttp_enabled = false\n",
        wamp_router::API_KEY
    ))
    .expect("prohashing");
    let mut nodes = BTreeMap::new();
    nodes.insert(
        "bitcoin".to_string(),
        NodeConfig {
            url: Some(format!("http://{node}/")),
            user: Some(chain_fakes::RPC_USER.into()),
            password: Some(ApiKey::new(chain_fakes::RPC_PASSWORD)),
            ..NodeConfig::default()
        },
    );
    let mut explorers = CollectConfig::all_disabled().explorer.unwrap_or_default();
    explorers.insert(
        "litecoin".to_string(),
        SourceConfig {
            base_url: Some(format!("http://{explorer}")),
            ..SourceConfig::default()
        },
    );
    CollectConfig {
        prohashing: Some(prohashing),
        node: Some(nodes),
        explorer: Some(explorers),
        ..CollectConfig::all_disabled()
    }
}

async fn phase(name: &str, seconds: u64, router: &str, node: &str, explorer: &str) {
    let collect = if name == "reference" {
        CollectConfig::all_disabled()
    } else {
        config(router, node, explorer)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = serve::start(
        ServeOptions {
            data_dir: dir.path().to_path_buf(),
            http: "127.0.0.1:0".parse().expect("addr"),
            broker: BrokerChoice::Embedded("127.0.0.1:0".parse().expect("addr")),
            client_id: format!("bench-{name}"),
            username: None,
            password: None,
            summary_interval: Duration::from_secs(5),
            share_group: None,
            models_dir: None,
            collect,
            economics: Default::default(),
            scores: Default::default(),
            dashboards: Default::default(),
            notify: None,
            store: Default::default(),
            sentinel: Default::default(),
            allocation: None,
        },
        shutdown,
    )
    .await
    .expect("hub starts");
    let http = running.http_addr;
    let waiter = tokio::spawn(running.wait());
    let (cpu0, _, _) = proc_stats();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu1, rss, hwm) = proc_stats();
    let sources: serde_json::Value = tokio::task::spawn_blocking(move || {
        ureq::get(&format!("http://{http}/sources"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json().ok())
            .unwrap_or_default()
    })
    .await
    .unwrap_or_default();
    let sum = |f: &dyn Fn(&serde_json::Value) -> u64| -> u64 {
        sources["sources"]
            .as_array()
            .map(|a| a.iter().map(f).sum())
            .unwrap_or(0)
    };
    let requests = sum(&|s| s["requests"].as_u64().unwrap_or(0));
    let errors = sum(&|s| {
        s["errors"]
            .as_object()
            .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
            .unwrap_or(0)
    });
    println!(
        "{}",
        json!({
            "phase": name, "seconds": seconds, "cpu_s": cpu1 - cpu0,
            "rss_kib": rss, "peak_rss_kib": hwm, "requests_and_messages": requests, "errors": errors,
        })
    );
    stop.send_replace(true);
    waiter.await.ok();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if args.get(1).map(String::as_str) == Some("--phase") {
        let seconds = args[3].parse().expect("seconds");
        rt.block_on(phase(&args[2], seconds, &args[4], &args[5], &args[6]));
        return;
    }
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(600);
    rt.block_on(async {
        let router = wamp_router::Router::start("127.0.0.1:0".parse().expect("addr"), false).await;
        let node = chain_fakes::bitcoind("127.0.0.1:0".parse().expect("addr")).await;
        let explorer = chain_fakes::explorer("127.0.0.1:0".parse().expect("addr")).await;
        let exe = std::env::current_exe().expect("exe");
        let (r, n, e) = (
            router.addr.to_string(),
            node.addr.to_string(),
            explorer.addr.to_string(),
        );
        let children: Vec<_> = ["reference", "pools"]
            .iter()
            .map(|p| {
                std::process::Command::new(&exe)
                    .args(["--phase", p, &seconds.to_string(), &r, &n, &e])
                    .env("RUST_LOG", "warn")
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn phase")
            })
            .collect();
        // The router's traffic while the phases run.
        let publisher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                n += 1;
                router.publish(
                    "profitability_updates",
                    json!([wamp_router::recorded_profitability()]),
                );
                if n.is_multiple_of(3) {
                    router.publish(
                        &format!("miner_update_diffs_{}", wamp_router::API_KEY),
                        json!([{"uuid": "6b1e0c1a-1", "hashrate": 13.0e12 + (n as f64) * 1e9}]),
                    );
                }
            }
        });
        let outs: Vec<serde_json::Value> = tokio::task::spawn_blocking(move || {
            children
                .into_iter()
                .map(|c| {
                    let out = c.wait_with_output().expect("phase output");
                    let line = String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .last()
                        .unwrap_or("{}")
                        .to_string();
                    println!("{line}");
                    serde_json::from_str(&line).unwrap_or_default()
                })
                .collect()
        })
        .await
        .expect("join");
        publisher.abort();
        let f = |i: usize, k: &str| outs[i][k].as_f64().unwrap_or(0.0);
        let cpu = f(1, "cpu_s") - f(0, "cpu_s");
        println!(
            "{}",
            json!({
                "pools_cpu_s": cpu,
                "pools_cpu_pct_of_core": 100.0 * cpu / seconds as f64,
                "pools_added_rss_kib": f(1, "rss_kib") - f(0, "rss_kib"),
                "pools_added_peak_rss_kib": f(1, "peak_rss_kib") - f(0, "peak_rss_kib"),
            })
        );
    });
}

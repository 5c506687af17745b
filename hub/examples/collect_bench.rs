//! Benchmark: CPU time and memory of the collectors at their default intervals (seed 002
//! §10.3: CoinGecko keyless 300/900/3600 s, CoinMarketCap basic 900/900/3600 s) against loopback
//! fakes, next to a reference hub without collectors, run at the same time for the same period.
//!
//! The parent runs the fakes; each hub is a child process (this example re-run with `--phase`)
//! that measures itself from /proc (utime+stime, VmRSS, VmHWM) after `seconds`, so the fakes'
//! work is not counted. Prints one JSON line per phase and the differences.
//!
//! `cargo run --release -p hashward-hub --example collect_bench -- [seconds]` (default 600).
//! Must never be a timed assertion: it measures.

use axum::routing::get;
use axum::Router;
use hashward_hub::collect::config::{ApiKey, CollectConfig, SourceConfig};
use hashward_hub::serve::{self, BrokerChoice, ServeOptions};
use std::time::Duration;

fn proc_stats() -> (f64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are 14 and 15 (1-based).
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux.
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

async fn phase(name: &str, seconds: u64, cg: &str, cmc: &str) {
    let collect = if name == "reference" {
        CollectConfig::all_disabled()
    } else {
        CollectConfig {
            coingecko: Some(SourceConfig {
                base_url: Some(format!("{cg}/api/v3")),
                ..SourceConfig::default()
            }),
            coinmarketcap: Some(SourceConfig {
                base_url: Some(format!("{cmc}/v1")),
                api_key: Some(ApiKey::new("bench")),
                ..SourceConfig::default()
            }),
            // No network source: the default explorers would reach the internet.
            explorer: CollectConfig::all_disabled().explorer,
            ..CollectConfig::default()
        }
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
    let requests: u64 = sources["sources"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["requests"].as_u64()).sum())
        .unwrap_or(0);
    let errors: u64 = sources["sources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["errors"].as_object())
                .flat_map(|m| m.values().filter_map(|v| v.as_u64()))
                .sum()
        })
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "phase": name, "seconds": seconds, "cpu_s": cpu1 - cpu0,
            "rss_kib": rss, "peak_rss_kib": hwm, "requests": requests, "errors": errors,
        })
    );
    stop.send_replace(true);
    waiter.await.ok();
}

const SIMPLE: &str = r#"{"bitcoin":{"usd":100000.0,"btc":1.0,"usd_market_cap":1.98e12,"usd_24h_vol":3.0e10,"usd_24h_change":-1.5,"last_updated_at":1764662400},"litecoin":{"usd":120.0,"btc":0.0012,"usd_market_cap":9.0e9,"usd_24h_vol":9.0e8,"usd_24h_change":2.0,"last_updated_at":1764662400},"dogecoin":{"usd":0.38,"btc":3.8e-6,"usd_market_cap":5.6e10,"usd_24h_vol":2.2e9,"usd_24h_change":4.5,"last_updated_at":1764662400}}"#;
const MARKETS: &str = r#"[{"id":"bitcoin","current_price":100000.0,"market_cap":1.98e12,"total_volume":3.0e10,"price_change_percentage_24h":-1.5,"price_change_percentage_1h_in_currency":0.2,"price_change_percentage_7d_in_currency":4.0},{"id":"litecoin","current_price":120.0,"market_cap":9.0e9,"total_volume":9.0e8,"price_change_percentage_24h":2.0},{"id":"dogecoin","current_price":0.38,"market_cap":5.6e10,"total_volume":2.2e9,"price_change_percentage_24h":4.5}]"#;
const QUOTES: &str = r#"{"status":{"error_code":0,"credit_count":1},"data":{"1":{"id":1,"quote":{"USD":{"price":100500.0,"volume_24h":3.1e10,"percent_change_24h":-1.4,"market_cap":1.99e12}}},"2":{"id":2,"quote":{"USD":{"price":120.6,"percent_change_24h":2.1,"market_cap":9.1e9}}},"74":{"id":74,"quote":{"USD":{"price":0.381,"market_cap":5.6e10}}}}}"#;
const GLOBAL: &str = r#"{"status":{"error_code":0,"credit_count":1},"data":{"btc_dominance":57.2,"active_cryptocurrencies":9800,"quote":{"USD":{"total_market_cap":3.45e12,"total_volume_24h":1.2e11}}}}"#;

fn chart() -> String {
    let now = hashward_common::clock::now_ms();
    let today = now - now % 86_400_000;
    let pts: Vec<String> = (0..365u64)
        .rev()
        .map(|d| format!("[{},{}]", today - d * 86_400_000, 90_000 + d))
        .collect();
    format!(
        r#"{{"prices":[{p}],"market_caps":[{p}],"total_volumes":[{p}]}}"#,
        p = pts.join(",")
    )
}

async fn serve(router: Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, router).await.ok() });
    format!("http://{addr}")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if args.get(1).map(String::as_str) == Some("--phase") {
        let (name, seconds, cg, cmc) = (&args[2], args[3].parse().expect("seconds"), &args[4], &args[5]);
        rt.block_on(phase(name, seconds, cg, cmc));
        return;
    }
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(600);
    rt.block_on(async {
        let cg = serve(
            Router::new()
                .route("/api/v3/simple/price", get(|| async { SIMPLE }))
                .route("/api/v3/coins/markets", get(|| async { MARKETS }))
                .route("/api/v3/coins/{id}/market_chart", get(|| async { chart() })),
        )
        .await;
        let cmc = serve(
            Router::new()
                .route("/v1/cryptocurrency/quotes/latest", get(|| async { QUOTES }))
                .route("/v1/cryptocurrency/listings/latest", get(|| async { QUOTES.replace("{\"1\":", "[").replace(",\"2\":", ",").replace(",\"74\":", ",").replace("}}}}}", "}}}]}") }))
                .route("/v1/global-metrics/quotes/latest", get(|| async { GLOBAL })),
        )
        .await;
        let exe = std::env::current_exe().expect("exe");
        let children: Vec<_> = ["reference", "collectors"]
            .iter()
            .map(|p| {
                std::process::Command::new(&exe)
                    .args(["--phase", p, &seconds.to_string(), &cg, &cmc])
                    .env("RUST_LOG", "warn")
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn phase")
            })
            .collect();
        let outs: Vec<serde_json::Value> = tokio::task::spawn_blocking(move || {
            children
                .into_iter()
                .map(|c| {
                    let out = c.wait_with_output().expect("phase output");
                    let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("{}").to_string();
                    println!("{line}");
                    serde_json::from_str(&line).unwrap_or_default()
                })
                .collect()
        })
        .await
        .expect("join");
        let f = |i: usize, k: &str| outs[i][k].as_f64().unwrap_or(0.0);
        let cpu = f(1, "cpu_s") - f(0, "cpu_s");
        println!(
            "{}",
            serde_json::json!({
                "collectors_cpu_s": cpu,
                "collectors_cpu_pct_of_core": 100.0 * cpu / seconds as f64,
                "collectors_added_rss_kib": f(1, "rss_kib") - f(0, "rss_kib"),
                "collectors_added_peak_rss_kib": f(1, "peak_rss_kib") - f(0, "peak_rss_kib"),
                "cpu_ratio_vs_reference": if f(0, "cpu_s") > 0.0 { f(1, "cpu_s") / f(0, "cpu_s") } else { f64::NAN },
            })
        );
    });
}

//! Benchmark of seed 003's score API and batch: a store holding 90 COMPLETED days of 10,000
//! alert scores, 10,000 rankings and 500 cluster scores each; one real batch over a day of
//! 10,000 agent alerts (500 rigs, 25 sites, through `score-batch`'s code path with the committed
//! models); then p50/p99 of each endpoint over HTTP on loopback, with `/health` measured in the
//! same run as the reference. Prints JSON; BENCHMARKS.md records the figures. CI does not run
//! it. Must never be a timed assertion: it measures.
//!
//! `cargo run --release -p hashward-hub --example score_api_bench -- [requests_per_endpoint]`
//! (default 200).

use hashward_hub::api::scores::ScoresApi;
use hashward_hub::api::{router, AppState};
use hashward_hub::metrics::Metrics;
use hashward_hub::scores::batch::{self, BatchSettings};
use hashward_hub::scores::date::ProcessingDate;
use hashward_hub::store::scores::{BatchMeta, BatchRows, BatchStatus};
use hashward_hub::store::{Incoming, Store};
use hashward_protocol::{
    Alert, Body, Envelope, Hardware, RecommendedAction, RigId, RigState, Severity, SiteId, ThreatType,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const DAYS: u32 = 90;
const ALERTS: usize = 10_000;
const CLUSTERS: usize = 500;

fn synthetic(date: ProcessingDate) -> (BatchMeta, BatchRows) {
    let mut rows = BatchRows::default();
    for i in 0..ALERTS {
        let s = ((i * 7919) % 10_000) as f64 / 10_000.0;
        rows.alert_scores
            .push((format!("site{:02}/rig{:03}/{i}", i % 25, i % 500), s, 0.02));
    }
    let mut order: Vec<usize> = (0..ALERTS).collect();
    order.sort_by(|a, b| rows.alert_scores[*b].1.total_cmp(&rows.alert_scores[*a].1));
    for (r, i) in order.into_iter().enumerate() {
        let (id, s, _) = &rows.alert_scores[i];
        rows.rankings.push((r as u32 + 1, id.clone(), *s));
    }
    for c in 0..CLUSTERS {
        rows.cluster_scores
            .push((format!("site/site{:02}/{:02}h", c % 25, c / 25), 0.5, 0.02));
    }
    let (start, end) = date.bounds_ms();
    let meta = BatchMeta {
        network: "bitcoin".into(),
        processing_date: date.to_string(),
        status: BatchStatus::Completed,
        input_counts_alerts: ALERTS as u32,
        output_counts_alert_scores: ALERTS as u32,
        output_counts_alert_rankings: ALERTS as u32,
        output_counts_cluster_scores: CLUSTERS as u32,
        latencies_ms_total: 1,
        alert_latency_ms_total: 200.0,
        cluster_latency_ms_total: 10.0,
        model_versions_alert_scorer: "alert_scorer_v1.0.0_20261202_090000".into(),
        model_versions_alert_ranker: "alert_scorer_v1.0.0_20261202_090000".into(),
        model_versions_cluster_scorer: "cluster_scorer_v1.0.0_20261202_090000".into(),
        window_start_ms: start,
        window_end_ms: end,
        created_ms: end,
        updated_ms: end,
        error: None,
    };
    (meta, rows)
}

/// 10,000 agent alerts of `date` from 500 rigs of 25 sites, with their birth messages.
fn real_alerts(date: ProcessingDate) -> Vec<Incoming> {
    let (start, _) = date.bounds_ms();
    let mut out = Vec::new();
    let threats = [
        ThreatType::Overheat,
        ThreatType::FanFailure,
        ThreatType::HashrateDrop,
        ThreatType::RejectionSurge,
    ];
    for r in 0..500u64 {
        let rig = RigId::new(format!("rig{r:03}")).expect("id");
        let site = SiteId::new(format!("site{:02}", r % 25)).expect("id");
        let mut push = |seq: u64, ts: u64, body: Body| {
            let envelope = Envelope::new(rig.clone(), seq, ts, body);
            let bytes = hashward_protocol::encode(&envelope).expect("encode");
            out.push(Incoming {
                site: site.clone(),
                envelope,
                bytes,
                received_ms: ts,
            });
        };
        push(
            0,
            start,
            Body::State(RigState {
                online: true,
                boot: 1,
                agent_version: "bench".into(),
                hardware: Some(Hardware {
                    cpu_model: format!("cpu{}", r % 7),
                    logical_cores: 8,
                    physical_cores: 4,
                    numa_nodes: 1,
                    memory_bytes: 1 << 33,
                    arch: "x86_64".into(),
                    os: "linux".into(),
                    hostname: "h".into(),
                }),
                capabilities: vec![],
            }),
        );
        for k in 0..20u64 {
            let score = 0.5 + ((r * 31 + k * 17) % 50) as f32 / 100.0;
            let ts = start + (r * 997 + k * 4_271_000) % 86_000_000;
            push(
                k + 1,
                ts,
                Body::Alert(Alert {
                    subject: "rig".into(),
                    score,
                    threat_type: threats[((r + k) % 4) as usize],
                    severity: Severity::from_score(score),
                    action: RecommendedAction {
                        action: "alert".into(),
                        description: String::new(),
                        auto_execute: false,
                    },
                    model_version: "sentinel_rig_v1".into(),
                    message: String::new(),
                }),
            );
        }
    }
    out
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("hub.redb")).expect("open"));
    let last = ProcessingDate::of_ms(hashward_common::clock::now_ms()).minus_days(1);
    let t = Instant::now();
    for i in (1..DAYS).rev() {
        let d = last.minus_days(i);
        let (meta, rows) = synthetic(d);
        store.replace_score_batch(&meta, d, &rows).expect("write");
    }
    let fill_s = t.elapsed().as_secs_f64();
    store.ingest(&real_alerts(last)).expect("ingest");
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let settings = BatchSettings {
        models_dir: models.clone(),
        networks: vec!["bitcoin".into()],
    };
    let t = Instant::now();
    let metas = batch::run(&store, &*store, &settings, last, &hashward_common::clock::now_ms).expect("batch");
    let batch_ms = t.elapsed().as_secs_f64() * 1000.0;
    let m = &metas[0];
    assert_eq!(m.status, BatchStatus::Completed, "{m:?}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let addr = rt.block_on(async {
        let app = router(AppState {
            store: store.clone(),
            metrics: Arc::new(Metrics::default()),
            started: Instant::now(),
            scores: Arc::new(ScoresApi {
                store: store.clone(),
                networks: vec!["bitcoin".into()],
                models_dir: Some(models.clone()),
                cache: Default::default(),
            }),
        })
        .merge(hashward_hub::models::router(models));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mid = last.minus_days(45);
    let endpoints = [
        "/health".to_string(),
        "/version".into(),
        "/networks".into(),
        "/networks/bitcoin".into(),
        "/dates/available".into(),
        "/dates/latest".into(),
        "/scores/alerts/latest".into(),
        format!("/scores/alerts/bitcoin/{mid}"),
        "/scores/alerts/latest?limit=100".into(),
        "/rankings/alerts/latest".into(),
        format!("/rankings/alerts/{mid}?limit=100&offset=5000"),
        "/scores/clusters/latest".into(),
        format!("/scores/clusters/{mid}"),
        "/models/metadata/alert_scorer".into(),
    ];
    let mut results = Vec::new();
    let mut reference = 0.0;
    for e in &endpoints {
        let url = format!("http://{addr}{e}");
        let mut times = Vec::with_capacity(n);
        let mut bytes = 0;
        for _ in 0..n {
            let t = Instant::now();
            let mut resp = agent.get(&url).call().expect("request");
            assert_eq!(resp.status().as_u16(), 200, "{e}");
            bytes = resp.body_mut().read_to_vec().expect("body").len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99) = percentiles(times);
        if e == "/health" {
            reference = p50;
        }
        results.push(json!({"endpoint": e, "p50_ms": p50, "p99_ms": p99, "p50_vs_health": p50 / reference, "body_bytes": bytes}));
    }
    let size = std::fs::metadata(dir.path().join("hub.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "days_stored": DAYS,
            "alerts_per_day": ALERTS,
            "clusters_per_day": CLUSTERS,
            "requests_per_endpoint": n,
            "fill_89_days_s": fill_s,
            "batch": {
                "alerts": m.input_counts_alerts,
                "clusters": m.output_counts_cluster_scores,
                "duration_ms": batch_ms,
                "alert_scoring_ms": m.alert_latency_ms_total,
                "cluster_scoring_ms": m.cluster_latency_ms_total,
            },
            "store_bytes": size,
            "endpoints": results,
        }))
        .expect("json")
    );
}

use super::*;
use crate::alloc::config::AllocationConfig;
use crate::alloc::service::DecisionRecord;
use crate::alloc::Mode;
use crate::elect::Leader;
use crate::store::Store;
use hashward_econ::alloc::{
    decide, Inputs, Policy, Rig, RigAllocation, SiteLimits, State, Target, TargetKind,
};

const TOKEN: &str = "0123456789abcdefgh";

fn shared(dir: &std::path::Path) -> (Arc<Shared>, Arc<Store>) {
    let store = Arc::new(Store::open(&dir.join("hub.redb")).expect("store"));
    let settings = toml::from_str::<AllocationConfig>("interval_s = 60\n[sites.farm]\npower_cap_kw = 2.5\n")
        .expect("toml")
        .settings()
        .expect("valid");
    (
        Arc::new(Shared::new(settings, store.clone(), Leader::always())),
        store,
    )
}

async fn serve(api: AllocationApi) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router(api)).await });
    format!("http://{addr}")
}

async fn call(url: String, body: Option<(&'static str, String)>) -> (u16, Value) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = match body {
            Some((auth, b)) => agent
                .post(&url)
                .header("authorization", auth)
                .header("content-type", "application/json")
                .send(b.as_bytes())
                .expect("request"),
            None => agent.get(&url).call().expect("request"),
        };
        (resp.status().as_u16(), resp.body_mut().read_json().expect("json"))
    })
    .await
    .expect("join")
}

/// One stored decision: an ASIC over the farm's cap moved to its lower preset.
fn record(ms: u64) -> DecisionRecord {
    let preset = |w: f64| Target {
        name: format!("{w}w"),
        kind: TargetKind::PowerPreset,
        series: Some("coin:bitcoin".into()),
        units: 100.0 * w / 3000.0,
        power_w: w,
        resources: Default::default(),
        min_allocation: 0.0,
        max_allocation: 1.0,
        restart_s: 120.0,
    };
    let inputs = Inputs {
        now_unix: (ms / 1000) as i64,
        rigs: vec![Rig {
            id: "ctl-1/s19".into(),
            site: "farm".into(),
            capacity: Default::default(),
            targets: vec![preset(2000.0), preset(3000.0)],
        }],
        sites: [(
            "farm".to_string(),
            SiteLimits {
                tariff_usd_kwh: 0.05,
                power_cap_kw: Some(2.5),
            },
        )]
        .into(),
        market: [("coin:bitcoin".to_string(), 0.06)].into(),
        current: [(
            "ctl-1/s19".to_string(),
            RigAllocation {
                target: "3000w".into(),
                side: Default::default(),
            },
        )]
        .into(),
    };
    let d = decide(&inputs, &mut State::default(), &Policy::default());
    DecisionRecord {
        decided_ms: ms,
        mode: Mode::Advise,
        inputs,
        excluded: [("cpu-9".to_string(), "has reported no hashrate yet".to_string())].into(),
        missing_inputs: Vec::new(),
        decision: serde_json::to_value(&d).expect("json"),
        assignments: Vec::new(),
    }
}

#[tokio::test]
async fn current_and_history_show_the_stored_decisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sh, store) = shared(dir.path());
    for ms in [1_000_000u64, 2_000_000, 3_000_000] {
        store.save_allocation_decision(ms, &record(ms)).expect("save");
    }
    let base = serve(AllocationApi {
        shared: Some(sh.clone()),
        fleet: store.clone(),
        operator_token: None,
    })
    .await;
    // Nothing decided by this process yet: mode and interval, no cycle.
    let (st, v) = call(format!("{base}/allocation"), None).await;
    assert_eq!(
        (st, v["mode"].as_str(), v["interval_s"].as_u64()),
        (200, Some("advise"), Some(60))
    );
    assert!(v["last_cycle_unix"].is_null(), "{v}");
    *lock_latest(&sh) = Some(record(3_000_000));
    let (_, v) = call(format!("{base}/allocation"), None).await;
    assert_eq!(
        (v["last_cycle_unix"].as_i64(), v["next_cycle_unix"].as_i64()),
        (Some(3_000), Some(3_060))
    );
    let m = &v["miners"][0];
    assert_eq!(
        (m["current_target"].as_str(), m["decided_target"].as_str()),
        (Some("3000w"), Some("2000w")),
        "{m}"
    );
    let farm = &v["sites"]["farm"];
    assert_eq!(farm["verdict"], "switch_for_cap", "{farm}");
    // 2.0 kW decided against a 2.5 kW cap.
    assert!(
        (farm["utilisation_pct"].as_f64().unwrap_or(0.0) - 80.0).abs() < 1e-9,
        "{farm}"
    );
    assert_eq!(v["excluded"]["cpu-9"], "has reported no hashrate yet");

    let (st, v) = call(format!("{base}/allocation/history?limit=2"), None).await;
    assert_eq!(st, 200);
    let ms: Vec<u64> = v["decisions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["decided_ms"].as_u64())
        .collect();
    assert_eq!(ms, vec![3_000_000, 2_000_000]);
    let (_, v) = call(format!("{base}/allocation/history?before=2000000"), None).await;
    assert_eq!(v["decisions"].as_array().map(Vec::len), Some(1));
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("before=-1", "before"),
        ("page=2", "page"),
    ] {
        let (st, v) = call(format!("{base}/allocation/history?{q}"), None).await;
        assert_eq!((st, v["field"].as_str()), (422, Some(field)), "{q}: {v}");
    }
}

fn lock_latest(sh: &Shared) -> std::sync::MutexGuard<'_, Option<DecisionRecord>> {
    sh.latest_for_tests()
}

#[tokio::test]
async fn curtail_needs_the_token_a_known_site_and_valid_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sh, store) = shared(dir.path());
    let api = AllocationApi {
        shared: Some(sh.clone()),
        fleet: store.clone(),
        operator_token: Some(TOKEN.into()),
    };
    let base = serve(api.clone()).await;
    let good = r#"{"reduce_kw": 1.5, "minutes": 30}"#.to_string();
    let bearer: &'static str = Box::leak(format!("Bearer {TOKEN}").into_boxed_str());
    let url = format!("{base}/sites/farm/curtail");
    let (st, _) = call(url.clone(), Some(("Bearer wrong-token-000000", good.clone()))).await;
    assert_eq!(st, 401);
    let (st, v) = call(
        format!("{base}/sites/nowhere/curtail"),
        Some((bearer, good.clone())),
    )
    .await;
    assert_eq!((st, v["field"].as_str()), (404, Some("site")));
    for (body, field) in [
        (r#"{"reduce_kw": -1, "minutes": 30}"#, "reduce_kw"),
        (r#"{"reduce_kw": "lots", "minutes": 30}"#, "reduce_kw"),
        (r#"{"reduce_kw": 1.0, "minutes": 0}"#, "minutes"),
        (r#"{"reduce_kw": 1.0, "minutes": 2000}"#, "minutes"),
        (r#"{"reduce_kw": 1.0, "minutes": 5, "extra": 1}"#, "extra"),
        ("[1]", "body"),
        ("not json", "body"),
    ] {
        let (st, v) = call(url.clone(), Some((bearer, body.to_string()))).await;
        assert_eq!((st, v["field"].as_str()), (422, Some(field)), "{body}: {v}");
    }
    assert!(sh.take_curtail_for_tests().is_empty(), "nothing bad was queued");
    let (st, v) = call(url.clone(), Some((bearer, good))).await;
    assert_eq!((st, v["status"].as_str()), (202, Some("queued")), "{v}");
    let queued = sh.take_curtail_for_tests();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].site.as_str(), queued[0].reduce_kw, queued[0].minutes),
        ("farm", 1.5, 30)
    );

    // Without a token configured the write is refused; without [allocation] everything is 503.
    let base = serve(AllocationApi {
        operator_token: None,
        ..api.clone()
    })
    .await;
    let (st, _) = call(format!("{base}/sites/farm/curtail"), Some((bearer, "{}".into()))).await;
    assert_eq!(st, 403);
    let base = serve(AllocationApi { shared: None, ..api }).await;
    let (st, v) = call(format!("{base}/allocation"), None).await;
    assert_eq!((st, v["field"].as_str()), (503, Some("allocation")));
}

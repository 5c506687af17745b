//! `POST /allocation/evaluate` over real HTTP on loopback: a dry run of one allocation cycle
//! with values worked by hand (two ASICs with power presets under a site cap), the state handed
//! back and fed to the next cycle, and bad bodies answered 400/422 naming the field.

use serde_json::{json, Value};

async fn serve() -> String {
    let app = hashward_hub::api::allocation::router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/allocation/evaluate")
}

async fn post(url: &str, body: String) -> (u16, Value) {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .expect("request");
        (resp.status().as_u16(), resp.body_mut().read_json().expect("json"))
    })
    .await
    .expect("join")
}

fn preset(name: &str, ths: f64, w: f64) -> Value {
    json!({"name": name, "kind": "power_preset", "series": "btc", "units": ths, "power_w": w, "restart_s": 120})
}

fn body(cap_kw: f64, current: &str) -> Value {
    let rig = |id: &str| json!({"id": id, "site": "farm", "targets": [preset("full", 100.0, 3250.0), preset("eco", 85.0, 2500.0), preset("low", 60.0, 1600.0)]});
    json!({
        "inputs": {
            "now_unix": 1_767_225_600,
            "rigs": [rig("s19-1"), rig("s19-2")],
            "sites": {"farm": {"tariff_usd_kwh": 0.04, "power_cap_kw": cap_kw}},
            "market": {"btc": 0.06},
            "current": {"s19-1": {"target": current}, "s19-2": {"target": current}}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_under_a_cap_and_bad_bodies() {
    let url = serve().await;
    // 0.06 USD/TH/day at 0.04 USD/kWh: full 0.12, eco 0.1125, low 0.086 USD/h per ASIC. Both on
    // full draw 6.5 kW over a 5 kW cap: eco on both (5.0 kW, 0.225 USD/h) at once.
    let (st, v) = post(&url, body(5.0, "full").to_string()).await;
    assert_eq!(st, 200, "{v}");
    let d = &v["decision"];
    assert_eq!(d["sites"]["farm"]["verdict"], "switch_for_cap");
    assert_eq!(d["allocation"]["s19-1"]["target"], "eco");
    assert_eq!(d["allocation"]["s19-2"]["target"], "eco");
    assert!(
        (d["expected_profit_usd_h"].as_f64().expect("p") - 0.225).abs() < 1e-9,
        "{d}"
    );
    assert!((d["sites"]["farm"]["current_power_kw"].as_f64().expect("kw") - 6.5).abs() < 1e-9);
    assert_eq!(
        d["alternatives"]["s19-1"].as_array().expect("alts").len(),
        4,
        "3 presets and pause"
    );
    // The cap raised to 10 kW, from eco: full is 6.7 % better (0.24 vs 0.225), under 10 %: stay,
    // the criteria say so.
    let mut b = body(10.0, "eco");
    b["state"] = v["state"].clone();
    let (st, v) = post(&url, b.to_string()).await;
    assert_eq!(st, 200, "{v}");
    let site = &v["decision"]["sites"]["farm"];
    assert_eq!(site["verdict"], "below_thresholds", "{site}");
    assert!(
        (site["criteria"]["earnings_improvement_pct"]
            .as_f64()
            .expect("pct")
            - 6.6667)
            .abs()
            < 1e-3
    );
    assert_eq!(v["decision"]["proposed"]["s19-1"]["target"], "full");
    assert_eq!(v["decision"]["allocation"]["s19-1"]["target"], "eco");

    // Bad bodies: named, never a 500.
    let mut neg = body(5.0, "full");
    neg["inputs"]["rigs"][1]["targets"][2]["power_w"] = json!(-1.0);
    let mut site = body(5.0, "full");
    site["inputs"]["rigs"][0]["site"] = json!("elsewhere");
    let mut tariff = body(5.0, "full");
    tariff["inputs"]["sites"]["farm"]["tariff_usd_kwh"] = json!(-0.1);
    for (b, status, field) in [
        (neg.to_string(), 422, "inputs.rigs[1].targets[2].power_w"),
        (site.to_string(), 422, "inputs.rigs[0].site"),
        (tariff.to_string(), 422, "inputs.sites.farm.tariff_usd_kwh"),
        ("{\"inputs\": 3}".to_string(), 400, "body"),
        (
            body(5.0, "full").to_string().replace("\"market\"", "\"markets\""),
            400,
            "body",
        ),
    ] {
        let (st, v) = post(&url, b).await;
        assert_eq!(st, status, "{field}: {v}");
        assert_eq!(v["field"], field, "{v}");
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    }
}

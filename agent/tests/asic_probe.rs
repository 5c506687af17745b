//! `asic probe` against each fake firmware: the printed telemetry has hashrate in H/s, power in
//! W, J/TH and per-board temperatures, computed from the fixture's numbers and units by hand.

#[path = "asic_support/mod.rs"]
mod support;

use hashward_agent::asic::client::{AsicKind, Credentials};
use hashward_agent::asic::probe::{print_json, probe, run, ProbeOptions, ProbeOutput};
use std::time::Duration;
use support::{fixtures, FakeAntminer, FakeCgminer, FakeVnish};

fn opts(url: &str, kind: AsicKind, pw: Option<&str>) -> ProbeOptions {
    ProbeOptions {
        url: url.to_string(),
        kind,
        credentials: Credentials {
            password: pw.map(str::to_string),
            ..Credentials::default()
        },
        timeout: Duration::from_secs(3),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn printed(out: &ProbeOutput) -> serde_json::Value {
    let mut buf = Vec::new();
    print_json(out, &mut buf).expect("print");
    assert!(buf.ends_with(b"\n"));
    serde_json::from_slice(&buf).expect("probe prints one JSON document")
}

#[tokio::test]
async fn vnish_1_2_6_hr_fields_in_gh_from_hr_measure() {
    let m = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let out = probe(&opts(&m.url(), AsicKind::Vnish, Some("admin")))
        .await
        .expect("probe");
    let j = printed(&out);
    // hr_realtime 104500.0 GH/s.
    assert!(
        close(j["hashrate"]["total"].as_f64().unwrap(), 104_500.0e9),
        "{}",
        j["hashrate"]
    );
    assert!(close(j["hashrate"]["average"].as_f64().unwrap(), 104_200.0e9));
    assert!(close(j["hashrate"]["nominal"].as_f64().unwrap(), 104_000.0e9));
    assert_eq!(j["power"]["consumption"].as_f64(), Some(3068.0));
    let jth = j["power"]["efficiency_j_th"].as_f64().unwrap();
    assert!((jth - 3068.0 / 104.5).abs() < 0.01, "{jth}");
    assert_eq!(j["model"], "Antminer S19j Pro");
    assert_eq!(j["firmware_version"], "Vnish 1.2.6");
    assert_eq!(j["api"], "vnish");
    assert_eq!(j["status"]["mining_status"], "mining");
    let boards = j["hashrate"]["per_hashboard"].as_array().unwrap();
    assert_eq!(boards.len(), 3);
    assert_eq!(boards[0]["board_id"], 1, "Vnish chain ids start at 1");
    assert!(close(boards[0]["hashrate"].as_f64().unwrap(), 34_900.5e9));
    assert!(
        (boards[0]["voltage_v"].as_f64().unwrap() - 13.6).abs() < 1e-4,
        "13600 mV"
    );
    assert_eq!(boards[0]["chips"], 126);
    let temps = j["temperature"]["per_hashboard"].as_array().unwrap();
    assert_eq!(
        (temps[0]["chip_min"].as_f64(), temps[0]["chip_max"].as_f64()),
        (Some(59.0), Some(74.0))
    );
    assert_eq!(
        (temps[1]["pcb_min"].as_f64(), temps[1]["pcb_max"].as_f64()),
        (Some(45.0), Some(61.0))
    );
    // Board 3's second chip sensor reports status "error" at 13 °C: not the minimum.
    assert_eq!(temps[2]["chip_min"].as_f64(), Some(58.0));
    assert!(
        out.telemetry
            .invalid
            .iter()
            .any(|i| i.contains("board 3 chip sensor 2")),
        "{:?}",
        out.telemetry.invalid
    );
    assert_eq!(j["temperature"]["max_chip"].as_f64(), Some(75.0));
    // Fans: 4320 of 6000 rpm.
    assert_eq!(j["fans"][0]["rpm"], 4320);
    assert!((j["fans"][0]["speed_percent"].as_f64().unwrap() - 72.0).abs() < 1e-3);
    // Shares of the operator's pools only (the DevFee pool's 44 are not theirs).
    assert_eq!(j["shares"]["accepted"], 1520 + 10);
    assert_eq!(j["shares"]["rejected"], 4);
    assert_eq!(j["shares"]["stale"], 2 + 1);
    assert_eq!(j["pool"]["url"], "stratum+tcp://pool.example.net:3333");
    assert_eq!(j["config"]["power_limit"].as_f64(), Some(3068.0));
    assert_eq!(j["config"]["overclock_profile"], "3068");
    assert_eq!(j["derived"]["boards_ok"], 3);
    let pct = j["derived"]["pct_of_nominal"].as_f64().unwrap();
    assert!((pct - 100.0 * 104.5 / 104.0).abs() < 0.01);
}

#[tokio::test]
async fn vnish_1_2_0_instant_hashrate_in_th_and_power_usage_fallback() {
    let m = FakeVnish::start(fixtures::VNISH_120_SUMMARY, fixtures::VNISH_120_INFO).await;
    let out = probe(&opts(&m.url(), AsicKind::Vnish, Some("admin")))
        .await
        .expect("probe");
    let t = &out.telemetry;
    // instant_hashrate 95.18518 (TH/s); chains in GH/s.
    assert!(close(t.hashrate.total.0, 95.18518e12), "{}", t.hashrate.total.0);
    assert!(close(t.hashrate.average.unwrap().0, 94.9193e12));
    assert!(close(t.hashrate.per_hashboard[2].hashrate.0, 32_103.768e9));
    // No hr_nominal on this version: nominal is the sum of the chains' ideal rates.
    assert!(close(t.hashrate.nominal.unwrap().0, 3.0 * 32_196.64e9));
    // No power_consumption: power_usage.
    assert_eq!(t.power.consumption.map(|w| w.0), Some(3733.0));
    assert!((t.power.efficiency_j_th.unwrap() as f64 - 3733.0 / 95.18518).abs() < 0.01);
    assert_eq!(t.firmware_version.as_deref(), Some("Vnish 1.2.0-beta10"));
    // Chain 1: chip sensor 2 and pcb sensor 2 are in "error"; the firmware's own min (23, 13)
    // came from them.
    let b1 = &t.temperature.per_hashboard[0];
    assert_eq!(
        (b1.chip_min.map(|c| c.0), b1.chip_max.map(|c| c.0)),
        (Some(29.0), Some(47.0))
    );
    assert_eq!(
        (b1.pcb_min.map(|c| c.0), b1.pcb_max.map(|c| c.0)),
        (Some(19.0), Some(37.0))
    );
    assert_eq!(t.fans.len(), 4);
    assert_eq!(
        t.fans[0].speed_percent,
        Some(100.0),
        "fan_duty when there is no max_rpm"
    );
}

#[tokio::test]
async fn vnish_hydro_reports_water_temperatures_in_th_units() {
    let m = FakeVnish::start(fixtures::VNISH_HYDRO_SUMMARY, fixtures::VNISH_HYDRO_INFO).await;
    let out = probe(&opts(&m.url(), AsicKind::Vnish, Some("admin")))
        .await
        .expect("probe");
    let t = &out.telemetry;
    assert!(close(t.hashrate.total.0, 335.2e12));
    assert!(close(t.hashrate.per_hashboard[1].hashrate.0, 111.5e12));
    assert_eq!(t.temperature.inlet_water.map(|c| c.0), Some(31.5));
    assert_eq!(t.temperature.outlet_water.map(|c| c.0), Some(42.0));
    assert!((t.power.efficiency_j_th.unwrap() as f64 - 5360.0 / 335.2).abs() < 0.01);
    assert!(t.fans.is_empty());
    assert!(
        !t.status.errors.iter().any(|e| e.code == "fan_failure"),
        "hydro units have no fans"
    );
}

#[tokio::test]
async fn cgminer_s19_summary_stats_pools() {
    let m = FakeCgminer::start(
        fixtures::CGMINER_S19_SUMMARY,
        fixtures::CGMINER_S19_STATS,
        fixtures::CGMINER_S19_POOLS,
    )
    .await;
    let out = probe(&opts(&m.url(), AsicKind::Cgminer, None))
        .await
        .expect("probe");
    let t = &out.telemetry;
    assert!(close(t.hashrate.total.0, 95_012.37e9));
    assert!(close(t.hashrate.nominal.unwrap().0, 95_000.0e9));
    let ids: Vec<u32> = t.hashrate.per_hashboard.iter().map(|b| b.board_id).collect();
    assert_eq!(ids, [1, 2, 3], "chain_acn4 = 0 is an empty slot");
    assert!(close(t.hashrate.per_hashboard[1].hashrate.0, 31_620.10e9));
    assert_eq!(t.hashrate.per_hashboard[0].chips, Some(76));
    // temp_chip2 "56-54-71-69", temp_pcb3 "39-37-54-52".
    let b = &t.temperature.per_hashboard;
    assert_eq!(
        (b[1].chip_min.map(|c| c.0), b[1].chip_max.map(|c| c.0)),
        (Some(54.0), Some(71.0))
    );
    assert_eq!(
        (b[2].pcb_min.map(|c| c.0), b[2].pcb_max.map(|c| c.0)),
        (Some(37.0), Some(54.0))
    );
    assert_eq!(
        t.fans.iter().map(|f| f.rpm.unwrap()).collect::<Vec<_>>(),
        [5880, 5760, 5880, 5760]
    );
    assert_eq!(t.pool.as_ref().unwrap().user, "acct.s19a");
    assert_eq!(
        (t.shares.accepted, t.shares.rejected, t.shares.stale),
        (8100 + 23, 20 + 1, 3)
    );
    assert_eq!(t.shares.last_share_ts_ms, Some(1_716_199_990_000));
    assert_eq!(t.status.uptime_s, Some(86410));
    assert_eq!(t.power.consumption, None, "bmminer reports no power");
    assert_eq!(t.status.mining_status, "mining");
    assert_eq!(
        m.with(|s| s.commands.clone()),
        ["summary+stats+pools"],
        "one combined command per poll"
    );
}

#[tokio::test]
async fn cgminer_s9_chains_6_to_8_and_the_bmminer_comma_bug() {
    let m = FakeCgminer::start(
        fixtures::CGMINER_S9_SUMMARY,
        fixtures::CGMINER_S9_STATS,
        fixtures::CGMINER_S19_POOLS,
    )
    .await;
    let out = probe(&opts(&m.url(), AsicKind::Cgminer, None))
        .await
        .expect("probe");
    let t = &out.telemetry;
    assert_eq!(t.model.as_deref(), Some("Antminer S9"));
    let hr: Vec<(u32, f64)> = t
        .hashrate
        .per_hashboard
        .iter()
        .map(|b| (b.board_id, b.hashrate.0))
        .collect();
    assert_eq!(hr.len(), 3);
    assert_eq!(hr.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(close(hr[2].1, 4_508.32e9));
    assert_eq!(t.temperature.per_hashboard[1].chip_max.map(|c| c.0), Some(79.0));
    // Eight fan slots, two fans.
    assert_eq!(
        t.fans
            .iter()
            .map(|f| (f.fan_id, f.rpm.unwrap()))
            .collect::<Vec<_>>(),
        [(3, 5880), (6, 6000)]
    );
}

#[tokio::test]
async fn cgminer_l7_rate_unit_overrides_the_ghs_key_name() {
    let m = FakeCgminer::start(
        fixtures::CGMINER_L7_SUMMARY,
        fixtures::CGMINER_L7_STATS,
        fixtures::CGMINER_S19_POOLS,
    )
    .await;
    let out = probe(&opts(&m.url(), AsicKind::Cgminer, None))
        .await
        .expect("probe");
    let t = &out.telemetry;
    // "GHS 5s": "9480.55" with rate_unit MH/s is 9.48 GH/s, not 9.48 TH/s.
    assert!(close(t.hashrate.total.0, 9_480.55e6), "{}", t.hashrate.total);
    assert!(close(t.hashrate.nominal.unwrap().0, 9_500.0e6));
    assert_eq!(t.hashrate.per_hashboard.len(), 4);
    assert!(close(t.hashrate.per_hashboard[0].hashrate.0, 2_371.10e6));
}

#[tokio::test]
async fn stock_antminer_through_digest_auth() {
    let m = FakeAntminer::start().await;
    let out = probe(&opts(&m.url(), AsicKind::Antminer, None))
        .await
        .expect("probe");
    let t = &out.telemetry;
    assert!(close(t.hashrate.total.0, 101_234.56e9));
    assert!(close(t.hashrate.average.unwrap().0, 100_987.65e9));
    assert!(close(t.hashrate.nominal.unwrap().0, 104_000.0e9));
    let b = &t.hashrate.per_hashboard;
    assert_eq!(
        b.iter().map(|b| b.board_id).collect::<Vec<_>>(),
        [1, 2, 3],
        "index 0 is board 1"
    );
    assert!(close(b[1].hashrate.0, 33_600.25e9));
    assert_eq!(t.temperature.per_hashboard[2].chip_max.map(|c| c.0), Some(79.0));
    assert_eq!(t.temperature.per_hashboard[0].pcb_min.map(|c| c.0), Some(47.0));
    assert_eq!(t.model.as_deref(), Some("Antminer S19j Pro"));
    assert_eq!(t.fans.len(), 4);
    assert_eq!(
        t.pool.as_ref().unwrap().url,
        "stratum+tcp://pool.example.net:3333"
    );
    assert_eq!(t.shares.accepted, 15000);
    assert_eq!(t.status.uptime_s, Some(172800));
    // One challenge, then every request answered with the same nonce and a rising nc.
    let (challenges, authorized) = m.with(|s| (s.challenges, s.authorized));
    assert_eq!((challenges, authorized), (1, 3));
}

#[tokio::test]
async fn auto_detects_each_api() {
    let v = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let a = FakeAntminer::start().await;
    let c = FakeCgminer::start(
        fixtures::CGMINER_S19_SUMMARY,
        fixtures::CGMINER_S19_STATS,
        fixtures::CGMINER_S19_POOLS,
    )
    .await;
    let tv = probe(&opts(&v.url(), AsicKind::Auto, Some("admin")))
        .await
        .expect("vnish");
    let ta = probe(&opts(&a.url(), AsicKind::Auto, None))
        .await
        .expect("antminer");
    let tc = probe(&opts(&c.url(), AsicKind::Auto, None))
        .await
        .expect("cgminer");
    use hashward_protocol::AsicApi;
    assert_eq!(
        (tv.telemetry.api, ta.telemetry.api, tc.telemetry.api),
        (AsicApi::Vnish, AsicApi::Antminer, AsicApi::Cgminer)
    );
    // Nothing listening: a connect error, not a guess.
    let bare = support::dead_addr().await;
    let err = probe(&opts(&format!("http://{bare}"), AsicKind::Auto, None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("connect"), "{err}");
}

#[tokio::test]
async fn prints_a_summary_without_json_and_the_document_with_it() {
    let m = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let o = opts(&m.url(), AsicKind::Vnish, Some("admin"));
    let mut human = Vec::new();
    run(&o, false, &mut human).await.expect("summary");
    let human = String::from_utf8(human).expect("utf-8");
    assert!(
        serde_json::from_str::<serde_json::Value>(&human).is_err(),
        "{human}"
    );
    assert!(human.contains("hashrate: 104.50 TH/s"), "{human}");
    assert!(human.contains("pool: "), "{human}");
    let mut machine = Vec::new();
    run(&o, true, &mut machine).await.expect("json");
    let j: serde_json::Value = serde_json::from_slice(&machine).expect("one JSON document");
    assert!(
        close(j["hashrate"]["total"].as_f64().unwrap_or(0.0), 104_500.0e9),
        "{j}"
    );
}

//! Client behaviour against the fake firmwares: authentication (Vnish unlock/Bearer/re-unlock,
//! x-api-key; Antminer Digest), every malformed-input variant giving a clear error, and control.

#[path = "asic_support/mod.rs"]
mod support;

use hashward_agent::asic::client::{AsicClient, AsicKind, AsicSpec, Credentials};
use hashward_agent::asic::control::{mining, set_power_target, MiningAction};
use hashward_agent::asic::error::{ApiError, ControlError, FailureKind};
use hashward_agent::asic::normalise::to_telemetry;
use std::time::{Duration, Instant};
use support::{fixtures, FakeAntminer, FakeCgminer, FakeVnish, Fault};

const T: Duration = Duration::from_secs(2);

async fn client(url: &str, kind: AsicKind, creds: Credentials) -> AsicClient {
    let spec = AsicSpec::new("m1", url, kind, creds).expect("spec");
    AsicClient::connect(&spec, T).await.expect("connect")
}

fn pw(p: &str) -> Credentials {
    Credentials {
        password: Some(p.into()),
        ..Credentials::default()
    }
}

async fn vnish126() -> FakeVnish {
    FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await
}

#[tokio::test]
async fn vnish_unlocks_once_and_sends_the_bearer_token() {
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    c.read().await.expect("read 1");
    c.read().await.expect("read 2");
    let (unlocks, calls) = m.with(|s| (s.unlocks, s.calls.clone()));
    assert_eq!(unlocks, 1, "the token is reused");
    let summaries: Vec<_> = calls.iter().filter(|c| c.1 == "/api/v1/summary").collect();
    assert_eq!(summaries.len(), 2);
    assert!(
        summaries.iter().all(|c| c.2.as_deref() == Some("Bearer tok-1")),
        "{summaries:?}"
    );
}

#[tokio::test]
async fn vnish_re_unlocks_once_after_a_401_and_carries_on() {
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    c.read().await.expect("first");
    m.rotate_token(); // the miner rebooted: old token refused
    c.read().await.expect("read after token expiry");
    let (unlocks, calls) = m.with(|s| (s.unlocks, s.calls.clone()));
    assert_eq!(unlocks, 2);
    assert_eq!(
        calls.last().and_then(|c| c.2.clone()).as_deref(),
        Some("Bearer tok-2")
    );
}

#[tokio::test]
async fn vnish_wrong_password_is_an_auth_error_without_retry_loops() {
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("wrong")).await;
    let e = c.read().await.unwrap_err();
    assert_eq!(e.kind(), FailureKind::Auth, "{e}");
    assert!(e.to_string().contains("wrong web password"), "{e}");
    assert!(
        !e.to_string().contains("wrong\""),
        "the password is not in the message"
    );
    assert_eq!(m.with(|s| s.unlocks), 1);
}

#[tokio::test]
async fn vnish_api_key_goes_in_x_api_key_and_never_unlocks() {
    let m = vnish126().await;
    m.with(|s| s.api_key = Some("k-123".into()));
    let creds = Credentials {
        api_key: Some("k-123".into()),
        password: Some("admin".into()),
        ..Default::default()
    };
    let mut c = client(&m.url(), AsicKind::Vnish, creds).await;
    c.refresh_static().await.expect("static");
    c.read().await.expect("read");
    let (unlocks, calls) = m.with(|s| (s.unlocks, s.calls.clone()));
    assert_eq!(unlocks, 0);
    assert!(calls
        .iter()
        .filter(|c| c.1 != "/api/v1/info")
        .all(|c| c.2.as_deref() == Some("k-123")));
    let mut bad = client(
        &m.url(),
        AsicKind::Vnish,
        Credentials {
            api_key: Some("nope".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(bad.read().await.unwrap_err().kind(), FailureKind::Auth);
}

#[tokio::test]
async fn vnish_reads_chains_from_the_chains_endpoint_when_the_summary_has_none() {
    let m = vnish126().await;
    m.with(|s| s.chains_separately = true);
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    let raw = c.read().await.expect("read");
    assert_eq!(raw.boards.len(), 3);
    assert!(m.with(|s| s.calls.iter().any(|c| c.1 == "/api/v1/chains")));
}

#[tokio::test]
async fn every_malformed_vnish_reply_is_a_clear_malformed_error() {
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    for (fault, needle) in [(Fault::Truncated, "truncated"), (Fault::Garbage, "invalid JSON")] {
        m.with(|s| s.knobs.fault = fault);
        let e = c.read().await.unwrap_err();
        assert_eq!(e.kind(), FailureKind::Malformed, "{fault:?}: {e}");
        assert!(e.to_string().contains(needle), "{fault:?}: {e}");
    }
    m.with(|s| s.knobs.fault = Fault::ServerError);
    assert!(matches!(
        c.read().await.unwrap_err(),
        ApiError::Status { status: 500, .. }
    ));
    // A JSON document of the wrong shape.
    m.with(|s| {
        s.knobs.fault = Fault::None;
        s.summary = serde_json::json!({"miner": "busy"});
    });
    let e = c.read().await.unwrap_err();
    assert!(e.to_string().contains("no `miner` object"), "{e}");
}

#[tokio::test]
async fn vnish_slow_reply_within_the_timeout_is_fine_beyond_it_is_a_timeout() {
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    m.with(|s| s.knobs.delay = Duration::from_millis(300));
    c.read().await.expect("slow but in time");
    m.with(|s| s.knobs.fault = Fault::Hang);
    let t0 = Instant::now();
    let e = c.read().await.unwrap_err();
    assert_eq!(e.kind(), FailureKind::Timeout, "{e}");
    assert!(t0.elapsed() < T + Duration::from_secs(1));
}

#[tokio::test]
async fn vnish_wrong_units_and_wrong_types_are_flagged_not_used() {
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    // The firmware claims TH/s but sends GH-scale numbers: 104 PH/s for one miner.
    m.with(|s| s.info["hr_measure"] = "TH/s".into());
    c.refresh_static().await.expect("static");
    let t = to_telemetry(c.read().await.expect("read"), "m1", "ip", 0);
    assert_eq!(t.hashrate.total.0, 0.0, "an impossible total is not reported");
    assert!(
        t.invalid.iter().any(|i| i.contains("total hashrate: impossible")),
        "{:?}",
        t.invalid
    );
    assert!(t.hashrate.per_hashboard.iter().all(|b| b.status == "invalid"));
    assert_eq!(t.power.efficiency_j_th, None);
    // An unknown unit: every hashrate left out, said why.
    m.with(|s| s.info["hr_measure"] = "ZH/s".into());
    c.refresh_static().await.expect("static");
    let t = to_telemetry(c.read().await.expect("read"), "m1", "ip", 0);
    assert!(
        t.invalid
            .iter()
            .any(|i| i.contains("unknown hashrate unit `ZH/s`")),
        "{:?}",
        t.invalid
    );
    // Wrong types and negative temperatures.
    m.with(|s| {
        s.info["hr_measure"] = "GH/s".into();
        s.summary["miner"]["power_consumption"] = "lots".into();
        s.summary["miner"]["chains"][0]["chip_temp_sens"][0]["temp"] = (-300).into();
        s.summary["miner"]["pools"][0]["accepted"] = (-5).into();
    });
    c.refresh_static().await.expect("static");
    let t = to_telemetry(c.read().await.expect("read"), "m1", "ip", 0);
    assert!(
        t.invalid
            .iter()
            .any(|i| i.contains("power_consumption: not a number")),
        "{:?}",
        t.invalid
    );
    assert!(
        t.invalid
            .iter()
            .any(|i| i.contains("board 1 chip sensor 1: impossible temperature")),
        "{:?}",
        t.invalid
    );
    assert!(
        t.invalid.iter().any(|i| i.contains("accepted: impossible count")),
        "{:?}",
        t.invalid
    );
    assert_eq!(t.temperature.per_hashboard[0].chip_min.map(|c| c.0), Some(61.0));
    assert!(t.status.errors.iter().any(|e| e.code == "invalid_reading"));
}

#[tokio::test]
async fn vnish_missing_board_is_reported() {
    let m = vnish126().await;
    m.with(|s| {
        let chains = s.summary["miner"]["chains"].as_array_mut().expect("chains");
        chains.remove(1); // board 2 stops reporting
    });
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    let t = to_telemetry(c.read().await.expect("read"), "m1", "ip", 0);
    assert_eq!(t.hashrate.per_hashboard.len(), 2);
    let missing: Vec<_> = t
        .status
        .errors
        .iter()
        .filter(|e| e.code == "board_missing")
        .collect();
    assert_eq!(missing.len(), 1);
    assert!(missing[0].message.contains("board 2"));
}

#[tokio::test]
async fn power_target_picks_the_highest_tuned_preset_at_or_below() {
    // Fixture presets: tuned 2200, 3068, 3400; untuned 2600, 3800 (and "disabled").
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    let preset = |m: &FakeVnish| {
        m.with(|s| {
            s.settings["miner"]["overclock"]["preset"]
                .as_str()
                .map(str::to_string)
        })
    };

    let r = set_power_target(&mut c, 3000.0).await.expect("between");
    assert_eq!((r.preset.as_str(), r.changed), ("2200", true), "2600 is untuned");
    assert_eq!(preset(&m).as_deref(), Some("2200"));
    // The rest of the overclock block is kept as it was.
    assert_eq!(
        m.with(|s| s.settings["miner"]["overclock"]["chains"]
            .as_array()
            .map(Vec::len)),
        Some(3)
    );

    let r = set_power_target(&mut c, 3500.0).await.expect("between");
    assert_eq!(r.preset, "3400");
    let r = set_power_target(&mut c, 20_000.0).await.expect("above");
    assert_eq!(
        (r.preset.as_str(), r.changed),
        ("3400", false),
        "3800 is untuned; already on 3400"
    );
    let r = set_power_target(&mut c, 3068.0).await.expect("exact");
    assert_eq!(r.preset, "3068");

    let posts_before = m.with(|s| {
        s.calls
            .iter()
            .filter(|c| c.0 == "POST" && c.1 == "/api/v1/settings")
            .count()
    });
    match set_power_target(&mut c, 2000.0).await {
        Err(ControlError::NoPresetAtOrBelow { lowest, .. }) => assert!(lowest.contains("2200")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        set_power_target(&mut c, 50.0).await,
        Err(ControlError::OutOfRange { .. })
    ));
    assert!(matches!(
        set_power_target(&mut c, f64::NAN).await,
        Err(ControlError::OutOfRange { .. })
    ));
    let posts_after = m.with(|s| {
        s.calls
            .iter()
            .filter(|c| c.0 == "POST" && c.1 == "/api/v1/settings")
            .count()
    });
    assert_eq!(posts_before, posts_after, "a refused request changes nothing");
    assert_eq!(preset(&m).as_deref(), Some("3068"));
}

#[tokio::test]
async fn pause_resume_restart() {
    let m = vnish126().await;
    let mut c = client(&m.url(), AsicKind::Vnish, pw("admin")).await;
    mining(&mut c, MiningAction::Pause).await.expect("pause");
    assert_eq!(
        to_telemetry(c.read().await.expect("read"), "m", "ip", 0)
            .status
            .mining_status,
        "paused"
    );
    mining(&mut c, MiningAction::Resume).await.expect("resume");
    assert_eq!(
        to_telemetry(c.read().await.expect("read"), "m", "ip", 0)
            .status
            .mining_status,
        "mining"
    );
    mining(&mut c, MiningAction::Restart).await.expect("restart");

    let a = FakeAntminer::start().await;
    let mut ca = client(&a.url(), AsicKind::Antminer, Credentials::default()).await;
    assert!(matches!(
        mining(&mut ca, MiningAction::Pause).await,
        Err(ControlError::Unsupported { .. })
    ));
    assert!(matches!(
        set_power_target(&mut ca, 3000.0).await,
        Err(ControlError::Unsupported { .. })
    ));
}

#[tokio::test]
async fn cgminer_falls_back_to_single_commands_on_old_builds() {
    let m = FakeCgminer::start(
        fixtures::CGMINER_S19_SUMMARY,
        fixtures::CGMINER_S19_STATS,
        fixtures::CGMINER_S19_POOLS,
    )
    .await;
    m.with(|s| s.combined_supported = false);
    let mut c = client(&m.url(), AsicKind::Cgminer, Credentials::default()).await;
    c.read().await.expect("read 1");
    c.read().await.expect("read 2");
    assert_eq!(
        m.with(|s| s.commands.clone()),
        [
            "summary+stats+pools",
            "summary",
            "stats",
            "pools",
            "summary",
            "stats",
            "pools"
        ],
        "learned once, not retried every poll"
    );
}

#[tokio::test]
async fn cgminer_faults_are_clear_errors() {
    let m = FakeCgminer::start(
        fixtures::CGMINER_S19_SUMMARY,
        fixtures::CGMINER_S19_STATS,
        fixtures::CGMINER_S19_POOLS,
    )
    .await;
    let mut c = client(&m.url(), AsicKind::Cgminer, Credentials::default()).await;
    m.with(|s| s.knobs.fault = Fault::Truncated);
    let e = c.read().await.unwrap_err();
    assert!(e.to_string().contains("truncated JSON"), "{e}");
    m.with(|s| s.knobs.fault = Fault::Garbage);
    assert_eq!(c.read().await.unwrap_err().kind(), FailureKind::Malformed);
    m.with(|s| s.knobs.fault = Fault::ServerError);
    let e = c.read().await.unwrap_err();
    assert!(e.to_string().contains("Access denied"), "{e}");
    // No NUL terminator, connection closed: still a complete reply.
    m.with(|s| {
        s.knobs.fault = Fault::None;
        s.no_nul = true;
    });
    c.read().await.expect("reply ended by close");
    m.with(|s| s.knobs.fault = Fault::Hang);
    let t0 = Instant::now();
    assert_eq!(c.read().await.unwrap_err().kind(), FailureKind::Timeout);
    assert!(t0.elapsed() < T + Duration::from_secs(1));
}

#[tokio::test]
async fn antminer_digest_refused_and_nonce_rotation() {
    let a = FakeAntminer::start().await;
    let mut bad = client(
        &a.url(),
        AsicKind::Antminer,
        Credentials {
            password: Some("nope".into()),
            ..Default::default()
        },
    )
    .await;
    let e = bad.read().await.unwrap_err();
    assert_eq!(e.kind(), FailureKind::Auth, "{e}");
    assert!(!e.to_string().contains("nope"));

    let a = FakeAntminer::start().await;
    let mut c = client(&a.url(), AsicKind::Antminer, Credentials::default()).await;
    c.read().await.expect("read");
    a.with(|s| {
        s.nonce = "00112233445566778899aabbccddeeff".into();
        s.last_nc = 0;
    });
    c.read().await.expect("read after the server changed its nonce");
    assert_eq!(a.with(|s| s.challenges), 2);
    a.with(|s| s.knobs.fault = Fault::Truncated);
    assert_eq!(c.read().await.unwrap_err().kind(), FailureKind::Malformed);
}

use super::*;
use crate::domain::rig::CommandAck;
use hashward_protocol::{RigId, SiteId};

fn pool(name: &str, url: &str) -> Pool {
    Pool {
        name: name.into(),
        coin: hashward_econ::Coin::Dogecoin,
        algo: "scrypt".into(),
        url: url.into(),
        user: "wallet.{rig}".into(),
        pass: "x".into(),
        fee_pct: 0.0,
        restart_s: 30.0,
    }
}

fn assignment(awaited: Vec<Awaited>) -> Assignment {
    Assignment {
        id: "cpu-1".into(),
        rig: "cpu-1".into(),
        site: "home".into(),
        from_target: "ltc-a".into(),
        to_target: "doge-b".into(),
        status: Status::Pending,
        reason: None,
        decided_ms: 1_000,
        deadline_ms: 61_000,
        awaited,
        settled_ms: None,
    }
}

fn entry() -> RigEntry {
    RigEntry::new(RigId::new("cpu-1").expect("id"), SiteId::new("home").expect("id"))
}

#[test]
fn steps_per_move() {
    let a = Action::Pool(pool("ltc-a", "stratum+tcp://a:1"));
    let b = Action::Pool(pool("doge-b", "stratum+tcp://b:2"));
    assert_eq!(
        steps(&a, &b, None),
        Ok(vec![Step::PushPool(pool("doge-b", "stratum+tcp://b:2"))])
    );
    assert_eq!(
        steps(&a, &Action::Pause, None),
        Ok(vec![Step::Command(Command::PauseMining)])
    );
    // Resuming: which pool a paused rig holds is not known here, so the pool is pushed too
    // (the agent leaves its miner alone when the pools did not change).
    assert_eq!(
        steps(&Action::Pause, &a, None),
        Ok(vec![
            Step::PushPool(pool("ltc-a", "stratum+tcp://a:1")),
            Step::Command(Command::ResumeMining)
        ])
    );
    // Same pool: nothing to send.
    assert_eq!(steps(&a, &a, None), Ok(vec![]));
    assert_eq!(
        steps(&Action::Preset(3068), &Action::Preset(2200), Some("s19")),
        Ok(vec![Step::Command(Command::SetPowerTarget {
            asic: "s19".into(),
            watts: 2200
        })])
    );
    assert!(steps(&Action::Preset(3068), &Action::Pause, Some("s19"))
        .expect_err("no single-ASIC pause")
        .contains("single ASIC"));
}

#[test]
fn the_pool_patch_keeps_the_scopes_other_keys() {
    let p = pool("doge-b", "stratum+tcp://b:2");
    let text = pool_patch(
        Some("[miner]\nthermal_soft_limit_c = 75.0\n[watchdog]\nenabled = true\n"),
        &p,
        "cpu-1",
    )
    .expect("patch");
    let t: toml::Table = text.parse().expect("toml");
    assert_eq!(t["miner"]["thermal_soft_limit_c"].as_float(), Some(75.0));
    assert_eq!(t["watchdog"]["enabled"].as_bool(), Some(true));
    assert_eq!(t["miner"]["algo"].as_str(), Some("scrypt"));
    let pools = t["miner"]["pools"].as_array().expect("pools");
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0]["url"].as_str(), Some("stratum+tcp://b:2"));
    assert_eq!(pools[0]["user"].as_str(), Some("wallet.cpu-1"));
    crate::cmd::push_config::check_patch(&text).expect("the agents accept it");
    assert!(pool_patch(Some("miner = 3\n"), &p, "cpu-1").is_err());
    assert!(pool_patch(Some("[miner\n"), &p, "cpu-1").is_err());
}

#[test]
fn acks_settle_an_assignment_applied_rejected_or_timed_out() {
    let scope = "rig:home/cpu-1".to_string();
    let waits = vec![
        Awaited::Config {
            scope: scope.clone(),
            version: 500,
        },
        Awaited::Command {
            name: "resume".into(),
            nonce: 7,
        },
    ];
    // Nothing heard yet: pending until the deadline.
    let mut a = assignment(waits.clone());
    let mut e = entry();
    settle(&mut a, Some(&e), 2_000);
    assert_eq!(a.status, Status::Pending);
    // An older version applied does not count; the push and the command do.
    e.config
        .entry(scope.clone())
        .or_default()
        .record(499, None, 2_000);
    settle(&mut a, Some(&e), 3_000);
    assert_eq!(a.status, Status::Pending);
    e.config
        .entry(scope.clone())
        .or_default()
        .record(500, None, 3_000);
    e.commands.push(CommandAck {
        nonce: 7,
        ts_ms: 3_000,
        outcome: AckOutcome::Applied,
    });
    settle(&mut a, Some(&e), 4_000);
    assert_eq!((a.status, a.settled_ms), (Status::Applied, Some(4_000)));

    let mut a = assignment(waits.clone());
    let mut e = entry();
    e.config
        .entry(scope.clone())
        .or_default()
        .record(500, Some("miner.pools[0].url: bad"), 2_000);
    settle(&mut a, Some(&e), 2_500);
    assert_eq!(a.status, Status::Rejected);
    assert!(
        a.reason
            .as_deref()
            .is_some_and(|r| r.contains("miner.pools[0].url")),
        "{a:?}"
    );

    let mut a = assignment(waits);
    settle(&mut a, None, 61_000);
    assert_eq!(a.status, Status::TimedOut);
    assert!(
        a.reason.as_deref().is_some_and(|r| r.contains("within 60 s")),
        "{a:?}"
    );
}

#[test]
fn in_flight_and_fresh_moves_are_assumed_until_the_telemetry_can_show_them() {
    let mut map = BTreeMap::new();
    map.insert("cpu-1".to_string(), assignment(vec![]));
    assert_eq!(
        assumed(&map, 5_000, 10_000).get("cpu-1").map(String::as_str),
        Some("doge-b")
    );
    let a = map.get_mut("cpu-1").expect("a");
    a.status = Status::Applied;
    a.settled_ms = Some(5_000);
    assert_eq!(assumed(&map, 14_999, 10_000).len(), 1);
    assert!(assumed(&map, 15_000, 10_000).is_empty());
    map.get_mut("cpu-1").expect("a").status = Status::Rejected;
    assert!(assumed(&map, 6_000, 10_000).is_empty());
}

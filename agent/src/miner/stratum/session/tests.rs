//! Value tests of the session state machine: pool lines, shares and times in, lines and
//! events out, with no socket and no clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::miner::stratum::generations::Generations;
use crate::miner::stratum::{target_from_difficulty, PoolConfig, DIFF1_SHA256D};

const MASK: u32 = 0x1fff_e000;

fn config(version_rolling: Option<u32>, extranonce_subscribe: bool) -> ClientConfig {
    let mut c = ClientConfig::new(
        vec![PoolConfig {
            url: "stratum+tcp://pool.example:3333".into(),
            user: "worker.1".into(),
            password: "x".into(),
        }],
        DIFF1_SHA256D,
    );
    c.user_agent = "test-agent/1".into();
    c.version_rolling_mask = version_rolling;
    c.extranonce_subscribe = extranonce_subscribe;
    c.submit_timeout = Duration::from_secs(30);
    c.idle_timeout = Duration::from_secs(600);
    c.max_reconnect_wait = Duration::from_secs(60);
    c
}

struct Fixture {
    s: Session,
    stats: StatsHandle,
    t0: Instant,
}

fn fixture(cfg: ClientConfig) -> Fixture {
    let t0 = Instant::now();
    let stats = StatsHandle::new(&["stratum+tcp://pool.example:3333".to_string()]);
    let shared = Shared {
        config: Arc::new(cfg),
        stats: stats.clone(),
        generations: Arc::new(Mutex::new(Generations::default())),
    };
    let url = PoolUrl::parse("stratum+tcp://pool.example:3333").expect("url");
    let s = Session::new(0, url, "worker.1".into(), "x", shared, t0);
    Fixture { s, stats, t0 }
}

/// Split outputs into the JSON of sent lines and the events.
fn drain(s: &mut Session) -> (Vec<Value>, Vec<PoolEvent>) {
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    for out in s.take_outputs() {
        match out {
            Output::Send(l) => {
                assert!(l.ends_with('\n'), "line without newline: {l:?}");
                lines.push(serde_json::from_str(l.trim_end()).expect("we send JSON"));
            }
            Output::Event(e) => events.push(e),
        }
    }
    (lines, events)
}

fn methods(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["method"].as_str().unwrap_or("<answer>"))
        .collect()
}

fn id_of(lines: &[Value], method: &str) -> u64 {
    lines
        .iter()
        .find(|l| l["method"] == method)
        .and_then(|l| l["id"].as_u64())
        .expect("request sent")
}

fn answer(id: u64, result: Value) -> String {
    json!({"id": id, "result": result, "error": null}).to_string()
}

fn notify(job: &str, clean: bool) -> String {
    json!({"id": null, "method": "mining.notify", "params": [
        job, "00".repeat(32), "01000000", "ffffffff", [], "20000000", "1d00ffff", "5f5e1000", clean
    ]})
    .to_string()
}

/// Run the handshake to completion and activate; returns the handshake's lines.
fn ready(f: &mut Fixture) -> Vec<Value> {
    let (lines, _) = drain(&mut f.s);
    if let Some(l) = lines.iter().find(|l| l["method"] == "mining.configure") {
        let id = l["id"].as_u64().expect("id");
        let granted = json!({"version-rolling": true, "version-rolling.mask": format!("{MASK:08x}")});
        f.s.handle_line(&answer(id, granted), f.t0).expect("configure");
    }
    let sub = json!([[["mining.notify", "ae68"]], "08000002", 4]);
    f.s.handle_line(&answer(id_of(&lines, "mining.subscribe"), sub), f.t0)
        .expect("subscribe");
    f.s.handle_line(&answer(id_of(&lines, "mining.authorize"), json!(true)), f.t0)
        .expect("authorize");
    assert!(f.s.is_ready());
    let (after, events) = drain(&mut f.s);
    assert!(events.is_empty(), "no events before activation: {events:?}");
    f.s.activate();
    lines.into_iter().chain(after).collect()
}

fn job_events(events: &[PoolEvent]) -> Vec<Arc<MiningJob>> {
    events
        .iter()
        .filter_map(|e| match e {
            PoolEvent::NewJob(j) => Some(j.clone()),
            _ => None,
        })
        .collect()
}

fn results(events: &[PoolEvent]) -> Vec<ShareResult> {
    events
        .iter()
        .filter_map(|e| match e {
            PoolEvent::ShareResult(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// A session with one active job "j1" at difficulty 2; returns the job.
fn with_job(f: &mut Fixture) -> Arc<MiningJob> {
    ready(f);
    let set = json!({"id": null, "method": "mining.set_difficulty", "params": [2]}).to_string();
    f.s.handle_line(&set, f.t0).expect("difficulty");
    f.s.handle_line(&notify("j1", true), f.t0).expect("notify");
    let (_, events) = drain(&mut f.s);
    job_events(&events).pop().expect("a job")
}

#[test]
fn handshake_without_extensions_is_subscribe_then_authorize() {
    let mut f = fixture(config(None, false));
    let lines = ready(&mut f);
    assert_eq!(methods(&lines), ["mining.subscribe", "mining.authorize"]);
    assert_eq!(lines[0]["params"], json!(["test-agent/1"]));
    assert_eq!(lines[1]["params"], json!(["worker.1", "x"]));
    assert_eq!(
        (lines[0]["id"].as_u64(), lines[1]["id"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn handshake_with_version_rolling_and_extranonce_subscribe() {
    let mut f = fixture(config(Some(MASK), true));
    let lines = ready(&mut f);
    assert_eq!(
        methods(&lines),
        [
            "mining.configure",
            "mining.subscribe",
            "mining.authorize",
            "mining.extranonce.subscribe"
        ]
    );
    let (_, events) = drain(&mut f.s);
    match &events[..] {
        [PoolEvent::Connected {
            pool: 0,
            version_mask,
            ..
        }] => assert_eq!(*version_mask, Some(MASK)),
        other => panic!("expected Connected, got {other:?}"),
    }
    assert_eq!(f.stats.snapshot()[0].version_mask, Some(MASK));
}

#[test]
fn extranonce_subscribe_waits_for_both_answers() {
    let mut f = fixture(config(None, true));
    let (lines, _) = drain(&mut f.s);
    let sub = json!([[], "08000002", 4]);
    f.s.handle_line(&answer(id_of(&lines, "mining.subscribe"), sub), f.t0)
        .expect("subscribe");
    assert!(
        drain(&mut f.s).0.is_empty(),
        "nothing before authorize is answered"
    );
    f.s.handle_line(&answer(id_of(&lines, "mining.authorize"), json!(true)), f.t0)
        .expect("authorize");
    assert_eq!(methods(&drain(&mut f.s).0), ["mining.extranonce.subscribe"]);
}

#[test]
fn refused_subscribe_and_authorize_stop_the_handshake() {
    let mut f = fixture(config(None, false));
    let (lines, _) = drain(&mut f.s);
    let err =
        json!({"id": id_of(&lines, "mining.subscribe"), "result": null, "error": [24, "go away", null]});
    assert_eq!(
        f.s.handle_line(&err.to_string(), f.t0),
        Err(Stop::Subscribe("24 go away".into()))
    );
    let mut f = fixture(config(None, false));
    let (lines, _) = drain(&mut f.s);
    let id = id_of(&lines, "mining.authorize");
    assert_eq!(
        f.s.handle_line(&answer(id, json!(false)), f.t0),
        Err(Stop::Unauthorized("result false".into()))
    );
}

#[test]
fn notify_before_activation_becomes_the_first_job() {
    let mut f = fixture(config(None, false));
    let (lines, _) = drain(&mut f.s);
    let sub = json!([[], "08000002", 4]);
    f.s.handle_line(&answer(id_of(&lines, "mining.subscribe"), sub), f.t0)
        .expect("subscribe");
    f.s.handle_line(&notify("early", false), f.t0).expect("notify");
    f.s.handle_line(&answer(id_of(&lines, "mining.authorize"), json!(true)), f.t0)
        .expect("authorize");
    assert!(drain(&mut f.s).1.is_empty());
    f.s.activate();
    let (_, events) = drain(&mut f.s);
    assert!(matches!(events[0], PoolEvent::Connected { .. }));
    let jobs = job_events(&events);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job_id, "early");
    assert!(jobs[0].clean, "the first job of a connection is always clean");
}

#[test]
fn set_difficulty_then_notify_gives_a_job_at_that_difficulty() {
    let mut f = fixture(config(None, false));
    let job = with_job(&mut f);
    assert_eq!(job.job_id, "j1");
    assert_eq!(job.difficulty, 2.0);
    assert_eq!(
        job.target,
        target_from_difficulty(&DIFF1_SHA256D, 2.0).expect("target")
    );
    assert_eq!(job.extranonce2_size(), 4);
    assert_eq!(f.stats.snapshot()[0].difficulty, Some(2.0));
    // A non-clean job keeps the epoch, a clean one starts a new one.
    f.s.handle_line(&notify("j2", false), f.t0).expect("notify");
    f.s.handle_line(&notify("j3", true), f.t0).expect("notify");
    let jobs = job_events(&drain(&mut f.s).1);
    assert_eq!(jobs[0].generation, job.generation);
    assert!(jobs[1].generation > job.generation);
}

#[test]
fn submit_answered_true_false_and_error() {
    let mut f = fixture(config(None, false));
    let job = with_job(&mut f);
    for nonce in [1u32, 2, 3] {
        f.s.submit(job.share(7, job.ntime, nonce, None), f.t0);
    }
    let (lines, _) = drain(&mut f.s);
    assert_eq!(methods(&lines), ["mining.submit"; 3]);
    assert_eq!(
        lines[0]["params"],
        json!([
            "worker.1",
            "j1",
            "00000007",
            format!("{:08x}", job.ntime),
            "00000001"
        ])
    );
    let ids: Vec<u64> = lines.iter().map(|l| l["id"].as_u64().expect("id")).collect();
    let later = f.t0 + Duration::from_millis(40);
    f.s.handle_line(&answer(ids[0], json!(true)), later)
        .expect("answer");
    f.s.handle_line(&answer(ids[1], json!(false)), later)
        .expect("answer");
    let err = json!({"id": ids[2], "result": null, "error": [23, "Low difficulty share", null]});
    f.s.handle_line(&err.to_string(), later).expect("answer");
    let r = results(&drain(&mut f.s).1);
    assert_eq!(r.iter().map(|r| r.nonce).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(r[0].outcome, ShareOutcome::Accepted);
    assert_eq!(r[0].latency, Some(Duration::from_millis(40)));
    assert!(
        matches!(&r[1].outcome, ShareOutcome::Rejected { reason: RejectReason::Other, message } if message == "result false")
    );
    assert!(matches!(
        &r[2].outcome,
        ShareOutcome::Rejected {
            reason: RejectReason::LowDifficulty,
            ..
        }
    ));
    let st = &f.stats.snapshot()[0];
    assert_eq!((st.accepted, st.rejected.total()), (1, 2));
    // A second answer to the same id is not a second result.
    f.s.handle_line(&answer(ids[0], json!(true)), later)
        .expect("answer");
    assert!(results(&drain(&mut f.s).1).is_empty());
    assert_eq!(f.stats.snapshot()[0].accepted, 1);
}

#[test]
fn stale_and_invalid_shares_are_dropped_not_sent() {
    let mut f = fixture(config(None, false));
    let job = with_job(&mut f);
    f.s.submit(job.share(1, job.ntime, 9, Some(0x2000)), f.t0);
    let mut old = job.share(1, job.ntime, 10, None);
    old.generation -= 1;
    f.s.submit(old, f.t0);
    let (lines, events) = drain(&mut f.s);
    assert!(lines.is_empty());
    let outcomes: Vec<_> = results(&events).into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [ShareOutcome::DroppedInvalid, ShareOutcome::DroppedStale]
    );
    let st = &f.stats.snapshot()[0];
    assert_eq!((st.invalid_dropped, st.stale_dropped), (1, 1));
}

#[test]
fn submit_unanswered_past_its_timeout() {
    let mut f = fixture(config(None, false));
    let job = with_job(&mut f);
    f.s.submit(job.share(1, job.ntime, 5, None), f.t0);
    drain(&mut f.s);
    assert_eq!(f.s.tick(f.t0 + Duration::from_secs(30)), None);
    assert!(results(&drain(&mut f.s).1).is_empty(), "not yet past the timeout");
    assert_eq!(f.s.tick(f.t0 + Duration::from_secs(31)), None);
    let r = results(&drain(&mut f.s).1);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].outcome, ShareOutcome::Unanswered);
    assert_eq!(f.stats.snapshot()[0].unanswered, 1);
}

#[test]
fn silent_pool_ends_the_session_after_the_idle_timeout() {
    let mut f = fixture(config(None, false));
    ready(&mut f);
    f.s.handle_line(&notify("j1", true), f.t0 + Duration::from_secs(100))
        .expect("notify");
    assert_eq!(f.s.tick(f.t0 + Duration::from_secs(700)), None);
    assert_eq!(
        f.s.tick(f.t0 + Duration::from_secs(701)),
        Some(SessionEnd::Disconnected(
            "no message from the pool for 601 s".into()
        ))
    );
}

#[test]
fn client_reconnect_same_host_ends_other_host_refused() {
    let mut f = fixture(config(None, false));
    ready(&mut f);
    let other = json!({"id": null, "method": "client.reconnect", "params": ["evil.example", 4444, 5]});
    assert_eq!(f.s.handle_line(&other.to_string(), f.t0), Ok(()));
    let same = json!({"id": null, "method": "client.reconnect", "params": ["POOL.example", "3334", 900]});
    match f.s.handle_line(&same.to_string(), f.t0) {
        Err(Stop::End(SessionEnd::Reconnect { url, wait })) => {
            assert_eq!((url.host.as_str(), url.port), ("pool.example", 3334));
            assert_eq!(wait, Duration::from_secs(60), "capped at max_reconnect_wait");
        }
        other => panic!("expected a reconnect, got {other:?}"),
    }
}

#[test]
fn garbage_unknown_methods_and_unknown_ids_are_counted_and_skipped() {
    let mut f = fixture(config(None, false));
    let job = with_job(&mut f);
    let bad = [
        "not json at all",
        "{\"id\": 1, \"result\": true",
        "{\"id\": \"abc\", \"result\": true, \"error\": null}",
        "{\"id\": null, \"method\": \"mining.notify\", \"params\": [\"x\"]}",
        "{\"id\": null, \"method\": \"mining.set_difficulty\", \"params\": [\"high\"]}",
    ];
    for line in bad {
        assert_eq!(f.s.handle_line(line, f.t0), Ok(()), "{line}");
    }
    f.s.skipped_not_utf8(f.t0);
    f.s.skipped_oversized(70_000, f.t0);
    let unknown = json!({"id": 77, "method": "mining.frobnicate", "params": []});
    f.s.handle_line(&unknown.to_string(), f.t0).expect("skipped");
    f.s.handle_line(&answer(999, json!(true)), f.t0).expect("skipped");
    let (lines, events) = drain(&mut f.s);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(
        lines,
        [json!({"id": 77, "result": null, "error": [20, "Method not supported", null]})]
    );
    let st = &f.stats.snapshot()[0];
    assert_eq!(
        (st.malformed_lines, st.oversized_lines, st.unknown_methods),
        (6, 1, 1)
    );
    // Still usable: the job accepts shares.
    f.s.submit(job.share(1, job.ntime, 1, None), f.t0);
    assert_eq!(methods(&drain(&mut f.s).0), ["mining.submit"]);
}

#[test]
fn set_extranonce_rekeys_the_latest_job_in_a_new_epoch() {
    let mut f = fixture(config(None, false));
    let job = with_job(&mut f);
    let set = json!({"id": null, "method": "mining.set_extranonce", "params": ["aabbccdd", 2]});
    f.s.handle_line(&set.to_string(), f.t0).expect("extranonce");
    let jobs = job_events(&drain(&mut f.s).1);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job_id, "j1");
    assert!(jobs[0].generation > job.generation);
    assert_eq!(jobs[0].extranonce2_size(), 2);
    f.s.submit(job.share(1, job.ntime, 1, None), f.t0);
    let r = results(&drain(&mut f.s).1);
    assert_eq!(
        r[0].outcome,
        ShareOutcome::DroppedStale,
        "the old epoch's share is stale"
    );
}

#[test]
fn close_reports_pending_shares_and_disconnects() {
    let mut f = fixture(config(None, false));
    let job = with_job(&mut f);
    f.s.submit(job.share(1, job.ntime, 4, None), f.t0);
    drain(&mut f.s);
    f.s.close("bye");
    let (_, events) = drain(&mut f.s);
    assert_eq!(results(&events)[0].outcome, ShareOutcome::Unanswered);
    assert!(matches!(events.last(), Some(PoolEvent::Disconnected { pool: 0, reason }) if reason == "bye"));
    let st = &f.stats.snapshot()[0];
    assert_eq!((st.connected, st.disconnects, st.unanswered), (false, 1, 1));
}

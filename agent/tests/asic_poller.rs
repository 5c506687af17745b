//! The poller against fake miners on loopback: a hanging miner does not delay the others, a
//! silent miner is published as `unreachable`, malformed replies are counted and never replace
//! the last good reading, and shutdown is prompt even with a poll in flight.

#[path = "asic_support/mod.rs"]
mod support;

use hashward_agent::asic::client::{AsicKind, AsicSpec, Credentials};
use hashward_agent::asic::poller::{Poller, PollerOptions};
use hashward_agent::asic::schedule::ScheduleConfig;
use hashward_protocol::AsicTelemetry;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::{fixtures, FakeVnish, Fault};
use tokio::sync::mpsc;

fn opts(interval_ms: u64, concurrency: usize) -> PollerOptions {
    let fast = Duration::from_millis(interval_ms);
    PollerOptions {
        schedule: ScheduleConfig {
            fast,
            slow: fast, // fixed schedule, so "on schedule" has one meaning
            unreachable_after: 2,
            quarantine_after: 4,
            quarantine_for: Duration::from_millis(interval_ms * 4),
            ..ScheduleConfig::default()
        },
        max_concurrency: concurrency,
        request_timeout: Duration::from_millis(800),
        poll_timeout: Duration::from_millis(1500),
    }
}

fn vnish_spec(id: &str, m: &FakeVnish) -> AsicSpec {
    AsicSpec::new(
        id,
        &m.url(),
        AsicKind::Vnish,
        Credentials {
            password: Some("admin".into()),
            ..Default::default()
        },
    )
    .expect("spec")
}

/// Runs the poller for `secs` and returns everything it published, by miner.
async fn run_for(
    specs: Vec<AsicSpec>,
    o: PollerOptions,
    dur: Duration,
    during: impl FnOnce(hashward_agent::asic::PollerHandle) -> tokio::task::JoinHandle<()>,
) -> (
    HashMap<String, Vec<AsicTelemetry>>,
    hashward_agent::asic::PollerHandle,
) {
    let poller = Poller::new(specs, o);
    let handle = poller.handle();
    let (tx, mut rx) = mpsc::channel::<AsicTelemetry>(1024);
    let collect = tokio::spawn(async move {
        let mut by: HashMap<String, Vec<AsicTelemetry>> = HashMap::new();
        while let Some(t) = rx.recv().await {
            by.entry(t.miner_id.clone()).or_default().push(t);
        }
        by
    });
    let side = during(handle.clone());
    poller.run(tx, tokio::time::sleep(dur)).await;
    side.abort();
    (collect.await.expect("collector"), handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_miner_does_not_delay_the_others() {
    let mut fakes = Vec::new();
    for _ in 0..12 {
        fakes.push(FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await);
    }
    let hanging = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    hanging.with(|s| s.knobs.fault = Fault::Hang);
    let mut specs: Vec<AsicSpec> = fakes
        .iter()
        .enumerate()
        .map(|(i, m)| vnish_spec(&format!("ok{i}"), m))
        .collect();
    specs.insert(0, vnish_spec("hang", &hanging));
    let interval = 250;
    // Three permits: the hanging miner holds one for up to a second at a time.
    let (by, handle) = run_for(specs, opts(interval, 3), Duration::from_millis(3000), |_| {
        tokio::spawn(async {})
    })
    .await;

    let views = handle.asics();
    for v in views.iter().filter(|v| v.id != "hang") {
        // 3000 ms at 250 ms is 12 polls; first polls are staggered over one interval.
        assert!(v.polls_ok >= 10, "{} polled {} times", v.id, v.polls_ok);
        assert!(
            v.max_lateness_ms < 150,
            "{} started up to {} ms late",
            v.id,
            v.max_lateness_ms
        );
        assert!(by[&v.id].iter().all(|t| t.reachable && t.hashrate.total.0 > 0.0));
    }
    let h = handle.miner("hang").expect("hang view");
    assert!(!h.reachable);
    assert_eq!(h.polls_ok, 0);
    let published = &by["hang"];
    assert!(!published.is_empty(), "a silent miner is published, not left out");
    assert!(published
        .iter()
        .all(|t| !t.reachable && t.status.mining_status == "unreachable"));
    assert!(
        published[0].status.errors[0].message.contains("timed out"),
        "{:?}",
        published[0].status.errors
    );
    let c = handle.counters();
    assert!(c.timeouts >= 2, "{c:?}");
}

#[tokio::test]
async fn malformed_replies_are_counted_and_never_replace_the_last_good_reading() {
    let m = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let specs = vec![vnish_spec("m", &m)];
    let state = m.state.clone();
    let (by, handle) = run_for(specs, opts(100, 4), Duration::from_millis(1500), move |h| {
        tokio::spawn(async move {
            // Let one good poll land, then turn the miner's replies to garbage.
            while h.miner("m").is_none_or(|v| v.polls_ok == 0) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            state.lock().expect("lock").knobs.fault = Fault::Truncated;
        })
    })
    .await;
    let v = handle.miner("m").expect("view");
    let c = handle.counters();
    assert!(c.malformed >= 3, "{c:?}");
    assert_eq!(c.polls_failed, c.malformed);
    let good = v.last_good.expect("last good kept");
    assert!((good.hashrate.total.0 - 104_500.0e9).abs() < 1.0);
    assert!(
        v.last_error.as_deref().is_some_and(|e| e.contains("truncated")),
        "{:?}",
        v.last_error
    );
    // Published: the good reading(s), then at most "unreachable" records — never a reading made
    // from the garbage.
    let msgs = &by["m"];
    assert!(msgs
        .iter()
        .filter(|t| t.reachable)
        .all(|t| (t.hashrate.total.0 - 104_500.0e9).abs() < 1.0));
    // Quarantined after 4 failures and that was published.
    assert!(c.quarantined >= 1, "{c:?}");
    assert!(msgs.iter().any(|t| !t.reachable));
}

#[tokio::test]
async fn a_miner_that_stops_answering_becomes_unreachable_and_comes_back() {
    let m = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    let dead = support::dead_addr().await;
    let specs = vec![
        vnish_spec("alive", &m),
        AsicSpec::new(
            "gone",
            &format!("http://{dead}"),
            AsicKind::Vnish,
            Credentials::default(),
        )
        .expect("spec"),
    ];
    let state = m.state.clone();
    let (by, handle) = run_for(specs, opts(100, 4), Duration::from_millis(2500), move |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            state.lock().expect("lock").knobs.fault = Fault::ServerError;
            tokio::time::sleep(Duration::from_millis(600)).await;
            state.lock().expect("lock").knobs.fault = Fault::None;
            let _ = h;
        })
    })
    .await;
    let gone = &by["gone"];
    assert!(
        gone.len() >= 2 && gone.iter().all(|t| !t.reachable),
        "{}",
        gone.len()
    );
    assert!(gone[0].status.errors[0].message.contains("cannot connect"));
    assert!(handle.counters().unreachable >= 2);
    // "alive" had an outage of refusals and recovered: its last reading is a good one.
    let alive = &by["alive"];
    assert!(alive
        .last()
        .is_some_and(|t| t.reachable && t.hashrate.total.0 > 0.0));
    assert!(handle.counters().refused >= 1);
    assert!(handle
        .miner("alive")
        .is_some_and(|v| v.reachable && v.consecutive_failures == 0));
}

#[tokio::test]
async fn shutdown_is_prompt_with_a_poll_in_flight() {
    let m = FakeVnish::start(fixtures::VNISH_126_SUMMARY, fixtures::VNISH_126_INFO).await;
    m.with(|s| s.knobs.fault = Fault::Hang);
    let mut o = opts(100, 2);
    o.request_timeout = Duration::from_secs(30);
    o.poll_timeout = Duration::from_secs(60);
    let poller = Poller::new(vec![vnish_spec("m", &m)], o);
    let (tx, _rx) = mpsc::channel::<AsicTelemetry>(16);
    let t0 = Instant::now();
    poller
        .run(tx, tokio::time::sleep(Duration::from_millis(500)))
        .await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}

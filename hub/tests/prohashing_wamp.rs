//! The hub's WAMP client against a fake Prohashing router on loopback: WAMP-CRA login (plain and
//! salted), the three calls and three subscriptions with recorded-shape payloads, events, a
//! router that dies and comes back, and a wrong secret the router refuses.

mod support {
    pub mod wamp_router;
}

use hashward_hub::collect::prohashing::config::{Feed, ProhashingConfig};
use hashward_hub::collect::wamp::{self, ClientConfig, Update};
use serde_json::json;
use std::time::{Duration, Instant};
use support::wamp_router::{Router, API_KEY};
use tokio::sync::{mpsc, watch};

fn config(router: &Router, secret: &str) -> ClientConfig<Feed> {
    let cfg: ProhashingConfig = toml::from_str(&format!(
        "api_key = \"{API_KEY}\"\nurl = \"ws://{}/ws\"\nsecret = \"{secret}\"\n",
        router.addr
    ))
    .expect("config");
    cfg.check().expect("valid");
    ClientConfig {
        url: cfg.url().to_string(),
        session: cfg.session(),
        heartbeat: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(5),
        backoff: hashward_common::Backoff::new(Duration::from_millis(50), Duration::from_millis(400)),
        tls: None,
    }
}

/// The next update matching `want`, or a panic naming what was seen, within `within`.
async fn next_matching(
    rx: &mut mpsc::Receiver<Update<Feed>>,
    within: Duration,
    what: &str,
    want: impl Fn(&Update<Feed>) -> bool,
) -> Update<Feed> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(u)) if want(&u) => return u,
            Ok(Some(u)) => seen.push(format!("{u:?}").chars().take(120).collect::<String>()),
            Ok(None) => panic!("client ended waiting for {what}; saw {seen:?}"),
            Err(_) => panic!("no {what} within {within:?}; saw {seen:?}"),
        }
    }
}

fn is_data(feed: Feed, event: bool) -> impl Fn(&Update<Feed>) -> bool {
    move |u| matches!(u, Update::Data { label, event: e, .. } if *label == feed && *e == event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_calls_subscribes_gets_events_and_survives_the_router_dying() {
    let mut router = Router::start("127.0.0.1:0".parse().expect("addr"), false).await;
    let (tx, mut rx) = mpsc::channel(256);
    let (stop_tx, stop) = watch::channel(false);
    let client = tokio::spawn(wamp::run(config(&router, "web"), tx, stop));
    let wait = Duration::from_secs(10);

    next_matching(&mut rx, wait, "login", |u| matches!(u, Update::Connected)).await;
    let Update::Data { args, .. } = next_matching(
        &mut rx,
        wait,
        "profitability",
        is_data(Feed::Profitability, false),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(args[0]["2"]["algorithm_name"], "SHA-256");
    let Update::Data { args, .. } =
        next_matching(&mut rx, wait, "miners", is_data(Feed::Miners, false)).await
    else {
        unreachable!()
    };
    assert_eq!(args[0][0]["miner_name"], "acct.s9a");
    next_matching(&mut rx, wait, "balances", is_data(Feed::Balances, false)).await;
    assert_eq!(router.seen.bad_keys.load(std::sync::atomic::Ordering::Relaxed), 0);

    // Events reach the client once its subscriptions are confirmed (poll, bounded).
    let deadline = Instant::now() + wait;
    while router
        .seen
        .subscriptions
        .load(std::sync::atomic::Ordering::Relaxed)
        < 3
    {
        assert!(Instant::now() < deadline, "subscriptions never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    router.publish(
        &format!("miner_update_diffs_{API_KEY}"),
        json!([{"uuid": "6b1e0c1a-1", "hashrate": 12.0e12}]),
    );
    let Update::Data { args, .. } =
        next_matching(&mut rx, wait, "miner diff", is_data(Feed::Miners, true)).await
    else {
        unreachable!()
    };
    assert_eq!(args[0]["hashrate"], 12.0e12);
    router.publish(
        &format!("balance_updates_{API_KEY}"),
        json!([{"coin": "bitcoin", "balance": 0.0001}]),
    );
    next_matching(&mut rx, wait, "balance credit", is_data(Feed::Balances, true)).await;
    router.publish(
        "profitability_updates",
        json!([{"2": {"algorithm_name": "SHA-256", "usd": 1.4e-7}}]),
    );
    next_matching(&mut rx, wait, "profit event", is_data(Feed::Profitability, true)).await;

    // The heartbeat pings the router.
    let deadline = Instant::now() + wait;
    while router.seen.pings.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no heartbeat ping");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Garbage frames are ignored (reported), the session carries on.
    router.send_raw("<html>502</html>");
    router.send_raw("[36, 999999, 1, {}, []]");
    next_matching(
        &mut rx,
        wait,
        "garbage reported",
        |u| matches!(u, Update::Ignored(why) if why.contains("undecodable")),
    )
    .await;
    next_matching(
        &mut rx,
        wait,
        "unknown subscription reported",
        |u| matches!(u, Update::Ignored(why) if why.contains("unknown")),
    )
    .await;
    router.publish(
        "profitability_updates",
        json!([{"1": {"algorithm_name": "Scrypt", "usd": 0.003}}]),
    );
    next_matching(
        &mut rx,
        wait,
        "events after garbage",
        is_data(Feed::Profitability, true),
    )
    .await;

    // A hung router (TCP open, nothing read or answered): the heartbeat notices the silence,
    // the reconnect times out in the handshake, and the link comes back once it answers again.
    router.frozen.store(true, std::sync::atomic::Ordering::Relaxed);
    next_matching(
        &mut rx,
        wait,
        "silence noticed",
        |u| matches!(u, Update::Down { error, .. } if matches!(error, wamp::ClientError::Silent(_))),
    )
    .await;
    router.frozen.store(false, std::sync::atomic::Ordering::Relaxed);
    next_matching(&mut rx, wait, "login after the hang", |u| {
        matches!(u, Update::Connected)
    })
    .await;
    next_matching(
        &mut rx,
        wait,
        "snapshot after the hang",
        is_data(Feed::Miners, false),
    )
    .await;

    // The router dies: the client reports the link down, keeps retrying, and logs in again
    // (fresh snapshots) once the router is back on the same port.
    router.kill();
    let down = next_matching(&mut rx, wait, "link down", |u| matches!(u, Update::Down { .. })).await;
    let Update::Down { error, .. } = down else {
        unreachable!()
    };
    assert!(!format!("{error}").contains(API_KEY), "{error}");
    next_matching(
        &mut rx,
        wait,
        "a failed reconnect",
        |u| matches!(u, Update::Down { error, .. } if error.kind() == "connect"),
    )
    .await;
    router.restart().await;
    next_matching(&mut rx, wait, "login again", |u| matches!(u, Update::Connected)).await;
    next_matching(&mut rx, wait, "miners again", is_data(Feed::Miners, false)).await;
    assert_eq!(
        router.seen.logins_ok.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "the first login, after the hang, after the restart"
    );

    stop_tx.send_replace(true);
    tokio::time::timeout(wait, client)
        .await
        .expect("client stops")
        .expect("no panic");
    let deadline = Instant::now() + wait;
    while router.seen.goodbyes.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the client left without a GOODBYE");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salted_challenge_is_answered_and_a_wrong_secret_is_refused() {
    let router = Router::start("127.0.0.1:0".parse().expect("addr"), true).await;
    let wait = Duration::from_secs(10);

    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop) = watch::channel(false);
    let client = tokio::spawn(wamp::run(config(&router, "web"), tx, stop));
    next_matching(&mut rx, wait, "salted login", |u| matches!(u, Update::Connected)).await;
    stop_tx.send_replace(true);
    client.await.expect("stops");

    let (tx, mut rx) = mpsc::channel(64);
    let (stop_tx, stop) = watch::channel(false);
    let client = tokio::spawn(wamp::run(config(&router, "not-web"), tx, stop));
    let down = next_matching(&mut rx, wait, "refusal", |u| matches!(u, Update::Down { .. })).await;
    let Update::Down { error, .. } = down else {
        unreachable!()
    };
    assert_eq!(
        error.to_string(),
        "session closed: router aborted: wamp.error.not_authorized"
    );
    assert_eq!(error.kind(), "session");
    // It keeps trying (and keeps being refused), never getting data.
    next_matching(&mut rx, wait, "second refusal", |u| {
        matches!(u, Update::Down { .. })
    })
    .await;
    assert!(
        router
            .seen
            .logins_refused
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    assert_eq!(
        router.seen.logins_ok.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    stop_tx.send_replace(true);
    client.await.expect("stops");
}

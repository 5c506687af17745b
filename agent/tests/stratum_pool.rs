//! Integration tests: the client against the independent test pool over real TCP/TLS.

mod support;

use std::sync::Arc;
use std::time::Duration;

use hashward_agent::miner::stratum::{PoolEvent, ShareOutcome};
use support::miner::{find_share, test_config, Harness, Miner};
use support::pool::{PoolOptions, TestPool};

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mines_with_zero_rejects_across_difficulty_changes_and_clean_jobs() {
    let pool = TestPool::start(PoolOptions {
        job_interval: Some(Duration::from_millis(150)),
        clean_every: 4,
        diff_cycle: vec![6, 7, 5, 8],
        diff_every: 3,
        // In-flight races on a loaded 2-core machine must not count as client bugs here;
        // `no_share_for_a_cleaned_job_reaches_the_pool` checks dropping deterministically.
        stale_grace: Duration::from_secs(1),
        ..PoolOptions::default()
    })
    .await;
    let mut cfg = test_config(&[pool.url()]);
    cfg.version_rolling_mask = Some(0x1fff_e000);
    let h = Harness::start(cfg);
    let mut miner = Miner::start(&h, true);
    tokio::time::sleep(Duration::from_secs(3)).await;
    miner.stop();
    let found = miner.found.load(std::sync::atomic::Ordering::Relaxed);
    // Every share handed over gets an outcome.
    h.wait_until("all share results", T, |r| r.outcomes().len() as u64 == found)
        .await;
    let pc = pool.counters();
    let stats = &h.handle.stats()[0];
    let dropped = stats.stale_dropped;
    assert!(pc.accepted >= 30, "too few accepted shares: {pc:?}");
    assert_eq!(pc.rejected_total(), 0, "pool rejected shares: {pc:?}");
    assert_eq!(pc.cleaned_job_submissions, 0, "{pc:?}");
    assert!(pc.rolled_accepted > 0, "version rolling not exercised: {pc:?}");
    assert_eq!(pc.configure_requests, 1);
    assert_eq!(stats.accepted, pc.accepted);
    assert_eq!(stats.rejected.total(), 0);
    assert_eq!(stats.accepted + dropped, found, "{stats:?}");
    assert_eq!(stats.version_mask, Some(0x1fff_e000));
    assert!(stats.difficulty.is_some());
    assert!(stats.last_share_time.is_some());
    assert!(stats.mean_submit_latency().is_some());
    assert_eq!(
        stats.malformed_lines + stats.unknown_methods + stats.oversized_lines,
        0
    );
    // Difficulty really varied: jobs with different targets were seen.
    let targets: std::collections::HashSet<[u8; 32]> =
        h.with(|r| r.jobs().iter().map(|j| j.target.0).collect());
    assert!(targets.len() >= 2, "difficulty never changed");
    assert!(h.with(|r| r.jobs().iter().any(|j| j.clean && j.generation > 1)));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_pool_disconnects_and_drops_old_shares() {
    let pool = TestPool::start(PoolOptions::default()).await;
    let h = Harness::start(test_config(&[pool.url()]));
    let job = h.wait_job("first job", T, |_| true).await;
    let held = find_share(&job, None, true).expect("share");

    pool.disconnect_all();
    h.wait_until("reconnect", T, |r| r.connected_pools() == vec![0, 0])
        .await;
    assert!(h.with(|r| r.disconnects()) >= 1);
    pool.wait_for("second connection", T, |c| c.connections_total == 2)
        .await;
    // A share found on the old connection must not be sent on the new one.
    h.handle.submit(held).expect("client running");
    h.wait_until("stale drop", T, |r| {
        r.outcomes().contains(&ShareOutcome::DroppedStale)
    })
    .await;
    // Mining goes on over the new connection.
    let job2 = h
        .wait_job("job after reconnect", T, |j| j.generation > job.generation)
        .await;
    h.handle
        .submit(find_share(&job2, None, true).expect("share"))
        .expect("client running");
    pool.wait_for("accepted share", T, |c| c.accepted == 1).await;
    let s = &h.handle.stats()[0];
    assert_eq!(s.stale_dropped, 1);
    assert!(s.connects >= 2 && s.disconnects >= 1, "{s:?}");
    assert_eq!(pool.counters().rejected_total(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_second_pool_and_returns_to_primary() {
    let primary = TestPool::start(PoolOptions::default()).await;
    let backup = TestPool::start(PoolOptions::default()).await;
    let addr = primary.addr();
    let mut cfg = test_config(&[primary.url(), backup.url()]);
    cfg.primary_retry_interval = Duration::from_millis(500);
    let h = Harness::start(cfg);
    let mut miner = Miner::start(&h, false);
    primary
        .wait_for("shares on primary", T, |c| c.accepted >= 3)
        .await;

    primary.kill();
    drop(primary);
    backup.wait_for("shares on backup", T, |c| c.accepted >= 3).await;
    assert!(h.with(|r| r.connected_pools().contains(&1)));

    // The primary comes back on the same port: the client must return to it.
    let primary = TestPool::start_on(addr, PoolOptions::default()).await;
    primary
        .wait_for("shares on restarted primary", T, |c| c.accepted >= 3)
        .await;
    let pools = h.with(|r| r.connected_pools());
    assert_eq!(pools.last(), Some(&0), "{pools:?}");
    miner.stop();
    let stats = h.handle.stats();
    assert!(stats[0].connects >= 2 && stats[1].connects >= 1, "{stats:#?}");
    assert!(stats[0].connect_failures >= 1);
    assert_eq!(stats[0].rejected.total() + stats[1].rejected.total(), 0);
    assert_eq!(backup.counters().rejected_total(), 0);
    assert_eq!(primary.counters().rejected_total(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_share_for_a_cleaned_job_reaches_the_pool() {
    let pool = TestPool::start(PoolOptions::default()).await;
    let h = Harness::start(test_config(&[pool.url()]));
    let j1 = h.wait_job("first job", T, |_| true).await;
    let old = find_share(&j1, None, true).expect("share");

    // A non-clean job keeps older jobs valid: a share for j1 is still sent and accepted.
    let id2 = pool.new_job(false);
    let j2 = h.wait_job("job 2", T, |j| j.job_id == id2).await;
    assert!(!j2.clean);
    assert_eq!(j2.generation, j1.generation);
    h.handle.submit(old).expect("running");
    pool.wait_for("share for the still-valid job", T, |c| c.accepted == 1)
        .await;

    // After clean_jobs, shares for j1 and j2 must be dropped by the client.
    let old1 = find_share(&j1, None, true).expect("share");
    let old2 = find_share(&j2, None, true).expect("share");
    let id3 = pool.new_job(true);
    let j3 = h.wait_job("clean job 3", T, |j| j.job_id == id3).await;
    assert!(j3.clean && j3.generation > j2.generation);
    // Wait past the pool's in-flight grace so any such share would be counted as a bug.
    tokio::time::sleep(Duration::from_millis(400)).await;
    h.handle.submit(old1).expect("running");
    h.handle.submit(old2).expect("running");
    h.handle
        .submit(find_share(&j3, None, true).expect("share"))
        .expect("running");
    pool.wait_for("share for the new job", T, |c| c.accepted == 2)
        .await;
    h.wait_until("two stale drops", T, |r| {
        r.outcomes()
            .iter()
            .filter(|o| **o == ShareOutcome::DroppedStale)
            .count()
            == 2
    })
    .await;
    let pc = pool.counters();
    assert_eq!(pc.cleaned_job_submissions, 0, "{pc:?}");
    assert_eq!(pc.rejected_total(), 0, "{pc:?}");
    assert_eq!(h.handle.stats()[0].stale_dropped, 2);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_are_counted_and_skipped() {
    let pool = TestPool::start(PoolOptions::default()).await;
    let h = Harness::start(test_config(&[pool.url()]));
    h.wait_job("first job", T, |_| true).await;
    pool.send_raw("this is not json");
    pool.send_raw(r#"{"id":null,"method":"mining.notify","params":"oops"}"#);
    pool.send_raw(r#"{"id":null,"method":"mining.notify","params":[1,2,3]}"#);
    pool.send_raw(r#"{"id":null,"method":"mining.set_difficulty","params":["x"]}"#);
    pool.send_raw("[]");
    pool.send_raw(&format!("{{\"junk\":\"{}\"}}", "z".repeat(100 * 1024)));
    pool.send_raw(r#"{"id":null,"method":"mining.bogus","params":[]}"#);
    pool.send_raw(r#"{"id":77,"result":true,"error":null}"#); // answer to nothing: ignored
    let id = pool.new_job(false);
    let job = h.wait_job("job after garbage", T, |j| j.job_id == id).await;
    let s = &h.handle.stats()[0];
    assert_eq!(s.malformed_lines, 5, "{s:?}");
    assert_eq!(s.oversized_lines, 1, "{s:?}");
    assert_eq!(s.unknown_methods, 1, "{s:?}");
    // Same connection, still working.
    h.handle
        .submit(find_share(&job, None, true).expect("share"))
        .expect("running");
    pool.wait_for("accepted", T, |c| c.accepted == 1).await;
    assert_eq!(pool.counters().connections_total, 1);
    assert_eq!(h.with(|r| r.disconnects()), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_rejections_are_counted_by_reason() {
    let pool = TestPool::start(PoolOptions::default()).await;
    let h = Harness::start(test_config(&[pool.url()]));
    let job = h.wait_job("first job", T, |_| true).await;
    let good = find_share(&job, None, true).expect("share");
    h.handle.submit(good.clone()).expect("running");
    h.handle.submit(good).expect("running"); // duplicate -> 22
    h.handle
        .submit(find_share(&job, None, false).expect("bad share"))
        .expect("running"); // low difficulty -> 23
    pool.wait_for("three answers", T, |c| c.accepted + c.rejected_total() == 3)
        .await;
    pool.forget_jobs();
    h.handle
        .submit(find_share(&job, None, true).expect("share"))
        .expect("running"); // unknown job -> 21
    h.wait_until("four results", T, |r| r.outcomes().len() == 4).await;
    let pc = pool.counters();
    assert_eq!(
        (
            pc.accepted,
            pc.rejected_code(22),
            pc.rejected_code(23),
            pc.rejected_code(21)
        ),
        (1, 1, 1, 1),
        "{pc:?}"
    );
    let s = &h.handle.stats()[0];
    assert_eq!(s.accepted, 1);
    assert_eq!(
        (
            s.rejected.duplicate,
            s.rejected.low_difficulty,
            s.rejected.job_not_found,
            s.rejected.total()
        ),
        (1, 1, 1, 3),
        "{s:?}"
    );
    assert_eq!(s.answered_submits, 4);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_worker_is_not_connected_and_rolling_needs_a_mask() {
    // A pool that refuses tester.0 and grants no version rolling; the backup accepts.
    let refusing = TestPool::start(PoolOptions {
        refuse_users: vec!["tester.0".into()],
        ..PoolOptions::default()
    })
    .await;
    let backup = TestPool::start(PoolOptions {
        version_mask: None,
        ..PoolOptions::default()
    })
    .await;
    let mut cfg = test_config(&[refusing.url(), backup.url()]);
    cfg.version_rolling_mask = Some(0x1fff_e000);
    let h = Harness::start(cfg);
    let job = h.wait_job("job from backup", T, |j| j.pool == 1).await;
    assert_eq!(job.version_mask, None, "no mask granted, no rolling");
    assert!(h.with(|r| !r.connected_pools().contains(&0)));
    assert!(h.handle.stats()[0].connect_failures >= 1);
    // A share with version bits cannot be expressed without a mask: dropped, not sent.
    let mut s = find_share(&job, None, true).expect("share");
    s.version_bits = Some(0x2000);
    h.handle.submit(s).expect("running");
    h.wait_until("invalid drop", T, |r| {
        r.outcomes().contains(&ShareOutcome::DroppedInvalid)
    })
    .await;
    assert_eq!(backup.counters().accepted + backup.counters().rejected_total(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mines_over_tls() {
    let cert = include_bytes!("fixtures/server.der").to_vec();
    let key = include_bytes!("fixtures/server.key.der").to_vec();
    let ca = include_bytes!("fixtures/ca.der").to_vec();
    let server =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(cert)],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
            )
            .expect("server cert");
    let pool = TestPool::start(PoolOptions {
        tls: Some(Arc::new(server)),
        ..PoolOptions::default()
    })
    .await;
    let url = format!("stratum+ssl://{}", pool.addr());

    // Without the test CA the certificate is not trusted: no connection.
    let h = Harness::start(test_config(std::slice::from_ref(&url)));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(h.with(|r| r.connected_pools().is_empty()));
    assert!(h.handle.stats()[0].connect_failures >= 1);
    h.stop().await;

    let mut cfg = test_config(&[url]);
    cfg.extra_root_certs = vec![ca];
    let h = Harness::start(cfg);
    let mut miner = Miner::start(&h, false);
    pool.wait_for("shares over TLS", T, |c| c.accepted >= 5).await;
    miner.stop();
    assert_eq!(pool.counters().rejected_total(), 0);
    assert!(h.with(|r| r
        .events
        .iter()
        .any(|e| matches!(e, PoolEvent::Connected { url, .. } if url.starts_with("stratum+ssl://")))));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_set_extranonce_and_client_reconnect() {
    let pool = TestPool::start(PoolOptions::default()).await;
    let h = Harness::start(test_config(&[pool.url()]));
    let j1 = h.wait_job("first job", T, |_| true).await;
    let old = find_share(&j1, None, true).expect("share");

    // New extranonce1: the latest job is re-issued (clean, new generation) with it.
    pool.set_extranonce(&[0xde, 0xad, 0xbe, 0xef]);
    let j2 = h
        .wait_job("re-keyed job", T, |j| j.generation > j1.generation)
        .await;
    assert!(j2.clean);
    assert_eq!(j2.job_id, j1.job_id);
    assert!(j2.coinbase(0).windows(4).any(|w| w == [0xde, 0xad, 0xbe, 0xef]));
    h.handle.submit(old).expect("running");
    h.handle
        .submit(find_share(&j2, None, true).expect("share"))
        .expect("running");
    pool.wait_for("share with the new extranonce1", T, |c| c.accepted == 1)
        .await;
    h.wait_until("old share dropped", T, |r| {
        r.outcomes().contains(&ShareOutcome::DroppedStale)
    })
    .await;

    // client.reconnect to another host is refused; to the same host it is followed.
    pool.send_raw(r#"{"id":null,"method":"client.reconnect","params":["elsewhere.example",3333,0]}"#);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.with(|r| r.disconnects()),
        0,
        "reconnect to another host must be refused"
    );
    let port = pool.addr().port();
    pool.send_raw(&format!(
        r#"{{"id":null,"method":"client.reconnect","params":["127.0.0.1",{port},0]}}"#
    ));
    pool.wait_for("reconnection", T, |c| c.connections_total == 2)
        .await;
    h.wait_until("connected twice", T, |r| r.connected_pools() == vec![0, 0])
        .await;
    assert_eq!(pool.counters().rejected_total(), 0);
    h.stop().await;
}

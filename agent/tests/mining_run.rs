//! The agent binary mines against two real Stratum test pools for 60 s: zero rejected shares,
//! it survives a pool disconnect, fails over to the second pool when the first dies, and never
//! submits a share for a job the pool had cleaned. The pools verify every share with their own
//! header construction and hashing.

mod support;

use std::time::{Duration, Instant};
use support::agent;
use support::pool::{PoolOptions, TestPool};

fn options() -> PoolOptions {
    PoolOptions {
        // Difficulty 1/1024: several shares a second from two threads even when other test
        // processes hold the cores (the share rate, not a race, is what a loaded machine slows).
        share_bits: 22,
        job_interval: Some(Duration::from_millis(700)),
        clean_every: 3,
        ..PoolOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_mines_60s_with_disconnect_and_failover_and_no_rejects() {
    let p1 = TestPool::start(options()).await;
    let p2 = TestPool::start(options()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Telemetry every second, so the last spooled record (checked below) is sampled after the
    // failover counts were reached, however long the loaded machine took to get there.
    let config = agent::write_config(dir.path(), "miner-1", "[telemetry]\ninterval_ms = 1000\n");
    let (p1_url, p2_url) = (p1.url(), p2.url());
    let args = [
        "-o",
        &p1_url,
        "-o",
        &p2_url,
        "-u",
        "wallet.miner-1",
        "--algo",
        "sha256d",
        "--threads",
        "2",
    ];
    let _agent = agent::run(&config, &args, &dir.path().join("agent.log"));
    let start = Instant::now();
    let log_text = || std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();

    // Generous deadlines: on a loaded 2-core CI machine the share rate drops by 3x or more.
    p1.wait_for("shares on the primary", Duration::from_secs(90), |c| {
        c.accepted >= 20
    })
    .await;
    p1.disconnect_all();
    let before = p1.counters().accepted;
    p1.wait_for("reconnect to the primary", Duration::from_secs(90), |c| {
        c.accepted >= before + 10
    })
    .await;
    p1.kill();
    p2.wait_for("failover to the second pool", Duration::from_secs(90), |c| {
        c.accepted >= 10
    })
    .await;
    // At least three telemetry intervals after the second pool's tenth share, even when the
    // waits above took the whole minute: the agent's last sample must have seen those shares.
    let rest = Duration::from_secs(60)
        .saturating_sub(start.elapsed())
        .max(Duration::from_secs(3));
    tokio::time::sleep(rest).await;

    let (c1, c2) = (p1.counters(), p2.counters());
    let log = log_text();
    assert_eq!(
        c1.rejected_total() + c2.rejected_total(),
        0,
        "rejected shares: {c1:?} {c2:?}\n{log}"
    );
    assert_eq!(
        c1.cleaned_job_submissions + c2.cleaned_job_submissions,
        0,
        "shares for cleaned jobs\n{log}"
    );
    assert!(c1.connections_total >= 2, "the primary saw no reconnect: {c1:?}");
    assert!(c2.accepted >= 10, "too few shares after failover: {c2:?}");
    assert!(log.contains("sha256d-"), "kernel named in the log:\n{log}");

    // The miner's figures reach telemetry: the agent had no broker, so every record is still in
    // its spool; the last one must carry the miner with a hashrate and the second pool's counts.
    drop(_agent);
    let spool =
        hashward_agent::link::Spool::open(&dir.path().join("data/spool.redb"), 64 << 20).expect("spool");
    let last = spool
        .read_after(0, 100_000)
        .expect("read")
        .pop()
        .expect("telemetry was spooled");
    let env = hashward_protocol::decode(&last.payload).expect("decodes");
    let hashward_protocol::Body::Tele(t) = env.body else {
        panic!("not telemetry: {:?}", env.body)
    };
    let m = t.miner.expect("miner telemetry");
    assert_eq!((m.algo.as_str(), m.threads), ("sha256d", 2));
    assert!(m.kernel.starts_with("sha256d-"), "{}", m.kernel);
    assert!(m.hashrate_10s.0 > 1e5 && m.hashrate_60s.0 > 1e5, "{m:?}");
    let pool = m.pool.expect("pool telemetry");
    assert!(pool.connected && pool.url == p2.url(), "{pool:?}");
    assert!(pool.accepted >= 10 && pool.rejected == 0, "{pool:?}");
}

//! The network sources against fakes on loopback: a bitcoind JSON-RPC that checks auth and a
//! mempool.space-style explorer. Each answers right, then garbage, a changed schema, too slowly,
//! or not at all: each failure is an error of its own kind, and nothing panics.

mod support {
    pub mod chain_fakes;
}

use hashward_hub::collect::chain::Coin;
use hashward_hub::collect::config::{ApiKey, SourceConfig};
use hashward_hub::collect::explorer::Explorer;
use hashward_hub::collect::http::HttpClient;
use hashward_hub::collect::node_rpc::{NodeConfig, NodeRpc};
use hashward_hub::collect::source::{ErrorKind, Observation, PollSource, SourceError};
use hashward_protocol::pool::NetworkSnapshot;
use std::time::Duration;
use support::chain_fakes::{self, Mode, RPC_PASSWORD, RPC_USER};

async fn poll(src: &mut dyn PollSource) -> Result<NetworkSnapshot, SourceError> {
    let limit = src.limits().timeout;
    let polled = tokio::time::timeout(limit, src.poll(0, None, hashward_common::clock::now_ms()))
        .await
        .unwrap_or(Err(SourceError::Timeout { after_ms: 0 }))?;
    match polled.observations.into_iter().next() {
        Some(Observation::Network(n)) => Ok(n),
        other => panic!("not a network observation: {other:?}"),
    }
}

fn node(url: String, password: &str) -> NodeRpc {
    NodeRpc::new(
        Coin::Bitcoin,
        NodeConfig {
            url: Some(url),
            user: Some(RPC_USER.into()),
            password: Some(ApiKey::new(password)),
            timeout_s: Some(1.0),
            ..NodeConfig::default()
        },
        HttpClient::new().expect("client"),
    )
}

#[tokio::test]
async fn bitcoind_rpc_answers_checks_auth_and_fails_by_kind() {
    let fake = chain_fakes::bitcoind("127.0.0.1:0".parse().expect("addr")).await;
    let url = format!("http://{}/", fake.addr);

    let mut good = node(url.clone(), RPC_PASSWORD);
    let n = poll(&mut good).await.expect("snapshot");
    assert_eq!(
        (n.coin.as_str(), n.height, n.blocks_to_retarget),
        ("bitcoin", 870_000, Some(912))
    );
    assert_eq!((n.network_difficulty, n.network_hashrate), (9.0e13, Some(6.5e20)));
    // Six blocks of fees, 0.1 and 0.3 BTC alternating: 0.2 on top of the 3.125 subsidy.
    assert_eq!(n.mean_fees_coins, Some(0.2));
    assert!((n.block_reward - 3.325).abs() < 1e-12);
    assert_eq!((n.source.as_str(), n.quality.score), ("node_rpc", 1.0));

    let mut wrong = node(url.clone(), "guess");
    let e = poll(&mut wrong).await.expect_err("refused");
    assert_eq!(e, SourceError::HttpStatus { status: 401 });
    assert!(!e.to_string().contains("guess"));
    assert!(
        fake.control
            .unauthorized
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );

    fake.control.set(Mode::Garbage);
    assert_eq!(
        poll(&mut good).await.expect_err("garbage").kind(),
        ErrorKind::Decode
    );
    fake.control.set(Mode::ChangedSchema);
    let e = poll(&mut good).await.expect_err("changed");
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(e.to_string().contains("`blocks`"), "{e}");
    fake.control.set(Mode::Slow);
    assert_eq!(
        poll(&mut good).await.expect_err("slow").kind(),
        ErrorKind::Timeout
    );
    fake.kill();
    // The abort takes effect at the listener's next poll; bounded retries until refused.
    let mut kind = None;
    for _ in 0..50 {
        match poll(&mut good).await {
            Err(e) if e.kind() == ErrorKind::Connect => {
                kind = Some(e.kind());
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(kind, Some(ErrorKind::Connect));

    // Back on the same port, answering: the same source recovers.
    let back = chain_fakes::bitcoind(fake.addr).await;
    assert_eq!(poll(&mut good).await.expect("recovered").height, 870_000);
    drop(back);
}

#[tokio::test]
async fn cookie_file_auth_is_read_at_each_poll() {
    let fake = chain_fakes::bitcoind("127.0.0.1:0".parse().expect("addr")).await;
    let dir = tempfile::tempdir().expect("dir");
    let cookie = dir.path().join(".cookie");
    std::fs::write(&cookie, format!("{RPC_USER}:{RPC_PASSWORD}")).expect("cookie");
    let mut src = NodeRpc::new(
        Coin::Bitcoin,
        NodeConfig {
            url: Some(format!("http://{}/", fake.addr)),
            cookie_file: Some(cookie.clone()),
            timeout_s: Some(2.0),
            ..NodeConfig::default()
        },
        HttpClient::new().expect("client"),
    );
    assert_eq!(poll(&mut src).await.expect("cookie auth").height, 870_000);
    // The node restarted with a new cookie this hub cannot know: refused, not a crash.
    std::fs::write(&cookie, "__cookie__:rotated").expect("cookie");
    assert_eq!(
        poll(&mut src).await.expect_err("stale cookie"),
        SourceError::HttpStatus { status: 401 }
    );
    std::fs::remove_file(&cookie).expect("rm");
    let e = poll(&mut src).await.expect_err("no cookie");
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert!(e.to_string().contains(".cookie"), "{e}");
}

#[tokio::test]
async fn explorer_answers_and_fails_by_kind() {
    let fake = chain_fakes::explorer("127.0.0.1:0".parse().expect("addr")).await;
    let cfg: SourceConfig =
        toml::from_str(&format!("base_url = \"http://{}\"\ntimeout_s = 1\n", fake.addr)).expect("cfg");
    let mut src = Explorer::new(Coin::Bitcoin, cfg, HttpClient::new().expect("client")).expect("explorer");
    let n = poll(&mut src).await.expect("snapshot");
    assert_eq!(
        (n.height, n.blocks_to_retarget, n.network_hashrate),
        (870_000, Some(912), Some(6.4e20))
    );
    assert_eq!(n.mean_fees_coins, Some(0.25));
    assert_eq!((n.source.as_str(), n.quality.score), ("explorer", 1.0));

    fake.control.set(Mode::Garbage);
    assert_eq!(
        poll(&mut src).await.expect_err("garbage").kind(),
        ErrorKind::Decode
    );
    fake.control.set(Mode::ChangedSchema);
    let e = poll(&mut src).await.expect_err("changed");
    assert!(e.to_string().contains("remainingBlocks"), "{e}");
    fake.control.set(Mode::Slow);
    assert_eq!(poll(&mut src).await.expect_err("slow").kind(), ErrorKind::Timeout);
    fake.control.set(Mode::Ok);
    assert_eq!(poll(&mut src).await.expect("recovered").height, 870_000);
    // Dogecoin has no public instance: without a base_url there is no explorer for it.
    assert!(Explorer::new(
        Coin::Dogecoin,
        SourceConfig::default(),
        HttpClient::new().expect("c")
    )
    .is_none());
}

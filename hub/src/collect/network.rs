//! Which network source each coin gets: its own full node when `[collect.node.COIN]` is present
//! and enabled, else its explorer (`[collect.explorer.COIN]`, on by default where a public
//! mempool-style instance exists: bitcoin and litecoin). Every coin's sources are registered in
//! `/sources`, the unused ones as `disabled` with a note saying why.
//!
//! Must never start a source for a coin it does not know: an unknown coin key is a config error
//! naming it.

use super::chain::Coin;
use super::config::CollectConfig;
use super::explorer::{self, Explorer};
use super::http::HttpClient;
use super::node_rpc::{self, NodeRpc};
use super::source::{PollSource, Registry, SourceState};

/// The network poll sources `cfg` asks for; a config that cannot work is an error naming its key.
pub fn sources(
    cfg: &CollectConfig,
    http: &HttpClient,
    registry: &Registry,
) -> Result<Vec<Box<dyn PollSource>>, String> {
    let nodes = cfg.node.clone().unwrap_or_default();
    let explorers = cfg.explorer.clone().unwrap_or_default();
    for key in nodes.keys() {
        Coin::parse(key).map_err(|e| format!("collect.node.{key}: {e}"))?;
    }
    for (key, c) in &explorers {
        Coin::parse(key).map_err(|e| format!("collect.explorer.{key}: {e}"))?;
        c.check(&format!("explorer.{key}"), &["network"])?;
    }
    let mut out: Vec<Box<dyn PollSource>> = Vec::new();
    for coin in Coin::ALL {
        let node_status = registry.register(node_rpc::source_name(coin));
        let explorer_status = registry.register(explorer::source_name(coin));
        let node = nodes.get(coin.as_str()).filter(|n| n.enabled());
        let ex_cfg = explorers.get(coin.as_str()).cloned().unwrap_or_default();
        if let Some(n) = node {
            n.check(coin.as_str())?;
            out.push(Box::new(NodeRpc::new(coin, n.clone(), http.clone())));
            let mut s = explorer_status.lock();
            s.state = SourceState::Disabled;
            s.note = Some(format!("[collect.node.{}] is the network source", coin.as_str()));
        } else {
            let mut s = node_status.lock();
            s.state = SourceState::Disabled;
            s.note = Some(format!("no [collect.node.{}] section", coin.as_str()));
            drop(s);
            if !ex_cfg.enabled() {
                explorer_status.lock().state = SourceState::Disabled;
                continue;
            }
            match Explorer::new(coin, ex_cfg, http.clone()) {
                Some(e) => out.push(Box::new(e)),
                None => {
                    let mut s = explorer_status.lock();
                    s.state = SourceState::Disabled;
                    s.note = Some(format!(
                        "no public explorer for {}: set [collect.explorer.{}] base_url or a node",
                        coin.as_str(),
                        coin.as_str()
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_replaces_the_explorer_and_unknown_coins_are_refused() {
        let cfg: CollectConfig = toml::from_str(
            "[node.bitcoin]\nurl = \"http://127.0.0.1:8332\"\n[explorer.dogecoin]\nenabled = false\n",
        )
        .expect("parses");
        let reg = Registry::default();
        let http = HttpClient::new().expect("http");
        let names: Vec<&str> = sources(&cfg, &http, &reg)
            .expect("ok")
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(names, ["node_bitcoin", "explorer_litecoin"]);
        let all = reg.all();
        let state = |n: &str| all.iter().find(|s| s.name == n).map(|s| s.state);
        assert_eq!(state("explorer_bitcoin"), Some(SourceState::Disabled));
        assert_eq!(state("explorer_dogecoin"), Some(SourceState::Disabled));

        let bad: CollectConfig = toml::from_str("[node.ethereum]\nurl = \"http://x\"\n").expect("parses");
        let e = sources(&bad, &http, &Registry::default()).err().expect("refused");
        assert!(e.contains("collect.node.ethereum"), "{e}");
        let bad: CollectConfig = toml::from_str("[node.bitcoin]\nfee_blocks = 0\n").expect("parses");
        assert!(sources(&bad, &http, &Registry::default())
            .err()
            .expect("refused")
            .contains("fee_blocks"));
        // Every source disabled (tests without internet): no network source runs.
        assert!(
            sources(&CollectConfig::all_disabled(), &http, &Registry::default())
                .expect("ok")
                .is_empty()
        );
    }
}

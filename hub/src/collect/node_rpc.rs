//! A coin's network data from the operator's own full node (bitcoind, litecoind, dogecoind)
//! over JSON-RPC 1.0: `getblockchaininfo` (height, tip, difficulty), `getmininginfo`
//! (`networkhashps`), `getblockheader` of the tip (its time, for freshness) and of the retarget
//! epoch's first block (`getblockhash` of its height: the epoch estimate's start), and `getblockstats`
//! of the last `fee_blocks` blocks (`totalfee`, for the mean fees added to the subsidy; a node
//! without that method, such as Dogecoin Core 1.14, leaves the fees unknown). Auth is HTTP Basic
//! with the node's cookie file (`__cookie__:<hex>`, re-read on every poll because the node
//! rewrites it at each start) or a configured user and password.
//!
//! Must never put the password or the cookie in an error, a log line or `/sources`.

use super::chain::{network_quality, Coin};
use super::config::ApiKey;
use super::http::HttpClient;
use super::source::{BoxFuture, JobSpec, Limits, Observation, PollSource, Polled, SourceError};
use base64::Engine;
use hashward_protocol::pool::NetworkSnapshot;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// `[collect.node.<coin>]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Default true when the section is present.
    pub enabled: Option<bool>,
    /// Default the node's own RPC port on loopback: `http://127.0.0.1:8332` (bitcoind),
    /// `:9332` (litecoind), `:22555` (dogecoind).
    pub url: Option<String>,
    /// The node's `.cookie` file; takes precedence over user/password.
    pub cookie_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<ApiKey>,
    /// Poll interval, seconds (default 60).
    pub interval_s: Option<f64>,
    /// Recent blocks whose fees are averaged (default 6, at most 144).
    pub fee_blocks: Option<u32>,
    /// Per-request timeout, seconds (default 10).
    pub timeout_s: Option<f64>,
}

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// The node's RPC URL on loopback at its default port.
pub fn default_url(coin: Coin) -> &'static str {
    match coin {
        Coin::Bitcoin => "http://127.0.0.1:8332/",
        Coin::Litecoin => "http://127.0.0.1:9332/",
        Coin::Dogecoin => "http://127.0.0.1:22555/",
    }
}

impl NodeConfig {
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// Refuses values that cannot work, naming the key.
    pub fn check(&self, coin: &str) -> Result<(), String> {
        if let Some(u) = &self.url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "collect.node.{coin}.url: must start with http:// or https://"
                ));
            }
        }
        for (key, v) in [("interval_s", self.interval_s), ("timeout_s", self.timeout_s)] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("collect.node.{coin}.{key}: must be above 0, not {v}"));
                }
            }
        }
        if self.fee_blocks.is_some_and(|n| n == 0 || n > 144) {
            return Err(format!("collect.node.{coin}.fee_blocks: must be 1 to 144"));
        }
        if self.password.is_some() && self.user.is_none() && self.cookie_file.is_none() {
            return Err(format!("collect.node.{coin}.password: given without user"));
        }
        Ok(())
    }
}

/// The `Authorization` header value, read fresh (the cookie changes at every node start).
fn authorization(cfg: &NodeConfig) -> Result<Option<String>, SourceError> {
    let creds = if let Some(path) = &cfg.cookie_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SourceError::Connect(format!("cookie file {}: {}", path.display(), e.kind())))?;
        let text = text.trim().to_string();
        if !text.contains(':') {
            return Err(SourceError::Connect(format!(
                "cookie file {}: not in user:password form",
                path.display()
            )));
        }
        text
    } else {
        match (&cfg.user, &cfg.password) {
            (Some(u), Some(p)) => format!("{u}:{}", p.expose()),
            (Some(u), None) => format!("{u}:"),
            _ => return Ok(None),
        }
    };
    Ok(Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    )))
}

/// A JSON-RPC reply's `result`, or the node's error as [`SourceError::Api`].
pub fn rpc_result(status: u16, body: &[u8]) -> Result<Value, SourceError> {
    if status == 401 || status == 403 {
        // bitcoind answers a bad password with an empty 401.
        return Err(SourceError::HttpStatus { status });
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        if (200..300).contains(&status) {
            SourceError::Decode("the node's reply is not JSON".into())
        } else {
            SourceError::HttpStatus { status }
        }
    })?;
    match v.get("error") {
        Some(Value::Null) | None => {}
        Some(e) => {
            let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
            let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(SourceError::Api(format!("RPC error {code}: {msg}")));
        }
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| SourceError::Decode("JSON-RPC reply without `result`".into()))
}

fn num(v: &Value, method: &str, field: &str) -> Result<f64, SourceError> {
    v.get(field)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| SourceError::Decode(format!("{method}: `{field}` missing or not a number")))
}

/// The pure part: the replies in, the snapshot out. `fees` are the `getblockstats` replies
/// (None: the node has no such method).
pub fn snapshot(
    coin: Coin,
    chain: &Value,
    mining: &Value,
    header: &Value,
    fees: Option<&[Value]>,
    now_ms: u64,
) -> Result<NetworkSnapshot, SourceError> {
    let height = num(chain, "getblockchaininfo", "blocks")? as u64;
    let difficulty = num(chain, "getblockchaininfo", "difficulty")?;
    let hashrate = mining
        .get("networkhashps")
        .and_then(Value::as_f64)
        .filter(|h| *h > 0.0);
    let tip_time = num(header, "getblockheader", "time")? as u64;
    let mean_fees = match fees {
        Some(list) if !list.is_empty() => {
            let mut total = 0.0;
            for s in list {
                total += num(s, "getblockstats", "totalfee")?;
            }
            Some(total / list.len() as f64 / coin.units_per_coin())
        }
        _ => None,
    };
    let subsidy = coin.subsidy(height);
    let known = usize::from(hashrate.is_some()) + usize::from(mean_fees.is_some());
    Ok(NetworkSnapshot {
        coin: coin.as_str().into(),
        height,
        network_difficulty: difficulty,
        network_hashrate: hashrate,
        block_reward: subsidy + mean_fees.unwrap_or(0.0),
        subsidy_coins: subsidy,
        mean_fees_coins: mean_fees,
        block_time: coin.block_time_s(),
        mining_algorithm: coin.algorithm().into(),
        blocks_to_retarget: coin.blocks_to_retarget(height),
        source: "node_rpc".into(),
        tip_time_ms: Some(tip_time * 1000),
        epoch_start_time_ms: None,
        fetched_at: super::dates::rfc3339(now_ms),
        fetched_at_ms: now_ms,
        quality: network_quality(coin, known, 2, Some((now_ms / 1000).saturating_sub(tip_time))),
    })
}

/// The `/sources` name of a coin's node.
pub fn source_name(coin: Coin) -> &'static str {
    match coin {
        Coin::Bitcoin => "node_bitcoin",
        Coin::Litecoin => "node_litecoin",
        Coin::Dogecoin => "node_dogecoin",
    }
}

/// The node as a poll source: one job, `network`.
pub struct NodeRpc {
    coin: Coin,
    name: &'static str,
    url: String,
    cfg: NodeConfig,
    http: HttpClient,
}

impl NodeRpc {
    pub fn new(coin: Coin, cfg: NodeConfig, http: HttpClient) -> NodeRpc {
        let url = cfg.url.clone().unwrap_or_else(|| default_url(coin).to_string());
        NodeRpc {
            coin,
            name: source_name(coin),
            url,
            cfg,
            http,
        }
    }

    async fn call(&self, auth: &Option<String>, method: &str, params: Value) -> Result<Value, SourceError> {
        let body = json!({"jsonrpc": "1.0", "id": "hashward", "method": method, "params": params});
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth {
            headers.push(("authorization", a.as_str()));
        }
        let r = self
            .http
            .post(&self.url, &headers, body.to_string().into_bytes())
            .await?;
        rpc_result(r.status, &r.body)
    }

    async fn fetch(&self, now_ms: u64) -> Result<NetworkSnapshot, SourceError> {
        let auth = authorization(&self.cfg)?;
        let chain = self.call(&auth, "getblockchaininfo", json!([])).await?;
        let mining = self.call(&auth, "getmininginfo", json!([])).await?;
        let tip = chain
            .get("bestblockhash")
            .and_then(Value::as_str)
            .ok_or_else(|| SourceError::Decode("getblockchaininfo: no `bestblockhash`".into()))?
            .to_string();
        let header = self.call(&auth, "getblockheader", json!([tip])).await?;
        let height = num(&chain, "getblockchaininfo", "blocks")? as u64;
        let n = u64::from(self.cfg.fee_blocks.unwrap_or(6).clamp(1, 144));
        let mut fees = Vec::new();
        let mut supported = true;
        for h in height.saturating_sub(n - 1)..=height {
            match self.call(&auth, "getblockstats", json!([h, ["totalfee"]])).await {
                Ok(v) => fees.push(v),
                // -32601: method not found (an older node); fees stay unknown.
                Err(SourceError::Api(m)) if m.starts_with("RPC error -32601") => {
                    supported = false;
                    break;
                }
                Err(SourceError::HttpStatus { status: 404 }) => {
                    supported = false;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let mut snap = snapshot(
            self.coin,
            &chain,
            &mining,
            &header,
            supported.then_some(fees.as_slice()),
            now_ms,
        )?;
        snap.epoch_start_time_ms = match self.coin.retarget_interval() {
            None => None,
            Some(iv) if height.is_multiple_of(iv) => snap.tip_time_ms,
            Some(iv) => {
                let hash = self
                    .call(&auth, "getblockhash", json!([height - height % iv]))
                    .await?;
                let hash = hash
                    .as_str()
                    .ok_or_else(|| SourceError::Decode("getblockhash: not a hash string".into()))?
                    .to_string();
                let first = self.call(&auth, "getblockheader", json!([hash])).await?;
                Some(num(&first, "getblockheader", "time")? as u64 * 1000)
            }
        };
        Ok(snap)
    }
}

impl PollSource for NodeRpc {
    fn name(&self) -> &'static str {
        self.name
    }

    fn jobs(&self) -> Vec<JobSpec> {
        vec![JobSpec {
            name: "network",
            interval: self.cfg.interval_s.map_or(DEFAULT_INTERVAL, super::config::secs),
            expected_cost: 0,
        }]
    }

    fn limits(&self) -> Limits {
        Limits {
            per_minute: 60,
            monthly_quota: None,
            timeout: self
                .cfg
                .timeout_s
                .map_or(Duration::from_secs(10), super::config::secs),
        }
    }

    fn poll<'a>(
        &'a mut self,
        _job: usize,
        _cursor: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Polled, SourceError>> {
        Box::pin(async move {
            let snap = self.fetch(now_ms).await?;
            Ok(Polled {
                observations: vec![Observation::Network(snap)],
                cost: 0,
                cursor: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_to_a_snapshot() {
        let chain = json!({"chain": "main", "blocks": 870000, "bestblockhash": "00ab", "difficulty": 9.0e13});
        let mining = json!({"blocks": 870000, "difficulty": 9.0e13, "networkhashps": 6.5e20});
        let header = json!({"height": 870000, "time": 1_800_000_000u64});
        let fees = [json!({"totalfee": 20_000_000}), json!({"totalfee": 40_000_000})];
        let s = snapshot(
            Coin::Bitcoin,
            &chain,
            &mining,
            &header,
            Some(&fees),
            1_800_000_060_000,
        )
        .expect("ok");
        assert_eq!((s.height, s.blocks_to_retarget), (870000, Some(912)));
        assert_eq!((s.subsidy_coins, s.mean_fees_coins), (3.125, Some(0.3)));
        assert!((s.block_reward - 3.425).abs() < 1e-12);
        assert_eq!((s.network_hashrate, s.quality.score), (Some(6.5e20), 1.0));
        // No getblockstats: fees unknown, reward is the subsidy, quality says so.
        let s = snapshot(Coin::Bitcoin, &chain, &mining, &header, None, 1_800_000_060_000).expect("ok");
        assert_eq!(
            (s.mean_fees_coins, s.block_reward, s.quality.score),
            (None, 3.125, 0.5)
        );
    }

    #[test]
    fn node_errors_and_changed_replies_are_errors_by_kind() {
        assert_eq!(rpc_result(401, b""), Err(SourceError::HttpStatus { status: 401 }));
        let e = rpc_result(
            500,
            br#"{"result":null,"error":{"code":-28,"message":"Loading block index..."},"id":"x"}"#,
        )
        .expect_err("warming up");
        assert_eq!(
            e,
            SourceError::Api("RPC error -28: Loading block index...".into())
        );
        assert!(matches!(rpc_result(200, b"<html>"), Err(SourceError::Decode(_))));
        assert!(matches!(
            rpc_result(502, b"<html>"),
            Err(SourceError::HttpStatus { status: 502 })
        ));
        let e = snapshot(
            Coin::Bitcoin,
            &json!({"blocks": "870000", "difficulty": 1.0}),
            &json!({}),
            &json!({"time": 1}),
            None,
            0,
        )
        .expect_err("height as string");
        assert!(e.to_string().contains("`blocks`"), "{e}");
    }

    #[test]
    fn auth_from_cookie_or_user_password_never_shown() {
        let dir = tempfile::tempdir().expect("dir");
        let cookie = dir.path().join(".cookie");
        std::fs::write(&cookie, "__cookie__:abc123\n").expect("write");
        let cfg = NodeConfig {
            url: Some("http://127.0.0.1:8332".into()),
            cookie_file: Some(cookie.clone()),
            ..NodeConfig::default()
        };
        assert_eq!(
            authorization(&cfg).expect("auth"),
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("__cookie__:abc123")
            ))
        );
        std::fs::write(&cookie, "garbage").expect("write");
        let e = authorization(&cfg).expect_err("bad cookie").to_string();
        assert!(!e.contains("garbage") && e.contains(".cookie"), "{e}");
        let cfg = NodeConfig {
            url: Some("http://x".into()),
            user: Some("rpc".into()),
            password: Some(ApiKey::new("s3cret")),
            ..NodeConfig::default()
        };
        assert!(authorization(&cfg).expect("auth").is_some());
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }
}

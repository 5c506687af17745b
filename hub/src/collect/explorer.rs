//! A coin's network data from a mempool.space-style explorer (mempool.space for bitcoin,
//! litecoinspace.org for litecoin; any instance of the same API by `base_url`), used when no
//! full node is configured for the coin: `/api/blocks/tip/height` (text),
//! `/api/v1/difficulty-adjustment` (`remainingBlocks`), `/api/v1/mining/hashrate/3d`
//! (`currentHashrate`, `currentDifficulty`; `previousTime` of the adjustment is the epoch's start) and, for the fees, `/api/v1/blocks` (the recent
//! blocks with `extras.totalFees` in the smallest unit; an instance without it leaves the fees
//! unknown and the quality lower).
//!
//! Must never take the explorer's word for the subsidy (it comes from the schedule in `chain`).

use super::chain::{network_quality, Coin};
use super::config::SourceConfig;
use super::http::HttpClient;
use super::source::{BoxFuture, JobSpec, Limits, Observation, PollSource, Polled, SourceError};
use hashward_protocol::pool::NetworkSnapshot;
use serde_json::Value;
use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// The public instance for a coin, if there is one.
pub fn default_base_url(coin: Coin) -> Option<&'static str> {
    match coin {
        Coin::Bitcoin => Some("https://mempool.space"),
        Coin::Litecoin => Some("https://litecoinspace.org"),
        Coin::Dogecoin => None,
    }
}

fn decode(what: &str, body: &[u8]) -> Result<Value, SourceError> {
    serde_json::from_slice(body).map_err(|_| SourceError::Decode(format!("{what}: not JSON")))
}

fn num(v: &Value, what: &str, field: &str) -> Result<f64, SourceError> {
    v.get(field)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| SourceError::Decode(format!("{what}: `{field}` missing or not a number")))
}

/// `/api/blocks/tip/height`: a bare decimal number.
pub fn tip_height(body: &[u8]) -> Result<u64, SourceError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| SourceError::Decode("tip height: not a number".into()))
}

/// Mean `extras.totalFees` (coins) and the newest block's timestamp (s) from `/api/v1/blocks`.
pub fn recent_fees(coin: Coin, blocks: &Value) -> Option<(f64, u64)> {
    let list = blocks.as_array()?;
    let fees: Vec<f64> = list
        .iter()
        .filter_map(|b| b.get("extras")?.get("totalFees")?.as_f64())
        .collect();
    let newest = list.iter().filter_map(|b| b.get("timestamp")?.as_u64()).max()?;
    (!fees.is_empty() && fees.len() == list.len()).then(|| {
        (
            fees.iter().sum::<f64>() / fees.len() as f64 / coin.units_per_coin(),
            newest,
        )
    })
}

/// The pure part: the answers in, the snapshot out.
pub fn snapshot(
    coin: Coin,
    height: u64,
    adjustment: &Value,
    hashrate: &Value,
    fees: Option<(f64, u64)>,
    now_ms: u64,
) -> Result<NetworkSnapshot, SourceError> {
    let remaining = num(adjustment, "difficulty-adjustment", "remainingBlocks")? as u64;
    let difficulty = num(hashrate, "mining/hashrate", "currentDifficulty")?;
    let network_hashrate = num(hashrate, "mining/hashrate", "currentHashrate")?;
    let subsidy = coin.subsidy(height);
    let mean_fees = fees.map(|f| f.0);
    Ok(NetworkSnapshot {
        coin: coin.as_str().into(),
        height,
        network_difficulty: difficulty,
        network_hashrate: Some(network_hashrate),
        block_reward: subsidy + mean_fees.unwrap_or(0.0),
        subsidy_coins: subsidy,
        mean_fees_coins: mean_fees,
        block_time: coin.block_time_s(),
        mining_algorithm: coin.algorithm().into(),
        // The explorer's own count for chains it retargets; the schedule's for the others.
        blocks_to_retarget: coin.retarget_interval().map(|_| remaining),
        source: "explorer".into(),
        tip_time_ms: fees.map(|f| f.1 * 1000),
        // `previousTime`: the epoch's first block, unix seconds (absent on older instances).
        epoch_start_time_ms: coin
            .retarget_interval()
            .and(adjustment.get("previousTime").and_then(Value::as_u64))
            .map(|s| s * 1000),
        fetched_at: super::dates::rfc3339(now_ms),
        fetched_at_ms: now_ms,
        quality: network_quality(
            coin,
            usize::from(mean_fees.is_some()),
            1,
            fees.map(|f| (now_ms / 1000).saturating_sub(f.1)),
        ),
    })
}

/// The `/sources` name of a coin's explorer.
pub fn source_name(coin: Coin) -> &'static str {
    match coin {
        Coin::Bitcoin => "explorer_bitcoin",
        Coin::Litecoin => "explorer_litecoin",
        Coin::Dogecoin => "explorer_dogecoin",
    }
}

pub struct Explorer {
    coin: Coin,
    name: &'static str,
    base_url: String,
    cfg: SourceConfig,
    http: HttpClient,
}

impl Explorer {
    /// None when the coin has no public instance and none is configured.
    pub fn new(coin: Coin, cfg: SourceConfig, http: HttpClient) -> Option<Explorer> {
        let base_url = cfg
            .base_url
            .clone()
            .or_else(|| default_base_url(coin).map(str::to_string))?;
        let name = source_name(coin);
        Some(Explorer {
            coin,
            name,
            base_url: base_url.trim_end_matches('/').to_string(),
            cfg,
            http,
        })
    }

    async fn fetch(&self, now_ms: u64) -> Result<NetworkSnapshot, SourceError> {
        let get = |path: &'static str| {
            let url = format!("{}{path}", self.base_url);
            let http = self.http.clone();
            async move { http.get_ok(&url, &[]).await }
        };
        let height = tip_height(&get("/api/blocks/tip/height").await?)?;
        let adjustment = decode(
            "difficulty-adjustment",
            &get("/api/v1/difficulty-adjustment").await?,
        )?;
        let hashrate = decode("mining/hashrate", &get("/api/v1/mining/hashrate/3d").await?)?;
        // Optional: only a missing endpoint is tolerated; anything else is the source failing.
        let fees = match get("/api/v1/blocks").await {
            Ok(body) => recent_fees(self.coin, &decode("blocks", &body)?),
            Err(SourceError::HttpStatus { status: 404 }) => None,
            Err(e) => return Err(e),
        };
        snapshot(self.coin, height, &adjustment, &hashrate, fees, now_ms)
    }
}

impl PollSource for Explorer {
    fn name(&self) -> &'static str {
        self.name
    }

    fn jobs(&self) -> Vec<JobSpec> {
        vec![JobSpec {
            name: "network",
            interval: self.cfg.interval("network", DEFAULT_INTERVAL),
            expected_cost: 4,
        }]
    }

    fn limits(&self) -> Limits {
        Limits {
            per_minute: self.cfg.per_minute.unwrap_or(10),
            monthly_quota: self.cfg.monthly_quota,
            timeout: self.cfg.timeout(),
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
                cost: 4,
                cursor: None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mempool_shapes_to_a_snapshot() {
        let adj = json!({"progressPercent": 54.76, "difficultyChange": 1.2, "remainingBlocks": 912,
            "nextRetargetHeight": 870912, "timeAvg": 598000});
        let hr = json!({"hashrates": [], "difficulty": [], "currentHashrate": 6.4e20, "currentDifficulty": 9.0e13});
        let blocks = json!([
            {"height": 870000, "timestamp": 1_800_000_000u64, "extras": {"totalFees": 30_000_000}},
            {"height": 869999, "timestamp": 1_799_999_400u64, "extras": {"totalFees": 10_000_000}},
        ]);
        let fees = recent_fees(Coin::Bitcoin, &blocks);
        assert_eq!(fees, Some((0.2, 1_800_000_000)));
        let s = snapshot(
            Coin::Bitcoin,
            tip_height(b"870000\n").expect("h"),
            &adj,
            &hr,
            fees,
            1_800_000_100_000,
        )
        .expect("snap");
        assert_eq!(
            (s.height, s.blocks_to_retarget, s.network_difficulty),
            (870000, Some(912), 9.0e13)
        );
        assert!((s.block_reward - 3.325).abs() < 1e-12);
        assert_eq!(s.quality.score, 1.0);
        // Blocks without extras: fees unknown.
        assert_eq!(recent_fees(Coin::Bitcoin, &json!([{"timestamp": 1}])), None);
    }

    #[test]
    fn changed_schema_and_garbage_are_decode_errors() {
        assert!(matches!(tip_height(b"<html>"), Err(SourceError::Decode(_))));
        let e = snapshot(
            Coin::Bitcoin,
            1,
            &json!({"remaining_blocks": 3}),
            &json!({}),
            None,
            0,
        )
        .expect_err("renamed");
        assert!(e.to_string().contains("remainingBlocks"), "{e}");
        assert!(matches!(decode("x", b"{"), Err(SourceError::Decode(_))));
    }
}

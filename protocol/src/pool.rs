//! Seed 002 §4.2 `pool_performance` (one worker at one pool, at one time) and the per-coin
//! network snapshot (seed 002 §4.3 `mining_metrics` plus height, reward split and retarget),
//! as the hub serves them on HTTP (`/pools`, `/network/{coin}`) and on its retained JSON topics.
//! JSON only (never postcard): field names are the seed's, each record carries `source`,
//! `fetched_at` and a data-quality score `quality` (the same [`Quality`] as `market_data`).
//! Timestamps are RFC 3339 UTC strings as the seed's `TIMESTAMP`, each with a `*_ms` twin (Unix
//! milliseconds) for machines. Hashrates are H/s (`hashrate.unit` says so).
//!
//! Must never hold a credential (an API key is never part of a record).

pub use crate::market::Quality;
use serde::{Deserialize, Serialize};

/// The canonical hashrate unit of every record.
pub const HASHRATE_UNIT: &str = "H/s";
/// The canonical profitability unit after normalisation.
pub const PROFITABILITY_UNIT: &str = "USD/TH/day";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolPerformance {
    /// When the pool reported this.
    pub timestamp: String,
    pub timestamp_ms: u64,
    /// `prohashing`, ...
    pub pool_id: String,
    /// The pool's worker name (Prohashing `miner_name`).
    pub worker_id: String,
    pub algorithm: String,
    pub hashrate: PoolHashrate,
    pub shares: PoolShares,
    pub earnings: Option<PoolEarnings>,
    pub coins_mined: Vec<CoinMined>,
    pub profitability: Option<Profitability>,
    /// The worker's share difficulty.
    pub difficulty: Option<f64>,
    /// `online` or `offline` (as the pool last said).
    pub status: String,
    /// `prohashing_wamp`, `prohashing_http`, ...
    pub source: String,
    /// When the hub received it.
    pub fetched_at: String,
    pub fetched_at_ms: u64,
    pub quality: Quality,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolHashrate {
    /// What the miner itself reports (from the rig's telemetry, when joined).
    pub reported: Option<f64>,
    /// What the pool measures from the shares it accepted.
    pub effective: Option<f64>,
    /// Always [`HASHRATE_UNIT`].
    pub unit: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolShares {
    pub accepted: u64,
    pub rejected: u64,
    pub stale: u64,
    pub invalid: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolEarnings {
    pub amount: f64,
    pub currency: String,
    /// `"1h"`, `"24h"`, or `"total"` for a running balance.
    pub time_period: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoinMined {
    pub coin_id: String,
    pub symbol: String,
    pub amount: f64,
    pub usd_value: Option<f64>,
    /// `primary` or `merge-mined`.
    pub mining_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profitability {
    pub per_hash_rate: f64,
    /// Always [`PROFITABILITY_UNIT`].
    pub unit: String,
    pub time_period: String,
}

/// One algorithm's pool-wide profitability, normalised (Prohashing `profitability_updates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmProfitability {
    pub pool_id: String,
    pub algorithm_id: String,
    pub algorithm: String,
    pub usd_per_th_day: f64,
    pub btc_per_th_day: Option<f64>,
    pub max_usd_per_th_day: Option<f64>,
    pub percentile_usd_per_th_day: Option<f64>,
    /// The pool's own data time.
    pub timestamp: String,
    pub timestamp_ms: u64,
    pub source: String,
    pub fetched_at: String,
    pub fetched_at_ms: u64,
    pub quality: Quality,
}

/// A coin's chain as last observed (seed 002 §4.3 `mining_metrics`, plus what difficulty and
/// earnings forecasts need).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSnapshot {
    /// `bitcoin`, `litecoin`, `dogecoin`.
    pub coin: String,
    pub height: u64,
    pub network_difficulty: f64,
    /// H/s.
    pub network_hashrate: Option<f64>,
    /// Subsidy plus `mean_fees_coins`, in coins.
    pub block_reward: f64,
    pub subsidy_coins: f64,
    /// Mean fees per block over the recent blocks the source looked at (None: not known).
    pub mean_fees_coins: Option<f64>,
    /// Target seconds per block.
    pub block_time: f64,
    pub mining_algorithm: String,
    /// Blocks until the next difficulty retarget (None for per-block retargeting chains).
    pub blocks_to_retarget: Option<u64>,
    /// The tip block's own time, when the source gives it.
    pub tip_time_ms: Option<u64>,
    /// Time of the current retarget epoch's first block, when the source gives it (None for
    /// per-block retargeting chains); the epoch estimate of `/api/v1/predict/difficulty` needs it.
    #[serde(default)]
    pub epoch_start_time_ms: Option<u64>,
    /// `node_rpc`, `explorer`.
    pub source: String,
    pub fetched_at: String,
    pub fetched_at_ms: u64,
    pub quality: Quality,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_performance_uses_the_seed_field_names() {
        let p = PoolPerformance {
            timestamp: "1970-01-01T00:00:00Z".into(),
            timestamp_ms: 1,
            pool_id: "prohashing".into(),
            worker_id: "acct.rig1".into(),
            algorithm: "SHA-256".into(),
            hashrate: PoolHashrate {
                reported: None,
                effective: Some(1e12),
                unit: HASHRATE_UNIT.into(),
            },
            shares: PoolShares::default(),
            earnings: None,
            coins_mined: vec![],
            profitability: None,
            difficulty: Some(65536.0),
            status: "online".into(),
            source: "prohashing_wamp".into(),
            fetched_at: "1970-01-01T00:00:00Z".into(),
            fetched_at_ms: 2,
            quality: Quality::default(),
        };
        let v = serde_json::to_value(&p).expect("json");
        for key in [
            "timestamp",
            "pool_id",
            "worker_id",
            "algorithm",
            "hashrate",
            "shares",
            "earnings",
            "coins_mined",
            "profitability",
            "difficulty",
            "status",
            "source",
            "fetched_at",
            "quality",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["hashrate"]["unit"], "H/s");
        let back: PoolPerformance = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, p);
    }
}

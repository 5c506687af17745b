//! Seed 002 §4.3 `market_data` as JSON (HTTP `/market`, MQTT `hashward/json/market/{coin}`):
//! field names as in the seed, plus `source`, `fetched_at` and a data-quality score.
//!
//! Timestamps are RFC 3339 UTC strings, as the seed's `TIMESTAMP`; `*_ms` fields beside them are
//! the same instants as Unix milliseconds for machines. A value a source does not give is `null`,
//! never a made-up 0. These types are JSON-only: they never travel in postcard envelopes.

use serde::{Deserialize, Serialize};

/// One coin's market record from one source at one instant (seed 002 §4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketData {
    pub timestamp: String,
    pub timestamp_ms: u64,
    /// `coingecko` or `coinmarketcap`.
    pub source: String,
    pub coin: Coin,
    pub price: UsdBtc,
    pub market_cap: UsdBtc,
    pub volume_24h: UsdBtc,
    pub price_change: PriceChange,
    pub mining_metrics: MiningMetrics,
    pub technical_indicators: TechnicalIndicators,
    /// When the hub received it (RFC 3339 UTC).
    pub fetched_at: String,
    pub fetched_at_ms: u64,
    /// 0..1: completeness x freshness x cross-source agreement (see [`Quality`]).
    pub quality: Quality,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coin {
    /// The reconciled id (CoinGecko's: `bitcoin`, `litecoin`, `dogecoin`).
    pub id: String,
    pub symbol: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UsdBtc {
    pub usd: Option<f64>,
    pub btc: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PriceChange {
    pub percent_1h: Option<f64>,
    pub percent_24h: Option<f64>,
    pub percent_7d: Option<f64>,
}

/// Filled from the network sources when they are configured; `null` otherwise.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MiningMetrics {
    pub network_hashrate: Option<f64>,
    pub network_difficulty: Option<f64>,
    pub block_reward: Option<f64>,
    pub block_time: Option<f64>,
    pub mining_algorithm: Option<String>,
}

/// Computed by the hub from its stored daily closes; `null` until enough days are stored.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TechnicalIndicators {
    pub rsi_14: Option<f64>,
    pub ma_50: Option<f64>,
    pub ma_200: Option<f64>,
    /// Standard deviation of the last 30 daily log returns, not annualised.
    pub volatility_30d: Option<f64>,
}

/// The data-quality score and its three factors, each in 0..1:
/// `score = completeness * freshness * agreement`, where
/// - completeness: the share of the core fields (price usd/btc, market cap usd, volume usd,
///   change 24h) the source gave;
/// - freshness: 1 while the record is younger than 2 poll intervals, then falling linearly to 0
///   at 10 intervals;
/// - agreement: `max(0, 1 - |p - p_other| / p_other / 0.05)` against the other source's price of
///   the same coin (5 % apart is 0), or 1 when no other fresh source exists.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Quality {
    pub score: f64,
    pub completeness: f64,
    pub freshness: f64,
    pub agreement: f64,
}

/// A served market record: the record plus whether it is the last good value of a source that
/// is currently failing (`stale`) and its age.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketView {
    #[serde(flatten)]
    pub data: MarketData,
    pub stale: bool,
    pub age_s: u64,
}

/// CoinMarketCap's global metrics (no slot in §4.3; a record of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalMarket {
    pub timestamp: String,
    pub timestamp_ms: u64,
    pub source: String,
    pub total_market_cap_usd: Option<f64>,
    pub total_volume_24h_usd: Option<f64>,
    pub btc_dominance_pct: Option<f64>,
    pub active_cryptocurrencies: Option<u64>,
}

/// One day of a coin's history (UTC day), as stored and as `/market/{coin}/history` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailyPoint {
    /// 00:00 UTC of the day, Unix ms.
    pub day_ms: u64,
    pub price_usd: f64,
    pub market_cap_usd: Option<f64>,
    pub volume_usd: Option<f64>,
}

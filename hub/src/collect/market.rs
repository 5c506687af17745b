//! Helpers the market sources share: building a [`MarketData`] record for a coin with what a
//! source gave, and the completeness factor of its quality score.
//!
//! Must never invent a value: what the source did not send stays `None`.

use super::coins::CoinRow;
use super::dates::rfc3339;
use hashward_protocol::market::{
    Coin, MarketData, MiningMetrics, PriceChange, Quality, TechnicalIndicators, UsdBtc,
};

/// An empty record for `coin` from `source`, stamped `timestamp_ms` (the source's own time when
/// it gives one) and fetched at `fetched_ms`. Quality is filled by the intake.
pub fn blank(coin: &CoinRow, source: &str, timestamp_ms: u64, fetched_ms: u64) -> MarketData {
    MarketData {
        timestamp: rfc3339(timestamp_ms),
        timestamp_ms,
        source: source.to_string(),
        coin: Coin {
            id: coin.id.to_string(),
            symbol: coin.symbol.to_string(),
            name: coin.name.to_string(),
        },
        price: UsdBtc::default(),
        market_cap: UsdBtc::default(),
        volume_24h: UsdBtc::default(),
        price_change: PriceChange::default(),
        mining_metrics: MiningMetrics {
            mining_algorithm: coin.algorithm.map(str::to_string),
            ..MiningMetrics::default()
        },
        technical_indicators: TechnicalIndicators::default(),
        fetched_at: rfc3339(fetched_ms),
        fetched_at_ms: fetched_ms,
        quality: Quality::default(),
    }
}

/// Share of the core fields present: price usd and btc, market cap usd, volume usd, 24 h change.
pub fn completeness(d: &MarketData) -> f64 {
    let core = [
        d.price.usd,
        d.price.btc,
        d.market_cap.usd,
        d.volume_24h.usd,
        d.price_change.percent_24h,
    ];
    core.iter().filter(|v| v.is_some_and(f64::is_finite)).count() as f64 / core.len() as f64
}

/// A finite, non-negative number, or `None` (a source sending `-1` or `NaN` as "unknown").
pub fn sane(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite() && *x >= 0.0)
}

/// A finite number (changes may be negative).
pub fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

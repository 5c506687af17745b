//! What `/market` serves for a coin, decided from the latest record of each source (pure):
//! the highest-priority source whose record is fresh wins; when none is, the newest record is
//! served marked `stale` with its age. Also the quality score (formula on
//! [`hashward_protocol::market::Quality`]) and the merge of partial records from one source.
//!
//! Must never serve a stale value unmarked, nor drop a coin because its sources are down.

use super::market::completeness;
use hashward_protocol::market::{MarketData, MarketView, Quality};

/// One source's latest record of a coin, with what the serving needs to know about the source.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub data: &'a MarketData,
    /// The source's last attempt succeeded.
    pub source_ok: bool,
    /// The source's shortest poll interval, ms (freshness is measured in intervals).
    pub interval_ms: u64,
    /// Lower is preferred.
    pub priority: usize,
}

/// A record is fresh while its source is healthy and it is younger than this many intervals.
pub const FRESH_INTERVALS: u64 = 3;

pub fn age_ms(d: &MarketData, now_ms: u64) -> u64 {
    now_ms.saturating_sub(d.fetched_at_ms)
}

fn is_fresh(c: &Candidate<'_>, now_ms: u64) -> bool {
    c.source_ok && age_ms(c.data, now_ms) <= c.interval_ms.saturating_mul(FRESH_INTERVALS)
}

/// 1 up to 2 intervals old, then linearly down to 0 at 10 intervals.
pub fn freshness(age_ms: u64, interval_ms: u64) -> f64 {
    let iv = interval_ms.max(1) as f64;
    let a = age_ms as f64 / iv;
    if a <= 2.0 {
        1.0
    } else {
        (1.0 - (a - 2.0) / 8.0).clamp(0.0, 1.0)
    }
}

/// `max(0, 1 - |p - q| / q / 0.05)`: 1 when equal, 0 at 5 % apart or more.
pub fn agreement(p: f64, q: f64) -> f64 {
    if !(q.is_finite() && q > 0.0 && p.is_finite()) {
        return 1.0;
    }
    (1.0 - (p - q).abs() / q / 0.05).max(0.0)
}

/// The record to serve for one coin, or `None` when no source has one.
pub fn choose(candidates: &[Candidate<'_>], now_ms: u64) -> Option<MarketView> {
    let fresh = candidates
        .iter()
        .filter(|c| is_fresh(c, now_ms))
        .min_by_key(|c| c.priority);
    let (pick, stale) = match fresh {
        Some(c) => (c, false),
        // The newest; on a tie, the preferred source.
        None => (
            candidates
                .iter()
                .max_by_key(|c| (c.data.fetched_at_ms, std::cmp::Reverse(c.priority)))?,
            true,
        ),
    };
    let age = age_ms(pick.data, now_ms);
    let others: Vec<f64> = candidates
        .iter()
        .filter(|c| c.data.source != pick.data.source && is_fresh(c, now_ms))
        .filter_map(|c| c.data.price.usd)
        .collect();
    let agree = match (pick.data.price.usd, others.is_empty()) {
        (Some(p), false) => others.iter().map(|q| agreement(p, *q)).fold(1.0, f64::min),
        _ => 1.0,
    };
    let mut data = pick.data.clone();
    let q = Quality {
        completeness: completeness(&data),
        freshness: freshness(age, pick.interval_ms),
        agreement: agree,
        score: 0.0,
    };
    data.quality = Quality {
        score: q.completeness * q.freshness * q.agreement,
        ..q
    };
    Some(MarketView {
        data,
        stale,
        age_s: age / 1000,
    })
}

/// Merges a source's new record into its previous one of the same coin: the new values win,
/// and a field the new record lacks keeps the previous value if that is under `keep_ms` old
/// (CoinGecko's `simple_price` has no 1 h or 7 d change; its `markets` has them).
pub fn merge(old: Option<&MarketData>, new: MarketData, keep_ms: u64) -> MarketData {
    let Some(old) = old.filter(|o| new.fetched_at_ms.saturating_sub(o.fetched_at_ms) <= keep_ms) else {
        return new;
    };
    let mut m = new;
    let keep = |n: &mut Option<f64>, o: Option<f64>| {
        if n.is_none() {
            *n = o;
        }
    };
    keep(&mut m.price.btc, old.price.btc);
    keep(&mut m.market_cap.usd, old.market_cap.usd);
    keep(&mut m.market_cap.btc, old.market_cap.btc);
    keep(&mut m.volume_24h.usd, old.volume_24h.usd);
    keep(&mut m.volume_24h.btc, old.volume_24h.btc);
    keep(&mut m.price_change.percent_1h, old.price_change.percent_1h);
    keep(&mut m.price_change.percent_24h, old.price_change.percent_24h);
    keep(&mut m.price_change.percent_7d, old.price_change.percent_7d);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::coins::lookup;
    use crate::collect::market::blank;

    fn rec(source: &str, usd: f64, fetched: u64) -> MarketData {
        let mut d = blank(lookup("bitcoin").expect("btc"), source, fetched, fetched);
        d.price.usd = Some(usd);
        d.price.btc = Some(1.0);
        d.market_cap.usd = Some(1e12);
        d.volume_24h.usd = Some(1e10);
        d
    }

    #[test]
    fn priority_wins_while_fresh_then_the_other_source_then_stale() {
        let cg = rec("coingecko", 100_000.0, 1_000_000);
        let cmc = rec("coinmarketcap", 101_000.0, 1_000_000);
        let cand = |cg_ok, cmc_ok| {
            vec![
                Candidate {
                    data: &cg,
                    source_ok: cg_ok,
                    interval_ms: 300_000,
                    priority: 0,
                },
                Candidate {
                    data: &cmc,
                    source_ok: cmc_ok,
                    interval_ms: 900_000,
                    priority: 1,
                },
            ]
        };
        let v = choose(&cand(true, true), 1_000_000).expect("view");
        assert_eq!((v.data.source.as_str(), v.stale), ("coingecko", false));
        // 1 % apart: agreement 1 - 0.01/0.05 = 0.8 (against CMC's 101 000: 1000/101000/0.05).
        assert!((v.data.quality.agreement - (1.0 - 1000.0 / 101_000.0 / 0.05)).abs() < 1e-9);
        // 4 of 5 core fields (no 24 h change): completeness 0.8.
        assert!((v.data.quality.completeness - 0.8).abs() < 1e-9);
        assert!((v.data.quality.score - 0.8 * v.data.quality.agreement).abs() < 1e-9);
        // CoinGecko down: CoinMarketCap takes over.
        let v = choose(&cand(false, true), 1_000_000).expect("view");
        assert_eq!((v.data.source.as_str(), v.stale), ("coinmarketcap", false));
        // Both down, an hour later: the newest value, stale, with its age.
        let v = choose(&cand(false, false), 4_600_000).expect("view");
        assert!(v.stale);
        assert_eq!((v.age_s, v.data.source.as_str()), (3600, "coingecko"));
        // 3.6e6 / 3e5 = 12 intervals old: freshness 0.
        assert_eq!(v.data.quality.freshness, 0.0);
        assert!(choose(&[], 0).is_none());
    }

    #[test]
    fn freshness_and_merge_by_hand() {
        assert_eq!(freshness(600_000, 300_000), 1.0);
        assert_eq!(freshness(1_800_000, 300_000), 0.5);
        assert_eq!(freshness(3_000_000, 300_000), 0.0);
        let mut markets = rec("coingecko", 1.0, 0);
        markets.price_change.percent_7d = Some(5.0);
        markets.price.btc = None;
        let mut simple = rec("coingecko", 2.0, 60_000);
        simple.price_change.percent_7d = None;
        let m = merge(Some(&markets), simple.clone(), 3_600_000);
        assert_eq!(
            (m.price.usd, m.price_change.percent_7d, m.price.btc),
            (Some(2.0), Some(5.0), Some(1.0))
        );
        let m = merge(Some(&markets), simple, 1000);
        assert_eq!(m.price_change.percent_7d, None);
    }
}

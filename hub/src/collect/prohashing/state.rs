//! What the hub knows of its Prohashing account, folded from snapshots (call results) and diffs
//! (events): the workers by id, the balances per coin, the per-algorithm profitability; and
//! the seed 002 §4.2 records made from them. Pure: values and the time in, records out.
//!
//! Must never apply half a payload (each payload is parsed whole first, see `payload`), and
//! never treat a diff for an unknown worker as a full record (it waits for its snapshot fields).

use super::normalise::{ProfitUnits, TH};
use super::payload::{AlgoQuote, BalanceDelta, MinerFields};
use crate::collect::chain::quality;
use crate::collect::dates::rfc3339;
use hashward_protocol::pool::{
    AlgorithmProfitability, PoolHashrate, PoolPerformance, PoolShares, Profitability, HASHRATE_UNIT,
    PROFITABILITY_UNIT,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const POOL_ID: &str = "prohashing";

/// Data older than this scores 0 freshness (Prohashing pushes changes as they happen; the HTTP
/// fallback polls every 5-15 min).
pub const FRESH_FOR_MS: u64 = 30 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    pub uuid: String,
    pub miner_name: Option<String>,
    pub coin_name: Option<String>,
    pub algorithm_name: Option<String>,
    pub hashrate_hs: Option<f64>,
    pub difficulty: Option<f64>,
    pub share_count: Option<u64>,
    pub updated_ms: u64,
    /// `prohashing_wamp` or `prohashing_http`.
    pub source: String,
}

impl Worker {
    fn merge(&mut self, f: MinerFields, now_ms: u64, source: &str) {
        self.uuid = f.uuid;
        macro_rules! take {
            ($($from:ident => $to:ident),*) => { $( if f.$from.is_some() { self.$to = f.$from; } )* };
        }
        take!(miner_name => miner_name, coin_name => coin_name, algorithm_name => algorithm_name,
              hashrate => hashrate_hs, difficulty => difficulty, share_count => share_count);
        self.updated_ms = now_ms;
        self.source = source.to_string();
    }

    /// Share of the fields a full record has that are known.
    fn completeness(&self) -> f64 {
        let known = [
            self.miner_name.is_some(),
            self.coin_name.is_some(),
            self.algorithm_name.is_some(),
            self.hashrate_hs.is_some(),
            self.difficulty.is_some(),
            self.share_count.is_some(),
        ];
        known.iter().filter(|k| **k).count() as f64 / known.len() as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub algorithm_name: String,
    pub usd_per_th_day: f64,
    pub btc_per_th_day: Option<f64>,
    pub max_usd_per_th_day: Option<f64>,
    pub percentile_usd_per_th_day: Option<f64>,
    pub data_ms: u64,
    pub updated_ms: u64,
    pub source: String,
}

/// The account as last seen. Serializable so the store can keep it and a restarted hub serves
/// it (as stale) before the pool answers again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolState {
    pub workers: BTreeMap<String, Worker>,
    /// Coin name -> balance (coins).
    pub balances: BTreeMap<String, f64>,
    pub balances_ms: Option<u64>,
    /// Algorithm id -> quote.
    pub quotes: BTreeMap<String, Quote>,
}

/// Freshness in [0, 1]: 1 when just seen, falling linearly to 0 at [`FRESH_FOR_MS`].
pub fn freshness(age_ms: u64) -> f64 {
    1.0 - (age_ms as f64 / FRESH_FOR_MS as f64).min(1.0)
}

impl PoolState {
    /// A full worker list: replaces the set (workers absent from it are gone).
    pub fn apply_miner_snapshot(&mut self, list: Vec<MinerFields>, now_ms: u64, source: &str) {
        let mut next = BTreeMap::new();
        for f in list {
            let mut w = Worker::default();
            w.merge(f, now_ms, source);
            next.insert(w.uuid.clone(), w);
        }
        self.workers = next;
    }

    /// Changed fields of some workers. A worker not seen before is added with what it has.
    pub fn apply_miner_diffs(&mut self, diffs: Vec<MinerFields>, now_ms: u64, source: &str) {
        for f in diffs {
            self.workers
                .entry(f.uuid.clone())
                .or_default()
                .merge(f, now_ms, source);
        }
    }

    pub fn apply_balance_snapshot(&mut self, list: Vec<BalanceDelta>, now_ms: u64) {
        self.balances = list.into_iter().map(|b| (b.coin, b.amount)).collect();
        self.balances_ms = Some(now_ms);
    }

    /// Credits (`balance_updates` events add to the balance).
    pub fn apply_balance_deltas(&mut self, list: Vec<BalanceDelta>, now_ms: u64) {
        for b in list {
            *self.balances.entry(b.coin).or_insert(0.0) += b.amount;
        }
        self.balances_ms = Some(now_ms);
    }

    pub fn apply_quotes(&mut self, list: Vec<AlgoQuote>, units: &ProfitUnits, now_ms: u64, source: &str) {
        for q in list {
            let per_th = |v: f64| units.per_th_day(&q.algorithm_name, v);
            let data_ms = q
                .data_timestamp
                .filter(|t| *t > 0.0)
                .map_or(now_ms, |t| (t * 1000.0) as u64);
            self.quotes.insert(
                q.id.clone(),
                Quote {
                    usd_per_th_day: per_th(q.usd),
                    btc_per_th_day: q.btc.map(per_th),
                    max_usd_per_th_day: q.max_usd.map(per_th),
                    percentile_usd_per_th_day: q.percentile_usd.map(per_th),
                    algorithm_name: q.algorithm_name,
                    data_ms,
                    updated_ms: now_ms,
                    source: source.to_string(),
                },
            );
        }
    }

    fn quote_for(&self, algorithm: &str) -> Option<&Quote> {
        self.quotes
            .values()
            .find(|q| q.algorithm_name.eq_ignore_ascii_case(algorithm))
    }

    /// One §4.2 record per worker. Pool-side hashrate is `effective`; `reported` is left for
    /// the rig join to fill. `status` is `online` while the pool measures a hashrate above 0.
    pub fn performance(&self, now_ms: u64) -> Vec<PoolPerformance> {
        self.workers
            .values()
            .map(|w| {
                let algorithm = w.algorithm_name.clone().unwrap_or_default();
                let profitability = self.quote_for(&algorithm).map(|q| Profitability {
                    per_hash_rate: q.usd_per_th_day,
                    unit: PROFITABILITY_UNIT.into(),
                    time_period: "24h".into(),
                });
                let completeness = w.completeness();
                let fresh = freshness(now_ms.saturating_sub(w.updated_ms));
                PoolPerformance {
                    timestamp: rfc3339(w.updated_ms),
                    timestamp_ms: w.updated_ms,
                    pool_id: POOL_ID.into(),
                    worker_id: w.miner_name.clone().unwrap_or_else(|| w.uuid.clone()),
                    algorithm,
                    hashrate: PoolHashrate {
                        reported: None,
                        effective: w.hashrate_hs,
                        unit: HASHRATE_UNIT.into(),
                    },
                    // Prohashing counts accepted shares only; it reports no rejects.
                    shares: PoolShares {
                        accepted: w.share_count.unwrap_or(0),
                        ..PoolShares::default()
                    },
                    earnings: None,
                    coins_mined: Vec::new(),
                    profitability,
                    difficulty: w.difficulty,
                    status: if w.hashrate_hs.is_some_and(|h| h > 0.0) {
                        "online".into()
                    } else {
                        "offline".into()
                    },
                    source: w.source.clone(),
                    fetched_at: rfc3339(w.updated_ms),
                    fetched_at_ms: w.updated_ms,
                    quality: quality(completeness, fresh),
                }
            })
            .collect()
    }

    /// The per-algorithm quotes, normalised.
    pub fn profitability(&self, now_ms: u64) -> Vec<AlgorithmProfitability> {
        self.quotes
            .iter()
            .map(|(id, q)| AlgorithmProfitability {
                pool_id: POOL_ID.into(),
                algorithm_id: id.clone(),
                algorithm: q.algorithm_name.clone(),
                usd_per_th_day: q.usd_per_th_day,
                btc_per_th_day: q.btc_per_th_day,
                max_usd_per_th_day: q.max_usd_per_th_day,
                percentile_usd_per_th_day: q.percentile_usd_per_th_day,
                timestamp: rfc3339(q.data_ms),
                timestamp_ms: q.data_ms,
                source: q.source.clone(),
                fetched_at: rfc3339(q.updated_ms),
                fetched_at_ms: q.updated_ms,
                quality: quality(1.0, freshness(now_ms.saturating_sub(q.data_ms.min(q.updated_ms)))),
            })
            .collect()
    }

    /// The pool-side hashrate of all workers, TH/s.
    pub fn total_ths(&self) -> f64 {
        self.workers.values().filter_map(|w| w.hashrate_hs).sum::<f64>() / TH
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::prohashing::payload;
    use serde_json::json;

    #[test]
    fn snapshot_then_diffs_then_records() {
        let mut s = PoolState::default();
        let units = ProfitUnits::default();
        let snap = payload::miners_snapshot(&[json!([
            {"uuid": "u1", "miner_name": "acct.rig1", "coin_name": "bitcoin", "algorithm_name": "SHA-256",
             "hashrate": 1.2e13, "difficulty": 65536, "share_count": 1200},
            {"uuid": "u2", "miner_name": "acct.rig2", "coin_name": "litecoin", "algorithm_name": "Scrypt",
             "hashrate": 0, "difficulty": 512, "share_count": 3},
        ])])
        .expect("snap");
        s.apply_miner_snapshot(snap, 1_000, "prohashing_wamp");
        let diff = payload::miner_diffs(&[json!({"uuid": "u1", "hashrate": 1.0e13, "share_count": 1300})])
            .expect("diff");
        s.apply_miner_diffs(diff, 2_000, "prohashing_wamp");
        let quotes = payload::profitability(&[json!({"2": {"algorithm_name": "SHA-256",
            "usd": 1.3292067065643e-7, "btc": 3.6428598623226e-11, "data_timestamp": 1.5}})])
        .expect("quotes");
        s.apply_quotes(quotes, &units, 2_000, "prohashing_wamp");

        let recs = s.performance(2_000);
        assert_eq!(recs.len(), 2);
        let r1 = &recs[0];
        assert_eq!(
            (r1.worker_id.as_str(), r1.hashrate.effective),
            ("acct.rig1", Some(1.0e13))
        );
        assert_eq!(
            (r1.shares.accepted, r1.difficulty, r1.status.as_str()),
            (1300, Some(65536.0), "online")
        );
        let p = r1.profitability.as_ref().expect("profit joined by algorithm");
        assert!((p.per_hash_rate - 0.13292067065643).abs() < 1e-12);
        assert_eq!(p.unit, "USD/TH/day");
        assert_eq!(r1.quality.score, 1.0);
        assert_eq!(recs[1].status, "offline");
        assert!(recs[1].profitability.is_none(), "no Scrypt quote yet");
        assert!((s.total_ths() - 10.0).abs() < 1e-9);

        // Half an hour later the same record scores 0 freshness.
        assert_eq!(s.performance(2_000 + FRESH_FOR_MS)[0].quality.score, 0.0);
        // A new snapshot drops workers that left.
        s.apply_miner_snapshot(Vec::new(), 3_000, "prohashing_http");
        assert!(s.performance(3_000).is_empty());
    }

    #[test]
    fn balances_snapshot_and_credits() {
        let mut s = PoolState::default();
        s.apply_balance_snapshot(
            payload::balances_snapshot(&[json!({"bitcoin": 0.001})]).expect("snap"),
            1,
        );
        s.apply_balance_deltas(
            payload::balance_deltas(&[
                json!({"coin": "bitcoin", "balance": 0.0005}),
                json!({"coin": "dogecoin", "balance": 12.0}),
            ])
            .expect("deltas"),
            2,
        );
        assert!((s.balances["bitcoin"] - 0.0015).abs() < 1e-15);
        assert_eq!(s.balances["dogecoin"], 12.0);
        assert_eq!(s.balances_ms, Some(2));
    }
}

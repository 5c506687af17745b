//! Pool workers joined to what mines for them: a rig's CPU miner or an ASIC it polls, matched by
//! the stratum user. A pool names a worker `account.worker` (or the pool puts the worker in the
//! password, as Prohashing does, and reports the bare `worker`); a miner-side user matches a
//! pool worker when the whole user, or its part after the first `.`, equals the pool's worker
//! id or that id's part after its first `.`. Each joined row puts the pool-side effective
//! hashrate and acceptance next to what the miner reports (seed 002 §3.2 enrichment).
//!
//! Pure: pool records and miner-side readings in, rows out. Must never join one miner to two
//! workers of the same pool: the first exact user match wins, then the first worker-part match.

use hashward_protocol::pool::PoolPerformance;
use serde::Serialize;

/// What a miner says about itself (one rig's CPU miner, or one ASIC).
#[derive(Debug, Clone, PartialEq)]
pub struct MinerSide {
    pub rig: String,
    /// The ASIC's miner id; None for the rig's own CPU miner.
    pub asic: Option<String>,
    pub user: String,
    pub reported_hs: f64,
    pub accepted: u64,
    pub rejected: u64,
    pub stale: u64,
    pub sample_ms: u64,
}

/// One pool worker, with its miner when one matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinedWorker {
    #[serde(flatten)]
    pub pool: PoolPerformance,
    pub rig: Option<String>,
    pub asic: Option<String>,
    /// accepted / (accepted + rejected + stale) as the miner counts its shares.
    pub miner_acceptance: Option<f64>,
    /// The same ratio from the pool's counts (None when the pool counts accepted shares only).
    pub pool_acceptance: Option<f64>,
    /// Pool-measured over miner-reported hashrate (1.0 = the pool sees all of it).
    pub effective_over_reported: Option<f64>,
    pub miner_sample_ms: Option<u64>,
}

fn worker_part(s: &str) -> &str {
    s.split_once('.').map_or(s, |(_, w)| w)
}

fn ratio(accepted: u64, rejected: u64, stale: u64) -> Option<f64> {
    let total = accepted + rejected + stale;
    (total > 0).then(|| accepted as f64 / total as f64)
}

pub fn join(workers: &[PoolPerformance], miners: &[MinerSide]) -> Vec<JoinedWorker> {
    let mut used = vec![false; miners.len()];
    workers
        .iter()
        .map(|w| {
            let exact = miners
                .iter()
                .enumerate()
                .position(|(i, m)| !used[i] && m.user == w.worker_id);
            let loose = || {
                miners.iter().enumerate().position(|(i, m)| {
                    !used[i]
                        && (worker_part(&m.user) == w.worker_id
                            || worker_part(&m.user) == worker_part(&w.worker_id))
                })
            };
            let found = exact.or_else(loose);
            let mut pool = w.clone();
            let miner = found.map(|i| {
                used[i] = true;
                &miners[i]
            });
            if let Some(m) = miner {
                pool.hashrate.reported = Some(m.reported_hs);
            }
            let s = &w.shares;
            let pool_acceptance = (s.rejected + s.stale + s.invalid > 0)
                .then(|| ratio(s.accepted, s.rejected + s.invalid, s.stale))
                .flatten();
            JoinedWorker {
                effective_over_reported: match (pool.hashrate.effective, miner) {
                    (Some(e), Some(m)) if m.reported_hs > 0.0 => Some(e / m.reported_hs),
                    _ => None,
                },
                rig: miner.map(|m| m.rig.clone()),
                asic: miner.and_then(|m| m.asic.clone()),
                miner_acceptance: miner.and_then(|m| ratio(m.accepted, m.rejected, m.stale)),
                pool_acceptance,
                miner_sample_ms: miner.map(|m| m.sample_ms),
                pool,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::pool::{PoolHashrate, PoolShares};

    fn worker(id: &str, effective: f64) -> PoolPerformance {
        PoolPerformance {
            timestamp: "1970-01-01T00:00:00Z".into(),
            timestamp_ms: 1,
            pool_id: "prohashing".into(),
            worker_id: id.into(),
            algorithm: "SHA-256".into(),
            hashrate: PoolHashrate {
                reported: None,
                effective: Some(effective),
                unit: "H/s".into(),
            },
            shares: PoolShares {
                accepted: 100,
                ..PoolShares::default()
            },
            earnings: None,
            coins_mined: vec![],
            profitability: None,
            difficulty: None,
            status: "online".into(),
            source: "prohashing_wamp".into(),
            fetched_at: "1970-01-01T00:00:00Z".into(),
            fetched_at_ms: 1,
            quality: hashward_protocol::market::Quality::default(),
        }
    }

    fn miner(rig: &str, asic: Option<&str>, user: &str, hs: f64) -> MinerSide {
        MinerSide {
            rig: rig.into(),
            asic: asic.map(str::to_string),
            user: user.into(),
            reported_hs: hs,
            accepted: 98,
            rejected: 1,
            stale: 1,
            sample_ms: 7,
        }
    }

    #[test]
    fn joins_by_full_user_then_by_worker_part() {
        let workers = [
            worker("acct.s9a", 1.3e13),
            worker("cpu1", 9e5),
            worker("ghost", 1.0),
        ];
        let miners = [
            miner("rigA", Some("10.0.0.5"), "acct.s9a", 1.4e13),
            miner("rigB", None, "acct.cpu1", 1e6),
        ];
        let rows = join(&workers, &miners);
        assert_eq!(
            (rows[0].rig.as_deref(), rows[0].asic.as_deref()),
            (Some("rigA"), Some("10.0.0.5"))
        );
        assert_eq!(rows[0].pool.hashrate.reported, Some(1.4e13));
        let r = rows[0].effective_over_reported.expect("ratio");
        assert!((r - 1.3 / 1.4).abs() < 1e-12);
        assert_eq!(rows[0].miner_acceptance, Some(0.98));
        assert_eq!(
            rows[0].pool_acceptance, None,
            "the pool counts accepted shares only"
        );
        assert_eq!(rows[1].rig.as_deref(), Some("rigB"));
        assert_eq!(rows[1].effective_over_reported, Some(0.9));
        assert_eq!(
            (rows[2].rig.as_deref(), rows[2].pool.hashrate.reported),
            (None, None)
        );
        let v = serde_json::to_value(&rows[0]).expect("json");
        assert_eq!(v["worker_id"], "acct.s9a", "the pool record is flattened in");
    }

    #[test]
    fn one_miner_joins_one_worker() {
        let workers = [worker("acct.w", 1.0), worker("other.w", 1.0)];
        let rows = join(&workers, &[miner("r", None, "acct.w", 2.0)]);
        assert_eq!(rows[0].rig.as_deref(), Some("r"));
        assert_eq!(rows[1].rig, None);
    }
}

//! The pool-level features of one pool update (seed 000 §6, issue 22), the twin of
//! `models/train/sentinel_pool.py` (same names, order and definitions; change both together and
//! retrain): our workers' pool-measured hashrate against what their miners report, invalid and
//! stale shares across the pool's workers and how many workers surge together, payout against
//! what the accepted work implies, the share of a site's rigs alerting together, and the pool's
//! hashrate against its own recent average.
//!
//! Pure: a [`PoolUpdate`] and the pool's [`PoolMemory`] (share counters and the hashrate EMA of
//! the previous update) in, a feature row and the details that name the culprits out. Must never
//! invent a value: a figure the update does not carry takes the model's neutral value.

use serde::Serialize;
use std::collections::BTreeMap;

/// The model's input names, in order (`hashward.features` of `models/sentinel_pool`).
pub const POOL_FEATURES: [&str; 8] = [
    "hashrate_ratio",
    "min_worker_log_ratio",
    "invalid_rate",
    "stale_rate",
    "surging_fraction",
    "payout_ratio",
    "site_alerting_fraction",
    "hashrate_change",
];
/// What each feature is when the update does not say (nothing wrong seen).
pub const NEUTRAL: [f32; 8] = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0];

/// A worker whose invalid rate this update exceeds this surges...
pub const SURGE_RATE: f64 = 0.05;
/// ...when it sent at least this many shares since the last update (fewer say nothing).
pub const SURGE_MIN_SHARES: u64 = 20;
/// Only sites with at least this many rigs count for `site_alerting_fraction` (one of two rigs
/// alerting is a rig problem).
pub const SITE_MIN_RIGS: usize = 3;
pub const EMA_ALPHA: f64 = 0.3;
const RATIO_CAP: f64 = 3.0;
const RATIO_FLOOR: f64 = 0.01;
/// A joined worker below this pool/reported ratio is named in the details.
pub const LOW_RATIO: f64 = 0.3;

/// Cumulative share counters (a miner's, or a pool's when it counts rejects).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ShareCounts {
    pub accepted: u64,
    /// Rejected or invalid.
    pub invalid: u64,
    pub stale: u64,
}

impl ShareCounts {
    fn total(&self) -> u64 {
        self.accepted + self.invalid + self.stale
    }

    /// Shares since `prev`; a counter that went down (a restarted miner) counts from zero.
    fn since(&self, prev: Option<&ShareCounts>) -> Option<ShareCounts> {
        let p = prev?;
        if self.accepted < p.accepted || self.invalid < p.invalid || self.stale < p.stale {
            return Some(*self);
        }
        Some(ShareCounts {
            accepted: self.accepted - p.accepted,
            invalid: self.invalid - p.invalid,
            stale: self.stale - p.stale,
        })
    }
}

/// What the miner joined to a pool worker says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerObs {
    pub rig: String,
    pub site: String,
    pub asic: Option<String>,
    pub reported_hs: f64,
    pub counts: ShareCounts,
}

/// One pool worker in an update.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerObs {
    pub worker_id: String,
    /// Pool-measured hashrate, H/s (None: the pool did not say).
    pub pool_hs: Option<f64>,
    /// The pool's own share counters when it counts rejects and stales (Prohashing does not:
    /// the miner's counters are used then).
    pub pool_counts: Option<ShareCounts>,
    /// The miner joined to it (`domain::pool_join`), when one reports now.
    pub miner: Option<MinerObs>,
}

/// A payout that arrived in this update, both sides in the same currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Payout {
    pub received: f64,
    /// What the accepted work since the previous payout implies.
    pub expected: f64,
}

/// How many rigs a site has and how many have an active alert (not the Sentinel's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteAlerting {
    pub site: String,
    pub rigs: usize,
    pub alerting: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolUpdate {
    pub pool: String,
    pub at_ms: u64,
    pub workers: Vec<WorkerObs>,
    pub payout: Option<Payout>,
    /// The sites of the rigs mining on this pool.
    pub sites: Vec<SiteAlerting>,
}

/// What a pool's previous updates leave for the next one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolMemory {
    counts: BTreeMap<String, ShareCounts>,
    ema_hs: Option<f64>,
}

/// Who the features point at, for the alert's message and subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Culprits {
    /// Joined workers the pool sees below [`LOW_RATIO`] of what their miner reports, worst first:
    /// (worker, rig, ratio).
    pub low_workers: Vec<(String, String, f64)>,
    pub surging_workers: Vec<String>,
    /// The site with the highest share of its rigs alerting (if any site counts).
    pub site: Option<SiteAlerting>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolFeatures {
    pub values: [f32; 8],
    pub culprits: Culprits,
}

fn clamp_ratio(r: f64) -> f64 {
    r.clamp(0.0, RATIO_CAP)
}

/// The features of `u`, updating `mem` for the next update.
pub fn features(mem: &mut PoolMemory, u: &PoolUpdate) -> PoolFeatures {
    let mut v = NEUTRAL;
    let mut culprits = Culprits::default();

    // Our joined workers: pool-measured against miner-reported.
    let joined: Vec<(&WorkerObs, &MinerObs, f64)> = u
        .workers
        .iter()
        .filter_map(|w| {
            let m = w.miner.as_ref()?;
            let p = w.pool_hs.filter(|p| p.is_finite() && *p >= 0.0)?;
            (m.reported_hs.is_finite() && m.reported_hs > 0.0).then_some((w, m, p))
        })
        .collect();
    let reported: f64 = joined.iter().map(|(_, m, _)| m.reported_hs).sum();
    if reported > 0.0 {
        let pool: f64 = joined.iter().map(|(_, _, p)| p).sum();
        v[0] = clamp_ratio(pool / reported) as f32;
        let mut ratios: Vec<(String, String, f64)> = joined
            .iter()
            .map(|(w, m, p)| (w.worker_id.clone(), m.rig.clone(), p / m.reported_hs))
            .collect();
        ratios.sort_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((_, _, worst)) = ratios.first() {
            v[1] = worst.clamp(RATIO_FLOOR, RATIO_CAP).ln() as f32;
        }
        culprits.low_workers = ratios.into_iter().filter(|r| r.2 < LOW_RATIO).collect();
    }

    // Shares since the last update, the pool's counters where it keeps them, else the miner's.
    let mut sum = ShareCounts::default();
    let (mut counted, mut surging) = (0usize, 0usize);
    let mut next_counts = BTreeMap::new();
    for w in &u.workers {
        let Some(now) = w.pool_counts.or_else(|| w.miner.as_ref().map(|m| m.counts)) else {
            continue;
        };
        next_counts.insert(w.worker_id.clone(), now);
        let Some(d) = now.since(mem.counts.get(&w.worker_id)) else {
            continue;
        };
        sum.accepted += d.accepted;
        sum.invalid += d.invalid;
        sum.stale += d.stale;
        if d.total() >= SURGE_MIN_SHARES {
            counted += 1;
            if d.invalid as f64 / d.total() as f64 > SURGE_RATE {
                surging += 1;
                culprits.surging_workers.push(w.worker_id.clone());
            }
        }
    }
    mem.counts = next_counts;
    if sum.total() > 0 {
        v[2] = (sum.invalid as f64 / sum.total() as f64) as f32;
        v[3] = (sum.stale as f64 / sum.total() as f64) as f32;
    }
    if counted > 0 {
        v[4] = (surging as f64 / counted as f64) as f32;
    }

    if let Some(p) = u.payout {
        if p.expected > 0.0 && p.received.is_finite() && p.received >= 0.0 {
            v[5] = clamp_ratio(p.received / p.expected) as f32;
        }
    }

    for s in u.sites.iter().filter(|s| s.rigs >= SITE_MIN_RIGS) {
        let frac = s.alerting.min(s.rigs) as f64 / s.rigs as f64;
        if frac > v[6] as f64 || culprits.site.is_none() {
            v[6] = frac as f32;
            culprits.site = Some(s.clone());
        }
    }

    let total: f64 = u
        .workers
        .iter()
        .filter_map(|w| w.pool_hs)
        .filter(|p| p.is_finite() && *p >= 0.0)
        .sum();
    if let Some(ema) = mem.ema_hs.filter(|e| *e > 0.0) {
        v[7] = clamp_ratio(total / ema) as f32;
    }
    mem.ema_hs = Some(match mem.ema_hs {
        None => total,
        Some(e) => EMA_ALPHA * total + (1.0 - EMA_ALPHA) * e,
    });

    PoolFeatures { values: v, culprits }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, pool_hs: f64, reported: f64, counts: (u64, u64, u64)) -> WorkerObs {
        WorkerObs {
            worker_id: id.into(),
            pool_hs: Some(pool_hs),
            pool_counts: None,
            miner: Some(MinerObs {
                rig: format!("rig-{id}"),
                site: "s1".into(),
                asic: None,
                reported_hs: reported,
                counts: ShareCounts {
                    accepted: counts.0,
                    invalid: counts.1,
                    stale: counts.2,
                },
            }),
        }
    }

    fn update(workers: Vec<WorkerObs>) -> PoolUpdate {
        PoolUpdate {
            pool: "p".into(),
            at_ms: 0,
            workers,
            payout: None,
            sites: vec![],
        }
    }

    #[test]
    fn a_first_update_is_neutral_except_what_it_measures() {
        let mut mem = PoolMemory::default();
        let f = features(&mut mem, &update(vec![worker("a", 90.0, 100.0, (10, 0, 0))]));
        assert_eq!(f.values[0], 0.9);
        assert!((f.values[1] - 0.9f32.ln()).abs() < 1e-6);
        assert_eq!(&f.values[2..], &NEUTRAL[2..], "no share delta and no EMA yet");
    }

    #[test]
    fn ratios_rates_and_surges_come_from_the_values() {
        let mut mem = PoolMemory::default();
        features(
            &mut mem,
            &update(vec![
                worker("a", 100.0, 100.0, (100, 0, 0)),
                worker("b", 100.0, 100.0, (100, 0, 0)),
                worker("c", 100.0, 100.0, (100, 0, 0)),
            ]),
        );
        let f = features(
            &mut mem,
            &update(vec![
                worker("a", 0.0, 100.0, (190, 10, 0)),    // hijacked: pool sees nothing
                worker("b", 100.0, 100.0, (150, 40, 10)), // surging
                worker("c", 110.0, 100.0, (105, 0, 0)),   // too few shares to count
            ]),
        );
        assert!((f.values[0] - 210.0 / 300.0).abs() < 1e-6);
        assert!((f.values[1] - 0.01f32.ln()).abs() < 1e-6, "clamped at 0.01");
        let total = (90 + 10) + (50 + 40 + 10) + 5;
        assert!((f.values[2] - 50.0 / total as f32).abs() < 1e-6);
        assert!((f.values[3] - 10.0 / total as f32).abs() < 1e-6);
        assert_eq!(f.values[4], 1.0, "a's 10 % and b's 20 % invalid; c not counted");
        assert!((f.values[7] - 210.0 / 300.0).abs() < 1e-6);
        assert_eq!(f.culprits.low_workers[0].0, "a");
        assert_eq!(f.culprits.surging_workers, vec!["a", "b"]);
    }

    #[test]
    fn a_counter_reset_counts_from_zero_and_the_pool_counts_win() {
        let mut mem = PoolMemory::default();
        let mut w = worker("a", 1.0, 1.0, (1000, 0, 0));
        features(&mut mem, &update(vec![w.clone()]));
        if let Some(m) = w.miner.as_mut() {
            m.counts = ShareCounts {
                accepted: 30,
                invalid: 0,
                stale: 10,
            };
        }
        let f = features(&mut mem, &update(vec![w.clone()]));
        assert_eq!(f.values[3], 0.25, "restarted miner: 10 stale of 40");
        w.pool_counts = Some(ShareCounts {
            accepted: 50,
            invalid: 50,
            stale: 0,
        });
        features(&mut mem, &update(vec![w.clone()]));
        w.pool_counts = Some(ShareCounts {
            accepted: 100,
            invalid: 100,
            stale: 0,
        });
        assert_eq!(features(&mut mem, &update(vec![w])).values[2], 0.5);
    }

    #[test]
    fn payout_and_sites() {
        let mut mem = PoolMemory::default();
        let mut u = update(vec![]);
        u.payout = Some(Payout {
            received: 40.0,
            expected: 100.0,
        });
        u.sites = vec![
            SiteAlerting {
                site: "small".into(),
                rigs: 2,
                alerting: 2,
            },
            SiteAlerting {
                site: "big".into(),
                rigs: 10,
                alerting: 7,
            },
        ];
        let f = features(&mut mem, &u);
        assert_eq!(f.values[5], 0.4);
        assert_eq!(f.values[6], 0.7, "the two-rig site does not count");
        assert_eq!(f.culprits.site.map(|s| s.site), Some("big".into()));
        u.payout = Some(Payout {
            received: 1.0,
            expected: 0.0,
        });
        assert_eq!(features(&mut mem, &u).values[5], 1.0, "nothing expected: neutral");
    }
}

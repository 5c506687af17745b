//! Clusters and rankings of one day's scored alerts. A cluster is every alert sharing a site, a
//! pool or a hardware class within one UTC hour (an alert can be in one cluster of each kind);
//! only groups of two alerts or more are clusters. Its features are `cluster_scorer`'s
//! (`models/train/scores_train.py` `CLUSTER_FEATURES`).
//!
//! The ranking is the alert scorer's order: score descending, ties broken by the agent's score
//! (descending), then the alert time (earlier first), then `alert_id` (ascending), so a re-run
//! on the same alerts gives the same ranks. Pure; must never depend on input order.

use super::features::{is_hardware_threat, AlertInput};
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub const CLUSTER_FEATURES: [&str; 10] = [
    "kind_site",
    "kind_pool",
    "kind_class",
    "alerts",
    "rigs",
    "score_max",
    "score_mean",
    "score_noisy_or",
    "span_minutes",
    "hardware_share",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClusterKind {
    Site,
    Pool,
    Class,
}

impl ClusterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterKind::Site => "site",
            ClusterKind::Pool => "pool",
            ClusterKind::Class => "class",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// `{kind}/{key}/{HH}h`, e.g. `site/lab/13h`: the same group on a re-run gets the same id.
    pub cluster_id: String,
    pub kind: ClusterKind,
    /// Indices into the alerts.
    pub members: Vec<usize>,
}

/// The clusters of `alerts`, by id.
pub fn clusters(alerts: &[AlertInput]) -> Vec<Cluster> {
    let mut groups: BTreeMap<(ClusterKind, &str, u64), Vec<usize>> = BTreeMap::new();
    for (i, a) in alerts.iter().enumerate() {
        let hour = a.ts_ms / 3_600_000 % 24;
        groups
            .entry((ClusterKind::Site, a.site.as_str(), hour))
            .or_default()
            .push(i);
        if let Some(pool) = &a.pool {
            groups
                .entry((ClusterKind::Pool, pool.as_str(), hour))
                .or_default()
                .push(i);
        }
        if a.hardware_class != "unknown" {
            groups
                .entry((ClusterKind::Class, a.hardware_class.as_str(), hour))
                .or_default()
                .push(i);
        }
    }
    let mut out: Vec<Cluster> = groups
        .into_iter()
        .filter(|(_, m)| m.len() >= 2)
        .map(|((kind, key, hour), members)| Cluster {
            cluster_id: format!("{}/{key}/{hour:02}h", kind.as_str()),
            kind,
            members,
        })
        .collect();
    out.sort_by(|a, b| a.cluster_id.cmp(&b.cluster_id));
    out
}

/// `cluster_scorer`'s row for `c`, from its members' hub scores.
pub fn cluster_features(c: &Cluster, alerts: &[AlertInput], scores: &[f32]) -> [f32; 10] {
    let n = c.members.len().max(1) as f32;
    let mut rigs: Vec<&str> = c.members.iter().map(|&i| alerts[i].rig.as_str()).collect();
    rigs.sort_unstable();
    rigs.dedup();
    let s: Vec<f32> = c.members.iter().map(|&i| scores[i].clamp(0.0, 1.0)).collect();
    let max = s.iter().copied().fold(0.0, f32::max);
    let mean = s.iter().sum::<f32>() / n;
    let noisy_or = 1.0 - s.iter().map(|x| 1.0 - x).product::<f32>();
    let times = c.members.iter().map(|&i| alerts[i].ts_ms);
    let span = times.clone().max().unwrap_or(0) - times.min().unwrap_or(0);
    let hardware = c
        .members
        .iter()
        .filter(|&&i| is_hardware_threat(alerts[i].threat))
        .count() as f32;
    [
        f32::from(u8::from(c.kind == ClusterKind::Site)),
        f32::from(u8::from(c.kind == ClusterKind::Pool)),
        f32::from(u8::from(c.kind == ClusterKind::Class)),
        c.members.len() as f32,
        rigs.len() as f32,
        max,
        mean,
        noisy_or,
        span as f32 / 60_000.0,
        hardware / n,
    ]
}

/// Alert indices in rank order (rank 1 first); see the module comment for the tie-breaks.
pub fn rank(alerts: &[AlertInput], scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..alerts.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&alerts[a], &alerts[b]);
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(Ordering::Equal)
            .then(
                y.agent_score
                    .partial_cmp(&x.agent_score)
                    .unwrap_or(Ordering::Equal),
            )
            .then(x.ts_ms.cmp(&y.ts_ms))
            .then(x.alert_id.cmp(&y.alert_id))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scores::features::tests::alert;

    #[test]
    fn groups_by_site_pool_and_class_per_hour_and_drops_singletons() {
        let mut a = vec![
            alert("r1", "s1", 60, 0.9),  // 01h
            alert("r2", "s1", 119, 0.7), // 01h
            alert("r3", "s1", 120, 0.6), // 02h
            alert("r4", "s2", 61, 0.6),  // 01h, other site
        ];
        a[3].pool = None;
        let c = clusters(&a);
        let ids: Vec<&str> = c.iter().map(|c| c.cluster_id.as_str()).collect();
        assert_eq!(ids, vec!["class/cpu:ryzen/01h", "pool/pool-a/01h", "site/s1/01h"]);
        assert_eq!(c[0].members, vec![0, 1, 3]);
        assert_eq!(c[1].members, vec![0, 1]);
        let scores = [0.5, 0.5, 0.1, 1.0];
        let f = cluster_features(&c[0], &a, &scores);
        assert_eq!(f[..5], [0.0, 0.0, 1.0, 3.0, 3.0]);
        assert_eq!(f[5], 1.0);
        assert!((f[6] - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(f[7], 1.0);
        assert_eq!(f[8], 59.0);
        assert_eq!(f[9], 1.0);
        let f = cluster_features(&c[1], &a, &scores);
        assert!((f[7] - 0.75).abs() < 1e-6, "noisy-or of 0.5 and 0.5");
    }

    #[test]
    fn ranks_by_score_then_agent_score_then_time_then_id() {
        let a = vec![
            alert("r1", "s", 10, 0.6),
            alert("r2", "s", 5, 0.9),
            alert("r3", "s", 7, 0.6),
            alert("r4", "s", 7, 0.6),
        ];
        let scores = [0.5, 0.5, 0.5, 0.8];
        // r4 by score; r2 by agent score; r3 before r1 by time.
        assert_eq!(rank(&a, &scores), vec![3, 1, 2, 0]);
        let mut b = a.clone();
        b.reverse();
        let rev: Vec<usize> = rank(&b, &[0.8, 0.5, 0.5, 0.5]).iter().map(|i| 3 - i).collect();
        assert_eq!(rev, vec![3, 1, 2, 0], "order does not depend on input order");
    }
}

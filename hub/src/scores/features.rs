//! The alert scorer's inputs: one [`AlertInput`] per agent alert of the day (the alert and what
//! the hub knows around it), turned into the feature vector `alert_scorer` was trained on
//! (`models/train/scores_train.py` `ALERT_FEATURES`, same names, same order).
//!
//! Pure: the batch gathers the inputs from the store, this computes. Must never reorder or
//! rename a feature without retraining: the model's `hashward.features` is checked against
//! [`ALERT_FEATURES`] when it loads.

use hashward_protocol::{Severity, ThreatType};
use std::collections::{HashMap, HashSet};

/// Feature names in model input order.
pub const ALERT_FEATURES: [&str; 12] = [
    "agent_score",
    "severity_level",
    "threat_hardware",
    "threat_pool",
    "is_asic",
    "repeats_24h",
    "rig_alerts_7d",
    "rig_score_mean_7d",
    "site_rigs_alerting",
    "pool_rigs_alerting",
    "class_rigs_alerting",
    "hours_since_config_push",
];

/// Two alerts of different rigs closer than this are "at once".
pub const CO_ALERT_WINDOW_MS: u64 = 30 * 60 * 1000;

/// `hours_since_config_push` when the rig never had a push, and its cap.
pub const PUSH_HOURS_CAP: f32 = 720.0;

/// Days of earlier batches the rig's history covers.
pub const HISTORY_DAYS: u32 = 7;

/// One agent alert with its context, as the batch found it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertInput {
    /// `{site}/{rig}/{seq}`: stable across re-runs (the agent's sequence number is unique per rig).
    pub alert_id: String,
    pub site: String,
    pub rig: String,
    /// `rig` or an ASIC miner id.
    pub subject: String,
    pub ts_ms: u64,
    pub agent_score: f32,
    pub severity: Severity,
    pub threat: ThreatType,
    /// `asic:<model>`, `cpu:<cpu model>` or `unknown`.
    pub hardware_class: String,
    /// The pool's host, when the rig or ASIC reported one.
    pub pool: Option<String>,
    pub network: String,
    /// When the last config push the rig acknowledged was issued.
    pub last_push_ms: Option<u64>,
}

/// A rig's alerts in the previous [`HISTORY_DAYS`] batches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RigHistory {
    pub alerts: u32,
    pub score_sum: f64,
}

impl RigHistory {
    pub fn mean(&self) -> f64 {
        if self.alerts == 0 {
            0.0
        } else {
            self.score_sum / f64::from(self.alerts)
        }
    }
}

pub fn severity_level(s: Severity) -> f32 {
    match s {
        Severity::Low => 0.0,
        Severity::Medium => 1.0,
        Severity::High => 2.0,
        Severity::Critical => 3.0,
    }
}

pub fn is_hardware_threat(t: ThreatType) -> bool {
    matches!(
        t,
        ThreatType::Overheat | ThreatType::FanFailure | ThreatType::BoardLoss | ThreatType::PowerAnomaly
    )
}

fn is_pool_threat(t: ThreatType) -> bool {
    matches!(t, ThreatType::RejectionSurge | ThreatType::PoolChange)
}

/// For each alert, the distinct other rigs sharing its `key` that alert within the window.
fn co_alerting(alerts: &[AlertInput], key: impl Fn(&AlertInput) -> Option<&str>) -> Vec<f32> {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, a) in alerts.iter().enumerate() {
        if let Some(k) = key(a) {
            groups.entry(k).or_default().push(i);
        }
    }
    let mut out = vec![0.0; alerts.len()];
    for members in groups.values_mut() {
        members.sort_by_key(|&i| alerts[i].ts_ms);
        let times: Vec<u64> = members.iter().map(|&i| alerts[i].ts_ms).collect();
        for &i in members.iter() {
            let t = alerts[i].ts_ms;
            let lo = times.partition_point(|&x| x + CO_ALERT_WINDOW_MS < t);
            let hi = times.partition_point(|&x| x <= t + CO_ALERT_WINDOW_MS);
            let rigs: HashSet<&str> = members[lo..hi]
                .iter()
                .map(|&j| alerts[j].rig.as_str())
                .filter(|r| *r != alerts[i].rig)
                .collect();
            out[i] = rigs.len() as f32;
        }
    }
    out
}

/// The feature rows of `alerts` (any order), given each rig's history and `ALERT_FEATURES`.
/// `repeats_24h` counts the earlier alerts of the same rig and subject in `alerts` less than
/// 24 h before (the batch passes one UTC day, so: earlier the same day).
pub fn alert_features(alerts: &[AlertInput], history: &HashMap<String, RigHistory>) -> Vec<[f32; 12]> {
    let site = co_alerting(alerts, |a| Some(a.site.as_str()));
    let pool = co_alerting(alerts, |a| a.pool.as_deref());
    let class = co_alerting(alerts, |a| {
        (a.hardware_class != "unknown").then_some(a.hardware_class.as_str())
    });
    let mut by_subject: HashMap<(&str, &str), Vec<u64>> = HashMap::new();
    for a in alerts {
        by_subject
            .entry((a.rig.as_str(), a.subject.as_str()))
            .or_default()
            .push(a.ts_ms);
    }
    for times in by_subject.values_mut() {
        times.sort_unstable();
    }
    alerts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let times = &by_subject[&(a.rig.as_str(), a.subject.as_str())];
            let earlier = times.partition_point(|&t| t < a.ts_ms);
            let recent = times.partition_point(|&t| t + 86_400_000 <= a.ts_ms);
            let h = history.get(&a.rig).copied().unwrap_or_default();
            let push_h = a
                .last_push_ms
                .filter(|&p| p <= a.ts_ms)
                .map_or(PUSH_HOURS_CAP, |p| {
                    (a.ts_ms.saturating_sub(p) as f32 / 3_600_000.0).min(PUSH_HOURS_CAP)
                });
            [
                a.agent_score.clamp(0.0, 1.0),
                severity_level(a.severity),
                f32::from(u8::from(is_hardware_threat(a.threat))),
                f32::from(u8::from(is_pool_threat(a.threat))),
                f32::from(u8::from(a.subject != "rig")),
                earlier.saturating_sub(recent) as f32,
                h.alerts as f32,
                h.mean() as f32,
                site[i],
                pool[i],
                class[i],
                push_h,
            ]
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alert(rig: &str, site: &str, ts_min: u64, score: f32) -> AlertInput {
        AlertInput {
            alert_id: format!("{site}/{rig}/{ts_min}"),
            site: site.into(),
            rig: rig.into(),
            subject: "rig".into(),
            ts_ms: ts_min * 60_000,
            agent_score: score,
            severity: Severity::from_score(score),
            threat: ThreatType::Overheat,
            hardware_class: "cpu:ryzen".into(),
            pool: Some("pool-a".into()),
            network: "bitcoin".into(),
            last_push_ms: None,
        }
    }

    #[test]
    fn context_counts_other_rigs_at_once_repeats_and_history() {
        let mut a = vec![
            alert("r1", "s1", 100, 0.95),
            alert("r1", "s1", 110, 0.8),
            alert("r2", "s1", 125, 0.6),
            alert("r3", "s2", 129, 0.6),
            alert("r4", "s1", 200, 0.55),
        ];
        a[3].pool = Some("pool-b".into());
        a[3].threat = ThreatType::RejectionSurge;
        a[4].hardware_class = "unknown".into();
        a[4].subject = "s19-a".into();
        a[1].last_push_ms = Some(a[1].ts_ms - 3_600_000);
        let history = HashMap::from([(
            "r1".to_string(),
            RigHistory {
                alerts: 4,
                score_sum: 1.0,
            },
        )]);
        let f = alert_features(&a, &history);
        // r1 @100: r2 is 25 min later (same site, pool, class); r3 is another site and pool.
        assert_eq!(
            f[0],
            [0.95, 3.0, 1.0, 0.0, 0.0, 0.0, 4.0, 0.25, 1.0, 1.0, 2.0, 720.0]
        );
        // r1 @110: its second alert, a push 1 h before.
        assert_eq!(&f[1][5..], &[1.0, 4.0, 0.25, 1.0, 1.0, 2.0, 1.0]);
        // r2 @125: r1 twice (one rig) at its site and pool; r3 (other site, same class) too;
        // r4 at 200 is 75 min away.
        assert_eq!(&f[2][5..11], &[0.0, 0.0, 0.0, 1.0, 1.0, 2.0]);
        assert_eq!(&f[3][2..4], &[0.0, 1.0]);
        // r3: alone at its site and pool; r1 (29 min before) and r2 share its class.
        assert_eq!(&f[3][8..11], &[0.0, 0.0, 2.0]);
        // r4: alone in its window, an ASIC, no class.
        assert_eq!(&f[4][4..11], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}

//! `hashward-hub export alerts`: the scored alerts of a date range as JSON lines, one alert per
//! line, for the weekly offline retraining in `models/train` (cron example in README.md). Each
//! line carries the alert, its features by name (the model's inputs), the hub's score and rank,
//! and `label: null`: the field an operator's verdict fills before the line is trained on.
//!
//! Pure formatting; the command reads the store. Must never change a feature's name: the names
//! are the model contract.

use super::features::ALERT_FEATURES;
use crate::store::scores::ScoredAlert;
use serde_json::{json, Map, Value};

pub fn alert_line(network: &str, processing_date: &str, a: &ScoredAlert) -> Value {
    let features: Map<String, Value> = ALERT_FEATURES
        .iter()
        .zip(&a.features)
        .map(|(n, v)| (n.to_string(), json!(v)))
        .collect();
    json!({
        "network": network,
        "processing_date": processing_date,
        "alert_id": a.alert_id,
        "site": a.site,
        "rig": a.rig,
        "subject": a.subject,
        "ts_ms": a.ts_ms,
        "threat_type": a.threat_type,
        "severity": a.severity,
        "agent_score": a.agent_score,
        "hardware_class": a.hardware_class,
        "pool": a.pool,
        "features": features,
        "score": a.score,
        "rank": a.rank,
        "label": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_every_feature_and_leaves_the_label_to_fill() {
        let a = ScoredAlert {
            alert_id: "s/r/7".into(),
            site: "s".into(),
            rig: "r".into(),
            subject: "rig".into(),
            ts_ms: 5,
            threat_type: "overheat".into(),
            severity: "high".into(),
            agent_score: 0.8,
            hardware_class: "cpu:x".into(),
            pool: None,
            features: (0..12).map(|i| i as f32).collect(),
            score: 0.25,
            rank: 3,
        };
        let v = alert_line("bitcoin", "2026-12-01", &a);
        assert_eq!(v["features"]["hours_since_config_push"], 11.0);
        assert_eq!(v["features"]["agent_score"], 0.0);
        assert_eq!(v["features"].as_object().map(Map::len), Some(12));
        assert!(v["label"].is_null() && v["pool"].is_null());
        assert_eq!(
            (v["rank"].as_u64(), v["alert_id"].as_str()),
            (Some(3), Some("s/r/7"))
        );
    }
}

//! What the agents' messages mean for alerts, decided per envelope, pure: an anomaly alert
//! raises (and a low score for the same subject resolves it), a last-will raises `rig_offline`
//! after a grace period (a birth message resolves it), a rejected config push raises
//! `config_rejected` (an applied one resolves it). The site-wide `site_offline` is decided from
//! the rig registry by [`sites_offline`].
//!
//! Must never raise anything for a replayed duplicate (the caller passes new records only).

use super::config::SourcesConfig;
use super::model::{AlertEvent, AlertKey, Level, Subject};
use crate::domain::rig::RigEntry;
use hashward_protocol::{AckOutcome, Body, Envelope, Severity, SiteId, ThreatType};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Raise(AlertEvent),
    Resolve(AlertKey),
}

const THREATS: [ThreatType; 8] = [
    ThreatType::Overheat,
    ThreatType::FanFailure,
    ThreatType::BoardLoss,
    ThreatType::HashrateDrop,
    ThreatType::RejectionSurge,
    ThreatType::PoolChange,
    ThreatType::PowerAnomaly,
    ThreatType::Unknown,
];

/// The alert kind of an agent's threat type: its wire name (`overheat`, `fan_failure`...).
pub fn threat_kind(t: ThreatType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Severity critical is critical; high and medium are warnings; low is information.
pub fn level_of(s: Severity) -> Level {
    match s {
        Severity::Critical => Level::Critical,
        Severity::High | Severity::Medium => Level::Warning,
        Severity::Low => Level::Info,
    }
}

fn subject_of(site: &SiteId, rig: &str, subject: &str) -> Subject {
    let mut s = Subject::rig(site.as_str(), rig);
    if subject != "rig" {
        s.asic = Some(subject.to_string());
    }
    s
}

pub const RIG_OFFLINE: &str = "rig_offline";
pub const SITE_OFFLINE: &str = "site_offline";
pub const CONFIG_REJECTED: &str = "config_rejected";

/// The alert operations one new envelope from `site` implies.
pub fn ops(site: &SiteId, env: &Envelope, cfg: &SourcesConfig) -> Vec<Op> {
    let rig = env.rig.as_str();
    match &env.body {
        Body::Alert(a) => vec![Op::Raise(AlertEvent {
            kind: threat_kind(a.threat_type),
            level: level_of(a.severity),
            source: "agent".into(),
            subject: subject_of(site, rig, &a.subject),
            message: format!("{} (score {:.2}, {})", a.message, a.score, a.model_version),
            hold_ms: 0,
            auto_resolve_ms: cfg.agent_alert_resolve_ms,
        })],
        Body::Score(s) if s.severity == Severity::Low => {
            let subject = subject_of(site, rig, &s.subject);
            THREATS
                .iter()
                .map(|t| Op::Resolve(AlertKey::new(&threat_kind(*t), &subject)))
                .collect()
        }
        Body::State(st) => {
            let subject = Subject::rig(site.as_str(), rig);
            if st.online {
                vec![Op::Resolve(AlertKey::new(RIG_OFFLINE, &subject))]
            } else {
                vec![Op::Raise(AlertEvent {
                    kind: RIG_OFFLINE.into(),
                    level: Level::Warning,
                    source: "hub".into(),
                    subject,
                    message: format!(
                        "rig {rig} went offline (its last will); not back after the grace period"
                    ),
                    hold_ms: cfg.rig_offline_grace_ms,
                    auto_resolve_ms: 0,
                })]
            }
        }
        Body::Ack(ack) if ack.scope != "cmd" => {
            let subject = Subject::rig(site.as_str(), rig);
            match &ack.outcome {
                AckOutcome::Rejected(why) => vec![Op::Raise(AlertEvent {
                    kind: CONFIG_REJECTED.into(),
                    level: Level::Warning,
                    source: "agent".into(),
                    subject,
                    message: format!("config push {} v{} rejected: {why}", ack.scope, ack.version),
                    hold_ms: 0,
                    auto_resolve_ms: 0,
                })],
                AckOutcome::Applied => vec![Op::Resolve(AlertKey::new(CONFIG_REJECTED, &subject))],
                AckOutcome::Report(_) => vec![],
            }
        }
        _ => vec![],
    }
}

/// Per site with at least `min_rigs` rigs that have ever been online (sent a birth message):
/// whether every one of them is offline now.
pub fn sites_offline(rigs: &[RigEntry], min_rigs: usize) -> BTreeMap<String, bool> {
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    // A rig known only from records relayed for it never said it was up: it cannot go down.
    for r in rigs.iter().filter(|r| !r.agent_version.is_empty()) {
        let e = per.entry(r.site.as_str().to_string()).or_default();
        e.0 += 1;
        if !r.online {
            e.1 += 1;
        }
    }
    per.into_iter()
        .filter(|(_, (n, _))| *n >= min_rigs.max(1))
        .map(|(site, (n, off))| (site, n == off))
        .collect()
}

/// The `site_offline` alert for `site`.
pub fn site_offline_event(site: &str) -> AlertEvent {
    AlertEvent {
        kind: SITE_OFFLINE.into(),
        level: Level::Critical,
        source: "hub".into(),
        subject: Subject {
            site: Some(site.to_string()),
            ..Subject::default()
        },
        message: format!("every rig of site {site} is offline"),
        hold_ms: 0,
        auto_resolve_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{Ack, Alert, RecommendedAction, RigId, RigState, Score};

    fn site() -> SiteId {
        SiteId::new("lab").expect("id")
    }

    fn env(body: Body) -> Envelope {
        Envelope::new(RigId::new("r1").expect("id"), 1, 1, body)
    }

    #[test]
    fn agent_alerts_raise_and_a_low_score_resolves_them() {
        let cfg = SourcesConfig::default();
        let alert = env(Body::Alert(Alert {
            subject: "s19-a".into(),
            score: 0.97,
            threat_type: ThreatType::Overheat,
            severity: Severity::Critical,
            action: RecommendedAction {
                action: "alert".into(),
                description: "d".into(),
                auto_execute: false,
            },
            model_version: "m".into(),
            message: "chip 95 C".into(),
        }));
        let ops1 = ops(&site(), &alert, &cfg);
        let [Op::Raise(ev)] = &ops1[..] else {
            panic!("not one raise: {ops1:?}")
        };
        assert_eq!((ev.kind.as_str(), ev.level), ("overheat", Level::Critical));
        assert_eq!(ev.subject.asic.as_deref(), Some("s19-a"));
        let low = env(Body::Score(Score {
            subject: "s19-a".into(),
            score: 0.1,
            threat_type: ThreatType::FanFailure,
            severity: Severity::Low,
            model_version: "m".into(),
            sample_ts_ms: 1,
        }));
        assert!(ops(&site(), &low, &cfg).contains(&Op::Resolve(ev.key())));
    }

    #[test]
    fn a_site_is_offline_when_every_rig_seen_up_is_down() {
        let rig = |name: &str, site: &str, online: bool, seen_up: bool| {
            let mut e = RigEntry::new(RigId::new(name).expect("id"), SiteId::new(site).expect("id"));
            e.online = online;
            if seen_up {
                e.agent_version = "0.1".into();
            }
            e
        };
        let rigs = [
            rig("a1", "a", false, true),
            rig("a2", "a", false, true),
            rig("a3", "a", false, false),
            rig("b1", "b", false, true),
            rig("b2", "b", true, true),
            rig("c1", "c", false, true),
        ];
        let got = sites_offline(&rigs, 2);
        assert_eq!(got.get("a"), Some(&true), "the never-seen rig does not count");
        assert_eq!(got.get("b"), Some(&false));
        assert_eq!(got.get("c"), None, "too few rigs to tell a site from a rig");
    }

    #[test]
    fn state_and_config_acks_map_to_offline_and_rejection() {
        let cfg = SourcesConfig::default();
        let state = |online| {
            env(Body::State(RigState {
                online,
                boot: 1,
                agent_version: "x".into(),
                hardware: None,
                capabilities: vec![],
            }))
        };
        let off = ops(&site(), &state(false), &cfg);
        assert!(
            matches!(&off[..], [Op::Raise(e)] if e.kind == RIG_OFFLINE && e.hold_ms == cfg.rig_offline_grace_ms)
        );
        let key = AlertKey::new(RIG_OFFLINE, &Subject::rig("lab", "r1"));
        assert_eq!(ops(&site(), &state(true), &cfg), vec![Op::Resolve(key)]);
        let ack = |outcome| {
            env(Body::Ack(Ack {
                scope: "fleet".into(),
                version: 3,
                outcome,
            }))
        };
        let rejected = ops(&site(), &ack(AckOutcome::Rejected("bad signature".into())), &cfg);
        assert!(matches!(&rejected[..], [Op::Raise(e)] if e.message.contains("bad signature")));
        assert!(matches!(
            &ops(&site(), &ack(AckOutcome::Applied), &cfg)[..],
            [Op::Resolve(_)]
        ));
    }
}

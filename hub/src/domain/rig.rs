//! A rig as the hub knows it, projected from the envelopes it sends: online state and hardware
//! from its birth and last-will messages, sequence accounting, the latest telemetry, the latest
//! score per subject, the latest alert, and its config and command acks.
//!
//! Pure: the store decides whether a record is new (it owns the (rig, seq) key) and applies the
//! envelope here. Must never let a replayed older record overwrite a newer one's projection.

use crate::domain::rollout::ScopeAcks;
use crate::domain::seq::SeqStats;
use hashward_protocol::{
    Ack, AckOutcome, Alert, Body, Envelope, Hardware, RigId, RigTelemetry, Score, SiteId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the hub knows about one rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigEntry {
    pub rig: RigId,
    pub site: SiteId,
    pub online: bool,
    pub boot: u64,
    pub agent_version: String,
    pub hardware: Option<Hardware>,
    pub last_seen_ms: u64,
    pub last_telemetry: Option<RigTelemetry>,
    pub last_telemetry_ms: u64,
    pub seq: SeqStats,
    pub missing: u64,
    /// What the rig acked per config scope.
    #[serde(default)]
    pub config: BTreeMap<String, ScopeAcks>,
    /// The latest command acks (nonce, outcome), newest last.
    #[serde(default)]
    pub commands: Vec<CommandAck>,
    /// The latest inference score per subject (`rig` or an ASIC miner id).
    #[serde(default)]
    pub anomaly: BTreeMap<String, Score>,
    /// The latest alert and when it was raised.
    #[serde(default)]
    pub last_alert: Option<Alert>,
    #[serde(default)]
    pub last_alert_ms: u64,
    /// Seqs of the latest telemetry and alert: "latest" is by seq, the agent's persisted order,
    /// not by `ts_ms`, which steps with the rig's wall clock (an NTP step back an hour kept the
    /// pre-step telemetry as the latest for that hour; tests/clock_step.rs).
    #[serde(default)]
    pub last_telemetry_seq: u64,
    #[serde(default)]
    pub last_alert_seq: u64,
}

/// Subjects whose latest score a rig entry keeps (a rig polls a handful of ASICs; more means
/// miner ids churn, and the oldest-named are dropped).
pub const SCORE_SUBJECTS_KEPT: usize = 256;

/// Command acks kept per rig.
pub const COMMAND_ACKS_KEPT: usize = 20;

/// One command's outcome as the rig reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandAck {
    pub nonce: u64,
    pub ts_ms: u64,
    pub outcome: AckOutcome,
}

impl RigEntry {
    pub fn new(rig: RigId, site: SiteId) -> RigEntry {
        RigEntry {
            rig,
            site,
            online: false,
            boot: 0,
            agent_version: String::new(),
            hardware: None,
            last_seen_ms: 0,
            last_telemetry: None,
            last_telemetry_ms: 0,
            seq: SeqStats::default(),
            missing: 0,
            config: BTreeMap::new(),
            commands: Vec::new(),
            anomaly: BTreeMap::new(),
            last_alert: None,
            last_alert_ms: 0,
            last_telemetry_seq: 0,
            last_alert_seq: 0,
        }
    }

    /// Applies one envelope received on `site`'s topics at `received_ms`. `is_new`: for a
    /// sequenced record, whether the store had not stored it before (a duplicate only counts);
    /// ignored for state messages, which carry no sequence number.
    pub fn observe(&mut self, site: &SiteId, env: &Envelope, received_ms: u64, is_new: bool) {
        self.site = site.clone();
        self.last_seen_ms = self.last_seen_ms.max(received_ms);
        if let Body::State(state) = &env.body {
            self.online = state.online;
            self.boot = self.boot.max(state.boot);
            if state.online {
                self.agent_version = state.agent_version.clone();
                if state.hardware.is_some() {
                    self.hardware = state.hardware.clone();
                }
            }
            return;
        }
        if is_new {
            match &env.body {
                Body::Tele(t) if env.seq >= self.last_telemetry_seq => {
                    self.last_telemetry = Some(t.clone());
                    self.last_telemetry_ms = env.ts_ms;
                    self.last_telemetry_seq = env.seq;
                }
                Body::Ack(ack) => self.record_ack(ack, env.ts_ms),
                Body::Score(score) => self.record_score(score),
                Body::Alert(alert) if env.seq >= self.last_alert_seq => {
                    self.last_alert = Some(alert.clone());
                    self.last_alert_ms = env.ts_ms;
                    self.last_alert_seq = env.seq;
                }
                _ => {}
            }
        }
        self.seq.observe(env.seq, is_new);
        self.missing = self.seq.missing();
    }

    /// Keeps the newest score per subject (replayed records arrive out of order after an outage).
    fn record_score(&mut self, score: &Score) {
        if let Some(old) = self.anomaly.get(&score.subject) {
            if old.sample_ts_ms > score.sample_ts_ms {
                return;
            }
        }
        if self.anomaly.len() >= SCORE_SUBJECTS_KEPT && !self.anomaly.contains_key(&score.subject) {
            if let Some(oldest) = self
                .anomaly
                .iter()
                .min_by_key(|(_, s)| s.sample_ts_ms)
                .map(|(k, _)| k.clone())
            {
                self.anomaly.remove(&oldest);
            }
        }
        self.anomaly.insert(score.subject.clone(), score.clone());
    }

    fn record_ack(&mut self, ack: &Ack, ts_ms: u64) {
        if ack.scope == "cmd" {
            self.commands.push(CommandAck {
                nonce: ack.version,
                ts_ms,
                outcome: ack.outcome.clone(),
            });
            let extra = self.commands.len().saturating_sub(COMMAND_ACKS_KEPT);
            self.commands.drain(..extra);
            return;
        }
        let rejected = match &ack.outcome {
            AckOutcome::Rejected(why) => Some(why.as_str()),
            AckOutcome::Applied | AckOutcome::Report(_) => None,
        };
        self.config
            .entry(ack.scope.clone())
            .or_default()
            .record(ack.version, rejected, ts_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{AgentCounters, RigState, Severity, ThreatType};

    fn site() -> SiteId {
        SiteId::new("s").expect("id")
    }

    fn env(seq: u64, ts_ms: u64, body: Body) -> Envelope {
        Envelope::new(RigId::new("r1").expect("id"), seq, ts_ms, body)
    }

    fn tele(uptime_s: u64) -> Body {
        Body::Tele(RigTelemetry {
            uptime_s,
            load_1m: 0.0,
            load_5m: 0.0,
            load_15m: 0.0,
            cpu_usage_pct: 1.0,
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            temperatures: vec![],
            miner: None,
            agent: AgentCounters::default(),
        })
    }

    fn score(subject: &str, value: f32, sample_ts_ms: u64) -> Body {
        Body::Score(Score {
            subject: subject.into(),
            score: value,
            threat_type: ThreatType::Overheat,
            severity: Severity::from_score(value),
            model_version: "m".into(),
            sample_ts_ms,
        })
    }

    fn ack(scope: &str, version: u64, outcome: AckOutcome) -> Body {
        Body::Ack(Ack {
            scope: scope.into(),
            version,
            outcome,
        })
    }

    fn entry() -> RigEntry {
        RigEntry::new(RigId::new("r1").expect("id"), site())
    }

    #[test]
    fn a_replayed_older_telemetry_does_not_replace_the_newest() {
        let mut e = entry();
        e.observe(&site(), &env(2, 200, tele(20)), 1000, true);
        e.observe(&site(), &env(1, 100, tele(10)), 1001, true);
        assert_eq!(e.last_telemetry.as_ref().map(|t| t.uptime_s), Some(20));
        assert_eq!((e.last_telemetry_ms, e.last_seen_ms), (200, 1001));
        assert_eq!((e.seq.received, e.missing), (2, 0));
    }

    #[test]
    fn a_clock_stepped_back_does_not_freeze_the_latest_telemetry() {
        let mut e = entry();
        e.observe(&site(), &env(1, 10_000_000, tele(10)), 1000, true);
        // The rig's clock stepped back an hour: the newer record carries an older timestamp.
        e.observe(&site(), &env(2, 10_000_000 - 3_600_000, tele(20)), 1001, true);
        assert_eq!(e.last_telemetry.as_ref().map(|t| t.uptime_s), Some(20));
        assert_eq!(e.last_telemetry_ms, 10_000_000 - 3_600_000);
    }

    #[test]
    fn a_duplicate_counts_but_changes_no_projection() {
        let mut e = entry();
        e.observe(&site(), &env(1, 100, tele(10)), 1, true);
        e.observe(&site(), &env(5, 500, score("rig", 0.9, 500)), 2, false);
        assert!(e.anomaly.is_empty());
        assert_eq!((e.seq.received, e.seq.duplicates, e.missing), (1, 1, 0));
        e.observe(&site(), &env(4, 400, tele(40)), 3, true);
        assert_eq!((e.seq.first, e.seq.last, e.missing), (1, 4, 2));
    }

    #[test]
    fn newest_score_per_subject_and_the_oldest_subject_goes_when_full() {
        let mut e = entry();
        e.observe(&site(), &env(1, 200, score("rig", 0.7, 200)), 1, true);
        e.observe(&site(), &env(2, 100, score("rig", 0.1, 100)), 2, true);
        assert_eq!(e.anomaly["rig"].score, 0.7);
        for i in 0..SCORE_SUBJECTS_KEPT as u64 {
            e.observe(
                &site(),
                &env(10 + i, 1000 + i, score(&format!("asic-{i}"), 0.5, 1000 + i)),
                3,
                true,
            );
        }
        assert_eq!(e.anomaly.len(), SCORE_SUBJECTS_KEPT);
        assert!(
            !e.anomaly.contains_key("rig"),
            "the oldest subject is dropped first"
        );
    }

    #[test]
    fn acks_split_into_commands_and_config_scopes() {
        let mut e = entry();
        for n in 0..(COMMAND_ACKS_KEPT as u64 + 5) {
            e.observe(
                &site(),
                &env(n + 1, n, ack("cmd", n, AckOutcome::Applied)),
                n,
                true,
            );
        }
        assert_eq!(e.commands.len(), COMMAND_ACKS_KEPT);
        assert_eq!(e.commands.first().map(|c| c.nonce), Some(5));
        e.observe(
            &site(),
            &env(100, 100, ack("fleet", 7, AckOutcome::Rejected("bad key".into()))),
            100,
            true,
        );
        assert_eq!(e.config["fleet"].rejected, Some((7, "bad key".to_string())));
        e.observe(
            &site(),
            &env(101, 101, ack("fleet", 7, AckOutcome::Applied)),
            101,
            true,
        );
        assert_eq!(
            (e.config["fleet"].applied, e.config["fleet"].rejected.clone()),
            (Some(7), None)
        );
    }

    #[test]
    fn state_messages_set_online_and_hardware_without_seq() {
        let mut e = entry();
        let state = |online, boot| {
            env(
                0,
                1,
                Body::State(RigState {
                    online,
                    boot,
                    agent_version: "0.2".into(),
                    hardware: None,
                    capabilities: vec![],
                }),
            )
        };
        e.observe(&site(), &state(true, 3), 10, true);
        assert!(e.online);
        assert_eq!((e.boot, e.agent_version.as_str()), (3, "0.2"));
        e.observe(&site(), &state(false, 2), 20, true);
        assert!(!e.online);
        assert_eq!(e.boot, 3, "a late last-will of an older boot does not lower it");
        assert_eq!(e.seq, SeqStats::default());
    }
}

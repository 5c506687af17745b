//! Turns one MQTT message into a trusted envelope, or says exactly what is wrong with it.
//! Pure. An envelope must agree with its topic: the rig in the payload is the rig in the topic
//! (which broker ACLs bind to the client's user name), and the body is the topic's kind.

use crate::domain::rollout::PushRecord;
use hashward_protocol::signed::{PayloadKind, Scope, SignedMessage};
use hashward_protocol::{decode, DecodeError, Envelope, SiteId, Topic, TopicError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Topic(#[from] TopicError),
    #[error("payload on {topic}: {source}")]
    Decode { topic: String, source: DecodeError },
    #[error("payload on {topic} claims rig {claimed}")]
    RigMismatch { topic: String, claimed: String },
    #[error("payload on {topic} is a {kind} message")]
    KindMismatch { topic: String, kind: &'static str },
}

impl IngestError {
    /// Whether this is a well-formed message for the wrong place (as opposed to garbage).
    pub fn is_mismatch(&self) -> bool {
        matches!(
            self,
            IngestError::RigMismatch { .. } | IngestError::KindMismatch { .. }
        )
    }
}

/// `Ok(None)` for topics the hub subscribes to but does not ingest (its own config pushes).
pub fn classify(topic: &str, payload: &[u8]) -> Result<Option<(SiteId, Envelope)>, IngestError> {
    let parsed = Topic::parse(topic)?;
    if !parsed.is_uplink() {
        return Ok(None);
    }
    let env = decode(payload).map_err(|source| IngestError::Decode {
        topic: topic.to_string(),
        source,
    })?;
    let Some((site, rig)) = parsed.rig() else {
        return Ok(None);
    };
    if &env.rig != rig {
        return Err(IngestError::RigMismatch {
            topic: topic.to_string(),
            claimed: env.rig.to_string(),
        });
    }
    let leaf = match parsed {
        Topic::State { .. } => "state",
        Topic::Tele { .. } => "tele",
        Topic::Asic { .. } => "asic",
        Topic::Perf { .. } => "perf",
        Topic::Alert { .. } => "alert",
        Topic::Ack { .. } => "ack",
        Topic::Score { .. } => "score",
        Topic::Advice { .. } => "advice",
        Topic::Depin { .. } => "depin",
        // is_uplink() let only the topics above through.
        _ => return Ok(None),
    };
    if env.body.kind() != leaf {
        return Err(IngestError::KindMismatch {
            topic: topic.to_string(),
            kind: env.body.kind(),
        });
    }
    if env.is_sequenced() == matches!(env.body, hashward_protocol::Body::State(_)) {
        return Err(IngestError::KindMismatch {
            topic: topic.to_string(),
            kind: env.body.kind(),
        });
    }
    Ok(Some((site.clone(), env)))
}

/// A config push seen on a scope's config topic: the scope and the push, or `None` for a
/// cleared retained message. `Ok(None)` for every other topic. The hub records what it sees for
/// rollout tracking; the agents, not the hub, decide whether a push is genuine.
#[allow(clippy::type_complexity)]
pub fn config_push(topic: &str, payload: &[u8]) -> Result<Option<(String, Option<PushRecord>)>, IngestError> {
    let scope = match Topic::parse(topic)? {
        Topic::FleetCfg => Scope::Fleet,
        Topic::SiteCfg { site } => Scope::Site(site),
        Topic::RigCfg { site, rig } => Scope::Rig(site, rig),
        _ => return Ok(None),
    };
    let scope_s = scope.to_string();
    if payload.is_empty() {
        return Ok(Some((scope_s, None)));
    }
    let msg: SignedMessage = postcard::from_bytes(payload).map_err(|e| IngestError::Decode {
        topic: topic.to_string(),
        source: DecodeError::Malformed(e),
    })?;
    let c = msg.content;
    if c.kind != PayloadKind::Config || c.scope != scope {
        return Err(IngestError::KindMismatch {
            topic: topic.to_string(),
            kind: "signed message for another scope or of another kind",
        });
    }
    Ok(Some((
        scope_s.clone(),
        Some(PushRecord {
            scope: scope_s,
            version: c.version,
            issued_ms: c.issued_ms,
            patch: String::from_utf8_lossy(&c.payload).into_owned(),
        }),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashward_protocol::{encode, Ack, AckOutcome, Body, RigId};

    fn ack(rig: &str, seq: u64) -> Vec<u8> {
        let body = Body::Ack(Ack {
            scope: "fleet".into(),
            version: 1,
            outcome: AckOutcome::Applied,
        });
        encode(&Envelope::new(RigId::new(rig).expect("id"), seq, 1, body)).expect("encode")
    }

    #[test]
    fn accepts_matching_envelopes() {
        let (site, env) = classify("hashward/v1/s/r1/ack", &ack("r1", 3))
            .expect("ok")
            .expect("uplink");
        assert_eq!((site.as_str(), env.seq), ("s", 3));
    }

    #[test]
    fn accepts_power_advice_on_its_topic_only() {
        let body = Body::Advice(hashward_protocol::PowerAdvice {
            asic_id: "s19-a".into(),
            model_version: "efficiency_asic_v1".into(),
            current: hashward_protocol::OperatingPoint {
                frequency_mhz: 630.0,
                voltage_v: 14.2,
                expected_ths: 120.0,
                expected_w: 3900.0,
                j_per_th: 32.5,
            },
            suggestion: None,
        });
        let bytes = encode(&Envelope::new(RigId::new("r1").expect("id"), 9, 1, body)).expect("encode");
        let (_, env) = classify("hashward/v1/s/r1/advice", &bytes)
            .expect("ok")
            .expect("uplink");
        assert_eq!((env.seq, env.body.kind(), env.schema), (9, "advice", 3));
        assert!(matches!(
            classify("hashward/v1/s/r1/score", &bytes),
            Err(IngestError::KindMismatch { kind: "advice", .. })
        ));
    }

    #[test]
    fn ignores_downlink_topics() {
        assert!(classify("hashward/v1/fleet/cfg", b"whatever")
            .expect("ok")
            .is_none());
        assert!(classify("hashward/v1/s/r1/cmd", b"whatever")
            .expect("ok")
            .is_none());
    }

    #[test]
    fn refuses_spoofing_wrong_kind_garbage_and_bad_topics() {
        assert!(matches!(
            classify("hashward/v1/s/r2/ack", &ack("r1", 3)),
            Err(IngestError::RigMismatch { .. })
        ));
        assert!(matches!(
            classify("hashward/v1/s/r1/tele", &ack("r1", 3)),
            Err(IngestError::KindMismatch { .. })
        ));
        assert!(matches!(
            classify("hashward/v1/s/r1/ack", &ack("r1", 0)),
            Err(IngestError::KindMismatch { .. })
        ));
        assert!(matches!(
            classify("hashward/v1/s/r1/ack", b"\xff\x00garbage"),
            Err(IngestError::Decode { .. })
        ));
        assert!(matches!(
            classify("hashward/v1/s/r1/nope", &ack("r1", 3)),
            Err(IngestError::Topic(_))
        ));
    }
}

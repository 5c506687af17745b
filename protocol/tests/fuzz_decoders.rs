//! Stable-Rust fuzz harnesses for every protocol decoder that takes bytes or text from outside:
//! envelopes (every body), signed messages, commands, fleet hints, model announcements, topics,
//! scopes and broker URLs. Each starts from `fuzz/corpus/<target>/` and runs a fixed number of
//! deterministic mutations (`fuzz/mutate.rs`); `HASHWARD_FUZZ_ITERS` scales them.
//!
//! Property: no panic; an error, or a value whose re-encoding decodes to the same value (compared
//! as re-encoded bytes, so a NaN in a float field still compares equal).

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use ed25519_dalek::SigningKey;
use hashward_protocol::codec::decode_value;
use hashward_protocol::models::ModelAnnouncement;
use hashward_protocol::signed::{Scope, SignedMessage};
use hashward_protocol::*;
use serde::{de::DeserializeOwned, Serialize};

/// Decodes `bytes` as `T`; when that works, the value must re-encode, and the re-encoding must
/// decode to a value that encodes to the very same bytes.
fn postcard_round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let value: T = decode_value(bytes).ok()?;
    let again = encode(&value).expect("a decoded value re-encodes");
    let back: T = decode_value(&again).expect("a re-encoded value decodes");
    assert_eq!(encode(&back).expect("encode"), again, "re-encoding is not stable");
    Some(value)
}

#[test]
fn fuzz_envelope() {
    let mut accepted = 0u32;
    mutate::run("envelope", 60_000, |bytes| {
        let Ok(env) = decode(bytes) else { return };
        accepted += 1;
        assert!(env.schema <= SCHEMA, "schema {} accepted", env.schema);
        let again = encode(&env).expect("a decoded envelope re-encodes");
        let back = decode(&again).expect("a re-encoded envelope decodes");
        assert_eq!(encode(&back).expect("encode"), again);
        assert_eq!(back.body.kind(), env.body.kind());
    });
    // The seeds themselves are valid: the harness really reaches the body decoders.
    assert!(accepted >= 8, "only {accepted} inputs decoded");
}

#[test]
fn fuzz_signed_message() {
    // The key the golden corpus message was signed with (protocol/tests/golden.rs).
    let hub = SigningKey::from_bytes(&[7; 32]).verifying_key();
    let genuine: Vec<SignedMessage> = mutate::corpus("signed")
        .iter()
        .filter_map(|b| decode_value(b).ok())
        .collect();
    let mut verified = 0u32;
    mutate::run("signed", 40_000, |bytes| {
        let Some(msg) = postcard_round_trip::<SignedMessage>(bytes) else {
            return;
        };
        if let Ok(content) = msg.verify(&hub) {
            verified += 1;
            // Mutations must not forge a signature: whatever verifies is a genuine message.
            assert!(genuine.contains(&msg), "a mutated message verified: {msg:?}");
            // A verified payload goes on to its own decoder; that must not panic either.
            let _ = decode_value::<Command>(&content.payload);
            let _ = ModelAnnouncement::from_payload(&content.payload);
            let _ = std::str::from_utf8(&content.payload);
        }
    });
    assert!(
        verified >= 1,
        "the genuine seed did not verify: the harness checks nothing"
    );
}

#[test]
fn fuzz_command() {
    mutate::run("command", 20_000, |bytes| {
        if let Some(cmd) = postcard_round_trip::<Command>(bytes) {
            assert!(Command::NAMES.contains(&cmd.name()));
        }
    });
}

#[test]
fn fuzz_fleet_hints() {
    mutate::run("fleet_hints", 30_000, |bytes| {
        let _ = postcard_round_trip::<FleetHints>(bytes);
    });
}

#[test]
fn fuzz_model_announcement() {
    mutate::run("model_announcement", 30_000, |bytes| {
        let Ok(ann) = ModelAnnouncement::from_payload(bytes) else {
            return;
        };
        let again = ann.to_payload().expect("re-encodes");
        assert_eq!(ModelAnnouncement::from_payload(&again).expect("decodes"), ann);
    });
}

#[test]
fn fuzz_topic() {
    let mut accepted = 0u32;
    mutate::run("topic", 60_000, |bytes| {
        let Some(text) = mutate::text(bytes) else { return };
        let Ok(topic) = Topic::parse(text) else { return };
        accepted += 1;
        let printed = topic.to_string();
        assert_eq!(
            Topic::parse(&printed).expect("a printed topic parses"),
            topic,
            "{text:?}"
        );
        if let Some((site, rig)) = topic.rig() {
            assert!(!site.as_str().contains('/') && !rig.as_str().contains('/'));
        }
    });
    assert!(accepted >= 14, "only {accepted} topics parsed");
}

#[test]
fn fuzz_scope() {
    mutate::run("scope", 30_000, |bytes| {
        let Some(text) = mutate::text(bytes) else { return };
        let Ok(scope) = text.parse::<Scope>() else { return };
        assert_eq!(
            scope.to_string().parse::<Scope>().expect("printed scope parses"),
            scope
        );
    });
}

#[test]
fn fuzz_broker_addr() {
    mutate::run("broker_addr", 30_000, |bytes| {
        let Some(text) = mutate::text(bytes) else { return };
        let Ok(addr) = BrokerAddr::parse(text) else { return };
        if !addr.host.contains(':') {
            let scheme = if addr.tls { "mqtts" } else { "mqtt" };
            let printed = format!("{scheme}://{}:{}", addr.host, addr.port);
            assert_eq!(BrokerAddr::parse(&printed).expect("printed address parses"), addr);
        }
    });
}

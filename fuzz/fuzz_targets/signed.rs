//! libFuzzer target: a signed hub message, verified, and its payload's decoders.
#![no_main]
#[path = "common.rs"]
mod common;
use ed25519_dalek::SigningKey;
use hashward_protocol::models::ModelAnnouncement;
use hashward_protocol::signed::SignedMessage;
use hashward_protocol::{codec::decode_value, Command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some(msg) = common::postcard_round_trip::<SignedMessage>(bytes) else { return };
    let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
    if let Ok(content) = msg.verify(&key) {
        let _ = decode_value::<Command>(&content.payload);
        let _ = ModelAnnouncement::from_payload(&content.payload);
    }
});

//! libFuzzer target: `hashward_protocol::decode` of an envelope (every body).
#![no_main]
use hashward_protocol::{decode, encode, SCHEMA};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(env) = decode(bytes) else { return };
    assert!(env.schema <= SCHEMA);
    let again = encode(&env).expect("re-encodes");
    let back = decode(&again).expect("re-decodes");
    assert_eq!(encode(&back).expect("encode"), again);
});

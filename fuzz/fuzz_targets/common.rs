//! Helpers shared by the libFuzzer targets (included with `#[path]`): the postcard round-trip
//! property. Must stay in step with the stable harnesses in `protocol/tests/fuzz_decoders.rs`.

#![allow(dead_code)]

use hashward_protocol::codec::{decode_value, encode};
use serde::{de::DeserializeOwned, Serialize};

pub fn postcard_round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let value: T = decode_value(bytes).ok()?;
    let again = encode(&value).expect("a decoded value re-encodes");
    let back: T = decode_value(&again).expect("a re-encoded value decodes");
    assert_eq!(encode(&back).expect("encode"), again, "re-encoding is not stable");
    Some(value)
}

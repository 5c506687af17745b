//! libFuzzer target: postcard `FleetHints` from `fleet/hints`.
#![no_main]
#[path = "common.rs"]
mod common;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = common::postcard_round_trip::<hashward_protocol::FleetHints>(bytes);
});

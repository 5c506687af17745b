//! libFuzzer target: a postcard `Command` (the payload of a signed command).
#![no_main]
#[path = "common.rs"]
mod common;
use hashward_protocol::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Some(cmd) = common::postcard_round_trip::<Command>(bytes) {
        assert!(Command::NAMES.contains(&cmd.name()));
    }
});

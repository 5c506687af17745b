//! libFuzzer target: WAMP text frames (the Prohashing link); the checks live in
//! `fuzz/collectors.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../collectors.rs"]
mod collectors;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        collectors::wamp_message(text);
    }
});

//! libFuzzer target: the collectors' market and pool JSON (CoinGecko, CoinMarketCap, Prohashing
//! HTTP and WAMP payloads); the checks live in `fuzz/collectors.rs`.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../collectors.rs"]
mod collectors;

fuzz_target!(|bytes: &[u8]| {
    collectors::collector_json(bytes);
});

//! Stable-Rust fuzz harness for the collectors' decoders: the market and pool JSON of CoinGecko,
//! CoinMarketCap and Prohashing (HTTP and WAMP payloads), and WAMP text frames. Deterministic
//! mutations (`fuzz/mutate.rs`) of `fuzz/corpus/collector_json/` and `fuzz/corpus/wamp_message/`;
//! the properties are in `fuzz/collectors.rs`, shared with the libFuzzer targets.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

#[path = "../../fuzz/collectors.rs"]
mod collectors;

#[test]
fn fuzz_collector_json() {
    let mut accepted = 0u32;
    mutate::run("collector_json", 5_000, |bytes| {
        accepted += collectors::collector_json(bytes);
    });
    // The seeds themselves must pass, or the properties are checked on errors only.
    assert!(
        accepted >= 10,
        "only {accepted} decodes accepted: the harness tests nothing"
    );
}

#[test]
fn collector_seeds_are_accepted_by_their_decoder() {
    for seed in mutate::corpus("collector_json") {
        let text = String::from_utf8_lossy(&seed);
        if text.contains("\"error_code\":429") {
            continue;
        }
        assert!(
            collectors::collector_json(&seed) >= 1,
            "no decoder accepts seed {text}"
        );
    }
}

#[test]
fn fuzz_wamp_message() {
    let mut decoded = 0u32;
    mutate::run("wamp_message", 20_000, |bytes| {
        if let Some(text) = mutate::text(bytes) {
            decoded += u32::from(collectors::wamp_message(text));
        }
    });
    assert!(
        decoded >= 100,
        "only {decoded} frames decoded: the harness tests nothing"
    );
}

#[test]
fn every_wamp_seed_decodes() {
    for seed in mutate::corpus("wamp_message") {
        let text = String::from_utf8(seed).expect("seeds are UTF-8");
        assert!(collectors::wamp_message(&text), "seed {text} does not decode");
    }
}

/// Found by `fuzz_wamp_message`: serde_json's default float parser is not correctly rounded, so
/// a hashrate decoded, re-encoded and decoded again moved by one unit in the last place. The
/// workspace enables serde_json's `float_roundtrip`; this input is kept in the corpus.
#[test]
fn regression_float_round_trip() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/wamp_message/regress_float_round_trip.json"
    ))
    .expect("corpus file");
    assert!(collectors::wamp_message(text.trim()));
}

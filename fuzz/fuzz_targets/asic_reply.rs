//! libFuzzer target: one ASIC API reply body, tried as every cgminer, Antminer and Vnish
//! endpoint in turn (the others empty), then normalised as the agent publishes it.
#![no_main]
use hashward_agent::asic::cgminer::{self, CgminerReplies};
use hashward_agent::asic::normalise::{self, RawReading};
use hashward_agent::asic::vnish::{self, VnishStatic};
use hashward_agent::asic::antminer::{self, Challenge};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn publish(raw: RawReading) {
    let t = normalise::to_telemetry(raw, "asic-1", "10.0.0.1", 1_790_000_000_000);
    let _ = normalise::derived(&t);
}

fuzz_target!(|bytes: &[u8]| {
    let _ = Challenge::parse(&String::from_utf8_lossy(bytes));
    let Ok(v) = cgminer::decode("fuzz", bytes) else { return };
    let _ = cgminer::check_status(&v, "fuzz");
    if let Ok(r) = cgminer::split_combined(&v) {
        if let Ok(raw) = cgminer::parse(&r) {
            publish(raw);
        }
    }
    let empty = json!({});
    for r in [
        CgminerReplies { summary: v.clone(), stats: empty.clone(), pools: None },
        CgminerReplies { summary: empty.clone(), stats: v.clone(), pools: Some(v.clone()) },
    ] {
        if let Ok(raw) = cgminer::parse(&r) {
            publish(raw);
        }
    }
    for (st, su) in [(&v, &empty), (&empty, &v)] {
        if let Ok(raw) = antminer::parse(st, su, Some(&v)) {
            publish(raw);
        }
    }
    let cache = VnishStatic { info: Some(v.clone()), settings: Some(v.clone()), presets: Some(v.clone()), status: Some(v.clone()) };
    let _ = vnish::parse_presets(&v);
    if let Ok(raw) = vnish::parse(&v, Some(&v), &cache) {
        publish(raw);
    }
});

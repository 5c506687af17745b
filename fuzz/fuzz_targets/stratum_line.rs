//! libFuzzer target: one Stratum line from a pool and the typed parsers behind it.
#![no_main]
use hashward_agent::miner::stratum::message::{self, Incoming};
use hashward_agent::miner::stratum::PoolUrl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(line) = std::str::from_utf8(bytes) else { return };
    if let Ok(url) = PoolUrl::parse(line) {
        let printed = url.to_string();
        assert_eq!(PoolUrl::parse(&printed).expect("printed URL parses").to_string(), printed);
    }
    match message::parse_line(line) {
        Ok(Incoming::Call { method, params, .. }) => match method.as_str() {
            "mining.notify" => drop(message::parse_notify(&params)),
            "mining.set_difficulty" => drop(message::parse_set_difficulty(&params)),
            "mining.set_extranonce" => drop(message::parse_set_extranonce(&params)),
            "client.reconnect" => drop(message::parse_reconnect(&params)),
            _ => {}
        },
        Ok(Incoming::Response { result, .. }) => {
            let _ = message::parse_subscribe_result(&result);
            let _ = message::parse_configure_result(&result);
        }
        Err(_) => {}
    }
});

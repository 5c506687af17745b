//! libFuzzer target: the hub config file.
#![no_main]
use hashward_hub::config::HubConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let _ = HubConfig::parse(text);
});

//! libFuzzer target: the agent config file.
#![no_main]
use hashward_agent::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let Ok(cfg) = Config::from_toml(text) else { return };
    let printed = toml::to_string(&cfg).expect("an accepted config serialises");
    let back = Config::from_toml(&printed).expect("a printed config loads");
    assert_eq!(toml::to_string(&back).expect("serialise"), printed);
});

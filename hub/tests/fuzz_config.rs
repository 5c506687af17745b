//! Stable-Rust fuzz harness for the hub config file (`hub/src/config.rs`): mutations of the
//! shipped example (as shipped and with every key uncommented) from `fuzz/corpus/hub_config/`,
//! deterministic (`fuzz/mutate.rs`). Property: no panic; an error naming what was wrong, or a
//! config; `HubConfig::load` gives the same answer from a file as `parse` from the text.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use hashward_hub::config::HubConfig;

#[test]
fn fuzz_hub_config() {
    let mut accepted = 0u32;
    mutate::run("hub_config", 20_000, |bytes| {
        let Some(text) = mutate::text(bytes) else { return };
        match HubConfig::parse(text) {
            Ok(_) => accepted += 1,
            Err(e) => assert!(!e.to_string().is_empty(), "an error that says nothing"),
        }
    });
    assert!(
        accepted >= 2,
        "the example configs did not load: the harness tests nothing"
    );
}

#[test]
fn load_agrees_with_parse_on_mutated_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hub.toml");
    let mut rng = mutate::Rng::new(0x4a5f);
    let seeds = mutate::corpus("hub_config");
    for _ in 0..500 {
        let bytes = mutate::mutate(&mut rng, &seeds);
        std::fs::write(&path, &bytes).expect("write");
        let loaded = HubConfig::load(&path);
        match mutate::text(&bytes) {
            // Not UTF-8: a read error naming the file, never a panic.
            None => assert!(loaded.expect_err("not UTF-8").to_string().contains("hub.toml")),
            Some(text) => assert_eq!(loaded.is_ok(), HubConfig::parse(text).is_ok()),
        }
    }
}

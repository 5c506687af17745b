//! Stable-Rust fuzz harnesses for what the agent reads from outside: Stratum lines (one at a time
//! and through a live session state machine), pool URLs, cgminer/Antminer/Vnish replies (each
//! endpoint in turn, the others valid, then normalised and encoded as the agent would publish
//! them), the Antminer Digest challenge, and the agent config file. Inputs start from
//! `fuzz/corpus/<target>/` and are mutated deterministically by `fuzz/mutate.rs`.
//!
//! Property: no panic; an error, or a value that survives its own round trip where one exists.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashward_agent::asic::antminer::{self, Challenge};
use hashward_agent::asic::cgminer::{self, CgminerReplies};
use hashward_agent::asic::normalise;
use hashward_agent::asic::vnish::{self, VnishStatic};
use hashward_agent::config::Config;
use hashward_agent::miner::stratum::generations::Generations;
use hashward_agent::miner::stratum::message::{self, Incoming};
use hashward_agent::miner::stratum::session::{Output, Session, Shared};
use hashward_agent::miner::stratum::{ClientConfig, PoolConfig, PoolUrl, StatsHandle, DIFF1_SHA256D};
use hashward_protocol::{encode, Body, Envelope, RigId};
use serde_json::Value;

fn seed_file(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(mutate::corpus_dir(target).join(name)).expect("seed file")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("seed is JSON")
}

/// The agent's own path after a parse: normalise and encode as a publishable envelope. Must not
/// panic whatever the reading held (an encoding over the size cap is an error, not a panic).
fn publish(raw: normalise::raw::RawReading) {
    let t = normalise::to_telemetry(raw, "asic-1", "10.0.0.1", 1_790_000_000_000);
    let _ = normalise::derived(&t);
    let env = Envelope::new(RigId::new("r").expect("id"), 1, 1, Body::Asic(t));
    let _ = encode(&env);
}

#[test]
fn fuzz_stratum_line() {
    mutate::run("stratum_line", 60_000, |bytes| {
        let Some(line) = mutate::text(bytes) else { return };
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
                let _ = message::result_is_true(&result);
            }
            Err(_) => {}
        }
    });
}

fn session(t0: Instant) -> Session {
    let mut cfg = ClientConfig::new(
        vec![PoolConfig {
            url: "stratum+tcp://pool.example:3333".into(),
            user: "worker.1".into(),
            password: "x".into(),
        }],
        DIFF1_SHA256D,
    );
    cfg.extranonce_subscribe = true;
    let shared = Shared {
        config: Arc::new(cfg),
        stats: StatsHandle::new(&["stratum+tcp://pool.example:3333".to_string()]),
        generations: Arc::new(Mutex::new(Generations::default())),
    };
    let url = PoolUrl::parse("stratum+tcp://pool.example:3333").expect("url");
    Session::new(0, url, "worker.1".into(), "x", shared, t0)
}

/// A session past its handshake (subscribe is request 1, authorize 2, as in the corpus) is fed
/// the mutated line(s), then a valid notify: garbage must not leave it in a state that panics.
#[test]
fn fuzz_stratum_session() {
    let handshake = [
        seed_file("stratum_line", "subscribe.json"),
        seed_file("stratum_line", "authorize.json"),
    ];
    let notify = String::from_utf8(seed_file("stratum_line", "notify.json")).expect("utf8");
    let t0 = Instant::now();
    let mut live = 0u32;
    mutate::run("stratum_line", 15_000, |bytes| {
        let mut s = session(t0);
        let mut now = t0;
        for h in &handshake {
            s.handle_line(std::str::from_utf8(h).expect("utf8"), now)
                .expect("handshake");
        }
        if s.is_ready() {
            s.activate();
            live += 1;
        }
        let text = String::from_utf8_lossy(bytes);
        for line in text.split('\n').chain([notify.as_str()]) {
            now += Duration::from_millis(10);
            if s.handle_line(line, now).is_err() {
                break;
            }
            let _ = s.tick(now);
        }
        for out in s.take_outputs() {
            if let Output::Send(l) = out {
                let _: Value = serde_json::from_str(l.trim_end()).expect("the session sends JSON");
            }
        }
    });
    assert!(
        live > 0,
        "the handshake never completed: the harness tests nothing"
    );
}

#[test]
fn fuzz_pool_url() {
    mutate::run("pool_url", 30_000, |bytes| {
        let Some(text) = mutate::text(bytes) else { return };
        let Ok(url) = PoolUrl::parse(text) else { return };
        let printed = url.to_string();
        let back = PoolUrl::parse(&printed).expect("a printed pool URL parses");
        assert_eq!(back.to_string(), printed, "{text:?}");
        let _ = url.authority();
    });
}

#[test]
fn fuzz_asic_cgminer() {
    let summary = json(&seed_file("asic_cgminer", "cgminer_s19_summary.json"));
    let stats = json(&seed_file("asic_cgminer", "cgminer_s19_stats.json"));
    let pools = json(&seed_file("asic_cgminer", "cgminer_s19_pools.json"));
    let mut parsed = 0u32;
    mutate::run("asic_cgminer", 12_000, |bytes| {
        let Ok(v) = cgminer::decode("fuzz", bytes) else {
            return;
        };
        let _ = cgminer::check_status(&v, "fuzz");
        if let Ok(r) = cgminer::split_combined(&v) {
            if let Ok(raw) = cgminer::parse(&r) {
                publish(raw);
            }
        }
        let roles = [
            CgminerReplies {
                summary: v.clone(),
                stats: stats.clone(),
                pools: Some(pools.clone()),
            },
            CgminerReplies {
                summary: summary.clone(),
                stats: v.clone(),
                pools: Some(pools.clone()),
            },
            CgminerReplies {
                summary: summary.clone(),
                stats: stats.clone(),
                pools: Some(v.clone()),
            },
        ];
        for r in &roles {
            if let Ok(raw) = cgminer::parse(r) {
                parsed += 1;
                publish(raw);
            }
        }
    });
    assert!(parsed > 0);
}

#[test]
fn fuzz_asic_antminer() {
    let stats = json(&seed_file("asic_antminer", "antminer_stats.json"));
    let summary = json(&seed_file("asic_antminer", "antminer_summary.json"));
    let pools = json(&seed_file("asic_antminer", "antminer_pools.json"));
    let mut parsed = 0u32;
    mutate::run("asic_antminer", 12_000, |bytes| {
        let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
            return;
        };
        for (st, su, po) in [
            (&v, &summary, &pools),
            (&stats, &v, &pools),
            (&stats, &summary, &v),
        ] {
            if let Ok(raw) = antminer::parse(st, su, Some(po)) {
                parsed += 1;
                publish(raw);
            }
        }
    });
    assert!(parsed > 0);
}

#[test]
fn fuzz_asic_vnish() {
    let summary = json(&seed_file("asic_vnish", "vnish_126_summary.json"));
    let cache = || VnishStatic {
        info: Some(json(&seed_file("asic_vnish", "vnish_126_info.json"))),
        settings: Some(json(&seed_file("asic_vnish", "vnish_126_settings.json"))),
        presets: Some(json(&seed_file("asic_vnish", "vnish_126_presets.json"))),
        status: Some(json(&seed_file("asic_vnish", "vnish_126_status.json"))),
    };
    let good = cache();
    let mut parsed = 0u32;
    mutate::run("asic_vnish", 10_000, |bytes| {
        let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
            return;
        };
        let _ = vnish::parse_presets(&v);
        let mut as_info = cache();
        as_info.info = Some(v.clone());
        let mut as_settings = cache();
        as_settings.settings = Some(v.clone());
        let mut as_status = cache();
        as_status.status = Some(v.clone());
        let mut as_presets = cache();
        as_presets.presets = Some(v.clone());
        let tries = [
            vnish::parse(&v, None, &good),
            vnish::parse(&summary, Some(&v), &good),
            vnish::parse(&summary, None, &as_info),
            vnish::parse(&summary, None, &as_settings),
            vnish::parse(&summary, None, &as_status),
            vnish::parse(&summary, None, &as_presets),
        ];
        for raw in tries.into_iter().flatten() {
            parsed += 1;
            publish(raw);
        }
    });
    assert!(parsed > 0);
}

#[test]
fn fuzz_antminer_digest() {
    mutate::run("antminer_digest", 30_000, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = antminer::parse_params(&text);
        if let Some(c) = Challenge::parse(&text) {
            assert!(!c.realm.is_empty() || text.contains("realm"));
        }
    });
}

#[test]
fn fuzz_agent_config() {
    let mut accepted = 0u32;
    mutate::run("agent_config", 8_000, |bytes| {
        let Some(text) = mutate::text(bytes) else { return };
        let Ok(cfg) = Config::from_toml(text) else { return };
        accepted += 1;
        // What the agent accepted it can write back, and reads back as the same config.
        let printed = toml::to_string(&cfg).expect("an accepted config serialises");
        let back = Config::from_toml(&printed).expect("a printed config loads");
        assert_eq!(toml::to_string(&back).expect("serialise"), printed);
    });
    assert!(
        accepted > 0,
        "no config variant loaded: the harness tests nothing"
    );
}

// Regressions: each input below panicked before its fix and is kept in the corpus.

#[test]
fn regression_digest_challenge_with_a_multibyte_char_at_byte_7() {
    let text = String::from_utf8(seed_file("antminer_digest", "regress_multibyte_at_7.txt"))
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    assert!(Challenge::parse(&text).is_none());
    assert!(Challenge::parse("Digesté realm=\"x\", nonce=\"y\"").is_none());
}

#[test]
fn regression_antminer_chain_index_u32_max_is_not_a_board_id() {
    let stats = json(&seed_file("asic_antminer", "regress_index_u32_max.json"));
    let summary = json(&seed_file("asic_antminer", "antminer_summary.json"));
    let raw = antminer::parse(&stats, &summary, None).expect("the rest of the reply is valid");
    // The bad index falls back to the chain's position (first chain: board 1).
    assert_eq!(raw.boards.first().map(|b| b.id), Some(1));
}

#[test]
fn regression_vnish_chip_counts_that_overflow_are_left_out() {
    let summary = json(&seed_file("asic_vnish", "regress_chip_count_overflow.json"));
    let info = json(&seed_file("asic_vnish", "vnish_126_info.json"));
    let cache = VnishStatic {
        info: Some(info),
        settings: None,
        presets: None,
        status: None,
    };
    let raw = vnish::parse(&summary, None, &cache).expect("the rest of the reply is valid");
    assert!(raw
        .boards
        .iter()
        .all(|b| b.chips.is_none_or(|c| c < u64::MAX / 2)));
}

#[test]
fn regression_a_huge_board_index_does_not_enumerate_every_id_below_it() {
    let stats = json(&seed_file("asic_antminer", "regress_board_id_span.json"));
    let summary = json(&seed_file("asic_antminer", "antminer_summary.json"));
    let raw = antminer::parse(&stats, &summary, None).expect("the rest of the reply is valid");
    assert!(raw.boards.iter().any(|b| b.id == 1_000_000));
    let t = normalise::to_telemetry(raw, "asic-1", "10.0.0.1", 1_790_000_000_000);
    let missing = t
        .status
        .errors
        .iter()
        .filter(|e| e.code == "board_missing")
        .count();
    assert!(missing <= 64, "{missing} missing boards reported");
}

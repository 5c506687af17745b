//! hashward-agent: runs on each mining host. Samples the host (and, as later parts land, the CPU
//! miner, the ASICs beside it and on-device models) and reports over MQTT through a persistent
//! spool, so a broker outage of a day loses nothing.
//!
//! Layout: `config` (the TOML file), `link` (spool + MQTT publisher with its own backoff),
//! `sample` (what is measured), `run` (wires them together), `cli` (the command line).

pub mod asic;
pub mod cli;
pub mod config;
pub mod durable;
pub mod fleet;
pub mod infer;
pub mod link;
pub mod logring;
pub mod miner;
pub mod run;
pub mod sample;
pub mod tune;
pub mod watchdog;

/// Milliseconds since the Unix epoch; 0 if the clock is before 1970 (a broken RTC on an SBC).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

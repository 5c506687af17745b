//! hashward-agent: runs on each mining host. Samples the host (and, as later parts land, the CPU
//! miner, the ASICs beside it and on-device models) and reports over MQTT through a persistent
//! spool, so a broker outage of a day loses nothing.
//!
//! Layout: `config` (the TOML file), `link` (spool + MQTT publisher with its own backoff),
//! `sample` (what is measured), `run` (wires them together), `cli` (the command line).

pub mod asic;
pub mod cli;
pub mod config;
pub mod fleet;
pub mod hw;
pub mod infer;
pub mod link;
pub mod logring;
pub mod miner;
pub mod run;
pub mod sample;
pub mod tune;
pub mod watchdog;

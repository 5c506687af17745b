//! hashward-agent: runs on each mining host. Samples the host, runs the CPU miner with its
//! tuner, polls the ASICs beside it, scores what it sees with on-device models, and reports
//! over MQTT through a persistent spool, so a broker outage of a day loses nothing.
//!
//! Layout, dependencies pointing down the list:
//! - leaves: `hw` (hardware discovery under a root directory), `miner` (hash kernels, engine,
//!   Stratum client; imports neither `tune` nor `config`), `tune` (thermal, power, the tuner and
//!   its decisions; never imports `miner`), `asic` (one backend per firmware behind one client),
//!   `depin` (DePIN node adapters behind one trait; borrows `asic`'s bounded HTTP client),
//!   `infer` (tract models), `sample` (what is measured), `link` (spool + MQTT publisher),
//!   `fleet` (signed pushes and commands), `watchdog`, `logring`, `telem` (the telemetry id
//!   and the forget client). Each owns its config section.
//! - `config`: the TOML file, aggregating the sections and loading them.
//! - `run`: the composition: the running agent and one handler per event.
//! - `cli`: the command line (binary glue; it alone uses anyhow).
//!
//! No module imports `run` or `cli`.

pub mod asic;
pub mod cli;
pub mod config;
pub mod depin;
pub mod fleet;
pub mod hw;
pub mod infer;
pub mod link;
pub mod logring;
pub mod miner;
pub mod run;
pub mod sample;
pub mod telem;
pub mod tune;
pub mod watchdog;

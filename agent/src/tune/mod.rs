//! Miner intelligence (docs/ARCHITECTURE.md#thresholds-tuner): its settings (`config`), the NUMA thread plan (`numa`),
//! the thermal controller (`thermal`), battery caps (`power`), the auto-tuner (`tuner`) and where it starts (`start`),
//! the integrated decision (`decide`) and the live control step (`control`). The decision logic
//! is pure and tested with plain values; hardware facts and readings come from `crate::hw`, and
//! the only file this module touches is the performance store (`perf_store`).

pub mod config;
pub mod control;
pub mod decide;
pub mod numa;
pub mod perf_store;
pub mod power;
pub mod start;
pub mod thermal;
pub mod tuner;

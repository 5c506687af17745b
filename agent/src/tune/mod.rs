//! Miner intelligence (seed 004): hardware discovery from a root directory (`hw`), the NUMA
//! thread plan (`numa`), the thermal controller (`thermal`), battery caps (`power`) and the
//! integrated decision (`decide`). The decision logic is pure and tested with plain values;
//! only `hw` reads files, and only under the root it is given.

pub mod control;
pub mod decide;
pub mod hw;
pub mod numa;
pub mod perf_store;
pub mod power;
pub mod thermal;
pub mod tuner;

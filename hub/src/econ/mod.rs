//! The hub's economics (docs/ARCHITECTURE.md#economics): where the pure `hashward-econ` crate
//! meets the hub. `inputs` is the read trait for live market, network, tariff and miner data,
//! `live` its implementation over the collectors and the store, `which_coin` the rule that
//! values a miner's hashes in a coin, `report` a miner's and the fleet's day in money (shared by
//! the endpoints, the topics and the gauges), `publish` the retained topics and gauges on a
//! timer, `difficulty_model` the difficulty forecast's ONNX model run with tract.
//!
//! Must never answer with a number made up for missing data: no input, no figure.

pub mod config;
pub mod derived;
pub mod difficulty_model;
pub mod inputs;
pub mod live;
pub mod publish;
pub mod report;
pub mod which_coin;

pub use config::EconomicsConfig;
pub use difficulty_model::{DifficultyModel, ModelError};
pub use inputs::{
    ConfiguredInputs, EconInputs, Excluded, FleetMiners, MinerKind, MinerSnapshot, NetworkState,
    NoMarketData, Unavailable,
};
pub use live::LiveInputs;

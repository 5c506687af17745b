//! The hub's economics (docs/ARCHITECTURE.md#economics): where the pure `hashward-econ` crate
//! meets the hub. `inputs` is the read trait for live market, network and tariff data (answered
//! "not available" until the collectors feed it), `difficulty_model` runs the difficulty
//! forecast's ONNX model with tract.
//!
//! Must never answer with a number made up for missing data: no input, no figure.

pub mod config;
pub mod derived;
pub mod difficulty_model;
pub mod inputs;

pub use config::EconomicsConfig;
pub use difficulty_model::{DifficultyModel, ModelError};
pub use inputs::{
    ConfiguredInputs, EconInputs, MinerKind, MinerSnapshot, NetworkState, NoMarketData, Unavailable,
};

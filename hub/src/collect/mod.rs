//! Collectors: the hub's pool, network and market data sources.

pub mod chain;
pub mod config;
pub mod prohashing;
pub mod wamp;

//! hashward-econ: the fleet's economics as pure arithmetic: unit types with checked
//! conversions, and the expected revenue of hashrate on a coin. The hub's collectors (pool,
//! network and market data) feed it values; forecasts and allocation build on it.
//!
//! Must never do I/O, read a clock, spawn or await anything: every input (difficulty, price,
//! time span) is an argument, so every result is reproducible from its inputs and tested with
//! values.

pub mod revenue;
pub mod units;

pub use revenue::{expected_coins_per_day, RevenueError};
pub use units::{Difficulty, Hashrate, KilowattHours, UnitError, Usd, Watts};

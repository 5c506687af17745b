//! hashward-econ: the fleet's economics as pure arithmetic: unit types with checked
//! conversions, the coins' subsidy and retarget rules, a miner's daily revenue, cost, profit
//! and hashprice, derived operational metrics, the earnings forecast and worker optimisation.
//! The hub's collectors (pool, network and market data) feed it values; every formula is in its
//! module's docs with worked values in its tests.
//!
//! Must never do I/O, read a clock, spawn or await anything: every input (difficulty, price,
//! time span, history table as text) is an argument, so every result is reproducible from its
//! inputs and tested with values.

pub mod alloc;
pub mod coin;
pub mod derived;
pub mod economics;
pub mod forecast;
pub mod history;
pub mod optimise;
pub mod retarget;
pub mod revenue;
pub mod units;

pub use coin::{Algorithm, Coin, UnknownCoin};
pub use economics::{DailyEconomics, InputError, MinerDay};
pub use revenue::{expected_coins_per_day, RevenueError};
pub use units::{Difficulty, Hashrate, KilowattHours, UnitError, Usd, Watts};

//! Forecasts built from history tables: the earnings forecast (24 h and 30 d with bounds) and
//! its rolling-origin backtest. The difficulty forecast's model runs in the hub (tract); this
//! crate takes its output as a growth rate.
//!
//! Must never read past the forecast's origin.

pub mod difficulty;
pub mod earnings;

pub use earnings::{backtest, forecast, Backtest, EarningsForecast, ForecastError, RevenueSeries};

//! Prohashing (seed 002 §2.2): the account's workers, balances and per-algorithm profitability,
//! live over WAMP (`crate::collect::wamp`, driven by `live`) with the HTTP API as the fallback
//! (`http`). `payload` reads the service's shapes strictly, `normalise` converts its units (USD
//! per MH/s per day to USD per TH/s per day, stated there), `state` folds snapshots and diffs into
//! the §4.2 records, `config` is `[collect.prohashing]`.
//!
//! Must never log or serve the API key: it rides in call arguments and topic names only.

pub mod config;
pub mod http;
pub mod live;
pub mod normalise;
pub mod payload;
pub mod state;

//! Collectors: the hub's outside data (market prices, later pool and network data) fetched on a
//! schedule or received from a subscription, checked, stored and served.
//!
//! Module map (`a <- b`: b uses a):
//! - `source`: the contract every source implements ([`source::PollSource`] for sources the
//!   scheduler polls, [`source::Sink`] + [`source::StatusHandle`] for push sources such as a
//!   WebSocket subscription), the [`source::Observation`] they deliver and [`source::SourceError`].
//! - `policy`: pure scheduling decisions (token bucket, circuit breaker, next-poll times, monthly
//!   budget arithmetic), sans-IO and unit-tested with values.
//! - `http`: the one async HTTP(S) GET the poll sources use (hyper + rustls/ring).
//! - `config`: the `[collect.*]` sections of hub.toml.
//! - `coins`: the coin-id reconciliation table (CoinGecko id / symbol / CoinMarketCap id).
//! - `coingecko`, `coinmarketcap`: one file per market backend.
//! - `scheduler`: runs every poll source (one task each) with the policy above.
//! - `market`, `view`, `indicators`: building, choosing and scoring the served market record.
//! - `tariff`: electricity price per site (flat, time of day, feed).
//! - `import`: the daily history CSVs (`hashward-hub import`).
//! - `service`: builds it all from the config; the state the API reads; the intake and pruner.
//!   `metrics`: its series in `/metrics`.
//! - `api`: `/market`, `/market/{coin}/history`, `/sources`, `/tariffs`; `publish`: the retained
//!   `hashward/json/market/{coin}` topics.
//! - `dates`: UTC calendar arithmetic.
//! - `wamp`: a WAMP v2 client (sans-IO session + WebSocket loop); `prohashing`: the pool source
//!   on it (push, with its HTTP fallback); `chain`: subsidy schedules and retarget periods;
//!   `node_rpc`, `explorer`: one file per network backend (a full node, a mempool-style API);
//!   `network`: which of them each coin gets; `pool_view`: the served pool and network JSON.
//!
//! Must never block hub start on a source: an unreachable source is a state in `/sources`,
//! never a start-up error (a misconfiguration, such as an over-quota budget, is).

pub mod api;
pub mod chain;
pub mod coingecko;
pub mod coinmarketcap;
pub mod coins;
pub mod config;
pub mod dates;
pub mod explorer;
pub mod http;
pub mod import;
pub mod indicators;
pub mod market;
pub mod metrics;
pub mod network;
pub mod node_rpc;
pub mod policy;
pub mod pool_view;
pub mod prohashing;
pub mod publish;
pub mod scheduler;
pub mod service;
pub mod source;
pub mod tariff;
pub mod view;
pub mod wamp;

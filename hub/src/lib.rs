//! hashward-hub: ingests the fleet's MQTT traffic, stores it, serves it over HTTP and as JSON
//! topics for dashboards, and (as later parts land) pushes signed config to rigs.
//!
//! Layout: `broker` (embedded rumqttd), `ingest` (subscribe, decode, store, dashboard summaries),
//! `store` (redb), `api` (axum), `metrics`, `serve` (wires them), `cli` (the command line).

pub mod acl;
pub mod api;
pub mod broker;
pub mod cli;
pub mod fleet;
pub mod hints;
pub mod ingest;
pub mod metrics;
pub mod models;
pub mod serve;
pub mod store;

/// Log filter when RUST_LOG is unset. rumqttd logs ordinary traffic as errors through tracing
/// spans; the embedded broker's failures surface through [`broker::BrokerError`] instead.
pub const DEFAULT_LOG_FILTER: &str = "info,rumqttd=off,tracing::span=off";

//! hashward-hub: ingests the fleet's MQTT traffic, stores it, serves it over HTTP and as JSON
//! topics for dashboards, and pushes signed config, commands and models to rigs.
//!
//! Layout (`a <- b`: b uses a, never the reverse): `domain` (pure projections: rig state, sequence
//! accounting, tuning hints, rollout) <- `store` (redb, one module per aggregate, read traits)
//! <- `ingest` (subscribe, decode, store, dashboard summaries), `api` (axum, one file per
//! resource), `models`, `metrics`, `broker` (embedded rumqttd) <- `serve` (the services under
//! one shutdown) <- `config` (the hub.toml file), `cmd` (operator tools), `cli` (the command
//! line). `scores` (the daily alert score batch, seed 003) sits beside `ingest`. `keys` is the fleet
//! signing key both `cmd` and tests load. Dashboards: `fleetview` (the fleet snapshot and its pure
//! views) <- `web` (the pages and their endpoints), `ha` (Home Assistant, pure) <- `control`
//! (commands the hub signs itself, and its MQTT service). The economics live in the pure
//! `hashward-econ` crate. `telem` (seed 004's private tuning telemetry): `telem::aggregate` is
//! pure like `domain`, its tables are `store::telem`, its routes `api::telem`, its pruner
//! `telem::service`.
//! No module imports `serve`, `cmd` or `cli` but those above them.
//! `alloc` (the allocation service, issue 17) sits beside `scores`: it reads `econ` and the
//! store and applies through `control`.
//! `elect` (the leader lease among hubs on NATS) sits below `ingest` and `scores`, which ask it
//! before work that must run once per fleet.

pub mod alerts;
pub mod alloc;
pub mod api;
pub mod broker;
pub mod cli;
pub mod cmd;
pub mod collect;
pub mod config;
pub mod control;
pub mod domain;
pub mod econ;
pub mod elect;
pub mod fleetview;
pub mod ha;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod models;
pub mod scores;
pub mod sentinel;
pub mod serve;
pub mod store;
pub mod telem;
pub mod web;

/// Log filter when RUST_LOG is unset. rumqttd logs ordinary traffic as errors through tracing
/// spans; the embedded broker's failures surface through [`broker::BrokerError`] instead.
pub const DEFAULT_LOG_FILTER: &str = "info,rumqttd=off,tracing::span=off";

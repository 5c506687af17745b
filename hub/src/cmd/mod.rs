//! The operator tools, one file each: `keygen`, `push-config`, `command`, `announce-models`,
//! `rollout-status`, `broker-acl`; `broker` holds what the publishing tools share. Command-line
//! glue, hence anyhow; `crate::cli` parses and dispatches to them.
//!
//! Must never publish anything unsigned on a config or command topic.

pub mod announce_models;
pub mod backtest;
mod broker;
pub mod broker_acl;
pub mod command;
pub mod economics;
pub mod forecast;
pub mod import;
pub mod keygen;
pub mod push_config;
pub mod rollout_status;
pub mod scores;

pub use broker::BrokerArgs;

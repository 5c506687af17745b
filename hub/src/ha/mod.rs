//! Home Assistant: MQTT discovery for every rig and ASIC ([`discovery`]), the per-ASIC JSON state
//! its sensors read ([`state`]), and the command topics of its buttons and numbers ([`commands`]),
//! which the hub turns into signed commands (Home Assistant cannot sign). The MQTT side runs in
//! `crate::control::service`.
//!
//! Pure. Must never accept a command for a rig or site the topic does not name exactly, or a
//! power target outside what the agent accepts.

pub mod commands;
pub mod discovery;
pub mod plan;
pub mod state;

pub use discovery::{Discovery, RigInfo};

/// The default discovery prefix (Home Assistant's own default).
pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";

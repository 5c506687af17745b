//! ASICs on the rig's LAN (docs/ARCHITECTURE.md#thresholds-asic-polling,
//! #thresholds-normalisation): clients for the Vnish web API, the cgminer/bmminer TCP API and the
//! stock Antminer cgi API, normalisation into the protocol's
//! [`hashward_protocol::AsicTelemetry`], the adaptive poller, control (power presets,
//! pause/resume/restart), the `[asic]` config and `asic probe`.
//!
//! Nothing a miner sends can panic the agent: every reply is parsed with limits and a deadline,
//! and a bad one is a counted, logged error that leaves the last good reading in place.

pub mod antminer;
pub mod breaker;
pub mod cgminer;
pub mod client;
pub mod config;
pub mod control;
pub mod error;
pub mod http;
pub(crate) mod json;
pub mod normalise;
pub mod poller;
pub mod probe;
pub mod schedule;
pub mod target;
pub mod vnish;

pub use client::{AsicClient, AsicKind, AsicSpec, Credentials};
pub use config::{AsicEntry, AsicSection, CredentialStore};
pub use control::{choose_preset, mining, set_power_target, MiningAction, PowerTargetApplied};
pub use error::{ApiError, ConfigError, ControlError, FailureKind};
pub use poller::{AsicView, CounterSnapshot, Poller, PollerHandle, PollerOptions};
pub use probe::{print_json, probe, ProbeOptions, ProbeOutput};
pub use schedule::ScheduleConfig;

//! The agent's link to the broker: a persistent spool every record enters before it is sent,
//! and an MQTT publisher that removes a record only when the broker acknowledged it; and the
//! `[broker]`, `[telemetry]` and `[spool]` sections that configure them.

pub mod config;
pub mod mqtt;
pub mod spool;

pub use mqtt::{Inbound, LinkCounters, Publisher};
pub use spool::{Spool, SpoolError, SpoolStats, SpooledRecord};

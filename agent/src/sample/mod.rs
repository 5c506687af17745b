//! What the agent measures about its host. Hardware discovery from a configurable root
//! (`sys/`, `proc/`) arrives with the tuning work; for now sysinfo reads the live system.

pub mod host;

pub use host::{normalise_cpu_model, HostSampler};

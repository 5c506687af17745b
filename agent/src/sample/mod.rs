//! What the agent measures about its host for telemetry: load, CPU usage, memory and
//! temperatures (sysinfo), and the hardware summary of the birth message, which comes from the
//! same root-directory discovery the tuner uses (`hw`).

pub mod host;

pub use host::HostSampler;

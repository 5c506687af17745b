//! The CPU miner: its settings (`config`), hash kernels (`hash`), the engine that runs them on OS threads (`engine`),
//! the Stratum v1 pool client (`stratum`), benchmark mode (`bench`) and the work types they
//! share (`work`). `run::miner_service` composes them with the tuner inside the agent; nothing
//! here imports the tuner or the agent's config.

/// Whether this agent hashes at all: built with the `cpu-miner` cargo feature. Without it the
/// modules still compile (config and telemetry types live here), but `hash::available` offers
/// no kernel and `run::miner_service::start` refuses, so the linker drops the kernels, the engine's
/// workers and the pool client (an ASIC-only controller build).
pub const BUILT_IN: bool = cfg!(feature = "cpu-miner");

pub mod bench;
pub mod config;
pub mod engine;
pub mod hash;
pub mod stratum;
pub mod work;

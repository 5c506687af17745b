//! The CPU miner: hash kernels (`hash`), the engine that runs them on OS threads (`engine`),
//! the Stratum v1 pool client (`stratum`), benchmark mode (`bench`) and the work types they
//! share (`work`), and `service`, which runs it all inside the agent.

pub mod bench;
pub mod engine;
pub mod hash;
pub mod service;
pub mod stratum;
pub mod work;

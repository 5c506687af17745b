//! The CPU miner: hash kernels (`hash`), the Stratum v1 pool client (`stratum`) and the work
//! types they share (`work`). The engine that runs kernels on OS threads arrives next.

pub mod hash;
pub mod stratum;
pub mod work;

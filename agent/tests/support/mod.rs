//! Shared helpers of the integration tests: the test pool and a tiny portable miner.
#![allow(dead_code)]

pub mod miner;
pub mod pool;

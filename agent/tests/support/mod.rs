//! Shared helpers of the integration tests: the agent process, the test pool and a tiny
//! portable miner.
#![allow(dead_code)]

pub mod agent;
pub mod miner;
pub mod pool;

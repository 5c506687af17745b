//! Shared helpers of the integration tests: the agent process, the test pool, a tiny portable
//! miner and fixture-tree copies.
#![allow(dead_code)]

pub mod agent;
pub mod fixture;
pub mod miner;
pub mod pool;

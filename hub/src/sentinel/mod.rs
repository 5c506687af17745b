//! The pool-level Sentinel (seed 000 §6, issue 22): what no single rig can see. The agents score
//! each rig and ASIC; the hub compares a pool's view of our workers with what the miners report
//! (hijacked hashrate, a wrong wallet or worker), watches invalid and stale shares across a
//! pool's workers, payouts against the accepted work, and many rigs of a site alerting together.
//!
//! Layout: `features` (pure: a pool update -> the model's feature row and the culprits), `model`
//! (the `sentinel_pool` ONNX ensemble through tract), `detect` (pure: votes -> anomaly, threat,
//! severity, recommended action; the pool-switch hold flag), `service` (the loop on pool updates,
//! alerts raised through `crate::alerts::AlertSink`). The endpoint is `crate::api::sentinel`.
//! Training: `models/train/sentinel_pool.py`.
//!
//! Must never act on a fleet by itself: findings alert; a critical one can only hold a pool
//! switch where the allocation reads [`detect::pool_switch_hold`].

pub mod detect;
pub mod features;
pub mod model;
pub mod service;

#[cfg(test)]
mod scenarios;

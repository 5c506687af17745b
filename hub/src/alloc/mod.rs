//! The hub's allocation service (issue 17): which pool each CPU rig mines on and which power
//! preset each Vnish ASIC runs, decided every cycle by the pure `hashward_econ::alloc::decide`
//! from live data, stored with its inputs and reasons, and in `auto` mode applied through the
//! fleet control (signed config pushes and commands).
//!
//! Files: `config` (the `[allocation]` section), `inputs` (observations -> the decision's
//! inputs, pure), `apply` (a decision -> pushes and commands, and what the acks say, pure),
//! `service` (the loop: observe, decide, store, apply, settle). Routes: `crate::api::allocation`
//! (the dry run) and `crate::api::allocation_service` (current, history, curtail).
//!
//! Must never hold decision logic of its own: thresholds, hysteresis and curtailment are the
//! econ crate's.

pub mod apply;
pub mod config;
pub mod inputs;
pub mod service;

pub use config::{AllocationConfig, Mode, Settings};
pub use service::{Deps, Shared};

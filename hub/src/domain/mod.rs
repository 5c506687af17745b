//! The hub's pure projections: what the hub concludes from the envelopes it accepts (a rig's
//! state, sequence accounting, config rollout; fleet tuning hints are `crate::telem`). No I/O, no clock: the store
//! feeds them values inside its transactions, and they are tested with values.
//!
//! Must never read or write the store, the network or the clock.

pub mod pool_join;
pub mod rig;
pub mod rollout;
pub mod seq;

//! Fleet control on the agent: signed config pushes merged by scope, signed one-shot commands,
//! and the acks that tell the hub what happened.
//!
//! `patch` (pure) checks and merges partial configs, `verify` (pure) decides whether a signed
//! message is for us, genuine, new and valid, `state` persists what was accepted atomically.
//! Must never: apply anything unsigned, apply half a push, or forget an accepted push.

pub mod config;
pub mod handler;
pub mod patch;
pub mod state;
pub mod verify;

pub use handler::{FleetHandler, PushOutcome};
pub use state::{Applied, AppliedPush, StateError};
pub use verify::{Identity, Rejection, Verified};

//! Fleet control from the hub: the signing key, signed config pushes and commands, and the
//! rollout view (which rig applied, is pending or rejected which version of which scope).
//!
//! `keys` and `publish` are command-line tools (`keygen`, `push-config`, `command`); `rollout`
//! is the pure view the HTTP API and `rollout-status` show. Must never: publish anything
//! unsigned on a config or command topic, or sign a patch the agents would refuse.

pub mod keys;
pub mod publish;
pub mod rollout;

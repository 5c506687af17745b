//! hashward wire protocol: the types every agent and hub message is made of, the MQTT topic map,
//! the postcard codec with its size cap, and the ed25519-signed payloads the hub sends to agents.
//!
//! This crate does no I/O and never panics on input: every decoder returns an error instead.
//! postcard is not self-describing, so a released variant is never reordered or changed; new
//! variants go at the end of an enum and bump [`SCHEMA`]. The golden vectors in `tests/` freeze it.

pub mod body;
pub mod broker;
pub mod codec;
pub mod command;
pub mod envelope;
pub mod ids;
pub mod market;
pub mod models;
pub mod pool;
pub mod signed;
pub mod topic;
pub mod units;

pub use body::*;
pub use broker::{BrokerAddr, BrokerAddrError};
pub use codec::{decode, encode, DecodeError, EncodeError, MAX_PAYLOAD};
pub use command::Command;
pub use envelope::{Envelope, SCHEMA};
pub use ids::{IdError, RigId, SiteId};
pub use topic::{Topic, TopicError, TOPIC_PREFIX};
pub use units::{Celsius, Hashrate, Watts};

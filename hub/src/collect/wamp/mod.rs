//! A WAMP v2 client (JSON serialization, WAMP-CRA login, caller and subscriber roles): `message`
//! (the wire codec), `cra` (the challenge signature), `session` (the sans-IO state machine,
//! tested with values) and `client` (the WebSocket loop with heartbeat and reconnection).
//! Prohashing is its only user today; nothing here knows about Prohashing.
//!
//! Must never log a topic or a call argument: they may carry an API key.

pub mod client;
pub mod cra;
pub mod message;
pub mod session;

pub use client::{run, ClientConfig, ClientError, Update};
pub use session::{CallSpec, SessionConfig, SubscribeSpec};

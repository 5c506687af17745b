//! The fleet as dashboards see it now: each rig's registry entry with the latest reading of each
//! of its ASICs and its alert count over the last day ([`snapshot`], read from the store), and
//! the pure views computed from that snapshot: the overview the web pages show ([`overview`])
//! and the Prometheus series ([`prom`]).
//!
//! Must never invent a value: a figure no rig or ASIC reported is absent (`null`, no series),
//! never zero.

pub mod overview;
pub mod prom;
pub mod snapshot;

pub use overview::{overview, AsicRow, Overview, RigRow};
pub use snapshot::{FleetSnapshot, RigSnapshot};

/// An ASIC reading older than this no longer counts as the ASIC being online (the agent polls
/// every few seconds to a minute; five missed polls and more is an ASIC, or a rig, gone).
pub const ASIC_FRESH_MS: u64 = 5 * 60 * 1000;

/// A rig neither online nor heard from for this long has its Prometheus series dropped, so a
/// retired rig's series go stale instead of lingering forever.
pub const RIG_STALE_MS: u64 = 60 * 60 * 1000;

/// The window alerts are counted over.
pub const ALERT_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

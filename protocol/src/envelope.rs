//! The envelope every agent -> hub message travels in.

use crate::body::Body;
use crate::ids::RigId;
use serde::{Deserialize, Serialize};

/// Wire schema version. Bump when a variant is appended to [`Body`] or another released enum.
/// 2: `Body::Score` on `{site}/{rig}/score`. 3: `Body::Advice` on `{site}/{rig}/advice` and
/// `Command::SetPowerTarget`. 4: `Body::Depin` on `{site}/{rig}/depin`. 5: `Body::Telem` (a tuning
/// snapshot with its contribution id) on `{site}/{rig}/perf`.
pub const SCHEMA: u16 = 5;

/// `seq` is monotonic per rig and survives agent restarts, so the hub drops duplicates and counts
/// gaps. Sequence 0 is reserved for unsequenced messages (the retained state / last will), which
/// are latest-value-wins and take no part in duplicate or gap accounting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub schema: u16,
    pub rig: RigId,
    pub seq: u64,
    /// Milliseconds since the Unix epoch, when the record was produced (not when it was sent).
    pub ts_ms: u64,
    pub body: Body,
}

impl Envelope {
    pub const UNSEQUENCED: u64 = 0;

    /// Stamped with the body's own schema (not [`SCHEMA`]): a hub one schema behind still reads
    /// every record kind it knows, so agents can be upgraded before the hub.
    pub fn new(rig: RigId, seq: u64, ts_ms: u64, body: Body) -> Self {
        Envelope {
            schema: body.schema(),
            rig,
            seq,
            ts_ms,
            body,
        }
    }

    pub fn is_sequenced(&self) -> bool {
        self.seq != Self::UNSEQUENCED
    }
}

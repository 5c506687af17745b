//! A tuning snapshot with its contribution id (seed 004's private telemetry): the agent draws a
//! random [`TelemetryId`] once, keeps it in its state dir and sends it with every snapshot, so
//! the hub can key a contribution by it and forget exactly that contribution on request.
//!
//! Must never carry or be derived from anything that identifies the rig (rig id, host name,
//! address, wallet): the id is 16 random bytes, and the snapshot is the anonymised
//! [`TuningSnapshot`]. Also the one CPU-model normaliser, shared by the agent and the hub.

use super::TuningSnapshot;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Bytes in a telemetry id; its text form is twice as many lower-case hex digits.
pub const TELEMETRY_ID_LEN: usize = 16;

/// A contribution id: 16 random bytes, written as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TelemetryId([u8; TELEMETRY_ID_LEN]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelemetryIdError {
    #[error("telemetry id is {0} characters long; it must be {len} hex digits", len = TELEMETRY_ID_LEN * 2)]
    Length(usize),
    #[error("telemetry id contains {0:?}; only hex digits 0-9 a-f are allowed")]
    NotHex(char),
}

impl TelemetryId {
    pub fn from_bytes(bytes: [u8; TELEMETRY_ID_LEN]) -> TelemetryId {
        TelemetryId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; TELEMETRY_ID_LEN] {
        &self.0
    }
}

impl FromStr for TelemetryId {
    type Err = TelemetryIdError;

    /// Accepts upper-case digits too (a hand-copied id), surrounding whitespace trimmed.
    fn from_str(s: &str) -> Result<TelemetryId, TelemetryIdError> {
        let s = s.trim();
        if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(TelemetryIdError::NotHex(c));
        }
        if s.len() != TELEMETRY_ID_LEN * 2 {
            return Err(TelemetryIdError::Length(s.chars().count()));
        }
        let mut out = [0u8; TELEMETRY_ID_LEN];
        for (i, byte) in out.iter_mut().enumerate() {
            // Both digits are ASCII hex (checked above), so the slice and the parse cannot fail.
            *byte =
                u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| TelemetryIdError::NotHex('?'))?;
        }
        Ok(TelemetryId(out))
    }
}

impl fmt::Display for TelemetryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TelemetryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TelemetryId({self})")
    }
}

/// [`crate::Body::Telem`]: one contribution's snapshot (schema 4). Published on the rig's
/// `perf` topic like the id-less [`crate::Body::Perf`] it supersedes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemSnapshot {
    pub telemetry_id: TelemetryId,
    pub snapshot: TuningSnapshot,
}

/// Normalises a CPU brand string: lower case, without trademarks, the words
/// "processor"/"cpu", core counts, the clock and anything from "serial" on, so that one model has
/// one name and nothing host-specific remains (seed 004:
/// `AMD Ryzen 9 5900X 12-Core Processor Serial 2BA3F91` -> `amd ryzen 9 5900x`). Idempotent.
pub fn normalise_cpu_model(brand: &str) -> String {
    let lower = brand.to_lowercase();
    let cut = lower.split('@').next().unwrap_or("");
    let cleaned = cut.replace("(r)", " ").replace("(tm)", " ").replace("(c)", " ");
    cleaned
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .take_while(|w| !matches!(*w, "serial" | "s/n" | "sn:" | "serial:"))
        .filter(|w| !matches!(*w, "cpu" | "processor" | "apu" | "with" | "radeon" | "graphics"))
        .filter(|w| !(w.ends_with("-core") || w.ends_with("ghz")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_refuse_what_is_not_one() {
        let id = TelemetryId::from_bytes([0xab; TELEMETRY_ID_LEN]);
        let text = id.to_string();
        assert_eq!(text, "ab".repeat(16));
        assert_eq!(text.parse::<TelemetryId>(), Ok(id));
        assert_eq!(text.to_uppercase().parse::<TelemetryId>(), Ok(id));
        assert_eq!("abc".parse::<TelemetryId>(), Err(TelemetryIdError::Length(3)));
        assert_eq!(
            format!("{}zz", "a".repeat(30)).parse::<TelemetryId>(),
            Err(TelemetryIdError::NotHex('z'))
        );
        assert_eq!(
            "é".repeat(16).parse::<TelemetryId>(),
            Err(TelemetryIdError::NotHex('é'))
        );
    }

    #[test]
    fn cpu_models_normalise_as_the_seed_says() {
        assert_eq!(
            normalise_cpu_model("AMD Ryzen 9 5900X 12-Core Processor Serial 2BA3F91"),
            "amd ryzen 9 5900x"
        );
        assert_eq!(
            normalise_cpu_model("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz"),
            "intel xeon gold 6130"
        );
        let once = normalise_cpu_model("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz");
        assert_eq!(normalise_cpu_model(&once), once);
        assert_eq!(normalise_cpu_model(""), "");
    }
}

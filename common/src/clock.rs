//! The one wall clock: milliseconds since the Unix epoch, as records, pushes and commands carry
//! them. Monotonic intervals use `std::time::Instant` instead; this is for timestamps only.
//!
//! Test-only: `HASHWARD_CLOCK_OFFSET_FILE` names a file holding a signed offset in milliseconds
//! that is added to the wall clock, re-read on every call, so a fault test can step the clock of
//! a running agent or hub (`tests/clock_step.rs`; a test cannot step the system clock). Never
//! set it on a rig or hub: a missing or unparsable file counts as offset 0, silently. Unset, it
//! costs one cached environment lookup per call.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Milliseconds since the Unix epoch; 0 if the clock is before 1970 (a broken RTC on an SBC),
/// never a panic.
pub fn now_ms() -> u64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    ms.saturating_add_signed(test_offset_ms())
}

/// Whole seconds since the Unix epoch (0 before 1970).
pub fn now_s() -> u64 {
    now_ms() / 1000
}

/// The test-only clock offset (see the module comment); 0 unless the variable is set.
fn test_offset_ms() -> i64 {
    static FILE: OnceLock<Option<PathBuf>> = OnceLock::new();
    let Some(path) = FILE.get_or_init(|| std::env::var_os("HASHWARD_CLOCK_OFFSET_FILE").map(PathBuf::from))
    else {
        return 0;
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_after_2020_and_seconds_agree() {
        let ms = super::now_ms();
        assert!(ms > 1_577_836_800_000, "{ms}");
        let s = super::now_s();
        assert!(s.abs_diff(ms / 1000) <= 1);
    }
}

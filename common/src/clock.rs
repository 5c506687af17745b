//! The one wall clock: milliseconds since the Unix epoch, as records, pushes and commands carry
//! them. Monotonic intervals use `std::time::Instant` instead; this is for timestamps only.

/// Milliseconds since the Unix epoch; 0 if the clock is before 1970 (a broken RTC on an SBC),
/// never a panic.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Whole seconds since the Unix epoch (0 before 1970).
pub fn now_s() -> u64 {
    now_ms() / 1000
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

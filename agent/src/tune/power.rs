//! Power-mode sensitivity: caps threads and batch size while on battery.
//!
//! Pure: callers detect the power source and pass it in. This module must never
//! probe hardware, and must never raise threads or batch size (caps only lower).
//! An unknown power source is treated as AC (docs/ARCHITECTURE.md#thresholds-power).

pub use crate::hw::power::PowerState;

/// Battery caps (`power_mode_sensitivity`, `battery_threads_cap`, `battery_batch_cap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerConfig {
    /// Apply the caps below when on battery.
    pub power_mode_sensitivity: bool,
    /// Maximum mining threads on battery.
    pub battery_threads_cap: usize,
    /// Maximum batch size on battery.
    pub battery_batch_cap: u32,
}

impl Default for PowerConfig {
    fn default() -> Self {
        Self {
            power_mode_sensitivity: true,
            battery_threads_cap: 2,
            battery_batch_cap: 4,
        }
    }
}

/// Why a [`PowerConfig`] was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowerConfigError {
    /// A cap of zero would stop mining; use `auto_mine`/pausing for that instead.
    #[error("{field} must be at least 1")]
    ZeroCap { field: &'static str },
}

impl PowerConfig {
    /// Caps must be at least 1.
    pub fn validate(&self) -> Result<(), PowerConfigError> {
        if self.battery_threads_cap == 0 {
            return Err(PowerConfigError::ZeroCap {
                field: "battery_threads_cap",
            });
        }
        if self.battery_batch_cap == 0 {
            return Err(PowerConfigError::ZeroCap {
                field: "battery_batch_cap",
            });
        }
        Ok(())
    }
}

/// Applies battery caps. Returns the (possibly lowered) threads and batch size,
/// and a constraint line such as `"Battery mode: threads=2, batch=4"` when on
/// battery with sensitivity enabled. Caps of 0 are treated as 1.
pub fn apply_power(
    threads: usize,
    batch: u32,
    state: &PowerState,
    cfg: &PowerConfig,
) -> (usize, u32, Option<String>) {
    let percent = match state {
        PowerState::Battery { percent } if cfg.power_mode_sensitivity => *percent,
        PowerState::Ac | PowerState::Unknown | PowerState::Battery { .. } => return (threads, batch, None),
    };
    let t = threads.min(cfg.battery_threads_cap.max(1));
    let b = batch.min(cfg.battery_batch_cap.max(1));
    let mut text = format!("Battery mode: threads={t}, batch={b}");
    if t < threads || b < batch {
        text.push_str(&format!(
            " (capped from threads={threads}, batch={batch} by battery_threads_cap={}, \
             battery_batch_cap={})",
            cfg.battery_threads_cap, cfg.battery_batch_cap
        ));
    } else {
        text.push_str(" (already within battery caps)");
    }
    if let Some(p) = percent {
        text.push_str(&format!(", battery at {p}%"));
    }
    (t, b, Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_seed() {
        let c = PowerConfig::default();
        assert!(c.power_mode_sensitivity);
        assert_eq!((c.battery_threads_cap, c.battery_batch_cap), (2, 4));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn ac_and_unknown_untouched() {
        let c = PowerConfig::default();
        assert_eq!(apply_power(64, 16, &PowerState::Ac, &c), (64, 16, None));
        assert_eq!(apply_power(64, 16, &PowerState::Unknown, &c), (64, 16, None));
    }

    #[test]
    fn battery_caps_with_seed_text() {
        let c = PowerConfig::default();
        let (t, b, text) = apply_power(64, 16, &PowerState::Battery { percent: Some(47) }, &c);
        assert_eq!((t, b), (2, 4));
        let text = text.unwrap();
        assert!(text.starts_with("Battery mode: threads=2, batch=4"), "{text}");
        assert!(text.contains("47%"));
    }

    #[test]
    fn battery_never_raises() {
        let c = PowerConfig::default();
        let (t, b, text) = apply_power(1, 2, &PowerState::Battery { percent: None }, &c);
        assert_eq!((t, b), (1, 2));
        assert!(text.unwrap().contains("already within"));
    }

    #[test]
    fn sensitivity_off_ignores_battery() {
        let c = PowerConfig {
            power_mode_sensitivity: false,
            ..Default::default()
        };
        assert_eq!(
            apply_power(64, 16, &PowerState::Battery { percent: Some(5) }, &c),
            (64, 16, None)
        );
    }

    #[test]
    fn zero_caps_rejected() {
        let c = PowerConfig {
            battery_threads_cap: 0,
            ..Default::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "battery_threads_cap must be at least 1"
        );
        // apply_power still never yields 0 threads.
        assert_eq!(apply_power(8, 8, &PowerState::Battery { percent: None }, &c).0, 1);
    }
}

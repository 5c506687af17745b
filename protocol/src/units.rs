//! Units at the boundaries: hashrate in hashes per second, temperature in Celsius, power in watts.
//!
//! Sources report in MH/s, TH/s, GH/s and so on; everything is converted to these before it
//! enters a message, so nothing downstream ever guesses a unit.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Hashes per second.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hashrate(pub f64);

impl Hashrate {
    pub const ZERO: Hashrate = Hashrate(0.0);
    pub fn hs(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Hashrate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"];
        let mut v = self.0;
        let mut i = 0;
        while v.abs() >= 1000.0 && i < UNITS.len() - 1 {
            v /= 1000.0;
            i += 1;
        }
        write!(f, "{v:.2} {}", UNITS[i])
    }
}

/// Degrees Celsius.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Celsius(pub f32);

/// Watts.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Watts(pub f32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashrate_displays_with_si_prefix() {
        assert_eq!(Hashrate(950.0).to_string(), "950.00 H/s");
        assert_eq!(Hashrate(28_500_000.0).to_string(), "28.50 MH/s");
        assert_eq!(Hashrate(1.1e14).to_string(), "110.00 TH/s");
    }
}

//! Small unit types: a hashrate is never mixed up with a difficulty, watts with kilowatt-hours,
//! dollars with coins. Constructors refuse what is not a quantity (NaN, infinities, negatives).
//!
//! Must never hold a value that is not finite and non-negative.

use serde::{Deserialize, Serialize};

/// A value that is not a quantity of its unit.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("{unit} must be finite and non-negative, got {value}")]
    NotAQuantity { unit: &'static str, value: f64 },
}

fn checked(unit: &'static str, value: f64) -> Result<f64, UnitError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(UnitError::NotAQuantity { unit, value })
    }
}

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $unit:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(f64);

        impl $name {
            pub const ZERO: $name = $name(0.0);

            pub fn new(value: f64) -> Result<$name, UnitError> {
                checked($unit, value).map($name)
            }

            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl TryFrom<f64> for $name {
            type Error = UnitError;
            fn try_from(value: f64) -> Result<$name, UnitError> {
                $name::new(value)
            }
        }

        impl From<$name> for f64 {
            fn from(v: $name) -> f64 {
                v.0
            }
        }

        impl std::ops::Add for $name {
            type Output = $name;
            fn add(self, other: $name) -> $name {
                $name(self.0 + other.0)
            }
        }
    };
}

quantity!(
    /// Hashes per second.
    Hashrate,
    "hashrate (H/s)"
);
quantity!(
    /// US dollars.
    Usd,
    "amount (USD)"
);
quantity!(
    /// Electrical power.
    Watts,
    "power (W)"
);
quantity!(
    /// Electrical energy.
    KilowattHours,
    "energy (kWh)"
);
quantity!(
    /// A coin's proof-of-work difficulty (Bitcoin's definition: expected hashes per block are
    /// difficulty * 2^32).
    Difficulty,
    "difficulty"
);

impl Hashrate {
    pub fn from_terahashes(th_s: f64) -> Result<Hashrate, UnitError> {
        Hashrate::new(th_s * 1e12)
    }

    pub fn terahashes(self) -> f64 {
        self.0 / 1e12
    }
}

impl Watts {
    /// The energy drawn at this power over `seconds`.
    pub fn energy_over(self, seconds: f64) -> Result<KilowattHours, UnitError> {
        KilowattHours::new(self.0 * checked("duration (s)", seconds)? / 3_600_000.0)
    }
}

impl KilowattHours {
    /// What this energy costs at `price` per kWh.
    pub fn cost(self, usd_per_kwh: Usd) -> Usd {
        Usd(self.0 * usd_per_kwh.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_refuse_what_is_not_one() {
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            assert!(Hashrate::new(bad).is_err(), "{bad}");
            assert!(Usd::new(bad).is_err(), "{bad}");
        }
        let e = Watts::new(-3.0).expect_err("negative");
        assert_eq!(e.to_string(), "power (W) must be finite and non-negative, got -3");
        assert_eq!(Difficulty::new(0.0), Ok(Difficulty::ZERO));
    }

    #[test]
    fn conversions_with_values() {
        let h = Hashrate::from_terahashes(100.0).expect("rate");
        assert_eq!(h.get(), 1e14);
        assert_eq!(h.terahashes(), 100.0);
        // 3250 W for a day: 78 kWh; at 0.08 USD/kWh, 6.24 USD.
        let kwh = Watts::new(3250.0).expect("w").energy_over(86_400.0).expect("kwh");
        assert!((kwh.get() - 78.0).abs() < 1e-9, "{kwh:?}");
        let cost = kwh.cost(Usd::new(0.08).expect("usd"));
        assert!((cost.get() - 6.24).abs() < 1e-9, "{cost:?}");
        assert!(Watts::new(1.0).expect("w").energy_over(-1.0).is_err());
    }

    #[test]
    fn serde_refuses_a_negative_quantity() {
        let ok: Usd = serde_json::from_str("1.5").expect("usd");
        assert_eq!(ok.get(), 1.5);
        assert!(serde_json::from_str::<Usd>("-1.5").is_err());
    }
}

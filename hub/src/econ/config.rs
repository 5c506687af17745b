//! The `[economics]` section of hub.toml: electricity tariffs (a default and per site) and the
//! hardware cost of a miner, the inputs of cost, profit and payback that no collector provides.
//!
//! Must never accept a tariff or cost that is not a finite non-negative number: the error names
//! the key.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomicsConfig {
    /// USD per kWh for every site without its own entry.
    pub tariff_usd_kwh: Option<f64>,
    /// USD per kWh by site id.
    #[serde(default)]
    pub site_tariffs_usd_kwh: BTreeMap<String, f64>,
    /// What one miner cost (USD), for payback and ROI.
    pub hardware_cost_usd: Option<f64>,
}

impl EconomicsConfig {
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if let Some(t) = self.tariff_usd_kwh.filter(|t| !ok(*t)) {
            return Err(format!("economics.tariff_usd_kwh must be a number >= 0, got {t}"));
        }
        if let Some((site, t)) = self.site_tariffs_usd_kwh.iter().find(|(_, t)| !ok(**t)) {
            return Err(format!(
                "economics.site_tariffs_usd_kwh.{site} must be a number >= 0, got {t}"
            ));
        }
        if let Some(c) = self.hardware_cost_usd.filter(|c| !ok(*c)) {
            return Err(format!(
                "economics.hardware_cost_usd must be a number >= 0, got {c}"
            ));
        }
        Ok(())
    }

    /// The site's tariff, else the default; none when neither is configured.
    pub fn tariff(&self, site: &str) -> Option<f64> {
        self.site_tariffs_usd_kwh
            .get(site)
            .copied()
            .or(self.tariff_usd_kwh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tariffs_by_site_and_bad_values_named() {
        let c: EconomicsConfig =
            toml::from_str("tariff_usd_kwh = 0.06\nsite_tariffs_usd_kwh = { farm2 = 0.045 }\n")
                .expect("toml");
        assert_eq!((c.tariff("farm2"), c.tariff("home")), (Some(0.045), Some(0.06)));
        assert_eq!(EconomicsConfig::default().tariff("home"), None);
        let bad: EconomicsConfig = toml::from_str("site_tariffs_usd_kwh = { farm2 = -1.0 }\n").expect("toml");
        assert!(bad
            .validate()
            .expect_err("neg")
            .contains("site_tariffs_usd_kwh.farm2"));
        assert!(toml::from_str::<EconomicsConfig>("tarif_usd_kwh = 1.0\n").is_err());
    }
}

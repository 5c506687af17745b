//! The `[economics]` section of hub.toml: the inputs of cost, profit and payback that no
//! collector provides: the default electricity tariff (for sites without `[sites.NAME.tariff]`),
//! CPU rigs' wall power (their agents measure no power), the hardware cost of a miner, and how
//! often the economics topics and gauges are refreshed.
//!
//! Must never accept a tariff, power or cost that is not a finite non-negative number: the error
//! names the key. `site_tariffs_usd_kwh` is refused (replaced by `[sites.NAME.tariff]`), not
//! silently ignored.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How often the economics topics and gauges are recomputed when not configured.
pub const DEFAULT_PUBLISH_INTERVAL: Duration = Duration::from_secs(60);
/// A network snapshot older than this is not used when not configured (the collectors poll
/// every 1 to 5 minutes; an hour without one means the source is down).
pub const DEFAULT_NETWORK_MAX_AGE_S: f64 = 3600.0;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomicsConfig {
    /// USD per kWh for every site without a `[sites.NAME.tariff]`.
    pub tariff_usd_kwh: Option<f64>,
    /// Replaced by `[sites.NAME.tariff]`; parsed only to refuse it with a clear error.
    #[serde(default)]
    pub site_tariffs_usd_kwh: BTreeMap<String, f64>,
    /// What one miner cost (USD), for payback and ROI.
    pub hardware_cost_usd: Option<f64>,
    /// A CPU rig's wall power in watts, by rig id (the agent reports no power).
    #[serde(default)]
    pub rig_power_w: BTreeMap<String, f64>,
    /// Wall power of every CPU rig without its own `rig_power_w` entry.
    pub default_rig_power_w: Option<f64>,
    /// Seconds between refreshes of the economics topics and gauges (default 60).
    pub publish_interval_s: Option<f64>,
    /// A coin's network snapshot older than this many seconds is not used (default 3600).
    pub network_max_age_s: Option<f64>,
}

impl EconomicsConfig {
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if let Some(t) = self.tariff_usd_kwh.filter(|t| !ok(*t)) {
            return Err(format!("economics.tariff_usd_kwh must be a number >= 0, got {t}"));
        }
        if let Some(site) = self.site_tariffs_usd_kwh.keys().next() {
            return Err(format!(
                "economics.site_tariffs_usd_kwh is replaced by [sites.NAME.tariff]: write \
                 [sites.{site}.tariff] with kind = \"flat\" and usd_per_kwh = ... instead"
            ));
        }
        if let Some(c) = self.hardware_cost_usd.filter(|c| !ok(*c)) {
            return Err(format!(
                "economics.hardware_cost_usd must be a number >= 0, got {c}"
            ));
        }
        if let Some((rig, w)) = self.rig_power_w.iter().find(|(_, w)| !ok(**w)) {
            return Err(format!(
                "economics.rig_power_w.{rig} must be a number >= 0, got {w}"
            ));
        }
        if let Some(w) = self.default_rig_power_w.filter(|w| !ok(*w)) {
            return Err(format!(
                "economics.default_rig_power_w must be a number >= 0, got {w}"
            ));
        }
        for (key, v) in [
            ("publish_interval_s", self.publish_interval_s),
            ("network_max_age_s", self.network_max_age_s),
        ] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(format!("economics.{key} must be above 0, got {v}"));
            }
        }
        Ok(())
    }

    /// The default tariff (sites with `[sites.NAME.tariff]` use that instead).
    pub fn tariff(&self, _site: &str) -> Option<f64> {
        self.tariff_usd_kwh
    }

    /// A CPU rig's wall power: its own entry, else the default.
    pub fn rig_power(&self, rig: &str) -> Option<f64> {
        self.rig_power_w.get(rig).copied().or(self.default_rig_power_w)
    }

    pub fn publish_interval(&self) -> Duration {
        self.publish_interval_s
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or(DEFAULT_PUBLISH_INTERVAL)
    }

    pub fn network_max_age_ms(&self) -> u64 {
        (self.network_max_age_s.unwrap_or(DEFAULT_NETWORK_MAX_AGE_S) * 1000.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_powers_and_bad_values_named() {
        let c: EconomicsConfig = toml::from_str(
            "tariff_usd_kwh = 0.06\nrig_power_w = { rig-1 = 95.0 }\ndefault_rig_power_w = 120.0\n\
             publish_interval_s = 0.5\n",
        )
        .expect("toml");
        c.validate().expect("valid");
        assert_eq!((c.tariff("farm2"), c.tariff("home")), (Some(0.06), Some(0.06)));
        assert_eq!(
            (c.rig_power("rig-1"), c.rig_power("rig-2")),
            (Some(95.0), Some(120.0))
        );
        assert_eq!(c.publish_interval(), Duration::from_millis(500));
        assert_eq!(EconomicsConfig::default().tariff("home"), None);
        assert_eq!(EconomicsConfig::default().rig_power("rig-1"), None);
        assert_eq!(
            EconomicsConfig::default().publish_interval(),
            DEFAULT_PUBLISH_INTERVAL
        );
        let bad: EconomicsConfig = toml::from_str("rig_power_w = { rig-1 = -1.0 }\n").expect("toml");
        assert!(bad.validate().expect_err("neg").contains("rig_power_w.rig-1"));
        let bad: EconomicsConfig = toml::from_str("publish_interval_s = 0\n").expect("toml");
        assert!(bad.validate().expect_err("zero").contains("publish_interval_s"));
        assert!(toml::from_str::<EconomicsConfig>("tarif_usd_kwh = 1.0\n").is_err());
    }

    #[test]
    fn the_old_per_site_table_is_refused_pointing_at_sites() {
        let old: EconomicsConfig =
            toml::from_str("site_tariffs_usd_kwh = { farm2 = 0.045 }\n").expect("toml");
        let e = old.validate().expect_err("replaced");
        assert!(
            e.contains("[sites.farm2.tariff]") && e.contains("site_tariffs_usd_kwh"),
            "{e}"
        );
    }
}

//! The efficiency model's side of the ASIC features: which inputs a file may name (the miner
//! family flags, frequency, voltage, chip temperature, ambient, fan duty), the input row for one
//! telemetry sample, and the nominal figures used when the model cannot predict a miner.
//!
//! Must never invent a reading the model needs (no row without frequency, voltage and chip
//! temperature) or panic on any telemetry value.

use super::features::{
    asic_ambient, asic_chip_temp_avg, asic_chip_temp_max, asic_fan_pct_mean, asic_frequency, asic_voltage,
    normalise_model, Expected,
};
use hashward_protocol::AsicTelemetry;

/// An input of the efficiency model, parsed from its feature name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EfficiencyFeature {
    /// `is_<family>`: 1 when the miner's normalised model name is `<family>`.
    Family(String),
    FrequencyMhz,
    VoltageV,
    ChipTempAvgC,
    /// Optional: the model's neutral value stands in when missing.
    AmbientC,
    /// Optional: the model's neutral value stands in when missing.
    FanSpeedPctMean,
}

impl EfficiencyFeature {
    /// `None` when the agent cannot compute a feature of that name.
    pub fn parse(name: &str) -> Option<EfficiencyFeature> {
        Some(match name {
            "frequency_mhz" => EfficiencyFeature::FrequencyMhz,
            "voltage_v" => EfficiencyFeature::VoltageV,
            "chip_temp_avg_c" => EfficiencyFeature::ChipTempAvgC,
            "ambient_c" => EfficiencyFeature::AmbientC,
            "fan_speed_pct_mean" => EfficiencyFeature::FanSpeedPctMean,
            other => {
                let family = other.strip_prefix("is_")?;
                // Only names normalise_model can produce, so a family can ever match.
                if normalise_model(family).as_deref() != Some(family) {
                    return None;
                }
                EfficiencyFeature::Family(family.to_string())
            }
        })
    }
}

/// The efficiency model's input row for `features` (the model's order), or `None` when the
/// miner cannot be predicted: unknown model family, or no frequency, voltage or chip
/// temperature. Ambient and fan duty fall back to `neutral` (their effect is small).
pub fn efficiency_input(
    t: &AsicTelemetry,
    features: &[EfficiencyFeature],
    neutral: &[f32],
) -> Option<Vec<f64>> {
    let key = normalise_model(t.model.as_deref()?)?;
    let known = features
        .iter()
        .any(|f| matches!(f, EfficiencyFeature::Family(k) if *k == key));
    if !known {
        return None;
    }
    let (freq, volt, tavg) = (asic_frequency(t)?, asic_voltage(t)?, asic_chip_temp_avg(t)?);
    let mut row = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let fallback = f64::from(*neutral.get(i)?);
        row.push(match f {
            EfficiencyFeature::Family(k) => {
                if *k == key {
                    1.0
                } else {
                    0.0
                }
            }
            EfficiencyFeature::FrequencyMhz => freq,
            EfficiencyFeature::VoltageV => volt,
            EfficiencyFeature::ChipTempAvgC => tavg,
            EfficiencyFeature::AmbientC => asic_ambient(t).unwrap_or(fallback),
            EfficiencyFeature::FanSpeedPctMean => asic_fan_pct_mean(t).unwrap_or(fallback),
        });
    }
    Some(row)
}

/// The miner's normalised model key, its frequency and voltage as the efficiency model sees them.
pub fn asic_settings(t: &AsicTelemetry) -> (Option<String>, Option<f64>, Option<f64>) {
    (
        t.model.as_deref().and_then(normalise_model),
        asic_frequency(t),
        asic_voltage(t),
    )
}

/// Hottest chip, for the advice's risk level.
pub fn asic_hottest_chip(t: &AsicTelemetry) -> Option<f64> {
    asic_chip_temp_max(t)
}

/// Nominal hashrate: what `hashrate_vs_expected` compares with when the efficiency model
/// cannot predict this miner.
pub fn nominal_expected(t: &AsicTelemetry) -> Expected {
    Expected {
        hashrate_hs: t
            .hashrate
            .nominal
            .map(|h| h.0)
            .filter(|h| *h > 0.0 && h.is_finite()),
        power_w: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efficiency_feature_names_parse() {
        assert_eq!(
            EfficiencyFeature::parse("is_antminer_s21"),
            Some(EfficiencyFeature::Family("antminer_s21".into()))
        );
        assert_eq!(EfficiencyFeature::parse("is_Bad Name"), None);
        assert_eq!(EfficiencyFeature::parse("hash_luck"), None);
    }
}

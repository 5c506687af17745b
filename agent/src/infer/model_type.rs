//! The model slots the agent serves (rig sentinel, ASIC sentinel, ASIC efficiency): their names
//! on disk and on the wire and what a file in each must declare.
//!
//! A leaf: it imports nothing from the rest of `infer`, so errors, the ONNX reader and the
//! registry can all name a slot without importing each other. Must never grow behaviour beyond
//! naming.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A registry slot; the folder name under the models directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    SentinelRig,
    SentinelAsic,
    EfficiencyAsic,
}

impl ModelType {
    pub const ALL: [ModelType; 3] = [
        ModelType::SentinelRig,
        ModelType::SentinelAsic,
        ModelType::EfficiencyAsic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::SentinelRig => "sentinel_rig",
            ModelType::SentinelAsic => "sentinel_asic",
            ModelType::EfficiencyAsic => "efficiency_asic",
        }
    }

    /// `hashward.kind` a file in this slot must declare.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            ModelType::SentinelRig | ModelType::SentinelAsic => "sentinel",
            ModelType::EfficiencyAsic => "efficiency",
        }
    }

    /// The outputs a file in this slot must name, in order.
    pub(crate) fn outputs(self) -> &'static [&'static str] {
        match self {
            ModelType::SentinelRig | ModelType::SentinelAsic => &["score", "contrib"],
            ModelType::EfficiencyAsic => &["hashrate_ths", "power_w"],
        }
    }
}

impl fmt::Display for ModelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelType {
    type Err = String;
    fn from_str(s: &str) -> Result<ModelType, String> {
        ModelType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types_round_trip() {
        for mt in ModelType::ALL {
            assert_eq!(mt.as_str().parse::<ModelType>(), Ok(mt));
        }
        assert!("sentinel".parse::<ModelType>().is_err());
    }
}

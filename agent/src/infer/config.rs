//! The `[inference]` section: whether the on-device models run, where they live, and where
//! updates come from.
//!
//! Must never point the models in use at the package's read-only copy: updates write there.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// On-device anomaly detection and efficiency models (tract).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where the models in use live (updates replace them here). Default: `data_dir/models`.
    pub models_dir: Option<PathBuf>,
    /// The package's read-only copy; model types missing from `models_dir` are copied from it.
    #[serde(default = "default_bundled_models")]
    pub bundled_models_dir: PathBuf,
    /// The hub's HTTP base (`http://hub:8080`) model updates are downloaded from; without it
    /// announcements on `fleet/models` are refused and acked so.
    pub hub_url: Option<String>,
}

fn default_bundled_models() -> PathBuf {
    PathBuf::from("/usr/share/hashward/models")
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            enabled: true,
            models_dir: None,
            bundled_models_dir: default_bundled_models(),
            hub_url: None,
        }
    }
}

fn yes() -> bool {
    true
}

impl InferenceConfig {
    /// Checks every key; the error names it.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.hub_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "inference.hub_url {url:?} is not an http:// or https:// URL"
                ));
            }
        }
        if self.models_dir.as_ref() == Some(&self.bundled_models_dir) {
            return Err(format!(
                "inference.models_dir {} is the bundled copy: updates would overwrite the package's files",
                self.bundled_models_dir.display()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert_eq!(InferenceConfig::default().validate(), Ok(()));
        let bad = InferenceConfig {
            hub_url: Some("hub:8080".into()),
            ..InferenceConfig::default()
        };
        assert!(bad
            .validate()
            .expect_err("no scheme")
            .starts_with("inference.hub_url"));
        let ok = InferenceConfig {
            hub_url: Some("http://hub:8080".into()),
            ..InferenceConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        let same = InferenceConfig {
            models_dir: Some(InferenceConfig::default().bundled_models_dir),
            ..InferenceConfig::default()
        };
        assert!(same
            .validate()
            .expect_err("same dir")
            .starts_with("inference.models_dir"));
    }
}

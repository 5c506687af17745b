//! The live reads a running agent repeats every control tick: the CPU package sensor chosen at
//! discovery and the power supplies, both under the same root discovery used.
//!
//! Must never pick another sensor when the chosen one stops reading (that is reported as an
//! error, which the thermal controller treats as hot) and never write anything.

use std::path::{Path, PathBuf};

use super::{power, Hardware, PowerState, Sensor, SensorError};

/// The package sensor and power supplies to re-read, fixed at start.
#[derive(Debug, Clone)]
pub struct LiveSensors {
    root: PathBuf,
    package: Option<Sensor>,
}

impl LiveSensors {
    /// Keeps the package sensor `found` chose (logging which, or why there is none).
    pub fn new(root: &Path, found: &Hardware) -> LiveSensors {
        let package = match &found.thermal.package {
            Ok(p) => {
                log::info!("thermal: CPU package sensor {} ({:.1} °C)", p.reason, p.celsius);
                Some(p.sensor.clone())
            }
            Err(e) => {
                log::warn!("thermal: {e}; mining without thermal protection");
                None
            }
        };
        LiveSensors {
            root: root.to_path_buf(),
            package,
        }
    }

    /// The package temperature now: `None` when the host has no package sensor.
    pub fn package_temp(&self) -> Option<Result<f32, SensorError>> {
        self.package.as_ref().map(super::read_package_temp)
    }

    /// The power state now; unreadable supplies count as unknown, as at discovery.
    pub fn power(&self) -> PowerState {
        power::read_power(&self.root, &mut Vec::new()).state
    }
}

//! The live control loop's I/O edge: re-reads the chosen CPU package sensor and the power
//! supplies under the hardware root, feeds the pure thermal controller and the integrated
//! decision, and returns the configuration the engine should run with.
//!
//! Must never: guess a temperature (a sensor that stops reading is reported as lost, which the
//! controller treats as hot), or raise threads above what the operator configured.

use crate::tune::decide::{decide_optimal_config, DecideInput, OptimalConfig};
use crate::tune::hw::{self, sensors::read_package_temp, sensors::Sensor};
use crate::tune::power::PowerConfig;
use crate::tune::thermal::{ControlTuning, Reading, ThermalConfig, ThermalConfigError, ThermalController};
use std::path::PathBuf;
use std::time::Instant;

/// How often the loop samples, as the thermal simulation assumes.
pub const CONTROL_INTERVAL_S: u64 = 5;

pub struct Control {
    root: PathBuf,
    sensor: Option<Sensor>,
    thermal: Option<ThermalController>,
    power_cfg: PowerConfig,
    base_threads: usize,
    base_batch: u32,
    logical_cpus: usize,
    cpu_list: Vec<usize>,
    started: Instant,
}

pub struct ControlConfig {
    pub root: PathBuf,
    pub thermal: Option<ThermalConfig>,
    pub power: PowerConfig,
    pub threads: usize,
    pub batch: u32,
    pub cpus: Vec<usize>,
}

impl Control {
    pub fn new(cfg: ControlConfig) -> Result<Control, ThermalConfigError> {
        let found = hw::discover(&cfg.root);
        let sensor = match &found.thermal.package {
            Ok(p) => {
                log::info!("thermal: CPU package sensor {} ({:.1} °C)", p.reason, p.celsius);
                Some(p.sensor.clone())
            }
            Err(e) => {
                log::warn!("thermal: {e}; mining without thermal protection");
                None
            }
        };
        let thermal = match cfg.thermal {
            Some(t) => Some(ThermalController::new(t, ControlTuning::default())?),
            None => None,
        };
        Ok(Control {
            root: cfg.root,
            sensor,
            thermal,
            power_cfg: cfg.power,
            base_threads: cfg.threads,
            base_batch: cfg.batch,
            logical_cpus: found.topology.logical_count().max(cfg.threads),
            cpu_list: cfg.cpus,
            started: Instant::now(),
        })
    }

    /// One control step: read, decide.
    pub fn tick(&mut self) -> OptimalConfig {
        let now = self.started.elapsed().as_secs_f64();
        let thermal = self.thermal.as_mut().map(|c| {
            let reading = match &self.sensor {
                None => Reading::NoSensor,
                Some(s) => match read_package_temp(s) {
                    Ok(t) => Reading::Celsius(t),
                    Err(e) => {
                        log::warn!("thermal: package sensor stopped reading ({e}); assuming hot");
                        Reading::SensorLost
                    }
                },
            };
            c.observe(now, reading)
        });
        let power = hw::power::read_power(&self.root, &mut Vec::new()).state;
        decide_optimal_config(&DecideInput {
            tuned_threads: self.base_threads,
            tuned_batch: self.base_batch,
            min_threads: None,
            max_threads: Some(self.base_threads),
            logical_cpus: self.logical_cpus,
            thermal,
            power,
            power_cfg: self.power_cfg,
            cpu_list: self.cpu_list.clone(),
        })
    }
}

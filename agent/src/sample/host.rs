//! Host sampling: load, CPU usage, memory, temperatures, and the hardware summary for the birth
//! message. Temperatures come from the same discovery under the hardware root that the thermal
//! controller uses, the chosen CPU package sensor first, so telemetry shows what the controller
//! acts on. Must never fail the agent: a value the OS does not give is left out, not invented.

use crate::hw::sensors::read_thermal;
use hashward_protocol::{AgentCounters, Celsius, Hardware, RigTelemetry, TempReading};
use std::path::PathBuf;
use sysinfo::System;

pub struct HostSampler {
    sys: System,
    root: PathBuf,
}

impl HostSampler {
    /// Samples the host whose `sys/` and `proc/` are under `root` ("/" for the live host).
    pub fn new(root: PathBuf) -> HostSampler {
        let mut sys = System::new();
        sys.refresh_cpu_all();
        sys.refresh_memory();
        HostSampler { sys, root }
    }

    /// The birth message's hardware summary, from the same discovery the tuner uses.
    pub fn hardware(&self, root: &std::path::Path) -> Hardware {
        let found = crate::hw::discover(root);
        let logical = found.topology.logical_count().max(1) as u32;
        Hardware {
            cpu_model: found.model.name.clone(),
            logical_cores: logical,
            physical_cores: (found.topology.physical_count() as u32).clamp(1, logical),
            numa_nodes: found.numa.nodes.len().max(1) as u32,
            memory_bytes: self.sys.total_memory(),
            arch: std::env::consts::ARCH.to_string(),
            os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.to_string()),
            hostname: System::host_name().unwrap_or_default(),
        }
    }

    /// One telemetry sample. `agent` carries the link's counters at sampling time.
    pub fn sample(&mut self, agent: AgentCounters) -> RigTelemetry {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        let load = System::load_average();
        let thermal = read_thermal(&self.root);
        let mut temperatures = Vec::new();
        if let Ok(p) = &thermal.package {
            temperatures.push(TempReading {
                label: format!("cpu package ({})", p.reason),
                celsius: Celsius(p.celsius),
            });
        }
        // Unreadable or absurd readings are errors in discovery and stay out.
        temperatures.extend(thermal.sensors.iter().filter_map(|r| {
            r.celsius.as_ref().ok().map(|&c| TempReading {
                label: r.sensor.label.clone(),
                celsius: Celsius(c),
            })
        }));
        RigTelemetry {
            uptime_s: System::uptime(),
            load_1m: load.one as f32,
            load_5m: load.five as f32,
            load_15m: load.fifteen as f32,
            cpu_usage_pct: self.sys.global_cpu_usage(),
            memory_used_bytes: self.sys.used_memory(),
            memory_total_bytes: self.sys.total_memory(),
            temperatures,
            miner: None,
            agent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_start_with_the_chosen_package_sensor() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hw/ryzen-desktop");
        let t = HostSampler::new(root).sample(AgentCounters::default());
        assert!(
            t.temperatures[0].label.starts_with("cpu package (hwmon k10temp"),
            "{:?}",
            t.temperatures
        );
        assert!(t.temperatures.len() > 1);
        let vm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hw/vm");
        assert!(HostSampler::new(vm)
            .sample(AgentCounters::default())
            .temperatures
            .is_empty());
    }

    #[test]
    fn sample_reads_the_live_host() {
        let mut s = HostSampler::new("/".into());
        let hw = s.hardware(std::path::Path::new("/"));
        assert!(hw.logical_cores >= 1);
        assert!(hw.physical_cores >= 1 && hw.physical_cores <= hw.logical_cores);
        let t = s.sample(AgentCounters::default());
        assert!(t.memory_total_bytes > 0 && t.memory_used_bytes <= t.memory_total_bytes);
        assert!((0.0..=100.0).contains(&t.cpu_usage_pct));
    }
}

//! Host sampling: load, CPU usage, memory, temperatures, and the hardware summary for the birth
//! message. Must never fail the agent: a value the OS does not give is left out, not invented.

use hashward_protocol::{AgentCounters, Celsius, Hardware, RigTelemetry, TempReading};
use sysinfo::{Components, System};

pub struct HostSampler {
    sys: System,
    components: Components,
}

impl Default for HostSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSampler {
    pub fn new() -> HostSampler {
        let mut sys = System::new();
        sys.refresh_cpu_all();
        sys.refresh_memory();
        HostSampler {
            sys,
            components: Components::new_with_refreshed_list(),
        }
    }

    /// The birth message's hardware summary, from the same discovery the tuner uses.
    pub fn hardware(&self, root: &std::path::Path) -> Hardware {
        let found = crate::tune::hw::discover(root);
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
        self.components.refresh(false);
        let load = System::load_average();
        let temperatures = self
            .components
            .iter()
            .filter_map(|c| {
                let t = c.temperature()?;
                // sysinfo reports unreadable sensors as NaN or absurd values on some boards.
                (t.is_finite() && (-40.0..=150.0).contains(&t)).then(|| TempReading {
                    label: c.label().to_string(),
                    celsius: Celsius(t),
                })
            })
            .collect();
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
    fn sample_reads_the_live_host() {
        let mut s = HostSampler::new();
        let hw = s.hardware(std::path::Path::new("/"));
        assert!(hw.logical_cores >= 1);
        assert!(hw.physical_cores >= 1 && hw.physical_cores <= hw.logical_cores);
        let t = s.sample(AgentCounters::default());
        assert!(t.memory_total_bytes > 0 && t.memory_used_bytes <= t.memory_total_bytes);
        assert!((0.0..=100.0).contains(&t.cpu_usage_pct));
    }
}

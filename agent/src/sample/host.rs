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

    pub fn hardware(&self) -> Hardware {
        let brand = self
            .sys
            .cpus()
            .first()
            .map(|c| c.brand().to_string())
            .unwrap_or_default();
        let logical = self.sys.cpus().len() as u32;
        Hardware {
            cpu_model: normalise_cpu_model(&brand),
            logical_cores: logical,
            physical_cores: System::physical_core_count().map(|n| n as u32).unwrap_or(logical),
            numa_nodes: numa_node_count(),
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

fn numa_node_count() -> u32 {
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/node") else {
        return 1;
    };
    let n = dir
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("node")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count() as u32;
    n.max(1)
}

/// Normalises a CPU brand string the way seed 004 describes: lower case, without trademarks,
/// the word "processor"/"cpu", core counts and the clock, so that one model has one name and
/// nothing host-specific remains. `Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz` -> `intel xeon gold 6130`.
pub fn normalise_cpu_model(brand: &str) -> String {
    let lower = brand.to_lowercase();
    let cut = lower.split('@').next().unwrap_or("");
    let cleaned = cut.replace("(r)", " ").replace("(tm)", " ").replace("(c)", " ");
    cleaned
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .filter(|w| !matches!(*w, "cpu" | "processor" | "apu" | "with" | "radeon" | "graphics"))
        .filter(|w| !(w.ends_with("-core") || w.ends_with("ghz")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_models_normalise() {
        assert_eq!(
            normalise_cpu_model("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz"),
            "intel xeon gold 6130"
        );
        assert_eq!(
            normalise_cpu_model("AMD Ryzen 9 5900X 12-Core Processor"),
            "amd ryzen 9 5900x"
        );
        assert_eq!(normalise_cpu_model("Intel(R) Xeon(R) Processor"), "intel xeon");
        assert_eq!(normalise_cpu_model("Cortex-A72"), "cortex-a72");
        assert_eq!(normalise_cpu_model(""), "");
    }

    #[test]
    fn sample_reads_the_live_host() {
        let mut s = HostSampler::new();
        let hw = s.hardware();
        assert!(hw.logical_cores >= 1);
        assert!(hw.physical_cores >= 1 && hw.physical_cores <= hw.logical_cores);
        let t = s.sample(AgentCounters::default());
        assert!(t.memory_total_bytes > 0 && t.memory_used_bytes <= t.memory_total_bytes);
        assert!((0.0..=100.0).contains(&t.cpu_usage_pct));
    }
}

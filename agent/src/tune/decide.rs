//! Final mining decision: combines the tuner's choice with thermal, power and
//! NUMA inputs into an [`OptimalConfig`], in the order of docs/ARCHITECTURE.md#thresholds-power
//! (thermal -> power -> tuned values -> CPU placement -> config with constraints).
//!
//! Pure function of its input. It must never probe hardware, read the clock,
//! mine while a thermal pause is in force, or raise threads above what the
//! tuner, bounds, CPU count, thermal factor and battery caps allow.

use crate::tune::numa::{self, NumaNode};
use crate::tune::power::{apply_power, PowerConfig, PowerState};
use crate::tune::thermal::{ThermalDecision, ThermalState};

/// Where the threads run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Not pinned: the OS scheduler places them.
    Os,
    /// The operator's CPU list (`miner.cpus`), thread i on the i-th entry.
    Fixed(Vec<usize>),
    /// NUMA awareness (docs/ARCHITECTURE.md#thresholds-power): spread over the nodes in
    /// proportion to their CPUs, physical cores before SMT siblings.
    Numa {
        nodes: Vec<NumaNode>,
        smt_siblings: Vec<Vec<u32>>,
    },
}

/// Everything the decision needs, as plain values.
#[derive(Debug, Clone, PartialEq)]
pub struct DecideInput {
    /// Threads chosen by the tuner (or the configured base).
    pub tuned_threads: usize,
    /// Batch size chosen by the tuner (or `simd_batch_size`).
    pub tuned_batch: u32,
    /// `min_threads` from config (None = 1).
    pub min_threads: Option<usize>,
    /// `max_threads` from config (None = logical CPU count).
    pub max_threads: Option<usize>,
    /// Logical CPUs on the host.
    pub logical_cpus: usize,
    /// Latest thermal decision; None when `thermal_protection_enabled` is false.
    pub thermal: Option<ThermalDecision>,
    pub power: PowerState,
    pub power_cfg: PowerConfig,
    pub placement: Placement,
    /// What the tuner is doing and where its numbers come from, appended to the constraints.
    pub tuning: Vec<String>,
}

/// What the miner should run with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OptimalConfig {
    /// Mining threads (0 when `should_mine` is false).
    pub threads: usize,
    pub batch_size: u32,
    /// CPUs to pin the threads to; empty = let the OS schedule.
    pub cpus: Vec<usize>,
    /// Perf-key layout: `node0:8,node1:8` when NUMA-aware, `cpus:0-3` for a fixed list,
    /// `unpinned` otherwise.
    pub numa_layout: String,
    /// Human-readable list of every limit that applied, and why.
    pub constraints_applied: Vec<String>,
    pub should_mine: bool,
}

/// Decides threads, batch, pinning and whether to mine at all.
pub fn decide_optimal_config(input: &DecideInput) -> OptimalConfig {
    let mut constraints = Vec::new();

    // Bounds: 1 <= min_threads <= threads <= max_threads <= logical CPUs.
    let logical = input.logical_cpus.max(1);
    let hi = input.max_threads.unwrap_or(logical).clamp(1, logical);
    let lo = input.min_threads.unwrap_or(1).clamp(1, hi);
    if input.min_threads.is_some_and(|m| m > hi) {
        constraints.push(format!(
            "min_threads={} exceeds the maximum of {hi}: using {hi}",
            input.min_threads.unwrap_or(hi)
        ));
    }
    let mut threads = input.tuned_threads.clamp(lo, hi);
    if threads != input.tuned_threads {
        constraints.push(format!(
            "Thread bounds: tuned {} -> {threads} (allowed {lo}..={hi}: min_threads={}, \
             max_threads={}, logical CPUs={logical})",
            input.tuned_threads,
            fmt_opt(input.min_threads),
            fmt_opt(input.max_threads),
        ));
    }
    let mut batch = input.tuned_batch.max(1);
    if batch != input.tuned_batch {
        constraints.push("Batch size 0 is invalid: using 1".to_string());
    }

    // 1. Thermal.
    match &input.thermal {
        None => constraints.push("Thermal protection disabled by configuration".to_string()),
        Some(d) if d.pause => {
            constraints.push(format!("Thermal pause ({}): {}", d.state, d.reason));
            constraints.extend(input.tuning.iter().cloned());
            return OptimalConfig {
                threads: 0,
                batch_size: batch,
                cpus: Vec::new(),
                numa_layout: "unpinned".to_string(),
                constraints_applied: constraints,
                should_mine: false,
            };
        }
        Some(d) => {
            if d.state == ThermalState::Unknown {
                constraints.push(format!("No thermal sensor: {}", d.reason));
            }
            let factor = if d.thread_factor.is_finite() {
                d.thread_factor.clamp(0.0, 1.0)
            } else {
                0.0
            };
            if factor < 1.0 {
                let before = threads;
                threads = ((threads as f32 * factor).round() as usize).clamp(1, before);
                let mut text = format!(
                    "Thermal throttling: {:.0}% capacity, threads {before} -> {threads} ({}: {})",
                    factor * 100.0,
                    d.state,
                    d.reason
                );
                if threads < lo {
                    text.push_str(&format!("; below min_threads={lo} for thermal safety"));
                }
                constraints.push(text);
            }
        }
    }

    // 2. Power.
    let (t, b, power_text) = apply_power(threads, batch, &input.power, &input.power_cfg);
    threads = t;
    batch = b;
    constraints.extend(power_text);

    // 3. Tuned values: the tuner's notes (origin, expected rate, progress).
    constraints.extend(input.tuning.iter().cloned());

    // 4. Placement.
    let (cpus, numa_layout) = match &input.placement {
        Placement::Os => (Vec::new(), "unpinned".to_string()),
        Placement::Fixed(list) => {
            let cpus: Vec<usize> = list.iter().copied().take(threads).collect();
            if cpus.len() < threads {
                constraints.push(format!(
                    "CPU list has only {} entries: {} of {threads} threads pinned",
                    cpus.len(),
                    cpus.len()
                ));
            }
            let as_u32: Vec<u32> = cpus.iter().filter_map(|&c| u32::try_from(c).ok()).collect();
            let layout = format!("cpus:{}", crate::hw::cpu::format_cpulist(&as_u32));
            (cpus, layout)
        }
        Placement::Numa { nodes, smt_siblings } => {
            let plan = numa::plan(nodes, smt_siblings, threads);
            let layout = plan.layout();
            if plan.nodes.len() > 1 {
                constraints.push(format!("NUMA: {threads} threads spread as {layout}, pinned"));
            }
            if plan.capped {
                constraints.push(format!(
                    "NUMA: only {} CPUs to pin to for {threads} threads",
                    plan.total_threads()
                ));
            }
            (plan.cpus().into_iter().map(|c| c as usize).collect(), layout)
        }
    };

    OptimalConfig {
        threads,
        batch_size: batch,
        cpus,
        numa_layout,
        constraints_applied: constraints,
        should_mine: threads > 0,
    }
}

fn fmt_opt(v: Option<usize>) -> String {
    v.map_or_else(|| "unset".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cool() -> ThermalDecision {
        ThermalDecision {
            state: ThermalState::Cool,
            thread_factor: 1.0,
            pause: false,
            temp_c: Some(55.0),
            reason: "CPU 55.0 °C (cool): no thermal limit".to_string(),
        }
    }

    fn input() -> DecideInput {
        DecideInput {
            tuned_threads: 16,
            tuned_batch: 8,
            min_threads: None,
            max_threads: None,
            logical_cpus: 16,
            thermal: Some(cool()),
            power: PowerState::Ac,
            power_cfg: PowerConfig::default(),
            placement: Placement::Fixed((0..16).collect()),
            tuning: Vec::new(),
        }
    }

    #[test]
    fn unconstrained() {
        let out = decide_optimal_config(&input());
        assert_eq!(out.threads, 16);
        assert_eq!(out.batch_size, 8);
        assert_eq!(out.cpus, (0..16).collect::<Vec<_>>());
        assert!(out.should_mine);
        assert!(
            out.constraints_applied.is_empty(),
            "{:?}",
            out.constraints_applied
        );
    }

    #[test]
    fn bounds_and_logical_cpus() {
        let mut i = input();
        i.tuned_threads = 32;
        i.max_threads = Some(12);
        let out = decide_optimal_config(&i);
        assert_eq!(out.threads, 12);
        assert_eq!(out.cpus.len(), 12);
        assert!(out.constraints_applied[0].contains("max_threads=12"));

        let mut i = input();
        i.tuned_threads = 1;
        i.min_threads = Some(4);
        assert_eq!(decide_optimal_config(&i).threads, 4);
    }

    #[test]
    fn thermal_throttle_scales_threads() {
        let mut i = input();
        i.thermal = Some(ThermalDecision {
            state: ThermalState::Hot,
            thread_factor: 0.75,
            pause: false,
            temp_c: Some(85.0),
            reason: "CPU 85.0 °C is above the soft limit".to_string(),
        });
        i.min_threads = Some(14);
        let out = decide_optimal_config(&i);
        assert_eq!(out.threads, 12);
        assert_eq!(out.cpus, (0..12).collect::<Vec<_>>());
        let c = &out.constraints_applied[0];
        assert!(
            c.starts_with("Thermal throttling: 75% capacity, threads 16 -> 12"),
            "{c}"
        );
        assert!(c.contains("min_threads=14 for thermal safety"));
    }

    #[test]
    fn thermal_never_drops_to_zero_threads() {
        let mut i = input();
        i.thermal = Some(ThermalDecision {
            thread_factor: 0.01,
            ..cool()
        });
        assert_eq!(decide_optimal_config(&i).threads, 1);
    }

    #[test]
    fn critical_pauses() {
        let mut i = input();
        i.thermal = Some(ThermalDecision {
            state: ThermalState::Critical,
            thread_factor: 0.5,
            pause: true,
            temp_c: Some(93.0),
            reason: "hard limit".to_string(),
        });
        let out = decide_optimal_config(&i);
        assert!(!out.should_mine);
        assert_eq!(out.threads, 0);
        assert!(out.cpus.is_empty());
        assert!(out.constraints_applied[0].starts_with("Thermal pause (critical)"));
    }

    #[test]
    fn battery_after_thermal() {
        let mut i = input();
        i.thermal = Some(ThermalDecision {
            thread_factor: 0.5,
            ..cool()
        });
        i.power = PowerState::Battery { percent: Some(47) };
        let out = decide_optimal_config(&i);
        assert_eq!((out.threads, out.batch_size), (2, 4));
        assert_eq!(out.cpus, vec![0, 1]);
        assert_eq!(out.constraints_applied.len(), 2);
        assert!(out.constraints_applied[1].starts_with("Battery mode: threads=2, batch=4"));
    }

    #[test]
    fn no_sensor_and_disabled_are_reported() {
        let mut i = input();
        i.thermal = Some(ThermalDecision::unrestricted(
            "no thermal sensor: thermal protection unavailable, mining unrestricted",
        ));
        let out = decide_optimal_config(&i);
        assert_eq!(out.threads, 16);
        assert!(out.constraints_applied[0].contains("no thermal sensor"));

        i.thermal = None;
        let out = decide_optimal_config(&i);
        assert!(out.should_mine);
        assert!(out.constraints_applied[0].contains("disabled"));
    }

    #[test]
    fn short_or_missing_cpu_list() {
        let mut i = input();
        i.placement = Placement::Fixed(vec![3, 5]);
        let out = decide_optimal_config(&i);
        assert_eq!(out.threads, 16);
        assert_eq!(out.cpus, vec![3, 5]);
        assert_eq!(out.numa_layout, "cpus:3,5");
        assert!(out.constraints_applied[0].contains("2 of 16 threads pinned"));

        i.placement = Placement::Os;
        let out = decide_optimal_config(&i);
        assert!(out.cpus.is_empty());
        assert_eq!(out.numa_layout, "unpinned");
        assert!(out.constraints_applied.is_empty());
    }

    #[test]
    fn numa_plan_follows_the_final_thread_count() {
        let mut i = input();
        // Two nodes of 4 cores with SMT siblings (cpu n and n+8 share a core).
        let nodes = vec![
            NumaNode {
                id: 0,
                cpus: vec![0, 1, 2, 3, 8, 9, 10, 11],
            },
            NumaNode {
                id: 1,
                cpus: vec![4, 5, 6, 7, 12, 13, 14, 15],
            },
        ];
        let smt_siblings = (0..8).map(|c| vec![c, c + 8]).collect();
        i.placement = Placement::Numa { nodes, smt_siblings };
        i.thermal = Some(ThermalDecision {
            thread_factor: 0.5,
            ..cool()
        });
        i.tuning = vec!["Auto-tune: settled".to_string()];
        let out = decide_optimal_config(&i);
        assert_eq!(out.threads, 8);
        assert_eq!(out.numa_layout, "node0:4,node1:4");
        let mut cpus = out.cpus.clone();
        cpus.sort_unstable();
        assert_eq!(cpus, (0..8).collect::<Vec<_>>(), "physical cores before siblings");
        assert!(out
            .constraints_applied
            .iter()
            .any(|c| c.starts_with("NUMA: 8 threads spread as node0:4,node1:4")));
        assert_eq!(out.constraints_applied[1], "Auto-tune: settled");
    }
}

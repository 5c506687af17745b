//! 24-hour thermal simulation of a 16-thread CPU driven by the thermal controller.
//!
//! Checks the controller never lets the simulated CPU reach the hard limit, does
//! not cycle, and delivers at least 90 % of the work of the best constant thread
//! count that stays under the soft limit. Must never depend on wall-clock time.

use hashward_agent::tune::decide::{decide_optimal_config, DecideInput, Placement};
use hashward_agent::tune::power::{PowerConfig, PowerState};
use hashward_agent::tune::thermal::{ControlTuning, Reading, ThermalConfig, ThermalController, ThermalState};

const THREADS: usize = 16;
const TAU_S: f64 = 60.0;
const HEAT_PER_THREAD_C: f64 = 3.5;
const DAY_S: u32 = 86_400;
const SAMPLE_EVERY_S: u32 = 5;
const FAN_FAIL_FROM_S: u32 = 14 * 3600;
const FAN_FAIL_TO_S: u32 = 16 * 3600;

/// Ambient 20..35 °C, coldest at 03:00, hottest at 15:00.
fn ambient_c(t: u32) -> f64 {
    let day = f64::from(t) / f64::from(DAY_S);
    27.5 + 7.5 * (std::f64::consts::TAU * (day - 0.375)).sin()
}

fn airflow(t: u32) -> f64 {
    if (FAN_FAIL_FROM_S..FAN_FAIL_TO_S).contains(&t) {
        0.5
    } else {
        1.0
    }
}

/// One explicit Euler step of 1 s.
fn step(temp: f64, t: u32, active: usize) -> f64 {
    let target = ambient_c(t) + HEAT_PER_THREAD_C * active as f64 / airflow(t);
    temp + (target - temp) / TAU_S
}

/// Max temperature for a constant thread count over the day.
fn constant_max_temp(active: usize) -> f64 {
    let mut temp = ambient_c(0);
    let mut max = temp;
    for t in 0..DAY_S {
        temp = step(temp, t, active);
        max = max.max(temp);
    }
    max
}

struct SimResult {
    max_temp: f64,
    work: u64,
    state_changes: u32,
    thread_changes: u32,
    paused_s: u32,
    above_soft_s: u32,
    secs_in: [u32; 5],
}

fn simulate(cfg: ThermalConfig) -> SimResult {
    let soft = f64::from(cfg.soft_limit_c);
    let mut ctl = ThermalController::new(cfg, ControlTuning::default()).expect("valid config");
    let mut temp = ambient_c(0);
    let mut active = 0usize;
    let mut state: Option<ThermalState> = None;
    let mut r = SimResult {
        max_temp: temp,
        work: 0,
        state_changes: 0,
        thread_changes: 0,
        paused_s: 0,
        above_soft_s: 0,
        secs_in: [0; 5],
    };
    let mut current_state = ThermalState::Cool;
    for t in 0..DAY_S {
        if t % SAMPLE_EVERY_S == 0 {
            let d = ctl.observe(f64::from(t), Reading::Celsius(temp as f32));
            if state.is_some_and(|s| s != d.state) {
                r.state_changes += 1;
            }
            state = Some(d.state);
            current_state = d.state;
            let out = decide_optimal_config(&DecideInput {
                tuned_threads: THREADS,
                tuned_batch: 8,
                min_threads: None,
                max_threads: None,
                logical_cpus: THREADS,
                thermal: Some(d),
                power: PowerState::Ac,
                power_cfg: PowerConfig::default(),
                placement: Placement::Os,
                tuning: Vec::new(),
            });
            let next = if out.should_mine { out.threads } else { 0 };
            if t > 0 && next != active {
                r.thread_changes += 1;
            }
            active = next;
        }
        if active == 0 {
            r.paused_s += 1;
        }
        r.secs_in[current_state as usize] += 1;
        r.work += active as u64;
        temp = step(temp, t, active);
        r.max_temp = r.max_temp.max(temp);
        if temp >= soft {
            r.above_soft_s += 1;
        }
    }
    r
}

#[test]
fn thermal_controller_24h_simulation() {
    let cfg = ThermalConfig::default();
    let soft = f64::from(cfg.soft_limit_c);
    let hard = f64::from(cfg.hard_limit_c);

    let baseline_threads = (1..=THREADS)
        .filter(|&n| constant_max_temp(n) < soft)
        .max()
        .unwrap_or(0);
    let baseline_work = baseline_threads as u64 * u64::from(DAY_S);
    let full_max = constant_max_temp(THREADS);

    let r = simulate(cfg);
    let ratio = r.work as f64 / baseline_work as f64;
    let avg_threads = r.work as f64 / f64::from(DAY_S);

    println!("--- thermal simulation: 16 threads, tau 60 s, 24 h, fan failure 14:00-16:00 ---");
    println!("constant 16 threads, no controller: max {full_max:.1} °C");
    println!(
        "baseline: best constant thread count under soft limit = {baseline_threads} \
         (max {:.1} °C), work {baseline_work} thread-s",
        constant_max_temp(baseline_threads)
    );
    println!(
        "controller: work {} thread-s (avg {avg_threads:.2} threads) = {:.1}% of baseline",
        r.work,
        ratio * 100.0
    );
    println!(
        "controller: max temp {:.2} °C (hard limit {hard}), state changes {}, thread-count \
         changes {}, paused {} s",
        r.max_temp, r.state_changes, r.thread_changes, r.paused_s
    );
    println!(
        "time in state (s): cool {}, warm {}, hot {}, critical {}; at/above soft limit {} s",
        r.secs_in[ThermalState::Cool as usize],
        r.secs_in[ThermalState::Warm as usize],
        r.secs_in[ThermalState::Hot as usize],
        r.secs_in[ThermalState::Critical as usize],
        r.above_soft_s
    );

    assert!(
        baseline_threads >= 1,
        "no constant thread count stays under the soft limit"
    );
    assert!(r.max_temp < hard, "hard limit exceeded: {:.2} °C", r.max_temp);
    assert!(
        r.state_changes < 100,
        "too many state changes: {}",
        r.state_changes
    );
    assert!(ratio >= 0.9, "delivered {:.1}% of baseline", ratio * 100.0);
}

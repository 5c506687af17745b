//! Per-sample inference latency (median, p99) of the full assessment path (features + tract +
//! severity) and of the bare tract run, and the resident memory the models add.
//!
//! Run: `cargo run --release --example latency [-- MODELS_DIR [ITERATIONS]]`
//! (defaults: the repository's models/, 20000 samples per model). Linux only for RSS.

use hashward_agent::infer::ModelType;
use hashward_agent::infer::{Assessor, Registry};
use hashward_protocol::{AsicTelemetry, RigTelemetry};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A `/proc/self/status` field in KiB (VmRSS, RssAnon: heap and stacks, RssFile: mapped code).
fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

/// (total, anonymous, file-backed) RSS in KiB.
fn rss_parts() -> [Option<u64>; 3] {
    [rss_kib(), status_kib("RssAnon:"), status_kib("RssFile:")]
}

fn mib(k: Option<u64>) -> String {
    k.map_or("?".into(), |k| format!("{:.2} MiB", k as f64 / 1024.0))
}

fn delta(a: Option<u64>, b: Option<u64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:+.2} MiB", (b as f64 - a as f64) / 1024.0),
        _ => "?".into(),
    }
}

fn models_dir() -> PathBuf {
    if let Some(d) = std::env::args().nth(1) {
        return PathBuf::from(d);
    }
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    loop {
        if dir.join("models/sentinel_rig/model.onnx").is_file() {
            return dir.join("models");
        }
        if !dir.pop() {
            eprintln!("no models/ directory found; pass it as the first argument");
            std::process::exit(2);
        }
    }
}

fn telemetry<T: serde::de::DeserializeOwned>(dir: &Path, model: &str) -> Vec<T> {
    let text = std::fs::read_to_string(dir.join(model).join("golden.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| serde_json::from_value(v["telemetry"].clone()).ok())
        .collect()
}

fn report(name: &str, mut ns: Vec<u64>) {
    ns.sort_unstable();
    let q = |p: f64| ns[((ns.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0;
    println!(
        "{name:<28} n={:<6} median={:>7.1} us  p99={:>7.1} us  max={:>8.1} us",
        ns.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
}

fn main() {
    let dir = models_dir();
    let iterations: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let rig: Vec<RigTelemetry> = telemetry(&dir, "sentinel_rig");
    let asic: Vec<AsicTelemetry> = telemetry(&dir, "sentinel_asic");
    if rig.is_empty() || asic.is_empty() {
        eprintln!("no golden telemetry under {}", dir.display());
        std::process::exit(2);
    }

    // Loaded one at a time to separate tract's one-time cost (its code paged in, op registry)
    // from each model's own plan and weights.
    let registry = Registry::new();
    let mut steps = vec![("start".to_string(), rss_parts())];
    for mt in ModelType::ALL {
        match hashward_agent::infer::registry::load_model_dir(&dir, mt) {
            Ok(m) => {
                registry.install(m);
            }
            Err(e) => eprintln!("refused: {e}"),
        }
        steps.push((format!("+ {mt}"), rss_parts()));
    }
    println!("RSS (total / anonymous / file-backed):");
    for (i, (name, p)) in steps.iter().enumerate() {
        let prev = if i == 0 { p } else { &steps[i - 1].1 };
        println!(
            "  {name:<18} {:>10} {:>10} {:>10}   delta total {:>10} anon {:>10} file {:>10}",
            mib(p[0]),
            mib(p[1]),
            mib(p[2]),
            delta(prev[0], p[0]),
            delta(prev[1], p[1]),
            delta(prev[2], p[2])
        );
    }
    let (first, last) = (&steps[0].1, &steps[steps.len() - 1].1);
    println!(
        "  models added: total {}, anonymous {}, file-backed (tract code paged in) {}",
        delta(first[0], last[0]),
        delta(first[1], last[1]),
        delta(first[2], last[2])
    );
    println!("models dir: {}", dir.display());
    for (mt, v) in registry.active_versions() {
        println!("  {mt}: {v}");
    }

    let mut engine = Assessor::new(registry.clone());
    // Warm-up: the first runs allocate the plans' scratch space.
    for t in rig.iter().take(50) {
        let _ = engine.assess_rig(t);
    }
    for t in asic.iter().take(50) {
        let _ = engine.assess_asic(t);
    }

    let mut ns = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let t = &rig[i % rig.len()];
        let start = Instant::now();
        let a = engine.assess_rig(t);
        ns.push(start.elapsed().as_nanos() as u64);
        std::hint::black_box(a.ok());
    }
    report("assess_rig (features+tract)", ns);

    let mut ns = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let t = &asic[i % asic.len()];
        let start = Instant::now();
        let a = engine.assess_asic(t);
        ns.push(start.elapsed().as_nanos() as u64);
        std::hint::black_box(a.ok());
    }
    report("assess_asic (eff+sentinel)", ns);

    for mt in [ModelType::SentinelRig, ModelType::SentinelAsic] {
        let Some(m) = registry.sentinel(mt) else { continue };
        let row = vec![0.0f32; m.info.features.len()];
        let mut ns = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let start = Instant::now();
            let o = m.run(&row);
            ns.push(start.elapsed().as_nanos() as u64);
            std::hint::black_box(o.ok());
        }
        report(&format!("{mt} tract run only"), ns);
    }
    if let Some(eff) = registry.efficiency() {
        let row = vec![0.0f64; eff.features.len()];
        let mut ns = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let start = Instant::now();
            let o = eff.predict(&row);
            ns.push(start.elapsed().as_nanos() as u64);
            std::hint::black_box(o.ok());
        }
        report("efficiency_asic tract only", ns);
    }
    let end = rss_parts();
    println!(
        "RSS after the runs: total {}, anonymous {}, file-backed {}",
        mib(end[0]),
        mib(end[1]),
        mib(end[2])
    );
}

//! Parity with the training side: every golden vector (raw telemetry -> features -> model
//! output, written by models/train at export) through the Rust feature code and tract.

#[path = "infer_common/mod.rs"]
mod common;

use common::{close, golden, models_dir};
use hashward_agent::infer::efficiency_input::efficiency_input;
use hashward_agent::infer::features::{AsicWindow, RigWindow};
use hashward_agent::infer::ModelType;
use hashward_agent::infer::{Assessor, Registry};
use hashward_protocol::{AsicTelemetry, RigTelemetry, ThreatType};
use serde_json::Value;

const TOL: f64 = 1e-4;

fn registry() -> Registry {
    let (reg, errors) = Registry::load_dir(&models_dir());
    assert!(errors.is_empty(), "models refused: {errors:?}");
    reg
}

fn opt_f64s(v: &Value) -> Vec<Option<f64>> {
    v.as_array().expect("array").iter().map(Value::as_f64).collect()
}

fn check_features(ctx: &str, got: &[Option<f64>], want: &[Option<f64>]) {
    assert_eq!(got.len(), want.len(), "{ctx}: feature count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (Some(g), Some(w)) => assert!(close(*g, *w, TOL), "{ctx}: feature {i}: {g} vs {w}"),
            (None, None) => {}
            _ => panic!("{ctx}: feature {i}: {g:?} vs {w:?} (missing on one side)"),
        }
    }
}

fn check_output(ctx: &str, line: &Value, score: f32, threat: ThreatType, inputs: &[f32]) {
    let want_inputs = opt_f64s(&line["model_input"]);
    for (i, (g, w)) in inputs.iter().zip(&want_inputs).enumerate() {
        let w = w.expect("model_input has no nulls");
        assert!(close(f64::from(*g), w, TOL), "{ctx}: model input {i}: {g} vs {w}");
    }
    let want_score = line["score"].as_f64().expect("score");
    assert!(
        (f64::from(score) - want_score).abs() <= TOL,
        "{ctx}: score {score} vs {want_score}"
    );
    let want_threat: ThreatType = serde_json::from_value(line["threat_type"].clone()).expect("threat_type");
    assert_eq!(threat, want_threat, "{ctx}: threat type");
}

/// Lines grouped by stream, in order; each stream starts from a fresh history.
fn streams(lines: &[Value]) -> Vec<Vec<&Value>> {
    let mut out: Vec<Vec<&Value>> = Vec::new();
    let mut current = None;
    for l in lines {
        let s = l["stream"].as_u64().expect("stream");
        if current != Some(s) {
            out.push(Vec::new());
            current = Some(s);
        }
        out.last_mut().expect("stream").push(l);
    }
    out
}

#[test]
fn sentinel_rig_matches_every_golden_vector() {
    let reg = registry();
    let window = reg.info(ModelType::SentinelRig).expect("loaded").window;
    let lines = golden("sentinel_rig");
    assert!(lines.len() >= 100, "too few golden vectors: {}", lines.len());
    let mut checked = 0;
    for stream in streams(&lines) {
        let mut engine = Assessor::new(reg.clone());
        let mut features = RigWindow::new();
        for line in stream {
            let ctx = format!("rig stream {} index {}", line["stream"], line["index"]);
            let t: RigTelemetry = serde_json::from_value(line["telemetry"].clone()).expect("telemetry");
            let raw = features.push(&t, window);
            check_features(&ctx, &raw, &opt_f64s(&line["features"]));
            let a = engine.assess_rig(&t).expect("assess");
            check_output(&ctx, line, a.score, a.threat_type, &a.inputs);
            checked += 1;
        }
    }
    assert_eq!(checked, lines.len());
}

#[test]
fn sentinel_asic_matches_every_golden_vector() {
    let reg = registry();
    let window = reg.info(ModelType::SentinelAsic).expect("loaded").window;
    let lines = golden("sentinel_asic");
    assert!(lines.len() >= 100, "too few golden vectors: {}", lines.len());
    let mut checked = 0;
    let mut unpredictable = 0;
    for stream in streams(&lines) {
        let mut engine = Assessor::new(reg.clone());
        let mut features = AsicWindow::new();
        for line in stream {
            let ctx = format!("asic stream {} index {}", line["stream"], line["index"]);
            let t: AsicTelemetry = serde_json::from_value(line["telemetry"].clone()).expect("telemetry");
            let expected = engine.expected(&t).expect("expected");
            let want = opt_f64s(&line["expected"]);
            check_features(
                &format!("{ctx} expected"),
                &[expected.hashrate_hs, expected.power_w],
                &want,
            );
            if want[1].is_none() {
                unpredictable += 1;
            }
            let raw = features.push(&t, window, expected);
            check_features(&ctx, &raw, &opt_f64s(&line["features"]));
            let a = engine.assess_asic(&t).expect("assess");
            check_output(&ctx, line, a.score, a.threat_type, &a.inputs);
            checked += 1;
        }
    }
    assert_eq!(checked, lines.len());
    // The degraded streams (unknown model, missing readings) must be among the vectors.
    assert!(unpredictable > 0, "no vector exercises the nominal fallback");
}

#[test]
fn efficiency_asic_matches_every_golden_vector() {
    let reg = registry();
    let eff = reg.efficiency().expect("efficiency loaded");
    let lines = golden("efficiency_asic");
    assert!(lines.len() >= 10, "too few golden vectors: {}", lines.len());
    for (i, line) in lines.iter().enumerate() {
        let t: AsicTelemetry = serde_json::from_value(line["telemetry"].clone()).expect("telemetry");
        let row = efficiency_input(&t, &eff.features, &eff.neutral).expect("predictable");
        let want = opt_f64s(&line["features"]);
        check_features(
            &format!("efficiency {i}"),
            &row.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
            &want,
        );
        let [ths, w] = eff.predict(&row).expect("predict");
        let want = opt_f64s(&line["expected"]);
        check_features(
            &format!("efficiency {i} output"),
            &[Some(f64::from(ths)), Some(f64::from(w))],
            &want,
        );
    }
}

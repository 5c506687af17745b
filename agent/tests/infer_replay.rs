//! `hashward-agent infer` replay: golden telemetry in, the golden scores out, bad lines reported.

#[path = "infer_common/mod.rs"]
mod common;

use common::{golden, models_dir};
use hashward_agent::infer::replay::{replay_from_dir, Format};
use hashward_agent::infer::ReplayError;
use serde_json::Value;

fn run(
    model: &str,
    input: &str,
    format: Format,
) -> (Vec<String>, hashward_agent::infer::replay::ReplaySummary) {
    let mut out = Vec::new();
    let summary =
        replay_from_dir(&models_dir(), model, input.as_bytes(), &mut out, format).expect("replay runs");
    let text = String::from_utf8(out).expect("utf-8");
    (text.lines().map(str::to_string).collect(), summary)
}

/// The first stream of a golden file, as hub-style JSON lines.
fn first_stream(model: &str) -> (Vec<Value>, String) {
    let lines: Vec<Value> = golden(model).into_iter().filter(|l| l["stream"] == 0).collect();
    let input = lines
        .iter()
        .map(|l| serde_json::json!({ "seq": l["index"], "telemetry": l["telemetry"] }).to_string())
        .collect::<Vec<_>>()
        .join("\n");
    (lines, input)
}

#[test]
fn replaying_golden_telemetry_prints_the_golden_scores() {
    for model in ["sentinel_rig", "sentinel_asic"] {
        let (want, input) = first_stream(model);
        let (out, summary) = run(model, &input, Format::Json);
        assert_eq!(out.len(), want.len(), "{model}");
        assert_eq!(summary.assessed as usize, want.len());
        assert_eq!(summary.errors, 0);
        for (got, want) in out.iter().zip(&want) {
            let got: Value = serde_json::from_str(got).expect("JSON line");
            let score = got["score"].as_f64().expect("score");
            assert!(
                (score - want["score"].as_f64().unwrap()).abs() <= 1e-4,
                "{model}: {got}"
            );
            assert_eq!(got["threat_type"], want["threat_type"], "{model}");
            assert!(got["severity"].is_string() && got["model_version"].is_string());
        }
    }
}

#[test]
fn bare_telemetry_lines_replay_too() {
    let lines = golden("sentinel_rig");
    let input = format!("{}\n", lines[0]["telemetry"]);
    let (out, summary) = run("sentinel_rig", &input, Format::Json);
    assert_eq!((out.len(), summary.errors), (1, 0), "{out:?}");
}

#[test]
fn a_bad_line_is_reported_and_the_replay_goes_on() {
    let lines = golden("sentinel_rig");
    let input = format!(
        "{}\nnot json at all\n{{\"telemetry\": {{\"uptime_s\": \"x\"}}}}\n\n{}\n",
        lines[0]["telemetry"], lines[1]["telemetry"]
    );
    let (out, summary) = run("sentinel_rig", &input, Format::Json);
    assert_eq!(summary.lines, 4);
    assert_eq!(summary.errors, 2);
    assert_eq!(summary.assessed, 2);
    let parsed: Vec<Value> = out.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(parsed[1]["line"], 2);
    assert!(parsed[1]["error"].as_str().unwrap().contains("not JSON"));
    assert!(parsed[2]["error"].is_string());
    assert!(parsed[3]["score"].is_number());
}

#[test]
fn text_output_has_one_line_per_sample() {
    let (_, input) = first_stream("sentinel_asic");
    let (out, summary) = run("sentinel_asic", &input, Format::Text);
    assert_eq!(out.len() as u64, summary.lines);
    assert!(out[0].contains("score="), "{}", out[0]);
}

#[test]
fn efficiency_replay_prints_expected_figures() {
    let lines = golden("efficiency_asic");
    let input = lines
        .iter()
        .map(|l| l["telemetry"].to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let (out, summary) = run("efficiency_asic", &input, Format::Json);
    assert_eq!(summary.assessed as usize, lines.len());
    for (got, want) in out.iter().zip(&lines) {
        let got: Value = serde_json::from_str(got).unwrap();
        let ths = got["expected_hashrate_ths"].as_f64().unwrap();
        assert!(common::close(ths, want["expected"][0].as_f64().unwrap(), 1e-4));
    }
}

#[test]
fn an_unknown_model_name_is_an_error() {
    let mut out = Vec::new();
    let err = replay_from_dir(&models_dir(), "sentinel_gpu", &b""[..], &mut out, Format::Json).unwrap_err();
    assert!(matches!(err, ReplayError::UnknownModel(_)), "{err}");
}

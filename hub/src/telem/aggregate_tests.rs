//! Value tests of the pure telemetry aggregation (`aggregate`).

use super::aggregate::*;
use hashward_protocol::TuningSnapshot;

fn snap(model: &str, threads: u32, batch: u32, rate: f64) -> TuningSnapshot {
    TuningSnapshot {
        cpu_model: model.into(),
        logical_cores: 24,
        physical_cores: 12,
        pow_algo: "sha256d".into(),
        profile: "balanced".into(),
        threads,
        batch_size: batch,
        numa_layout: "unpinned".into(),
        avg_hashrate_hs: rate,
        sample_count: 10,
        client_version: "0.1.0".into(),
    }
}

const RYZEN: &str = "amd ryzen 9 5900x";

#[test]
fn the_cpu_model_is_keyed_by_the_sha256_of_its_normalised_name() {
    // echo -n "amd ryzen 9 5900x" | sha256sum
    let expected = "9bb8978549113665650a42708cd559499a079b1d8bd0440d7163aa9913594b6e";
    let h = cpu_model_hash(RYZEN);
    assert_eq!(h, expected);
    assert_eq!(
        cpu_model_hash("AMD Ryzen 9 5900X 12-Core Processor Serial 2BA3F91"),
        h
    );
    assert_ne!(cpu_model_hash("amd ryzen 9 5950x"), h);
}

#[test]
fn a_contribution_is_a_moving_average_with_its_best() {
    let c = fold(None, &snap(RYZEN, 12, 8, 100.0), 1);
    assert_eq!(
        (c.ema_hashrate_hs, c.snapshots, c.sample_count, c.last_ms),
        (100.0, 1, 10, 1)
    );
    let c = fold(Some(c), &snap(RYZEN, 12, 8, 200.0), 5);
    assert!((c.ema_hashrate_hs - (0.3 * 200.0 + 0.7 * 100.0)).abs() < 1e-9);
    assert_eq!(
        (c.best_hashrate_hs, c.snapshots, c.sample_count, c.last_ms),
        (200.0, 2, 20, 5)
    );
}

#[test]
fn each_contribution_counts_once_and_confidence_grows_with_agreement() {
    let key = check(&snap(RYZEN, 12, 8, 1.0)).expect("valid").key;
    let chatty = (0..50).fold(None, |c, _| Some(fold(c, &snap(RYZEN, 12, 8, 300.0), 1)));
    let quiet = fold(None, &snap(RYZEN, 12, 8, 100.0), 2);
    let chatty = chatty.expect("folded");
    let a = aggregate(&key, RYZEN, &[chatty.clone(), quiet.clone()]).expect("aggregate");
    assert!(
        (a.avg_hashrate_hs - 200.0).abs() < 1e-9,
        "a mean of the two: {}",
        a.avg_hashrate_hs
    );
    assert_eq!(
        (a.contributions, a.snapshots, a.best_hashrate_hs, a.last_update_ms),
        (2, 51, 300.0, 2)
    );
    let alone = aggregate(&key, RYZEN, &[quiet]).expect("aggregate");
    assert!(alone.confidence < a.confidence);
    assert!(alone.confidence <= 0.5 * 0.2 + 1e-6, "{}", alone.confidence);
    assert!(aggregate(&key, RYZEN, &[]).is_none());
}

#[test]
fn snapshots_that_are_not_measurements_are_refused_by_name() {
    assert_eq!(
        check(&snap(RYZEN, 1, 1, f64::NAN))
            .map(|_| ())
            .unwrap_err()
            .to_string(),
        "snapshot hashrate NaN H/s is not a measurement"
    );
    assert_eq!(
        check(&snap(RYZEN, 0, 1, 1.0)).map(|_| ()),
        Err(SnapshotError::Shape(0, 1))
    );
    assert_eq!(
        check(&snap("(R) CPU", 1, 1, 1.0)).map(|_| ()),
        Err(SnapshotError::Empty)
    );
    let mut s = snap(RYZEN, 1, 1, 1.0);
    s.profile = "bal\u{1f}anced".into();
    assert_eq!(check(&s).map(|_| ()), Err(SnapshotError::Field("profile")));
}

#[test]
fn retention_is_ninety_days_to_the_millisecond() {
    let c = fold(None, &snap(RYZEN, 1, 1, 1.0), 1_000);
    assert!(!expired(&c, 1_000 + RETENTION_MS - 1));
    assert!(expired(&c, 1_000 + RETENTION_MS));
}

fn agg_of(model: &str, threads: u32, batch: u32, rates: &[f64]) -> ConfigAggregate {
    let checked = check(&snap(model, threads, batch, 1.0)).expect("valid");
    let members: Vec<Contribution> = rates
        .iter()
        .map(|r| fold(None, &snap(model, threads, batch, *r), 1))
        .collect();
    aggregate(&checked.key, &checked.cpu_model, &members).expect("aggregate")
}

#[test]
fn suggestions_filter_by_class_and_come_best_first() {
    let mut other_cores = agg_of(RYZEN, 16, 4, &[900.0]);
    other_cores.key.logical_cores = 16;
    let aggs = vec![
        agg_of(RYZEN, 12, 8, &[100.0, 120.0]),
        agg_of(RYZEN, 24, 16, &[150.0]),
        agg_of("intel xeon gold 6130", 32, 8, &[500.0]),
        other_cores,
    ];
    let q = SuggestionQuery {
        cpu_model: "AMD Ryzen 9 5900X 12-Core Processor".into(),
        cores: Some(24),
        pow_algo: Some("sha256d".into()),
        profile: Some("balanced".into()),
    };
    let s = suggestions(&aggs, &q);
    let got: Vec<(u32, u32, f64)> = s
        .iter()
        .map(|s| (s.threads, s.batch_size, s.expected_hashrate))
        .collect();
    assert_eq!(got, vec![(24, 16, 150.0), (12, 8, 110.0)]);
    assert_eq!(s[1].contributions, 2);
    let none = SuggestionQuery {
        pow_algo: Some("scrypt".into()),
        ..q.clone()
    };
    assert!(suggestions(&aggs, &none).is_empty());
    // Without the optional filters every configuration of the model, the 16-core one included.
    let all = suggestions(
        &aggs,
        &SuggestionQuery {
            cpu_model: RYZEN.into(),
            ..Default::default()
        },
    );
    assert_eq!(all.first().map(|s| s.threads), Some(16));
    assert_eq!(all.len(), 3);
}

#[test]
fn the_leaderboard_ranks_per_model_and_fleet_hints_pick_each_class_best() {
    let aggs = vec![
        agg_of(RYZEN, 12, 8, &[100.0]),
        agg_of(RYZEN, 24, 16, &[150.0]),
        agg_of(RYZEN, 24, 32, &[140.0]),
        agg_of("intel xeon gold 6130", 32, 8, &[500.0]),
    ];
    let board = leaderboard(&aggs, 2);
    assert_eq!(board.len(), 2);
    let ryzen = board.iter().find(|e| e.cpu_model == RYZEN).expect("ryzen");
    assert_eq!(ryzen.cpu_model_hash, cpu_model_hash(RYZEN));
    let top: Vec<(u32, u32)> = ryzen
        .top
        .iter()
        .map(|a| (a.key.threads, a.key.batch_size))
        .collect();
    assert_eq!(top, vec![(24, 16), (24, 32)]);
    let hints = fleet_hints(&aggs, 7);
    assert_eq!(hints.generated_ms, 7);
    let h = hints.find(RYZEN, 24, "sha256d", "balanced").expect("hint");
    assert_eq!((h.threads, h.batch_size, h.rigs), (24, 16, 1));
    assert_eq!(hints.hints.len(), 2);
}

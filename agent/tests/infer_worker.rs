//! The inference thread: never blocks the submitter, drops and counts when full, gates alerts,
//! and turns a critical overheat into the circuit-breaker directive.

#[path = "infer_common/mod.rs"]
mod common;

use common::{golden, models_dir};
use hashward_agent::infer::assessor::Directive;
use hashward_agent::infer::{spawn, Assessor, Outcome, Registry, Sample, Subject, Submitted, WorkerConfig};
use hashward_protocol::{Celsius, RigTelemetry, Severity, ThreatType};
use std::sync::mpsc;
use std::time::Duration;

fn registry() -> Registry {
    let (reg, errors) = Registry::load_dir(&models_dir());
    assert!(errors.is_empty(), "{errors:?}");
    reg
}

fn normal_rig() -> Vec<RigTelemetry> {
    golden("sentinel_rig")
        .iter()
        .filter(|l| l["stream"] == 0)
        .map(|l| serde_json::from_value(l["telemetry"].clone()).unwrap())
        .collect()
}

fn overheated(mut t: RigTelemetry, c: f32) -> RigTelemetry {
    for r in &mut t.temperatures {
        r.celsius = Celsius(c);
    }
    t
}

#[test]
fn a_critical_overheat_pauses_mining_and_alerts_once_per_episode() {
    let (tx, rx) = mpsc::channel::<Outcome>();
    let config = WorkerConfig {
        capacity: 64,
        realert_every: 5,
        advice_every: 0,
    };
    let (handle, join) = spawn(Assessor::new(registry()), config, move |o| {
        let _ = tx.send(o);
    })
    .unwrap();
    let normal = normal_rig();
    for (i, t) in normal[..6].iter().enumerate() {
        assert_eq!(
            handle.submit_at(Sample::Rig(Box::new(t.clone())), 1_000 + i as u64),
            Submitted::Queued
        );
    }
    let hot = overheated(normal[6].clone(), 104.0);
    for _ in 0..6 {
        assert_eq!(
            handle.submit(Sample::Rig(Box::new(hot.clone()))),
            Submitted::Queued
        );
    }
    drop(handle);
    join.join().unwrap();
    let outcomes: Vec<Outcome> = rx.try_iter().collect();
    assert_eq!(outcomes.len(), 12);
    // Each outcome names the sample it scored: its score record points at that telemetry.
    let stamps: Vec<u64> = outcomes[..6].iter().map(|o| o.sample_ts_ms).collect();
    assert_eq!(stamps, [1_000, 1_001, 1_002, 1_003, 1_004, 1_005]);
    let score = outcomes[7].assessment.to_score(outcomes[7].sample_ts_ms);
    assert_eq!(
        (score.subject.as_str(), score.severity),
        ("rig", Severity::Critical)
    );
    assert_eq!(score.score, outcomes[7].assessment.score);
    for o in &outcomes[..6] {
        assert!(
            o.assessment.directive.is_none() && o.alert.is_none(),
            "{:?}",
            o.assessment
        );
    }
    let hot: Vec<&Outcome> = outcomes[6..].iter().collect();
    for o in &hot {
        let a = &o.assessment;
        assert_eq!(
            (a.severity, a.threat_type),
            (Severity::Critical, ThreatType::Overheat),
            "{a:?}"
        );
        assert_eq!(
            a.directive,
            Some(Directive::PauseMining {
                subject: Subject::Rig,
                threat: ThreatType::Overheat,
                duration_s: 300
            })
        );
        assert!(a.action.auto_execute && a.action.action == "circuit_breaker");
    }
    // First sample of the episode alerts; the gate holds the next four; the sixth re-alerts.
    let alerted: Vec<bool> = hot.iter().map(|o| o.alert.is_some()).collect();
    assert_eq!(alerted, [true, false, false, false, false, true]);
    let alert = hot[0].alert.as_ref().unwrap();
    assert_eq!(alert.subject, "rig");
    assert!(alert.model_version.starts_with("sentinel_rig_v"));
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (out_tx, out_rx) = mpsc::channel::<Outcome>();
    let config = WorkerConfig {
        capacity: 2,
        ..WorkerConfig::default()
    };
    let (handle, join) = spawn(Assessor::new(registry()), config, move |o| {
        // The first outcome holds the thread until the test releases it.
        let _ = release_rx.recv_timeout(Duration::from_secs(10));
        let _ = out_tx.send(o);
    })
    .unwrap();
    let t = normal_rig().remove(0);
    let mut dropped = 0;
    for _ in 0..20 {
        if handle.submit(Sample::Rig(Box::new(t.clone()))) == Submitted::Dropped {
            dropped += 1;
        }
    }
    // One in flight plus two queued at most: the rest were dropped, immediately.
    assert!(dropped >= 17, "dropped {dropped}");
    assert_eq!(handle.stats().dropped, dropped);
    for _ in 0..20 {
        let _ = release_tx.send(());
    }
    let counters = handle.counters();
    drop(handle);
    join.join().unwrap();
    let s = counters.snapshot();
    let delivered = out_rx.try_iter().count() as u64;
    assert_eq!(s.submitted, 20);
    assert_eq!(delivered + dropped, 20);
}

#[test]
fn without_a_model_samples_are_counted_as_errors() {
    let (handle, join) = spawn(Assessor::new(Registry::new()), WorkerConfig::default(), |o| {
        panic!("no outcome expected, got {o:?}")
    })
    .unwrap();
    let t = normal_rig().remove(0);
    assert_eq!(handle.submit(Sample::Rig(Box::new(t.clone()))), Submitted::Queued);
    assert_eq!(handle.submit(Sample::Rig(Box::new(t))), Submitted::Queued);
    let counters = handle.counters();
    drop(handle);
    join.join().unwrap();
    let s = counters.snapshot();
    assert_eq!((s.submitted, s.errors, s.assessed, s.dropped), (2, 2, 0, 0));
}

//! ASIC power-target advice from the efficiency model (docs/ARCHITECTURE.md#thresholds-inference).

#[path = "infer_common/mod.rs"]
mod common;

use common::{golden, models_dir};
use hashward_agent::infer::assessor::RiskLevel;
use hashward_agent::infer::{Assessor, Registry};
use hashward_protocol::AsicTelemetry;

fn engine() -> Assessor {
    let (reg, errors) = Registry::load_dir(&models_dir());
    assert!(errors.is_empty(), "{errors:?}");
    Assessor::new(reg)
}

fn samples() -> Vec<AsicTelemetry> {
    golden("efficiency_asic")
        .iter()
        .map(|l| serde_json::from_value(l["telemetry"].clone()).unwrap())
        .collect()
}

#[test]
fn an_overclocked_miner_is_advised_down_with_gain_and_risk() {
    let e = engine();
    let mut advised = 0;
    for t in samples() {
        let Some(advice) = e.advise_asic(&t).expect("advice runs") else {
            continue;
        };
        assert_eq!(advice.asic_id, t.miner_id);
        assert!(advice.current.j_per_th > 0.0);
        let Some(s) = advice.suggestion else { continue };
        advised += 1;
        // A suggestion must be better by the margin it claims, computed from its own figures.
        let gain = (advice.current.j_per_th - s.target.j_per_th) / advice.current.j_per_th * 100.0;
        assert!((gain - s.improvement_pct).abs() < 1e-9 && gain >= 3.0, "{s:?}");
        assert!((s.power_savings_w - (advice.current.expected_w - s.target.expected_w)).abs() < 1e-9);
        if s.target.frequency_mhz > advice.current.frequency_mhz {
            assert_ne!(s.risk_level, RiskLevel::Low, "an overclock is never low risk");
        }
    }
    assert!(advised > 0, "no sample got a suggestion");
    // The golden S19j Pro runs 120 % (630 MHz): less frequency and voltage is more efficient.
    let t = samples()
        .into_iter()
        .find(|t| t.model.as_deref() == Some("Antminer S19j Pro"))
        .expect("an S19j Pro sample");
    let advice = e.advise_asic(&t).unwrap().expect("predictable");
    let s = advice.suggestion.expect("a suggestion");
    assert!(s.target.frequency_mhz < advice.current.frequency_mhz, "{s:?}");
    assert!(s.power_savings_w > 0.0);
}

#[test]
fn an_unknown_miner_gets_no_advice() {
    let e = engine();
    let mut t = samples().remove(0);
    t.model = Some("Antminer L7".into());
    assert!(e.advise_asic(&t).unwrap().is_none());
    let mut t = samples().remove(0);
    t.config.frequency_mhz = None;
    t.hashrate.per_hashboard.clear();
    assert!(e.advise_asic(&t).unwrap().is_none());
}

//! Control of an ASIC: power target (via Vnish autotune presets), pause, resume, restart. The
//! power target is driven by the signed `set-power-target` command, pause and resume by the
//! inference circuit breaker.
//!
//! The power target picks the highest *tuned* preset at or below the requested watts (pyasic's
//! rule: never exceed the request, never run an untuned profile). Requests out of range are
//! refused before anything is sent. It must never change a setting it was not asked to change:
//! the overclock block is sent back as read, with only the preset replaced.

use super::client::AsicClient;
use super::error::{ApiError, ControlError};
use super::vnish::{parse_presets, Preset};
use serde_json::Value;

/// Requests outside this range are refused: below it no ASIC mines, above it no single PSU.
pub const MIN_POWER_TARGET_W: f64 = 100.0;
pub const MAX_POWER_TARGET_W: f64 = 20_000.0;

/// Refuses targets that are not a finite number inside the allowed range.
pub fn check_target(target_w: f64) -> Result<(), ControlError> {
    if !target_w.is_finite() || !(MIN_POWER_TARGET_W..=MAX_POWER_TARGET_W).contains(&target_w) {
        return Err(ControlError::OutOfRange {
            requested: target_w,
            min: MIN_POWER_TARGET_W,
            max: MAX_POWER_TARGET_W,
        });
    }
    Ok(())
}

/// The highest tuned preset whose power is at or below `target_w`.
pub fn choose_preset(presets: &[Preset], target_w: f64) -> Result<&Preset, ControlError> {
    check_target(target_w)?;
    let tuned: Vec<(&Preset, f64)> = presets
        .iter()
        .filter(|p| p.tuned)
        .filter_map(|p| p.watts.map(|w| (p, w)))
        .collect();
    if tuned.is_empty() {
        return Err(ControlError::NoTunedPresets);
    }
    tuned
        .iter()
        .filter(|(_, w)| *w <= target_w)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| *p)
        .ok_or_else(|| {
            let lowest = tuned
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(p, w)| format!("{} ({w} W)", p.name));
            ControlError::NoPresetAtOrBelow {
                requested: target_w,
                lowest: lowest.unwrap_or_default(),
            }
        })
}

/// What a power-target request did.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerTargetApplied {
    pub preset: String,
    pub watts: f64,
    /// False when the miner already ran that preset.
    pub changed: bool,
}

/// Sets the power target of a Vnish miner (the only API with presets).
pub async fn set_power_target(
    client: &mut AsicClient,
    target_w: f64,
) -> Result<PowerTargetApplied, ControlError> {
    check_target(target_w)?;
    let AsicClient::Vnish(v) = client else {
        return Err(ControlError::Unsupported {
            api: api_name(client),
            action: "power presets",
        });
    };
    let presets = parse_presets(&v.get("/autotune/presets").await?)?;
    let chosen = choose_preset(&presets, target_w)?.clone();
    let watts = chosen.watts.unwrap_or(0.0);
    let settings = v.get("/settings").await?;
    let overclock = settings
        .get("miner")
        .and_then(|m| m.get("overclock"))
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| ApiError::malformed("vnish /settings", "no miner.overclock"))?;
    if overclock.get("preset").and_then(Value::as_str) == Some(chosen.name.as_str()) {
        return Ok(PowerTargetApplied {
            preset: chosen.name,
            watts,
            changed: false,
        });
    }
    let mut oc = overclock;
    oc.insert("preset".into(), Value::String(chosen.name.clone()));
    v.post("/settings", &serde_json::json!({ "miner": { "overclock": oc } }))
        .await?;
    // The firmware answers {"restart_required": ...} whether or not it applied; read it back.
    let after = v.get("/settings").await?;
    let now = after
        .pointer("/miner/overclock/preset")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    v.cache.settings = Some(after);
    if now != chosen.name {
        return Err(ControlError::NotApplied {
            action: format!("preset {}", chosen.name),
            actual: format!("preset {now}"),
        });
    }
    Ok(PowerTargetApplied {
        preset: chosen.name,
        watts,
        changed: true,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiningAction {
    Pause,
    Resume,
    Restart,
}

impl MiningAction {
    pub fn name(self) -> &'static str {
        match self {
            MiningAction::Pause => "pause",
            MiningAction::Resume => "resume",
            MiningAction::Restart => "restart",
        }
    }
}

/// Pause, resume or restart mining.
pub async fn mining(client: &mut AsicClient, action: MiningAction) -> Result<(), ControlError> {
    match client {
        AsicClient::Vnish(v) => {
            v.post(&format!("/mining/{}", action.name()), &serde_json::json!({}))
                .await?;
            Ok(())
        }
        // cgminer can restart itself; it has no pause that survives its own watchdog.
        AsicClient::Cgminer(c) if action == MiningAction::Restart => match c.raw("restart", None).await {
            Ok(v) => super::cgminer::check_status(&v, "restart").map_err(ControlError::from),
            // cgminer drops the connection as it restarts; an empty reply means it did.
            Err(ApiError::Malformed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        },
        other => Err(ControlError::Unsupported {
            api: api_name(other),
            action: action.name(),
        }),
    }
}

fn api_name(c: &AsicClient) -> &'static str {
    match c {
        AsicClient::Vnish(_) => "vnish",
        AsicClient::Cgminer(_) => "cgminer",
        AsicClient::Antminer(_) => "stock antminer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, w: f64, tuned: bool) -> Preset {
        Preset {
            name: name.into(),
            watts: Some(w),
            tuned,
        }
    }

    fn presets() -> Vec<Preset> {
        vec![
            p("2000", 2000.0, true),
            p("3250", 3250.0, true),
            p("2600", 2600.0, false),
            p("1500", 1500.0, true),
            p("4000", 4000.0, false),
        ]
    }

    #[test]
    fn picks_the_highest_tuned_preset_at_or_below_the_target() {
        let ps = presets();
        // Between tuned presets: the lower one; the untuned 2600 is ignored.
        assert_eq!(choose_preset(&ps, 3000.0).unwrap().name, "2000");
        assert_eq!(choose_preset(&ps, 2700.0).unwrap().name, "2000");
        // Exactly on a preset.
        assert_eq!(choose_preset(&ps, 3250.0).unwrap().name, "3250");
        // Above all: the highest tuned, not the untuned 4000.
        assert_eq!(choose_preset(&ps, 9000.0).unwrap().name, "3250");
        // Below all tuned presets: refused, naming the lowest.
        match choose_preset(&ps, 1200.0) {
            Err(ControlError::NoPresetAtOrBelow { lowest, .. }) => assert!(lowest.contains("1500")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn out_of_range_and_untuned_only_are_refused() {
        let ps = presets();
        for bad in [f64::NAN, f64::INFINITY, -5.0, 0.0, 50.0, 1e6] {
            assert!(
                matches!(choose_preset(&ps, bad), Err(ControlError::OutOfRange { .. })),
                "{bad}"
            );
        }
        let untuned = vec![p("2000", 2000.0, false)];
        assert!(matches!(
            choose_preset(&untuned, 3000.0),
            Err(ControlError::NoTunedPresets)
        ));
    }

    #[test]
    fn presets_parse_from_both_reply_shapes_with_power_from_pretty() {
        let list = serde_json::json!([
            {"name": "p1", "pretty": "1100 watt ~ 40 TH", "status": "tuned", "modded_psu_required": false},
            {"name": "disabled", "pretty": "disabled", "status": "untuned"},
        ]);
        let ps = parse_presets(&list).unwrap();
        assert_eq!(
            ps[0],
            Preset {
                name: "p1".into(),
                watts: Some(1100.0),
                tuned: true
            }
        );
        assert_eq!(ps[1].watts, None);
        let wrapped = serde_json::json!({"presets": list});
        assert_eq!(parse_presets(&wrapped).unwrap().len(), 2);
        assert!(parse_presets(&serde_json::json!("nope")).is_err());
    }
}

//! What the Home Assistant publisher sends on each tick, decided from what it announced before
//! and what the registry holds now: discovery for rigs that are new or changed (a new ASIC, a new
//! agent version), removal for rigs gone from the registry.
//!
//! Pure. Must never drop an ASIC's entities because it missed a few polls: an ASIC once announced
//! stays (unavailable while silent) until its rig leaves the registry.

use super::discovery::{AsicInfo, RigInfo};
use crate::fleetview::RigRow;
use std::collections::BTreeMap;

/// The rig's discovery now: its current ASICs plus every one announced before.
pub fn rig_info(previous: Option<&RigInfo>, row: &RigRow, agent_version: &str) -> RigInfo {
    let mut asics: Vec<AsicInfo> = previous.map(|r| r.asics.clone()).unwrap_or_default();
    for a in &row.asics {
        if !asics.iter().any(|x| x.id == a.miner_id) {
            asics.push(AsicInfo {
                id: a.miner_id.clone(),
                model: a.model.clone(),
            });
        }
    }
    RigInfo {
        site: row.site.clone(),
        rig: row.rig.clone(),
        agent_version: agent_version.to_string(),
        asics,
    }
}

/// (rigs to announce, rigs to remove), by rig id.
pub fn plan<'a>(
    announced: &'a BTreeMap<String, RigInfo>,
    present: &'a BTreeMap<String, RigInfo>,
) -> (Vec<&'a RigInfo>, Vec<&'a RigInfo>) {
    let announce = present
        .iter()
        .filter(|(rig, info)| announced.get(*rig) != Some(*info))
        .map(|(_, info)| info)
        .collect();
    let remove = announced
        .iter()
        .filter(|(rig, _)| !present.contains_key(*rig))
        .map(|(_, info)| info)
        .collect();
    (announce, remove)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleetview::overview::{overview, tests::snapshot};

    #[test]
    fn new_and_changed_rigs_are_announced_gone_ones_removed_and_asics_kept() {
        let view = overview(&snapshot());
        let row_a = &view.rigs[0];
        let first = rig_info(None, row_a, "0.1.0");
        assert_eq!(first.asics.len(), 3);
        let mut announced = BTreeMap::new();
        announced.insert("a".to_string(), first.clone());
        announced.insert(
            "gone".to_string(),
            RigInfo {
                rig: "gone".into(),
                ..first.clone()
            },
        );

        // m1 is no longer polled: it stays announced; the rig's info is unchanged.
        let mut quieter = row_a.clone();
        quieter.asics.retain(|a| a.miner_id != "m1");
        let now = rig_info(announced.get("a"), &quieter, "0.1.0");
        assert_eq!(now, first);
        let b = rig_info(None, &view.rigs[1], "0.1.0");
        let present = BTreeMap::from([("a".to_string(), now), ("b".to_string(), b)]);
        let (announce, remove) = plan(&announced, &present);
        assert_eq!(announce.iter().map(|r| r.rig.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(
            remove.iter().map(|r| r.rig.as_str()).collect::<Vec<_>>(),
            ["gone"]
        );

        // An agent upgrade re-announces (the device's sw_version changes).
        let upgraded = BTreeMap::from([("a".to_string(), rig_info(Some(&first), row_a, "0.2.0"))]);
        let (announce, remove) = plan(&announced, &upgraded);
        assert_eq!((announce.len(), remove.len()), (1, 1));
    }
}

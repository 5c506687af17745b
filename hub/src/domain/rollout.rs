//! Rollout tracking: the pushes in force per scope (as seen retained on the broker) and, per
//! rig, which version of each of its scopes it applied, rejected (and why) or has not answered
//! yet. Pure; the store keeps the records, the API and `rollout-status` show the view.
//!
//! Must never: show a rig as applied for a version it did not ack.

use crate::domain::rig::RigEntry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A config push as published (retained) on a scope's topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRecord {
    pub scope: String,
    pub version: u64,
    pub issued_ms: u64,
    pub patch: String,
}

/// What one rig said about one scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScopeAcks {
    /// Highest version acked `applied`.
    pub applied: Option<u64>,
    /// The latest rejection (version, reason), cleared when a version at least as new is
    /// applied.
    pub rejected: Option<(u64, String)>,
    pub last_ack_ms: u64,
}

impl ScopeAcks {
    pub fn record(&mut self, version: u64, rejected: Option<&str>, ts_ms: u64) {
        self.last_ack_ms = self.last_ack_ms.max(ts_ms);
        match rejected {
            None => {
                if self.applied.is_none_or(|a| version >= a) {
                    self.applied = Some(version);
                }
                if self.rejected.as_ref().is_some_and(|(v, _)| *v <= version) {
                    self.rejected = None;
                }
            }
            // Kept whatever its version: a replayed old push is worth seeing too. The view
            // shows a scope as rejected only for the version in force.
            Some(reason) => self.rejected = Some((version, reason.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    Pending,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RigScope {
    pub scope: String,
    pub version: u64,
    pub status: Status,
    /// The newest version this rig applied for the scope, if any.
    pub applied_version: Option<u64>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RigRollout {
    pub site: String,
    pub rig: String,
    pub online: bool,
    pub scopes: Vec<RigScope>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    pub scopes: Vec<PushRecord>,
    pub rigs: Vec<RigRollout>,
}

/// One rig as the view needs it.
pub struct RigAcks<'a> {
    pub site: &'a str,
    pub rig: &'a str,
    pub online: bool,
    pub acks: &'a BTreeMap<String, ScopeAcks>,
}

/// The scopes that apply to a rig, in precedence order.
fn scopes_of(site: &str, rig: &str) -> [String; 3] {
    [
        "fleet".to_string(),
        format!("site:{site}"),
        format!("rig:{site}/{rig}"),
    ]
}

/// The rollout over the rigs the hub knows.
pub fn of_rigs(pushes: &[PushRecord], rigs: &[RigEntry]) -> Rollout {
    let names: Vec<(String, String)> = rigs
        .iter()
        .map(|r| (r.site.to_string(), r.rig.to_string()))
        .collect();
    let acks: Vec<RigAcks<'_>> = rigs
        .iter()
        .zip(&names)
        .map(|(r, (site, rig))| RigAcks {
            site,
            rig,
            online: r.online,
            acks: &r.config,
        })
        .collect();
    view(pushes, &acks)
}

pub fn view(pushes: &[PushRecord], rigs: &[RigAcks<'_>]) -> Rollout {
    let by_scope: BTreeMap<&str, &PushRecord> = pushes.iter().map(|p| (p.scope.as_str(), p)).collect();
    let rigs = rigs
        .iter()
        .map(|r| RigRollout {
            site: r.site.to_string(),
            rig: r.rig.to_string(),
            online: r.online,
            scopes: scopes_of(r.site, r.rig)
                .iter()
                .filter_map(|s| {
                    let push = by_scope.get(s.as_str())?;
                    let acks = r.acks.get(s.as_str());
                    let applied = acks.and_then(|a| a.applied);
                    let rejected = acks.and_then(|a| a.rejected.as_ref());
                    let (status, reason) = if applied.is_some_and(|a| a >= push.version) {
                        (Status::Applied, None)
                    } else if let Some((_, why)) = rejected.filter(|(v, _)| *v == push.version) {
                        (Status::Rejected, Some(why.clone()))
                    } else {
                        (Status::Pending, None)
                    };
                    Some(RigScope {
                        scope: s.clone(),
                        version: push.version,
                        status,
                        applied_version: applied,
                        reason,
                    })
                })
                .collect(),
        })
        .collect();
    Rollout {
        scopes: pushes.to_vec(),
        rigs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(scope: &str, version: u64) -> PushRecord {
        PushRecord {
            scope: scope.into(),
            version,
            issued_ms: 1,
            patch: String::new(),
        }
    }

    #[test]
    fn applied_pending_and_rejected_per_rig_and_scope() {
        let pushes = vec![push("fleet", 5), push("site:a", 2), push("rig:b/r3", 9)];
        let mut r1 = BTreeMap::new();
        r1.entry("fleet".to_string())
            .or_insert_with(ScopeAcks::default)
            .record(5, None, 1);
        r1.entry("site:a".to_string())
            .or_insert_with(ScopeAcks::default)
            .record(1, None, 1);
        r1.get_mut("site:a")
            .expect("site")
            .record(2, Some("invalid: x"), 2);
        let r2 = BTreeMap::new();
        let mut r3 = BTreeMap::new();
        r3.entry("fleet".to_string())
            .or_insert_with(ScopeAcks::default)
            .record(4, None, 1);
        let v = view(
            &pushes,
            &[
                RigAcks {
                    site: "a",
                    rig: "r1",
                    online: true,
                    acks: &r1,
                },
                RigAcks {
                    site: "a",
                    rig: "r2",
                    online: false,
                    acks: &r2,
                },
                RigAcks {
                    site: "b",
                    rig: "r3",
                    online: true,
                    acks: &r3,
                },
            ],
        );
        let st = |i: usize| -> Vec<(String, Status)> {
            v.rigs[i]
                .scopes
                .iter()
                .map(|s| (s.scope.clone(), s.status.clone()))
                .collect()
        };
        assert_eq!(
            st(0),
            vec![
                ("fleet".into(), Status::Applied),
                ("site:a".into(), Status::Rejected)
            ]
        );
        assert_eq!(v.rigs[0].scopes[1].reason.as_deref(), Some("invalid: x"));
        assert_eq!(v.rigs[0].scopes[1].applied_version, Some(1));
        assert_eq!(
            st(1),
            vec![
                ("fleet".into(), Status::Pending),
                ("site:a".into(), Status::Pending)
            ]
        );
        assert_eq!(
            st(2),
            vec![
                ("fleet".into(), Status::Pending),
                ("rig:b/r3".into(), Status::Pending)
            ]
        );
    }

    #[test]
    fn a_later_apply_clears_an_older_rejection() {
        let mut a = ScopeAcks::default();
        a.record(3, Some("bad"), 1);
        a.record(4, None, 2);
        assert_eq!((a.applied, a.rejected.clone()), (Some(4), None));
        // A replayed older version is rejected and shown, without hiding the applied one.
        a.record(2, Some("replay"), 3);
        assert_eq!(
            (a.applied, a.rejected.clone()),
            (Some(4), Some((2, "replay".to_string())))
        );
        let v = view(
            &[push("fleet", 4)],
            &[RigAcks {
                site: "s",
                rig: "r",
                online: true,
                acks: &BTreeMap::from([("fleet".to_string(), a)]),
            }],
        );
        assert_eq!(v.rigs[0].scopes[0].status, Status::Applied);
    }
}

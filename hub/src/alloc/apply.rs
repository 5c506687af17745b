//! Applying a decision, pure: which miners change target, what that means through the fleet
//! control (a CPU rig's pool as a signed config push on its rig scope, merged into what that
//! scope already carries; pause and resume as commands; an ASIC's preset as `set-power-target`),
//! and what a rig's acks say about it. The service does the signing, publishing and waiting.
//!
//! Must never plan an action the fleet control has no message for (a single ASIC cannot be
//! paused): that miner's assignment is refused with the reason instead.

use super::config::Pool;
use super::inputs::Action;
use crate::domain::rig::RigEntry;
use hashward_protocol::{AckOutcome, Command};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Advise mode: shown, not applied.
    Advised,
    /// Sent; waiting for the rig's acks.
    Pending,
    Applied,
    /// The rig refused it (or it could not be sent): rolled back.
    Rejected,
    /// No ack within `ack_timeout_s`: rolled back.
    TimedOut,
}

/// What is awaited from the rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Awaited {
    Config { scope: String, version: u64 },
    Command { name: String, nonce: u64 },
}

/// One miner's move, as decided and as applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub id: String,
    /// The rig that carries it out (the ASIC's poller for an ASIC).
    pub rig: String,
    pub site: String,
    pub from_target: String,
    pub to_target: String,
    pub status: Status,
    pub reason: Option<String>,
    pub decided_ms: u64,
    pub deadline_ms: u64,
    pub awaited: Vec<Awaited>,
    /// When the last ack arrived (applied) or the assignment was closed.
    pub settled_ms: Option<u64>,
}

/// One message to send for an assignment.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Set the rig's `[miner]` algo and pools to this pool (first, the only one).
    PushPool(Pool),
    Command(Command),
}

/// The steps that move a miner from `from` to `to`; `Err` says why it cannot be done.
/// `asic` is the ASIC's miner id on its rig, `None` for a CPU rig.
pub fn steps(from: &Action, to: &Action, asic: Option<&str>) -> Result<Vec<Step>, String> {
    match (asic, to) {
        (Some(_), Action::Pause) => Err("no command pauses a single ASIC; its preset stays".into()),
        (Some(id), Action::Preset(w)) => Ok(vec![Step::Command(Command::SetPowerTarget {
            asic: id.to_string(),
            watts: *w,
        })]),
        (None, Action::Pause) => Ok(vec![Step::Command(Command::PauseMining)]),
        (None, Action::Pool(p)) => {
            let mut out = Vec::new();
            if !matches!(from, Action::Pool(q) if q.url == p.url && q.algo == p.algo) {
                out.push(Step::PushPool(p.clone()));
            }
            if matches!(from, Action::Pause) {
                out.push(Step::Command(Command::ResumeMining));
            }
            Ok(out)
        }
        (_, other) => Err(format!("target {other:?} does not apply to this miner")),
    }
}

/// The rig-scope patch with `[miner] algo` and `pools` set to `pool` for `rig`, every other key
/// the scope carries now (`existing`, the patch in force) kept.
pub fn pool_patch(existing: Option<&str>, pool: &Pool, rig: &str) -> Result<String, String> {
    let mut table: toml::Table = match existing {
        Some(t) => t
            .parse()
            .map_err(|e| format!("the rig scope's patch in force is not TOML: {e}"))?,
        None => toml::Table::new(),
    };
    let miner = table
        .entry("miner")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(miner) = miner else {
        return Err("the rig scope's patch in force has a `miner` key that is not a table".into());
    };
    miner.insert("algo".into(), toml::Value::String(pool.algo.clone()));
    let mut entry = toml::Table::new();
    entry.insert("url".into(), toml::Value::String(pool.url.clone()));
    entry.insert("user".into(), toml::Value::String(pool.user_for(rig)));
    entry.insert("pass".into(), toml::Value::String(pool.pass.clone()));
    miner.insert(
        "pools".into(),
        toml::Value::Array(vec![toml::Value::Table(entry)]),
    );
    toml::to_string(&table).map_err(|e| format!("encoding the patch: {e}"))
}

/// What the rig's acks say about one awaited message: `None` while unanswered.
pub fn answer(entry: &RigEntry, awaited: &Awaited) -> Option<Result<(), String>> {
    match awaited {
        Awaited::Config { scope, version } => {
            let acks = entry.config.get(scope)?;
            if let Some((v, why)) = &acks.rejected {
                if v == version {
                    return Some(Err(format!("config push {version} rejected: {why}")));
                }
            }
            acks.applied.filter(|a| a >= version).map(|_| Ok(()))
        }
        Awaited::Command { name, nonce } => {
            let ack = entry.commands.iter().rev().find(|c| c.nonce == *nonce)?;
            Some(match &ack.outcome {
                AckOutcome::Applied | AckOutcome::Report(_) => Ok(()),
                AckOutcome::Rejected(why) => Err(format!("{name} rejected: {why}")),
            })
        }
    }
}

/// Settles a pending assignment from the rig's entry at `now_ms`: applied once every awaited
/// message is acked, rejected on the first refusal, timed out after its deadline.
pub fn settle(a: &mut Assignment, entry: Option<&RigEntry>, now_ms: u64) {
    if a.status != Status::Pending {
        return;
    }
    let answers: Vec<Option<Result<(), String>>> = match entry {
        Some(e) => a.awaited.iter().map(|w| answer(e, w)).collect(),
        None => vec![None; a.awaited.len()],
    };
    if let Some(Some(Err(why))) = answers.iter().find(|x| matches!(x, Some(Err(_)))) {
        a.status = Status::Rejected;
        a.reason = Some(why.clone());
        a.settled_ms = Some(now_ms);
    } else if answers.iter().all(|x| matches!(x, Some(Ok(())))) {
        a.status = Status::Applied;
        a.settled_ms = Some(now_ms);
    } else if now_ms >= a.deadline_ms {
        a.status = Status::TimedOut;
        a.reason = Some(format!(
            "no ack from rig {:?} within {} s",
            a.rig,
            a.deadline_ms.saturating_sub(a.decided_ms) / 1000
        ));
        a.settled_ms = Some(now_ms);
    }
}

/// What each miner should be taken to run now: its pending or applied (not yet visible)
/// assignment. An assignment stops counting once the telemetry has had `grace_ms` after it
/// settled to show the change: from then the telemetry is the truth.
pub fn assumed(
    assignments: &BTreeMap<String, Assignment>,
    now_ms: u64,
    grace_ms: u64,
) -> BTreeMap<String, String> {
    assignments
        .values()
        .filter(|a| match a.status {
            Status::Pending => true,
            Status::Applied => a.settled_ms.is_some_and(|t| now_ms < t + grace_ms),
            _ => false,
        })
        .map(|a| (a.id.clone(), a.to_target.clone()))
        .collect()
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;

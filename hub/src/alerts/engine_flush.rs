//! The engine's outgoing side: a due group becomes one message per receiver (firing, or
//! resolved), an unacknowledged critical becomes an escalation, and old resolved alerts and
//! expired silences are forgotten. Also what the messages say.
//!
//! Pure like the rest of the engine: it only appends to the outbox it hands back.

use super::{Engine, Group};
use crate::alerts::model::{Alert, AlertState, Level, Notification, NotifiedAlert};

impl Engine {
    /// Sends what a due group has to say: the firing alerts (with any that resolved since the
    /// last message), or that all of them resolved; a reminder when nothing changed but the
    /// repeat interval passed and someone still has to act.
    pub(super) fn flush(&mut self, key: &str, now: u64) {
        let Some(g) = self.groups.get(key).cloned() else {
            return;
        };
        let route = &self.cfg.routes[g.route];
        let firing: Vec<&Alert> = g
            .members
            .iter()
            .filter_map(|id| self.alerts.get(id))
            .filter(|a| a.state.is_active())
            .collect();
        let resolved: Vec<&Alert> = g
            .members
            .iter()
            .filter(|id| g.notified.contains(id))
            .filter_map(|id| self.alerts.get(id))
            .filter(|a| a.state == AlertState::Resolved)
            .collect();
        let firing_ids: std::collections::BTreeSet<u64> = firing.iter().map(|a| a.id).collect();
        let changed = firing_ids.iter().any(|id| !g.notified.contains(id)) || !resolved.is_empty();
        let repeat_due =
            g.repeat_at_ms.is_some_and(|t| t <= now) && firing.iter().any(|a| a.state == AlertState::Firing);
        let message = if !firing.is_empty() && (changed || repeat_due) {
            Some(compose("firing", &g, &firing, &resolved, now))
        } else if firing.is_empty() && !resolved.is_empty() {
            Some(compose("resolved", &g, &[], &resolved, now))
        } else {
            None
        };
        let receivers = route.receivers.clone();
        let repeat = route.repeat_interval_ms;
        if let Some(n) = &message {
            for r in &receivers {
                self.outbox.push((r.clone(), n.clone()));
            }
            for id in &firing_ids {
                if let Some(a) = self.alerts.get_mut(id) {
                    if a.notified_ms.is_none() {
                        a.notified_ms = Some(now);
                        self.dirty_alerts.insert(*id);
                    }
                }
            }
        }
        let Some(g) = self.groups.get_mut(key) else { return };
        g.flush_at_ms = None;
        if message.is_some() {
            g.last_sent_ms = Some(now);
            g.repeat_at_ms = (!firing_ids.is_empty()).then(|| now.saturating_add(repeat));
        } else if g.repeat_at_ms.is_some_and(|t| t <= now) {
            g.repeat_at_ms = (!firing_ids.is_empty()).then(|| now.saturating_add(repeat));
        }
        g.notified = firing_ids.clone();
        g.members.retain(|id| firing_ids.contains(id));
        self.dirty_groups.insert(key.to_string());
        self.drop_if_empty(key);
    }

    /// Critical alerts still firing, unacknowledged, `escalate_after_ms` after their first
    /// message: one message per group to the route's `escalate_to`, once per alert.
    pub(super) fn escalate(&mut self, now: u64) {
        let (mut out, mut marked) = (Vec::new(), Vec::new());
        for g in self.groups.values() {
            let route = &self.cfg.routes[g.route];
            if route.escalate_to.is_empty() {
                continue;
            }
            let due: Vec<&Alert> = g
                .members
                .iter()
                .filter_map(|id| self.alerts.get(id))
                .filter(|a| {
                    a.state == AlertState::Firing
                        && a.level == Level::Critical
                        && !a.escalated
                        && a.notified_ms
                            .is_some_and(|t| t.saturating_add(route.escalate_after_ms) <= now)
                })
                .collect();
            if due.is_empty() {
                continue;
            }
            let n = compose("escalation", g, &due, &[], now);
            for r in &route.escalate_to {
                out.push((r.clone(), n.clone()));
            }
            marked.extend(due.iter().map(|a| a.id));
        }
        self.outbox.extend(out);
        for id in marked {
            if let Some(a) = self.alerts.get_mut(&id) {
                a.escalated = true;
                self.dirty_alerts.insert(id);
            }
        }
    }

    /// Resolved alerts and expired silences older than `retention_ms` go.
    pub(super) fn forget_old(&mut self, now: u64) {
        let keep = self.cfg.retention_ms;
        let old: Vec<u64> = self
            .alerts
            .values()
            .filter(|a| a.resolved_ms.is_some_and(|t| t.saturating_add(keep) <= now))
            .filter(|a| !self.groups.values().any(|g| g.members.contains(&a.id)))
            .map(|a| a.id)
            .collect();
        for id in old {
            self.alerts.remove(&id);
            self.dirty_alerts.remove(&id);
            self.removed_alerts.insert(id);
        }
        let old: Vec<u64> = self
            .silences
            .values()
            .filter(|s| s.ends_ms.saturating_add(keep) <= now)
            .map(|s| s.id)
            .collect();
        for id in old {
            self.silences.remove(&id);
            self.dirty_silences.remove(&id);
            self.removed_silences.insert(id);
        }
    }
}

/// The message for a group: `status` firing, resolved or escalation.
pub(crate) fn compose(
    status: &str,
    g: &Group,
    firing: &[&Alert],
    resolved: &[&Alert],
    now: u64,
) -> Notification {
    let all: Vec<&Alert> = firing.iter().chain(resolved.iter()).copied().collect();
    let level = all.iter().map(|a| a.level).max().unwrap_or(Level::Info);
    let mut kinds: Vec<&str> = all.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let what = kinds.join(", ");
    let title = match status {
        "firing" => format!(
            "[{}] {what}: {} firing ({})",
            level.as_str().to_uppercase(),
            firing.len(),
            g.label
        ),
        "resolved" => format!("[RESOLVED] {what}: {} resolved ({})", resolved.len(), g.label),
        _ => format!(
            "[ESCALATED] {what}: {} critical not acknowledged ({})",
            firing.len(),
            g.label
        ),
    };
    let mut text = String::new();
    for (tag, list) in [("FIRING", firing), ("RESOLVED", resolved)] {
        for a in list {
            let tag = if status == "escalation" {
                "UNACKNOWLEDGED"
            } else {
                tag
            };
            text.push_str(&format!(
                "{tag} {} {} on {}: {} (seen {} time(s); alert {})\n",
                a.level,
                a.kind,
                a.subject.describe(),
                a.message,
                a.count,
                a.id
            ));
        }
    }
    if status != "resolved" {
        text.push_str("Acknowledge: POST /alerts/{id}/ack\n");
    }
    Notification {
        status: status.to_string(),
        level,
        group: g.label.clone(),
        title,
        text,
        alerts: all.iter().map(|a| NotifiedAlert::from(*a)).collect(),
        created_ms: now,
    }
}

//! The alert engine: a sans-IO state machine that holds every alert, silence and notification
//! group, and decides what to tell whom and when. Routing (which route an alert matches),
//! grouping (one message per `group_by` key after `group_wait_ms`, changes after
//! `group_interval_ms`, a reminder after `repeat_interval_ms`), silences, inhibition, grace
//! periods, auto-resolution and escalation all live here, driven by the caller's clock.
//!
//! Must never do I/O or read the clock: the service passes `now_ms` in, persists
//! [`Engine::take_changes`] and queues the notifications. Tested with values and a simulated
//! clock.

use super::config::{NotifyConfig, RouteConfig};
use super::model::{Alert, AlertEvent, AlertKey, AlertState, Level, Matchers, Notification, Silence};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One notification group: the alerts of one route with equal `group_by` labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    pub route: usize,
    /// `site=lab kind=overheat`, for people.
    pub label: String,
    pub members: BTreeSet<u64>,
    /// The alerts the last message said were firing.
    pub notified: BTreeSet<u64>,
    pub flush_at_ms: Option<u64>,
    pub repeat_at_ms: Option<u64>,
    pub last_sent_ms: Option<u64>,
}

/// What changed since the last [`Engine::take_changes`]: to persist, and to send.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub alerts: Vec<Alert>,
    pub removed_alerts: Vec<u64>,
    pub groups: Vec<Group>,
    pub removed_groups: Vec<String>,
    pub silences: Vec<Silence>,
    pub removed_silences: Vec<u64>,
    /// (receiver, message) to queue.
    pub outbox: Vec<(String, Notification)>,
    pub next_ids: (u64, u64),
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
            && self.removed_alerts.is_empty()
            && self.groups.is_empty()
            && self.removed_groups.is_empty()
            && self.silences.is_empty()
            && self.removed_silences.is_empty()
            && self.outbox.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("no alert {0}")]
    NoAlert(u64),
    #[error("alert {id} is {state}, only a firing alert can be acknowledged")]
    NotFiring { id: u64, state: &'static str },
    #[error("no silence {0}")]
    NoSilence(u64),
    #[error("a silence needs at least one matcher")]
    EmptySilence,
    #[error("a silence must end after it starts and in the future")]
    SilenceWindow,
}

pub struct Engine {
    cfg: Arc<NotifyConfig>,
    alerts: BTreeMap<u64, Alert>,
    /// Alerts not resolved, by key: a repeat of the same problem finds its alert here.
    open: HashMap<AlertKey, u64>,
    silences: BTreeMap<u64, Silence>,
    groups: BTreeMap<String, Group>,
    next_alert: u64,
    next_silence: u64,
    dirty_alerts: BTreeSet<u64>,
    removed_alerts: BTreeSet<u64>,
    dirty_groups: BTreeSet<String>,
    removed_groups: BTreeSet<String>,
    dirty_silences: BTreeSet<u64>,
    removed_silences: BTreeSet<u64>,
    outbox: Vec<(String, Notification)>,
}

/// The value of a `group_by` / `equal` label of an alert.
pub fn label<'a>(a: &'a Alert, name: &str) -> &'a str {
    match name {
        "site" => a.subject.site.as_deref().unwrap_or(""),
        "rig" => a.subject.rig.as_deref().unwrap_or(""),
        "kind" => &a.kind,
        "level" => a.level.as_str(),
        "subject" => a.subject.name(),
        _ => "",
    }
}

/// Whether `route` takes `a`: every non-empty list must contain the alert's value.
pub fn route_matches(route: &RouteConfig, a: &Alert) -> bool {
    let ok =
        |list: &[String], v: Option<&str>| list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v));
    (route.levels.is_empty() || route.levels.contains(&a.level))
        && ok(&route.kinds, Some(&a.kind))
        && ok(&route.sites, a.subject.site.as_deref())
        && ok(&route.rigs, a.subject.rig.as_deref())
        && ok(&route.subjects, Some(a.subject.name()))
}

impl Engine {
    pub fn new(cfg: Arc<NotifyConfig>) -> Engine {
        Engine::restore(cfg, vec![], vec![], vec![], (1, 1))
    }

    /// The engine as it was persisted. Groups of routes that no longer exist are dropped.
    pub fn restore(
        cfg: Arc<NotifyConfig>,
        alerts: Vec<Alert>,
        silences: Vec<Silence>,
        groups: Vec<Group>,
        next_ids: (u64, u64),
    ) -> Engine {
        let mut e = Engine {
            cfg,
            alerts: BTreeMap::new(),
            open: HashMap::new(),
            silences: silences.into_iter().map(|s| (s.id, s)).collect(),
            groups: BTreeMap::new(),
            next_alert: next_ids.0.max(1),
            next_silence: next_ids.1.max(1),
            dirty_alerts: BTreeSet::new(),
            removed_alerts: BTreeSet::new(),
            dirty_groups: BTreeSet::new(),
            removed_groups: BTreeSet::new(),
            dirty_silences: BTreeSet::new(),
            removed_silences: BTreeSet::new(),
            outbox: vec![],
        };
        for a in alerts {
            e.next_alert = e.next_alert.max(a.id + 1);
            if a.state != AlertState::Resolved {
                e.open.insert(a.key.clone(), a.id);
            }
            e.alerts.insert(a.id, a);
        }
        e.next_silence = e.next_silence.max(e.silences.keys().max().map_or(1, |m| m + 1));
        for g in groups {
            if g.route < e.cfg.routes.len() {
                e.groups.insert(g.key.clone(), g);
            } else {
                e.removed_groups.insert(g.key);
            }
        }
        e
    }

    pub fn alert(&self, id: u64) -> Option<&Alert> {
        self.alerts.get(&id)
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    pub fn silences(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values()
    }

    /// Whether an alert with this key is open (pending, firing, acknowledged or silenced).
    pub fn is_open(&self, key: &AlertKey) -> bool {
        self.open.contains_key(key)
    }

    /// A source reports a problem: a new alert, or one more occurrence of an open one.
    pub fn raise(&mut self, ev: AlertEvent, now: u64) -> u64 {
        let key = ev.key();
        if let Some(&id) = self.open.get(&key) {
            if let Some(a) = self.alerts.get_mut(&id) {
                a.last_seen_ms = now;
                a.count += 1;
                a.message = ev.message;
                a.auto_resolve_ms = ev.auto_resolve_ms;
                let worse = ev.level > a.level;
                a.level = a.level.max(ev.level);
                self.dirty_alerts.insert(id);
                if worse && a.state.is_active() {
                    // A warning turned critical is news: the group says so at its next turn.
                    self.schedule_groups_of(id, now);
                }
                return id;
            }
        }
        let id = self.next_alert;
        self.next_alert += 1;
        let a = Alert {
            id,
            key: key.clone(),
            kind: ev.kind,
            level: ev.level,
            source: ev.source,
            subject: ev.subject,
            message: ev.message,
            state: AlertState::Pending,
            first_seen_ms: now,
            last_seen_ms: now,
            count: 1,
            fires_at_ms: now.saturating_add(ev.hold_ms),
            auto_resolve_ms: ev.auto_resolve_ms,
            silenced_by: None,
            acknowledged_by: None,
            acknowledged_ms: None,
            resolved_ms: None,
            notified_ms: None,
            escalated: false,
        };
        self.alerts.insert(id, a);
        self.open.insert(key, id);
        self.dirty_alerts.insert(id);
        if ev.hold_ms == 0 {
            self.activate(id, now);
        }
        id
    }

    /// The problem is over. A pending alert goes quietly; one that was told about gets a
    /// resolved message with its group.
    pub fn resolve(&mut self, key: &AlertKey, now: u64) -> Option<u64> {
        let id = self.open.remove(key)?;
        let a = self.alerts.get_mut(&id)?;
        a.state = AlertState::Resolved;
        a.resolved_ms = Some(now);
        a.silenced_by = None;
        self.dirty_alerts.insert(id);
        self.detach(id, now);
        Some(id)
    }

    /// An operator takes a firing alert: no escalation, no reminders for it.
    pub fn ack(&mut self, id: u64, by: &str, now: u64) -> Result<Alert, EngineError> {
        let a = self.alerts.get_mut(&id).ok_or(EngineError::NoAlert(id))?;
        match a.state {
            AlertState::Firing | AlertState::Acknowledged => {
                a.state = AlertState::Acknowledged;
                if a.acknowledged_ms.is_none() {
                    a.acknowledged_ms = Some(now);
                    a.acknowledged_by = Some(by.to_string());
                }
                self.dirty_alerts.insert(id);
                Ok(a.clone())
            }
            other => Err(EngineError::NotFiring {
                id,
                state: other.as_str(),
            }),
        }
    }

    pub fn add_silence(
        &mut self,
        matchers: Matchers,
        window: (u64, u64),
        created_by: &str,
        comment: &str,
        now: u64,
    ) -> Result<Silence, EngineError> {
        if matchers.is_empty() {
            return Err(EngineError::EmptySilence);
        }
        let (starts_ms, ends_ms) = window;
        if ends_ms <= starts_ms || ends_ms <= now {
            return Err(EngineError::SilenceWindow);
        }
        let s = Silence {
            id: self.next_silence,
            matchers,
            starts_ms,
            ends_ms,
            created_by: created_by.to_string(),
            comment: comment.to_string(),
            created_ms: now,
        };
        self.next_silence += 1;
        self.silences.insert(s.id, s.clone());
        self.dirty_silences.insert(s.id);
        self.resuppress(now);
        Ok(s)
    }

    /// Ends a silence now (kept, expired, for the record).
    pub fn expire_silence(&mut self, id: u64, now: u64) -> Result<Silence, EngineError> {
        let s = self.silences.get_mut(&id).ok_or(EngineError::NoSilence(id))?;
        s.ends_ms = s.ends_ms.min(now);
        s.starts_ms = s.starts_ms.min(s.ends_ms);
        let out = s.clone();
        self.dirty_silences.insert(id);
        self.resuppress(now);
        Ok(out)
    }

    /// Queues a test message to one receiver (the caller checked it exists).
    pub fn test_message(&mut self, receiver: &str, now: u64) {
        self.outbox.push((
            receiver.to_string(),
            Notification {
                status: "test".into(),
                level: Level::Info,
                group: "test".into(),
                title: format!("[TEST] hashward hub notification test to {receiver}"),
                text: "This is a test message from the hashward hub. No alert is firing because of it."
                    .into(),
                alerts: vec![],
                created_ms: now,
            },
        ));
    }

    /// Everything time decides: grace periods ending, stale alerts resolving, silences
    /// starting and ending, groups due, escalations due, old records going.
    pub fn tick(&mut self, now: u64) {
        let due: Vec<u64> = self
            .alerts
            .values()
            .filter(|a| a.state == AlertState::Pending && a.fires_at_ms <= now)
            .map(|a| a.id)
            .collect();
        for id in due {
            self.activate(id, now);
        }
        let stale: Vec<AlertKey> = self
            .alerts
            .values()
            .filter(|a| {
                a.state != AlertState::Resolved
                    && a.auto_resolve_ms > 0
                    && a.last_seen_ms.saturating_add(a.auto_resolve_ms) <= now
            })
            .map(|a| a.key.clone())
            .collect();
        for key in stale {
            self.resolve(&key, now);
        }
        self.resuppress(now);
        let due: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.flush_at_ms.is_some_and(|t| t <= now) || g.repeat_at_ms.is_some_and(|t| t <= now))
            .map(|g| g.key.clone())
            .collect();
        for key in due {
            self.flush(&key, now);
        }
        self.escalate(now);
        self.forget_old(now);
    }

    pub fn take_changes(&mut self) -> Changes {
        let alerts = std::mem::take(&mut self.dirty_alerts);
        let groups = std::mem::take(&mut self.dirty_groups);
        let silences = std::mem::take(&mut self.dirty_silences);
        Changes {
            alerts: alerts
                .iter()
                .filter_map(|id| self.alerts.get(id).cloned())
                .collect(),
            removed_alerts: std::mem::take(&mut self.removed_alerts).into_iter().collect(),
            groups: groups
                .iter()
                .filter_map(|k| self.groups.get(k).cloned())
                .collect(),
            removed_groups: std::mem::take(&mut self.removed_groups).into_iter().collect(),
            silences: silences
                .iter()
                .filter_map(|id| self.silences.get(id).cloned())
                .collect(),
            removed_silences: std::mem::take(&mut self.removed_silences).into_iter().collect(),
            outbox: std::mem::take(&mut self.outbox),
            next_ids: (self.next_alert, self.next_silence),
        }
    }

    /// Why `a` must not be told about now: a silence covering it, or an inhibiting alert.
    fn suppression(&self, a: &Alert, now: u64) -> Option<String> {
        if let Some(s) = self
            .silences
            .values()
            .find(|s| s.active_at(now) && s.matchers.matches(a))
        {
            return Some(format!("silence:{}", s.id));
        }
        for rule in self.cfg.inhibit.iter().filter(|r| r.target_kind == a.kind) {
            let source = self.alerts.values().find(|b| {
                b.id != a.id
                    && b.kind == rule.source_kind
                    && matches!(
                        b.state,
                        AlertState::Firing | AlertState::Acknowledged | AlertState::Silenced
                    )
                    && rule.equal.iter().all(|l| label(a, l) == label(b, l))
            });
            if let Some(b) = source {
                return Some(format!("inhibited_by:{}", b.id));
            }
        }
        None
    }

    /// A pending alert's grace period is over: it fires, or is silenced.
    fn activate(&mut self, id: u64, now: u64) {
        let Some(a) = self.alerts.get(&id) else { return };
        let why = self.suppression(a, now);
        let Some(a) = self.alerts.get_mut(&id) else { return };
        self.dirty_alerts.insert(id);
        match why {
            Some(why) => {
                a.state = AlertState::Silenced;
                a.silenced_by = Some(why);
            }
            None => {
                a.state = AlertState::Firing;
                self.attach(id, now);
            }
        }
    }

    /// Silences and inhibitions start and end: alerts move between firing and silenced.
    fn resuppress(&mut self, now: u64) {
        let ids: Vec<u64> = self
            .alerts
            .values()
            .filter(|a| a.state.is_active() || a.state == AlertState::Silenced)
            .map(|a| a.id)
            .collect();
        for id in ids {
            let Some(a) = self.alerts.get(&id) else { continue };
            let why = self.suppression(a, now);
            let was_silenced = a.state == AlertState::Silenced;
            let Some(a) = self.alerts.get_mut(&id) else {
                continue;
            };
            match (was_silenced, why) {
                (false, Some(why)) => {
                    a.state = AlertState::Silenced;
                    a.silenced_by = Some(why);
                    self.dirty_alerts.insert(id);
                    self.detach(id, now);
                }
                (true, None) => {
                    a.state = if a.acknowledged_ms.is_some() {
                        AlertState::Acknowledged
                    } else {
                        AlertState::Firing
                    };
                    a.silenced_by = None;
                    self.dirty_alerts.insert(id);
                    self.attach(id, now);
                }
                (true, Some(why)) if a.silenced_by.as_deref() != Some(why.as_str()) => {
                    a.silenced_by = Some(why);
                    self.dirty_alerts.insert(id);
                }
                _ => {}
            }
        }
    }

    fn group_key(&self, route: usize, a: &Alert) -> (String, String) {
        let by = &self.cfg.routes[route].group_by;
        let label: Vec<String> = by.iter().map(|l| format!("{l}={}", label(a, l))).collect();
        let label = label.join(" ");
        (format!("{route}:{label}"), label)
    }

    /// Puts a firing alert into the group of every route it matches.
    fn attach(&mut self, id: u64, now: u64) {
        let Some(a) = self.alerts.get(&id) else { return };
        let routes: Vec<usize> = (0..self.cfg.routes.len())
            .filter(|&r| route_matches(&self.cfg.routes[r], a))
            .collect();
        for r in routes {
            let (key, label) = self.group_key(r, a);
            let route = &self.cfg.routes[r];
            let g = self.groups.entry(key.clone()).or_insert_with(|| Group {
                key: key.clone(),
                route: r,
                label,
                members: BTreeSet::new(),
                notified: BTreeSet::new(),
                flush_at_ms: Some(now.saturating_add(route.group_wait_ms)),
                repeat_at_ms: None,
                last_sent_ms: None,
            });
            g.members.insert(id);
            if g.flush_at_ms.is_none() {
                g.flush_at_ms = Some(next_turn(g, route, now));
            }
            self.dirty_groups.insert(key);
        }
    }

    /// An alert leaves its groups: at once if nobody was told about it, else at the group's
    /// next message (which says it resolved).
    fn detach(&mut self, id: u64, now: u64) {
        let keys: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.members.contains(&id))
            .map(|g| g.key.clone())
            .collect();
        for key in keys {
            let Some(g) = self.groups.get_mut(&key) else {
                continue;
            };
            if g.notified.contains(&id) {
                if g.flush_at_ms.is_none() {
                    g.flush_at_ms = Some(next_turn(g, &self.cfg.routes[g.route], now));
                }
            } else {
                g.members.remove(&id);
            }
            self.dirty_groups.insert(key.clone());
            self.drop_if_empty(&key);
        }
    }

    fn schedule_groups_of(&mut self, id: u64, now: u64) {
        for g in self.groups.values_mut().filter(|g| g.members.contains(&id)) {
            if g.flush_at_ms.is_none() {
                g.flush_at_ms = Some(next_turn(g, &self.cfg.routes[g.route], now));
                self.dirty_groups.insert(g.key.clone());
            }
        }
    }

    fn drop_if_empty(&mut self, key: &str) {
        if self.groups.get(key).is_some_and(|g| g.members.is_empty()) {
            self.groups.remove(key);
            self.dirty_groups.remove(key);
            self.removed_groups.insert(key.to_string());
        }
    }
}

/// When a group that has sent may send again: `group_interval_ms` after its last message.
fn next_turn(g: &Group, route: &RouteConfig, now: u64) -> u64 {
    g.last_sent_ms
        .map_or(now, |t| t.saturating_add(route.group_interval_ms))
        .max(now)
}

#[path = "engine_flush.rs"]
mod flush;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

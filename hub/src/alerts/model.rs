//! The one alert model every source feeds: what an alert is about (its subject), how bad it is
//! (its level), where it came from, and where it is in its life (pending, firing, acknowledged,
//! silenced, resolved). Silences (maintenance windows) live here too.
//!
//! Plain data, serialised as JSON for the store and the API: units in field names, never a Rust
//! `Debug` string. Must never hold a secret.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How urgent an alert is (seed 002 §8.4): critical needs someone now, warning needs a look,
/// info is for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warning,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "info" => Some(Level::Info),
            "warning" => Some(Level::Warning),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an alert is in its life. `Pending` is an alert inside its grace period (a rig offline
/// for less than `rig_offline_grace_ms`): nobody is told, and a resolve drops it quietly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Firing,
    Acknowledged,
    Silenced,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Silenced => "silenced",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertState> {
        [
            AlertState::Pending,
            AlertState::Firing,
            AlertState::Acknowledged,
            AlertState::Silenced,
            AlertState::Resolved,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Firing or acknowledged: a problem someone was (or is being) told about.
    pub fn is_active(self) -> bool {
        matches!(self, AlertState::Firing | AlertState::Acknowledged)
    }
}

/// What an alert is about, from the widest to the narrowest: a site, a rig on it, an ASIC on
/// the rig, or a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rig: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

impl Subject {
    pub fn rig(site: &str, rig: &str) -> Subject {
        Subject {
            site: Some(site.to_string()),
            rig: Some(rig.to_string()),
            ..Subject::default()
        }
    }

    /// The narrowest thing named: what a route's `subjects` matches (an ASIC or pool id, else
    /// `rig`, `site` or `hub`).
    pub fn name(&self) -> &str {
        if let Some(a) = &self.asic {
            a
        } else if let Some(p) = &self.pool {
            p
        } else if self.rig.is_some() {
            "rig"
        } else if self.site.is_some() {
            "site"
        } else {
            "hub"
        }
    }

    /// `site/rig/asic` as a person reads it.
    pub fn describe(&self) -> String {
        let parts: Vec<&str> = [&self.site, &self.rig, &self.asic, &self.pool]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect();
        if parts.is_empty() {
            "hub".to_string()
        } else {
            parts.join("/")
        }
    }
}

/// One thing going wrong, as a source reports it to an [`crate::alerts::AlertSink`]. The same
/// `kind` and subject again is the same alert (its count goes up), not a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// What went wrong, snake_case: `overheat`, `rig_offline`, `config_rejected`, `source_down`.
    pub kind: String,
    pub level: Level,
    /// Who raised it: `agent`, `hub`, a collector's name.
    pub source: String,
    pub subject: Subject,
    /// One line for a person.
    pub message: String,
    /// Grace period: the alert fires only if not resolved within this long (0: at once).
    #[serde(default)]
    pub hold_ms: u64,
    /// Resolves by itself when not raised again for this long (0: only an explicit resolve).
    #[serde(default)]
    pub auto_resolve_ms: u64,
}

impl AlertEvent {
    pub fn key(&self) -> AlertKey {
        AlertKey::new(&self.kind, &self.subject)
    }
}

/// The identity of an alert: its kind and subject. What [`crate::alerts::AlertSink::resolve`]
/// takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertKey(pub String);

impl AlertKey {
    pub fn new(kind: &str, subject: &Subject) -> AlertKey {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        AlertKey(format!(
            "{kind}|{}|{}|{}|{}",
            s(&subject.site),
            s(&subject.rig),
            s(&subject.asic),
            s(&subject.pool)
        ))
    }
}

/// An alert as the hub keeps it and the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: u64,
    pub key: AlertKey,
    pub kind: String,
    pub level: Level,
    pub source: String,
    pub subject: Subject,
    pub message: String,
    pub state: AlertState,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// Times raised (a source repeating itself counts here, not as new alerts).
    pub count: u64,
    /// While pending: when it fires unless resolved first.
    pub fires_at_ms: u64,
    pub auto_resolve_ms: u64,
    /// `silence:<id>` or `inhibited_by:<alert id>` while silenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_ms: Option<u64>,
    /// When a receiver was first told (escalation counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_ms: Option<u64>,
    #[serde(default)]
    pub escalated: bool,
}

/// Which alerts a silence (or an API filter) covers: every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matchers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rig: Option<String>,
    /// The subject's name (an ASIC or pool id, `rig`, `site`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Matchers {
    pub fn is_empty(&self) -> bool {
        self == &Matchers::default()
    }

    pub fn matches(&self, a: &Alert) -> bool {
        let eq = |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == got);
        eq(&self.kind, Some(&a.kind))
            && self.level.is_none_or(|l| l == a.level)
            && eq(&self.site, a.subject.site.as_deref())
            && eq(&self.rig, a.subject.rig.as_deref())
            && eq(&self.subject, Some(a.subject.name()))
    }
}

/// A maintenance window: alerts its matchers cover are silenced from `starts_ms` to `ends_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: u64,
    pub matchers: Matchers,
    pub starts_ms: u64,
    pub ends_ms: u64,
    pub created_by: String,
    pub comment: String,
    pub created_ms: u64,
}

impl Silence {
    pub fn active_at(&self, now_ms: u64) -> bool {
        self.starts_ms <= now_ms && now_ms < self.ends_ms
    }
}

/// What a receiver is asked to say: one message for a group of alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `firing`, `resolved`, `escalation`, `test`.
    pub status: String,
    pub level: Level,
    pub group: String,
    pub title: String,
    pub text: String,
    pub alerts: Vec<NotifiedAlert>,
    pub created_ms: u64,
}

/// One alert inside a notification, as the webhook body carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifiedAlert {
    pub id: u64,
    pub kind: String,
    pub level: Level,
    pub state: AlertState,
    pub subject: Subject,
    pub message: String,
    pub count: u64,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
}

impl From<&Alert> for NotifiedAlert {
    fn from(a: &Alert) -> NotifiedAlert {
        NotifiedAlert {
            id: a.id,
            kind: a.kind.clone(),
            level: a.level,
            state: a.state,
            subject: a.subject.clone(),
            message: a.message.clone(),
            count: a.count,
            first_seen_ms: a.first_seen_ms,
            last_seen_ms: a.last_seen_ms,
        }
    }
}

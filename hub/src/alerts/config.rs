//! The `[notify]` section of hub.toml: receivers (where messages go), routes (which alerts go to
//! which receivers, grouped how, escalated when), inhibition rules, and how the hub's own
//! sources raise alerts (grace periods).
//!
//! Checked once at start ([`NotifyConfig::validate`]): a bad receiver (a URL that is not one, a
//! missing credential, a route naming a receiver nobody defined) stops the hub with an error
//! naming the key. Must never print a secret: [`Secret`] shows as `***`.

use super::model::Level;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;

/// A password, token or signing key: readable by the code that uses it, never by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// How often groups, escalations, silences and grace periods are evaluated.
    #[serde(default = "d_tick")]
    pub tick_ms: u64,
    /// Resolved alerts (and sent notifications) are kept this long for the API.
    #[serde(default = "d_retention")]
    pub retention_ms: u64,
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default = "d_inhibit")]
    pub inhibit: Vec<InhibitRule>,
    #[serde(default)]
    pub sources: SourcesConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

fn d_tick() -> u64 {
    1000
}
fn d_retention() -> u64 {
    7 * 24 * 3600 * 1000
}
fn d_inhibit() -> Vec<InhibitRule> {
    vec![InhibitRule {
        source_kind: "site_offline".into(),
        target_kind: "rig_offline".into(),
        equal: vec!["site".into()],
    }]
}

/// How the hub raises alerts from what the agents send.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// A rig that dropped off fires `rig_offline` only if not back within this long.
    #[serde(default = "d_grace")]
    pub rig_offline_grace_ms: u64,
    /// An agent anomaly alert resolves when the subject scores low again, or after this long
    /// without being raised again.
    #[serde(default = "d_agent_resolve")]
    pub agent_alert_resolve_ms: u64,
    /// A site with at least this many known rigs, all offline, fires `site_offline` (which
    /// inhibits its rigs' `rig_offline`).
    #[serde(default = "d_site_min")]
    pub site_offline_min_rigs: usize,
}

fn d_grace() -> u64 {
    120_000
}
fn d_agent_resolve() -> u64 {
    900_000
}
fn d_site_min() -> usize {
    2
}

impl Default for SourcesConfig {
    fn default() -> Self {
        SourcesConfig {
            rig_offline_grace_ms: d_grace(),
            agent_alert_resolve_ms: d_agent_resolve(),
            site_offline_min_rigs: d_site_min(),
        }
    }
}

/// The outbox's retry policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    #[serde(default = "d_retry_min")]
    pub retry_min_ms: u64,
    #[serde(default = "d_retry_max")]
    pub retry_max_ms: u64,
    /// A notification still failing (transiently) after this long is given up as failed.
    #[serde(default = "d_give_up")]
    pub give_up_after_ms: u64,
    /// Per attempt.
    #[serde(default = "d_timeout")]
    pub timeout_ms: u64,
}

fn d_retry_min() -> u64 {
    1000
}
fn d_retry_max() -> u64 {
    300_000
}
fn d_give_up() -> u64 {
    24 * 3600 * 1000
}
fn d_timeout() -> u64 {
    10_000
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_min_ms: d_retry_min(),
            retry_max_ms: d_retry_max(),
            give_up_after_ms: d_give_up(),
            timeout_ms: d_timeout(),
        }
    }
}

/// One receiver. Which keys apply depends on `type`; the others are refused at start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ReceiverType,
    /// Messages per minute at most; the rest wait in the outbox (0: no limit).
    #[serde(default = "d_rate")]
    pub rate_limit_per_min: u32,
    /// webhook: where to POST; ntfy: the server's base URL.
    pub url: Option<String>,
    /// webhook: HMAC-SHA256 key for `X-Hashward-Signature`.
    pub secret: Option<Secret>,
    /// email: the SMTP server.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    /// email: `starttls` (default, port 587), `tls` (implicit TLS, port 465) or `none`
    /// (a local relay without TLS, port 25; never with a password).
    pub security: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// email: PEM CA certificate(s) the server's certificate must chain to (only these are
    /// trusted then); without it the public webpki roots are.
    pub ca_file: Option<std::path::PathBuf>,
    /// telegram: the Bot API base URL.
    pub api_base: Option<String>,
    pub bot_token: Option<Secret>,
    pub chat_id: Option<String>,
    /// ntfy: the topic, and an access token if the server wants one.
    pub topic: Option<String>,
    pub token: Option<Secret>,
}

fn d_rate() -> u32 {
    20
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverType {
    Webhook,
    Email,
    Telegram,
    Ntfy,
}

/// One route: alerts it matches go to `receivers`, grouped by `group_by`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Empty: every level (and the same for kinds, sites, rigs, subjects).
    #[serde(default)]
    pub levels: Vec<Level>,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub sites: Vec<String>,
    #[serde(default)]
    pub rigs: Vec<String>,
    #[serde(default)]
    pub subjects: Vec<String>,
    pub receivers: Vec<String>,
    /// Alerts with equal values of these (`site`, `rig`, `kind`, `level`, `subject`) share one
    /// message.
    #[serde(default = "d_group_by")]
    pub group_by: Vec<String>,
    /// Wait this long after a group's first alert for the others before the first message.
    #[serde(default = "d_group_wait")]
    pub group_wait_ms: u64,
    /// Wait this long after a message before one about changes to the group.
    #[serde(default = "d_group_interval")]
    pub group_interval_ms: u64,
    /// Resend a group still firing (and not acknowledged) after this long.
    #[serde(default = "d_repeat")]
    pub repeat_interval_ms: u64,
    /// Critical alerts not acknowledged `escalate_after_ms` after the first message also go
    /// to these receivers.
    #[serde(default)]
    pub escalate_to: Vec<String>,
    #[serde(default = "d_escalate")]
    pub escalate_after_ms: u64,
}

fn d_group_by() -> Vec<String> {
    vec!["site".into(), "kind".into()]
}
fn d_group_wait() -> u64 {
    30_000
}
fn d_group_interval() -> u64 {
    300_000
}
fn d_repeat() -> u64 {
    4 * 3600 * 1000
}
fn d_escalate() -> u64 {
    900_000
}

/// While an alert of `source_kind` fires, alerts of `target_kind` with the same `equal`
/// labels are silenced (a site offline silences its rigs' offline alerts).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRule {
    pub source_kind: String,
    pub target_kind: String,
    #[serde(default)]
    pub equal: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("notify config: {key}: {problem}")]
pub struct NotifyConfigError {
    /// The key at fault, e.g. `notify.receivers[1].url`.
    pub key: String,
    pub problem: String,
}

pub const GROUP_LABELS: [&str; 5] = ["site", "rig", "kind", "level", "subject"];

pub(super) fn err(key: String, problem: impl Into<String>) -> NotifyConfigError {
    NotifyConfigError {
        key,
        problem: problem.into(),
    }
}

/// An `http://` or `https://` URL with a host, or why not.
pub fn check_http_url(url: &str) -> Result<(), String> {
    let uri: ureq::http::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("{url:?} is not an http:// or https:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

impl NotifyConfig {
    /// Every receiver usable and every route pointing at receivers that exist.
    pub fn validate(&self) -> Result<(), NotifyConfigError> {
        if self.tick_ms == 0 {
            return Err(err("notify.tick_ms".into(), "must be at least 1"));
        }
        let mut names = BTreeSet::new();
        for (i, r) in self.receivers.iter().enumerate() {
            let k = |f: &str| format!("notify.receivers[{i}].{f}");
            if r.name.is_empty()
                || !r
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(err(
                    k("name"),
                    format!("{:?} is not a name (letters, digits, - and _)", r.name),
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(err(k("name"), format!("{:?} is defined twice", r.name)));
            }
            super::receivers::Receiver::build(i, r)?;
        }
        for (i, route) in self.routes.iter().enumerate() {
            let k = |f: &str| format!("notify.routes[{i}].{f}");
            if route.receivers.is_empty() {
                return Err(err(k("receivers"), "no receiver"));
            }
            for (field, list) in [
                ("receivers", &route.receivers),
                ("escalate_to", &route.escalate_to),
            ] {
                if let Some(unknown) = list.iter().find(|r| !names.contains(r.as_str())) {
                    return Err(err(k(field), format!("no receiver is named {unknown:?}")));
                }
            }
            if let Some(bad) = route
                .group_by
                .iter()
                .find(|l| !GROUP_LABELS.contains(&l.as_str()))
            {
                return Err(err(
                    k("group_by"),
                    format!("{bad:?} is not one of {}", GROUP_LABELS.join(", ")),
                ));
            }
        }
        for (i, rule) in self.inhibit.iter().enumerate() {
            if let Some(bad) = rule.equal.iter().find(|l| !GROUP_LABELS.contains(&l.as_str())) {
                return Err(err(
                    format!("notify.inhibit[{i}].equal"),
                    format!("{bad:?} is not one of {}", GROUP_LABELS.join(", ")),
                ));
            }
        }
        Ok(())
    }

    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            tick_ms: d_tick(),
            retention_ms: d_retention(),
            receivers: vec![],
            routes: vec![],
            inhibit: d_inhibit(),
            sources: SourcesConfig::default(),
            delivery: DeliveryConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> NotifyConfig {
        toml::from_str(text).expect("parses")
    }

    #[test]
    fn bad_receivers_are_refused_naming_the_key() {
        let cases = [
            ("[[receivers]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"ftp://x\"\n", "notify.receivers[0].url"),
            ("[[receivers]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"not a url\"\n", "notify.receivers[0].url"),
            ("[[receivers]]\nname = \"t\"\ntype = \"telegram\"\nchat_id = \"1\"\n", "notify.receivers[0].bot_token"),
            (
                "[[receivers]]\nname = \"m\"\ntype = \"email\"\nsmtp_host = \"h\"\nusername = \"u\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
                "notify.receivers[0].password",
            ),
            (
                "[[receivers]]\nname = \"m\"\ntype = \"email\"\nsmtp_host = \"h\"\nfrom = \"nobody\"\nto = [\"d@e.f\"]\n",
                "notify.receivers[0].from",
            ),
            (
                "[[receivers]]\nname = \"n\"\ntype = \"ntfy\"\nurl = \"http://x\"\ntopic = \"a\"\n[[routes]]\nreceivers = [\"n\", \"pager\"]\n",
                "notify.routes[0].receivers",
            ),
        ];
        for (text, key) in cases {
            let e = parse(text).validate().expect_err(text);
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_and_unknown_keys_are_refused() {
        let c = parse("[[receivers]]\nname = \"t\"\ntype = \"telegram\"\nbot_token = \"123:SECRET\"\nchat_id = \"42\"\n");
        c.validate().expect("valid");
        assert!(!format!("{c:?}").contains("SECRET"));
        let e = toml::from_str::<NotifyConfig>(
            "[[receivers]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"http://x\"\nsecrt = \"k\"\n",
        )
        .expect_err("unknown key");
        assert!(e.to_string().contains("secrt"), "{e}");
    }
}

//! The receivers a notification can go to, one file each: `webhook` (JSON POST, HMAC-signed),
//! `email` (SMTP via lettre, STARTTLS or implicit TLS through rustls/ring), `telegram` (Bot API
//! `sendMessage`) and `ntfy` (HTTP push). [`Receiver::build`] turns a `[[notify.receivers]]`
//! entry into one, or an error naming the key; [`Receiver::send`] delivers one notification,
//! blocking (the delivery loop runs it on a blocking thread), and says whether a failure is
//! worth retrying.
//!
//! Must never put a secret (password, token, signing key) in an error, a log line or the API:
//! errors pass through [`redact`].

pub mod email;
pub mod ntfy;
pub mod telegram;
pub mod webhook;

use super::config::{check_http_url, err, NotifyConfigError, ReceiverConfig, ReceiverType, Secret};
use super::model::Notification;
use std::time::Duration;

/// Why a delivery failed, and so whether the outbox tries again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The receiver refused the message (HTTP 4xx but 429, SMTP 5xx): retrying cannot help.
    #[error("refused: {0}")]
    Permanent(String),
    /// Down, slow, overloaded (connection refused, timeout, HTTP 5xx or 429, SMTP 4xx).
    #[error("unavailable: {0}")]
    Transient(String),
}

impl SendError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }
}

#[derive(Debug, Clone)]
pub enum Receiver {
    Webhook(webhook::Webhook),
    Email(email::Email),
    Telegram(telegram::Telegram),
    Ntfy(ntfy::Ntfy),
}

/// Which keys each type takes besides `name`, `type` and `rate_limit_per_min`.
const KEYS: [(ReceiverType, &[&str]); 4] = [
    (ReceiverType::Webhook, &["url", "secret"]),
    (
        ReceiverType::Email,
        &[
            "smtp_host",
            "smtp_port",
            "security",
            "username",
            "password",
            "from",
            "to",
            "ca_file",
        ],
    ),
    (ReceiverType::Telegram, &["api_base", "bot_token", "chat_id"]),
    (ReceiverType::Ntfy, &["url", "topic", "token"]),
];

/// The optional keys set in `c`.
fn keys_set(c: &ReceiverConfig) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut note = |set: bool, k: &'static str| {
        if set {
            out.push(k)
        }
    };
    note(c.url.is_some(), "url");
    note(c.secret.is_some(), "secret");
    note(c.smtp_host.is_some(), "smtp_host");
    note(c.smtp_port.is_some(), "smtp_port");
    note(c.security.is_some(), "security");
    note(c.username.is_some(), "username");
    note(c.password.is_some(), "password");
    note(c.from.is_some(), "from");
    note(!c.to.is_empty(), "to");
    note(c.ca_file.is_some(), "ca_file");
    note(c.api_base.is_some(), "api_base");
    note(c.bot_token.is_some(), "bot_token");
    note(c.chat_id.is_some(), "chat_id");
    note(c.topic.is_some(), "topic");
    note(c.token.is_some(), "token");
    out
}

pub(super) fn required<'a>(key: &str, v: &'a Option<String>) -> Result<&'a str, String> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{key} is missing")),
    }
}

pub(super) fn required_secret(v: &Option<Secret>) -> Result<&Secret, String> {
    v.as_ref()
        .filter(|s| !s.expose().is_empty())
        .ok_or_else(|| "missing".to_string())
}

impl Receiver {
    /// The receiver `[[notify.receivers]]` entry `index` describes, or the key at fault.
    pub fn build(index: usize, c: &ReceiverConfig) -> Result<Receiver, NotifyConfigError> {
        let key = |f: &str| format!("notify.receivers[{index}].{f}");
        let allowed = KEYS
            .iter()
            .find(|(t, _)| *t == c.kind)
            .map(|(_, k)| *k)
            .unwrap_or(&[]);
        if let Some(extra) = keys_set(c).into_iter().find(|k| !allowed.contains(k)) {
            return Err(err(
                key(extra),
                format!("does not apply to a {:?} receiver", c.kind),
            ));
        }
        let with_key = |(field, problem): (&str, String)| err(key(field), problem);
        Ok(match c.kind {
            ReceiverType::Webhook => {
                let url = c.url.clone().unwrap_or_default();
                check_http_url(&url).map_err(|p| err(key("url"), p))?;
                Receiver::Webhook(webhook::Webhook {
                    url,
                    secret: c.secret.clone(),
                })
            }
            ReceiverType::Email => Receiver::Email(email::Email::build(c).map_err(with_key)?),
            ReceiverType::Telegram => Receiver::Telegram(telegram::Telegram::build(c).map_err(with_key)?),
            ReceiverType::Ntfy => Receiver::Ntfy(ntfy::Ntfy::build(c).map_err(with_key)?),
        })
    }

    /// Delivers `n`, blocking for at most about `timeout`.
    pub fn send(&self, name: &str, n: &Notification, timeout: Duration) -> Result<(), SendError> {
        match self {
            Receiver::Webhook(w) => w.send(name, n, timeout),
            Receiver::Email(e) => e.send(n, timeout),
            Receiver::Telegram(t) => t.send(n, timeout),
            Receiver::Ntfy(x) => x.send(n, timeout),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Receiver::Webhook(_) => "webhook",
            Receiver::Email(_) => "email",
            Receiver::Telegram(_) => "telegram",
            Receiver::Ntfy(_) => "ntfy",
        }
    }
}

/// `msg` with every secret replaced by `***` (a transport error may quote a URL holding a
/// token).
pub fn redact(msg: &str, secrets: &[&Secret]) -> String {
    let mut out = msg.to_string();
    for s in secrets {
        if !s.expose().is_empty() {
            out = out.replace(s.expose(), "***");
        }
    }
    out
}

/// A blocking HTTP client that returns 4xx/5xx answers instead of failing on them.
pub(super) fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// An HTTP answer's meaning for the outbox: 2xx delivered, 429 and 5xx try again, other 4xx
/// refused for good.
pub(super) fn http_outcome(status: u16, body: &str) -> Result<(), SendError> {
    let snippet: String = body.chars().take(200).collect();
    match status {
        200..=299 => Ok(()),
        429 => Err(SendError::Transient(format!("HTTP 429 {snippet}"))),
        400..=499 => Err(SendError::Permanent(format!("HTTP {status} {snippet}"))),
        _ => Err(SendError::Transient(format!("HTTP {status} {snippet}"))),
    }
}

/// A transport failure (no answer at all): always worth another try.
pub(super) fn transport(e: ureq::Error, secrets: &[&Secret]) -> SendError {
    SendError::Transient(redact(&e.to_string(), secrets))
}

/// Reads an answer's body (bounded) for error messages; unreadable is empty.
pub(super) fn body_text(resp: &mut ureq::http::Response<ureq::Body>) -> String {
    resp.body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_answers_are_classified() {
        assert!(http_outcome(204, "").is_ok());
        assert!(http_outcome(400, "bad").expect_err("4xx").is_permanent());
        assert!(http_outcome(403, "").expect_err("4xx").is_permanent());
        assert!(!http_outcome(429, "").expect_err("429").is_permanent());
        assert!(!http_outcome(503, "").expect_err("5xx").is_permanent());
    }

    #[test]
    fn redaction_hides_every_secret() {
        let t = Secret::new("123:ABC");
        assert_eq!(
            redact("POST https://api/bot123:ABC/sendMessage failed", &[&t]),
            "POST https://api/bot***/sendMessage failed"
        );
    }
}

//! ntfy-style HTTP push: POSTs the message text to `{url}/{topic}` with the `Title`,
//! `Priority` (5 urgent for critical, 4 for warning, 3 for info; 3 for a resolved message) and
//! `Tags` headers ntfy reads, and `Authorization: Bearer <token>` when a token is set.
//!
//! Must never log the token.

use super::{body_text, http_agent, http_outcome, required, transport, SendError};
use crate::alerts::config::{check_http_url, ReceiverConfig, Secret};
use crate::alerts::model::{Level, Notification};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Ntfy {
    pub url: String,
    pub topic: String,
    pub token: Option<Secret>,
}

impl Ntfy {
    pub(super) fn build(c: &ReceiverConfig) -> Result<Ntfy, (&'static str, String)> {
        let url = required("url", &c.url).map_err(|p| ("url", p))?;
        check_http_url(url).map_err(|p| ("url", p))?;
        let topic = required("topic", &c.topic).map_err(|p| ("topic", p))?;
        if !topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err((
                "topic",
                format!("{topic:?} is not a topic name (letters, digits, - and _)"),
            ));
        }
        Ok(Ntfy {
            url: url.trim_end_matches('/').to_string(),
            topic: topic.to_string(),
            token: c.token.clone(),
        })
    }

    pub fn send(&self, n: &Notification, timeout: Duration) -> Result<(), SendError> {
        let (priority, tags) = match (n.status.as_str(), n.level) {
            ("resolved", _) => ("3", "white_check_mark"),
            (_, Level::Critical) => ("5", "rotating_light"),
            (_, Level::Warning) => ("4", "warning"),
            (_, Level::Info) => ("3", "information_source"),
        };
        let mut req = http_agent(timeout)
            .post(&format!("{}/{}", self.url, self.topic))
            .header("Title", &n.title)
            .header("Priority", priority)
            .header("Tags", tags);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {}", t.expose()));
        }
        let secrets: Vec<&Secret> = self.token.iter().collect();
        let mut resp = req.send(n.text.as_bytes()).map_err(|e| transport(e, &secrets))?;
        let status = resp.status().as_u16();
        http_outcome(status, &body_text(&mut resp))
    }
}

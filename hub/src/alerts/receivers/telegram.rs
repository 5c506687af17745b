//! Telegram Bot API: `POST {api_base}/bot{token}/sendMessage` with `{"chat_id", "text",
//! "disable_web_page_preview": true}`; the answer is `{"ok": true, ...}` or `{"ok": false,
//! "error_code", "description"}`.
//!
//! The token is part of the URL: every error passes through [`super::redact`] so it never
//! reaches a log or the API.

use super::{body_text, http_agent, http_outcome, redact, required, required_secret, transport, SendError};
use crate::alerts::config::{check_http_url, ReceiverConfig, Secret};
use crate::alerts::model::Notification;
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Telegram {
    pub api_base: String,
    pub bot_token: Secret,
    pub chat_id: String,
}

/// Telegram refuses longer messages.
const MAX_TEXT: usize = 4096;

impl Telegram {
    pub(super) fn build(c: &ReceiverConfig) -> Result<Telegram, (&'static str, String)> {
        let api_base = c
            .api_base
            .clone()
            .unwrap_or_else(|| "https://api.telegram.org".into());
        check_http_url(&api_base).map_err(|p| ("api_base", p))?;
        let bot_token = required_secret(&c.bot_token).map_err(|p| ("bot_token", p))?;
        if bot_token.expose().contains('/') || bot_token.expose().contains(char::is_whitespace) {
            return Err(("bot_token", "is not a bot token".into()));
        }
        let chat_id = required("chat_id", &c.chat_id).map_err(|p| ("chat_id", p))?;
        Ok(Telegram {
            api_base: api_base.trim_end_matches('/').to_string(),
            bot_token: bot_token.clone(),
            chat_id: chat_id.to_string(),
        })
    }

    pub fn send(&self, n: &Notification, timeout: Duration) -> Result<(), SendError> {
        let mut text = format!("{}\n\n{}", n.title, n.text);
        if text.len() > MAX_TEXT {
            let mut cut = MAX_TEXT - 3;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("...");
        }
        let url = format!("{}/bot{}/sendMessage", self.api_base, self.bot_token.expose());
        let body = json!({"chat_id": self.chat_id, "text": text, "disable_web_page_preview": true});
        let secrets = [&self.bot_token];
        let mut resp = http_agent(timeout)
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .map_err(|e| transport(e, &secrets))?;
        let status = resp.status().as_u16();
        let answer = redact(&body_text(&mut resp), &secrets);
        http_outcome(status, &answer)?;
        // A 200 without `"ok": true` is not a delivery.
        match serde_json::from_str::<serde_json::Value>(&answer) {
            Ok(v) if v["ok"] == true => Ok(()),
            _ => Err(SendError::Transient(format!(
                "answer without \"ok\": true: {}",
                answer.chars().take(200).collect::<String>()
            ))),
        }
    }
}

//! Generic webhook: POSTs the notification as JSON. The body (stable, versioned):
//! `{"version": 1, "receiver", "status" (firing|resolved|escalation|test), "level", "group",
//! "title", "text", "created_ms", "alerts": [{"id", "kind", "level", "state", "subject": {"site",
//! "rig", "asic", "pool"}, "message", "count", "first_seen_ms", "last_seen_ms"}]}`.
//! With a `secret`, the header `X-Hashward-Signature: sha256=<hex HMAC-SHA256 of the exact body
//! bytes>` lets the receiver check it came from this hub.
//!
//! Must never send the secret itself, or log it.

use super::{body_text, http_agent, http_outcome, transport, SendError};
use crate::alerts::config::Secret;
use crate::alerts::model::Notification;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "X-Hashward-Signature";

#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: String,
    pub secret: Option<Secret>,
}

/// The JSON body for `n` sent by `receiver`.
pub fn body(receiver: &str, n: &Notification) -> Vec<u8> {
    json!({
        "version": 1,
        "receiver": receiver,
        "status": n.status,
        "level": n.level,
        "group": n.group,
        "title": n.title,
        "text": n.text,
        "created_ms": n.created_ms,
        "alerts": n.alerts,
    })
    .to_string()
    .into_bytes()
}

/// `sha256=<hex>` of `body` under `key`.
pub fn signature(key: &Secret, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    pub fn send(&self, receiver: &str, n: &Notification, timeout: Duration) -> Result<(), SendError> {
        let body = body(receiver, n);
        let mut req = http_agent(timeout)
            .post(&self.url)
            .header("Content-Type", "application/json");
        if let Some(key) = &self.secret {
            req = req.header(SIGNATURE_HEADER, &signature(key, &body));
        }
        let secrets: Vec<&Secret> = self.secret.iter().collect();
        let mut resp = req.send(&body[..]).map_err(|e| transport(e, &secrets))?;
        let status = resp.status().as_u16();
        http_outcome(status, &body_text(&mut resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        let sig = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

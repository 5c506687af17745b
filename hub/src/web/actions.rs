//! The dashboard's actions: `GET /actions` says whether they are on; `POST
//! /actions/rigs/{rig}/pause|resume` with `Authorization: Bearer <operator token>` signs the
//! command and queues it for the rig (the same signed path as `hashward-hub command`);
//! `POST /actions/rigs/{rig}/forget` removes a retired rig from the registry (its Home Assistant
//! entities and Prometheus series go with it; its records stay).
//!
//! Off unless `[web] operator_token` and `[commands] signing_key` are both configured. Must never
//! echo or log the token, act on a wrong or missing one, or answer differently for a wrong token
//! and a missing one.

use crate::control::Control;
use crate::metrics::Metrics;
use crate::store::FleetStore;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hashward_protocol::Command;
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
pub struct Actions {
    pub token: Option<String>,
    pub control: Option<Control>,
    pub store: Arc<dyn FleetStore>,
    /// Refusals are counted in `commands_refused`.
    pub metrics: Arc<Metrics>,
}

impl Actions {
    fn enabled(&self) -> bool {
        self.token.is_some() && self.control.is_some()
    }
}

pub fn router(actions: Actions) -> Router {
    Router::new()
        .route("/actions", get(status))
        .route("/actions/rigs/{rig}/{action}", post(act))
        .with_state(actions)
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({"error": message, "code": code}))).into_response()
}

/// Compares without stopping at the first differing byte.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request carries the operator token as a bearer credential.
pub fn authorised(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same_secret(given.trim().as_bytes(), token.as_bytes()))
}

async fn status(State(a): State<Actions>) -> Response {
    Json(json!({"enabled": a.enabled(), "actions": ["pause", "resume", "forget"]})).into_response()
}

async fn act(
    State(a): State<Actions>,
    headers: HeaderMap,
    Path((rig, action)): Path<(String, String)>,
) -> Response {
    let (Some(token), Some(control)) = (&a.token, &a.control) else {
        return error(
            StatusCode::FORBIDDEN,
            "actions_disabled",
            "actions are off: the hub needs [web] operator_token and [commands] signing_key".into(),
        );
    };
    let refused = || Metrics::inc(&a.metrics.commands_refused);
    if !authorised(&headers, token) {
        refused();
        log::warn!("dashboard action {action} on {rig:?} refused: no valid operator token");
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            "an operator token is needed (Authorization: Bearer ...)".into(),
        );
    }
    if action == "forget" {
        return match a.store.forget_rig(&rig) {
            Ok(true) => {
                log::info!("dashboard action: rig {rig:?} forgotten");
                Json(json!({"rig": rig, "forgotten": true})).into_response()
            }
            Ok(false) => {
                refused();
                error(StatusCode::NOT_FOUND, "rig_not_found", format!("no rig {rig:?}"))
            }
            Err(e) => {
                log::error!("store write failed: {e}");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "store_error",
                    "the store could not be written".into(),
                )
            }
        };
    }
    let command = match action.as_str() {
        "pause" => Command::PauseMining,
        "resume" => Command::ResumeMining,
        other => {
            refused();
            return error(
                StatusCode::NOT_FOUND,
                "unknown_action",
                format!("no action {other:?}; known: pause, resume, forget"),
            );
        }
    };
    let entry = match a.store.rig(&rig) {
        Ok(Some(e)) => e,
        Ok(None) => {
            refused();
            return error(StatusCode::NOT_FOUND, "rig_not_found", format!("no rig {rig:?}"));
        }
        Err(e) => {
            log::error!("store read failed: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                "the store could not be read".into(),
            );
        }
    };
    match control.send(&entry.site, &entry.rig, &command) {
        Ok(sent) => {
            log::info!(
                "dashboard action: {} for {}/{} (nonce {})",
                sent.command,
                sent.site,
                sent.rig,
                sent.nonce
            );
            (StatusCode::ACCEPTED, Json(sent)).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "not_sent", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_the_exact_bearer_token_is_authorised() {
        let token = "0123456789abcdef-token";
        let mut h = HeaderMap::new();
        assert!(!authorised(&h, token));
        for (given, ok) in [
            ("Bearer 0123456789abcdef-token", true),
            ("Bearer 0123456789abcdef-tokeN", false),
            ("Bearer 0123456789abcdef-token2", false),
            ("Basic 0123456789abcdef-token", false),
            ("0123456789abcdef-token", false),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(given));
            assert_eq!(authorised(&h, token), ok, "{given}");
        }
    }
}

//! The alerts API: `GET /alerts` (filters `state`, `level`, `site`, `rig`, `kind`, `limit`;
//! newest first), `GET /alerts/{id}`, `POST /alerts/{id}/ack` (`{"by": "..."}`),
//! `GET /silences`, `POST /silences` (`{"matchers": {"kind", "level", "site", "rig",
//! "subject"}, "starts_ms"?, "ends_ms" | "duration_ms", "created_by", "comment"}`),
//! `DELETE /silences/{id}` (expires it), `POST /notifications/test/{receiver}` and
//! `GET /notifications` (the outbox, newest first: status, attempts, last error).
//!
//! Reads the store; changes go through the engine (an [`AlertSink`]), which stores them before
//! answering. Must never show a receiver's secret (the outbox holds messages, not receivers).

use super::ApiError;
use crate::alerts::{AlertSink, AlertState, EngineError, Level, Matchers, Stopped};
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct AlertsApi {
    pub store: Arc<Store>,
    pub sink: AlertSink,
    pub receivers: Arc<Vec<String>>,
}

pub fn router(state: AlertsApi) -> Router {
    Router::new()
        .route("/alerts", get(list))
        .route("/alerts/{id}", get(one))
        .route("/alerts/{id}/ack", post(ack))
        .route("/silences", get(silences).post(add_silence))
        .route("/silences/{id}", delete(expire_silence))
        .route("/notifications", get(notifications))
        .route("/notifications/test/{receiver}", post(test))
        .with_state(state)
}

async fn read<T: Send + 'static>(
    s: &AlertsApi,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = s.store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(r) => Ok(r?),
        Err(e) => {
            log::error!("alerts API store task: {e}");
            Err(stopped())
        }
    }
}

fn stopped() -> ApiError {
    ApiError::other(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the alert engine is not running",
        "service",
        "alerts",
    )
}

impl From<Stopped> for ApiError {
    fn from(_: Stopped) -> ApiError {
        stopped()
    }
}

fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::NoAlert(id) => {
            ApiError::other(StatusCode::NOT_FOUND, "not_found", e.to_string(), "alert", id)
        }
        EngineError::NoSilence(id) => {
            ApiError::other(StatusCode::NOT_FOUND, "not_found", e.to_string(), "silence", id)
        }
        EngineError::NotFiring { id, .. } => {
            ApiError::other(StatusCode::CONFLICT, "not_firing", e.to_string(), "alert", id)
        }
        EngineError::EmptySilence => ApiError::bad_parameter("matchers", e.to_string()),
        EngineError::SilenceWindow => ApiError::bad_parameter("ends_ms", e.to_string()),
    }
}

fn id_param(name: &str, raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_parameter(name, format!("{name} {raw:?} is not a non-negative integer")))
}

async fn list(
    State(s): State<AlertsApi>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let state = match q.get("state") {
        Some(v) => Some(AlertState::parse(v).ok_or_else(|| {
            ApiError::bad_parameter(
                "state",
                format!("state={v:?}: pending, firing, acknowledged, silenced or resolved"),
            )
        })?),
        None => None,
    };
    let level = match q.get("level") {
        Some(v) => Some(Level::parse(v).ok_or_else(|| {
            ApiError::bad_parameter("level", format!("level={v:?}: info, warning or critical"))
        })?),
        None => None,
    };
    let limit = match q.get("limit") {
        Some(v) => id_param("limit", v)? as usize,
        None => 1000,
    };
    let filter = Matchers {
        kind: q.get("kind").cloned(),
        level,
        site: q.get("site").cloned(),
        rig: q.get("rig").cloned(),
        subject: q.get("subject").cloned(),
    };
    let alerts = read(&s, |st| st.alert_state()).await?.alerts;
    let mut out: Vec<_> = alerts
        .into_iter()
        .filter(|a| state.is_none_or(|st| a.state == st) && filter.matches(a))
        .collect();
    out.sort_by_key(|a| std::cmp::Reverse(a.id));
    out.truncate(limit);
    Ok(Json(json!({ "alerts": out })).into_response())
}

async fn one(State(s): State<AlertsApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = id_param("id", &id)?;
    let alerts = read(&s, |st| st.alert_state()).await?.alerts;
    match alerts.into_iter().find(|a| a.id == id) {
        Some(a) => Ok(Json(a).into_response()),
        None => Err(engine_error(EngineError::NoAlert(id))),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AckBody {
    #[serde(default)]
    by: Option<String>,
}

fn json_body<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_parameter("body", format!("not the expected JSON: {e}")))
}

async fn ack(State(s): State<AlertsApi>, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let id = id_param("id", &id)?;
    let b: AckBody = json_body(&body)?;
    let by = b.by.unwrap_or_else(|| "api".into());
    let alert = s.sink.ack(id, by).await?.map_err(engine_error)?;
    Ok(Json(alert).into_response())
}

async fn silences(State(s): State<AlertsApi>) -> Result<Response, ApiError> {
    let now = hashward_common::now_ms();
    let list = read(&s, |st| st.alert_state()).await?.silences;
    let out: Vec<_> = list
        .into_iter()
        .rev()
        .map(|x| {
            let active = x.active_at(now);
            let mut v = json!(x);
            v["active"] = json!(active);
            v
        })
        .collect();
    Ok(Json(json!({ "silences": out })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    #[serde(default)]
    matchers: Matchers,
    starts_ms: Option<u64>,
    ends_ms: Option<u64>,
    duration_ms: Option<u64>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
}

async fn add_silence(State(s): State<AlertsApi>, body: Bytes) -> Result<Response, ApiError> {
    let b: SilenceBody = json_body(&body)?;
    let now = hashward_common::now_ms();
    let starts = b.starts_ms.unwrap_or(now);
    let ends = match (b.ends_ms, b.duration_ms) {
        (Some(e), None) => e,
        (None, Some(d)) => starts.saturating_add(d),
        _ => {
            return Err(ApiError::bad_parameter(
                "ends_ms",
                "give exactly one of ends_ms and duration_ms",
            ))
        }
    };
    let created_by = if b.created_by.is_empty() {
        "api".to_string()
    } else {
        b.created_by
    };
    let silence = s
        .sink
        .silence(b.matchers, (starts, ends), created_by, b.comment)
        .await?
        .map_err(engine_error)?;
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

async fn expire_silence(State(s): State<AlertsApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = id_param("id", &id)?;
    let silence = s.sink.expire_silence(id).await?.map_err(engine_error)?;
    Ok(Json(silence).into_response())
}

async fn notifications(
    State(s): State<AlertsApi>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = match q.get("limit") {
        Some(v) => id_param("limit", v)? as usize,
        None => 200,
    };
    let list = read(&s, move |st| st.outbox_recent(limit)).await?;
    Ok(Json(json!({ "notifications": list })).into_response())
}

async fn test(State(s): State<AlertsApi>, Path(receiver): Path<String>) -> Result<Response, ApiError> {
    if !s.receivers.contains(&receiver) {
        return Err(ApiError::other(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no receiver {receiver:?}; configured: {}", s.receivers.join(", ")),
            "receiver",
            receiver,
        ));
    }
    s.sink.test(receiver.clone()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "receiver": receiver, "queued": true })),
    )
        .into_response())
}

//! The hub's HTTP API (axum): health, rigs, telemetry ranges, fleet tuning hints and Prometheus
//! metrics.
//! Read-only. Errors are JSON `{"error": ..., "code": ...}` with a fitting status; a bad query
//! parameter is a 400 that names it, never a 500.

use crate::metrics::{Gauges, Metrics};
use crate::store::Store;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hashward_protocol::Body;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/rigs", get(rigs))
        .route("/rigs/{rig}", get(rig))
        .route("/rigs/{rig}/{listing}", get(listing))
        .route("/fleet/hints", get(fleet_hints))
        .route("/fleet/config", get(fleet_config))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// An API error: a status and a JSON body `{"error": message, "code": code}`.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", message)
    }

    fn rig_not_found(rig: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "rig_not_found", format!("no rig {rig:?}"))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        log::error!("store read failed: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            "the store could not be read",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.message, "code": self.code })),
        )
            .into_response()
    }
}

async fn health(State(s): State<AppState>) -> Response {
    Json(json!({ "status": "ok", "uptime_s": s.started.elapsed().as_secs(), "version": env!("CARGO_PKG_VERSION") }))
        .into_response()
}

async fn version() -> Response {
    Json(json!({ "version": env!("CARGO_PKG_VERSION"), "wire_schema": hashward_protocol::SCHEMA }))
        .into_response()
}

async fn rigs(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.store.rigs()?).into_response())
}

/// The tuning hints agents start from (seed 004 `TelemSuggestion`s, one per class of hardware).
async fn fleet_hints(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.store.fleet_hints(hashward_common::now_ms())?).into_response())
}

/// Rollout tracking: each scope's pushed version and, per rig, applied / pending / rejected.
async fn fleet_config(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.store.rollout()?).into_response())
}

async fn rig(State(s): State<AppState>, Path(rig): Path<String>) -> Result<Response, ApiError> {
    match s.store.rig(&rig)? {
        Some(r) => Ok(Json(r).into_response()),
        None => Err(ApiError::rig_not_found(&rig)),
    }
}

const DEFAULT_LIMIT: u64 = 1000;
const MAX_LIMIT: u64 = 100_000;

fn param(q: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::bad_parameter(format!("{name}={v:?} is not a non-negative integer"))),
    }
}

/// The record listings under `/rigs/{rig}/`: path segment, the body kind (topic leaf) listed,
/// and the key each record's body is shown under. All take `?from=&to=` (ms since the epoch,
/// inclusive) and `&limit=`.
const LISTINGS: [(&str, &str, &str); 4] = [
    // Host and CPU-miner telemetry.
    ("telemetry", "tele", "telemetry"),
    // Anomaly alerts (seed 000 shape).
    ("alerts", "alert", "alert"),
    // Normalised readings of the ASICs the rig polls.
    ("asics", "asic", "asic"),
    // One inference score per assessed sample.
    ("scores", "score", "score"),
];

async fn listing(
    State(s): State<AppState>,
    Path((rig, listing)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(&(_, kind, key)) = LISTINGS.iter().find(|(segment, _, _)| *segment == listing) else {
        let known: Vec<&str> = LISTINGS.iter().map(|(segment, _, _)| *segment).collect();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no /rigs/{{rig}}/{listing}; known: {}", known.join(", ")),
        ));
    };
    records_of(&s, &rig, &q, kind, key)
}

/// The rig's records of one `kind` (a topic leaf) in `?from=&to=` (ms since the epoch,
/// inclusive), oldest first, at most `&limit=`; each as `{seq, ts_ms, <key>: body}`.
fn records_of(
    s: &AppState,
    rig: &str,
    q: &HashMap<String, String>,
    kind: &'static str,
    key: &'static str,
) -> Result<Response, ApiError> {
    let from = param(q, "from", 0)?;
    let to = param(q, "to", u64::MAX)?;
    let limit = param(q, "limit", DEFAULT_LIMIT)?.min(MAX_LIMIT) as usize;
    if from > to {
        return Err(ApiError::bad_parameter(format!("from {from} is after to {to}")));
    }
    if s.store.rig(rig)?.is_none() {
        return Err(ApiError::rig_not_found(rig));
    }
    let records: Vec<_> = s
        .store
        .records_where(rig, from, to, limit, |b| b.kind() == kind)?
        .into_iter()
        .map(|r| {
            let body = match &r.body {
                Body::Tele(t) => json!(t),
                Body::Asic(a) => json!(a),
                Body::Alert(a) => json!(a),
                Body::Score(sc) => json!(sc),
                other => json!(other),
            };
            let mut v = json!({ "seq": r.seq, "ts_ms": r.ts_ms });
            v[key] = body;
            v
        })
        .collect();
    Ok(Json(json!({ "rig": rig, "records": records })).into_response())
}

async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let rigs = s.store.rigs()?;
    let gauges = Gauges {
        rigs_total: rigs.len() as u64,
        rigs_online: rigs.iter().filter(|r| r.online).count() as u64,
        gaps: rigs.iter().map(|r| r.missing).sum(),
        store_bytes: s.store.size_bytes(),
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(&gauges),
    )
        .into_response())
}

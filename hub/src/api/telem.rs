//! Seed 004's telemetry routes: `GET /telem/suggestions?cpu_model&cores&pow_algo&profile` (the
//! seed's `TelemSuggestion` list, best first), `GET /telem/leaderboard?limit=` (the top
//! configurations per CPU model and algorithm) and `DELETE /telem/my-data` (the telemetry id in
//! the `X-Telemetry-Id` header or a JSON body `{"telemetry_id": ...}`: removes exactly that
//! contribution). Snapshots arrive over MQTT, not here (`POST /telem/miner-stats` is the
//! agents' `perf` topic).
//!
//! Must never answer a missing, malformed or unknown id with anything but a 4xx naming the
//! problem, and never change anything then; never compute here what `telem::aggregate` does.

use super::ApiError;
use crate::store::telem::Forget;
use crate::store::FleetStore;
use crate::telem::aggregate::{self as agg, SuggestionQuery};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use hashward_protocol::TelemetryId;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The header `DELETE /telem/my-data` reads the id from (else the JSON body).
pub const ID_HEADER: &str = "x-telemetry-id";
/// Configurations per CPU model and algorithm in the leaderboard, unless `limit` says otherwise.
const DEFAULT_TOP: usize = 5;
const MAX_TOP: usize = 100;

#[derive(Clone)]
pub struct TelemApi {
    pub store: Arc<dyn FleetStore>,
    /// `now_ms` of the forget tombstones; a parameter so tests can set the time.
    pub now_ms: fn() -> u64,
}

pub fn router(state: TelemApi) -> Router {
    Router::new()
        .route("/telem/suggestions", get(suggestions))
        .route("/telem/leaderboard", get(leaderboard))
        .route("/telem/my-data", delete(forget))
        .with_state(state)
}

async fn suggestions(
    State(s): State<TelemApi>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let cpu_model = q
        .get("cpu_model")
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| ApiError::bad_parameter("cpu_model", "cpu_model is required (the CPU model name)"))?;
    let cores = match q.get("cores") {
        Some(c) => Some(c.trim().parse::<u32>().map_err(|_| {
            ApiError::bad_parameter("cores", format!("cores {c:?} is not a count of logical cores"))
        })?),
        None => None,
    };
    let query = SuggestionQuery {
        cpu_model: cpu_model.clone(),
        cores,
        pow_algo: q.get("pow_algo").cloned(),
        profile: q.get("profile").cloned(),
    };
    Ok(Json(agg::suggestions(&s.store.telem_aggregates()?, &query)).into_response())
}

async fn leaderboard(
    State(s): State<TelemApi>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let top = match q.get("limit") {
        Some(l) => match l.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_TOP).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_parameter(
                    "limit",
                    format!("limit {l:?} must be a whole number in 1..={MAX_TOP}"),
                ))
            }
        },
        None => DEFAULT_TOP,
    };
    let mut board = agg::leaderboard(&s.store.telem_aggregates()?, top);
    if let Some(algo) = q.get("pow_algo") {
        board.retain(|e| &e.pow_algo == algo);
    }
    Ok(Json(json!({ "cpu_models": board, "per_model": top })).into_response())
}

/// The id a forget request names, or the 400 saying what is wrong with it.
fn requested_id(headers: &HeaderMap, body: &Bytes) -> Result<TelemetryId, ApiError> {
    let bad = |msg: String| ApiError::bad_parameter("telemetry_id", msg);
    let from_header = match headers.get(ID_HEADER) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| bad(format!("header {ID_HEADER} is not text")))?
                .to_string(),
        ),
        None => None,
    };
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            bad(format!(
                "body is not JSON ({e}); send {{\"telemetry_id\": \"<32 hex digits>\"}}"
            ))
        })?;
        match v.get("telemetry_id") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad("telemetry_id in the body must be a string".into())),
            None => return Err(bad("the JSON body has no telemetry_id".into())),
        }
    };
    let text = match (from_header, from_body) {
        (Some(h), Some(b)) if h.trim() != b.trim() => {
            return Err(bad(format!(
                "header {ID_HEADER} and the body name different telemetry ids"
            )))
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => {
            return Err(bad(format!(
                "no telemetry id: send it in the {ID_HEADER} header or as {{\"telemetry_id\": ...}}"
            )))
        }
    };
    text.parse::<TelemetryId>().map_err(|e| bad(e.to_string()))
}

async fn forget(State(s): State<TelemApi>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let refused = |e: ApiError| {
        s.store
            .telem_counters()
            .forget_refused
            .fetch_add(1, Ordering::Relaxed);
        e
    };
    let id = requested_id(&headers, &body).map_err(refused)?;
    match s.store.telem_forget(&id, (s.now_ms)())? {
        Forget::Removed {
            contributions,
            aggregates_removed,
        } => {
            log::info!("telemetry: forgot one contribution id ({contributions} configuration(s))");
            Ok(Json(json!({
                "telemetry_id": id.to_string(),
                "removed_contributions": contributions,
                "removed_aggregates": aggregates_removed,
            }))
            .into_response())
        }
        Forget::Unknown => Err(refused(ApiError::other(
            StatusCode::NOT_FOUND,
            "unknown_telemetry_id",
            "no contribution under this telemetry id (never received, expired or already forgotten); nothing changed",
            "telemetry_id",
            id.to_string(),
        ))),
    }
}

//! The collectors' HTTP resources: `/market` (every followed coin's served record),
//! `/market/{coin}`, `/market/{coin}/history?from&to&interval&limit` (`from`/`to` Unix ms,
//! `interval` `raw`, `1h` or `1d`; oldest first, the newest `limit` when more match), `/market/global` and `/sources` (each source's state, last
//! success, last error, latency, budget and next poll).
//!
//! Must never show a key (statuses hold none) or answer a bad parameter with a 500.

use super::service::CollectState;
use crate::api::ApiError;
use crate::store::market::Interval;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hashward_common::clock::now_ms;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

const MAX_LIMIT: u64 = 5000;

pub fn router(state: Arc<CollectState>) -> Router {
    Router::new()
        .route("/market", get(market))
        .route("/market/global", get(global))
        .route("/market/{coin}", get(market_coin))
        .route("/market/{coin}/history", get(history))
        .route("/sources", get(sources))
        .route("/tariffs", get(tariffs))
        .with_state(state)
}

async fn market(State(s): State<Arc<CollectState>>) -> Response {
    let now = now_ms();
    let views = s.market(now);
    let missing: Vec<&str> = s
        .coins
        .iter()
        .map(|c| c.id)
        .filter(|id| !views.iter().any(|v| v.data.coin.id == *id))
        .collect();
    Json(json!({ "market_data": views, "no_data_yet": missing, "generated_at_ms": now })).into_response()
}

async fn market_coin(
    State(s): State<Arc<CollectState>>,
    Path(coin): Path<String>,
) -> Result<Response, ApiError> {
    if super::coins::lookup(&coin).is_none() {
        return Err(ApiError::not_found("coin", &coin));
    }
    match s.market_coin(&coin, now_ms()) {
        Some(v) => Ok(Json(json!({ "market_data": v })).into_response()),
        None => Err(ApiError::not_found("coin", &coin)),
    }
}

async fn global(State(s): State<Arc<CollectState>>) -> Result<Response, ApiError> {
    match s.global() {
        Some(g) => Ok(Json(g).into_response()),
        None => Err(ApiError::not_found("global", "market metrics")),
    }
}

fn param(q: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_parameter(name, format!("{name} must be a non-negative integer, not {v:?}"))
        }),
    }
}

async fn history(
    State(s): State<Arc<CollectState>>,
    Path(coin): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(row) = super::coins::lookup(&coin) else {
        return Err(ApiError::not_found("coin", &coin));
    };
    let interval = match q.get("interval").map(String::as_str) {
        None | Some("1d" | "daily") => Interval::Daily,
        Some("1h" | "hourly") => Interval::Hourly,
        Some("raw") => Interval::Raw,
        Some(other) => {
            return Err(ApiError::bad_parameter(
                "interval",
                format!("interval must be raw, 1h or 1d, not {other:?}"),
            ))
        }
    };
    let from = param(&q, "from", 0)?;
    let to = param(&q, "to", u64::MAX)?;
    let limit = param(&q, "limit", 1000)?.min(MAX_LIMIT) as usize;
    if from > to {
        return Err(ApiError::bad_parameter(
            "from",
            format!("from {from} is after to {to}"),
        ));
    }
    // A range read of one coin's keys: short enough to run on the request's task.
    let points = s.store.market_history(row.id, from, to, interval, limit)?;
    let interval = match interval {
        Interval::Raw => "raw",
        Interval::Hourly => "1h",
        Interval::Daily => "1d",
    };
    Ok(Json(json!({ "coin": row.id, "interval": interval, "points": points })).into_response())
}

async fn sources(State(s): State<Arc<CollectState>>) -> Response {
    Json(json!({ "sources": s.statuses(), "now_ms": now_ms() })).into_response()
}

async fn tariffs(State(s): State<Arc<CollectState>>) -> Response {
    let now = now_ms();
    Json(json!({ "tariffs": s.tariffs(now), "now_ms": now })).into_response()
}

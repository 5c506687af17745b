//! Seed 003's score API, read-only: networks, dates, alert scores, rankings, cluster scores and
//! the training data summary, in single-network form (`/scores/alerts/{processing_date}`, the
//! default network; `?network=` also accepted) and multi-network form
//! (`/scores/alerts/{network}/{processing_date}`). `latest` stands for the newest COMPLETED
//! date. `limit` (default 10000, at most 100000) and `offset` page the large lists; totals
//! always count the whole batch. Errors are the seed's: `{"detail": text}` for 404 and 500, the
//! `loc/msg/type` list for 422.
//!
//! Must never serve a date without a COMPLETED batch, score anything at request time, or put an
//! internal error's text in a response.

use super::AppState;
use crate::models::{read_all, read_model, ServedModel};
use crate::scores::date::{rfc3339, ProcessingDate};
use crate::scores::{LatestCache, COMMIT_HASH, GITHUB_URL};
use crate::store::scores::{BatchMeta, ScoresRead};
use crate::store::StoreError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub const DEFAULT_LIMIT: usize = 10_000;
pub const MAX_LIMIT: usize = 100_000;
/// The score model types of seed 003, in its order.
pub const MODEL_TYPES: [&str; 3] = ["alert_scorer", "alert_ranker", "cluster_scorer"];

/// What the score routes read.
pub struct ScoresApi {
    pub store: Arc<dyn ScoresRead>,
    /// One: single-network; several: multi-network, the first is the default.
    pub networks: Vec<String>,
    pub models_dir: Option<PathBuf>,
    pub cache: Arc<LatestCache>,
}

/// A seed-shaped error.
#[derive(Debug)]
pub enum SeedError {
    NotFound(String),
    Invalid { loc: [&'static str; 2], msg: String },
    Internal,
}

impl From<StoreError> for SeedError {
    fn from(e: StoreError) -> SeedError {
        log::error!("score API store read failed: {e}");
        SeedError::Internal
    }
}

impl IntoResponse for SeedError {
    fn into_response(self) -> Response {
        match self {
            SeedError::NotFound(detail) => (StatusCode::NOT_FOUND, Json(json!({ "detail": detail }))),
            SeedError::Invalid { loc, msg } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "detail": [{ "loc": loc, "msg": msg, "type": "value_error" }] })),
            ),
            SeedError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "detail": "Database read failed" })),
            ),
        }
        .into_response()
    }
}

type Q = Query<HashMap<String, String>>;

impl SeedError {
    /// Bad input from the client (as opposed to "no such batch" or a store failure).
    fn is_bad_input(&self) -> bool {
        matches!(self, SeedError::Invalid { .. })
            || matches!(self, SeedError::NotFound(d) if d.starts_with("Network not found"))
    }
}

/// Counts a request refused for bad input in `/metrics`, then passes the result on.
fn counted<T>(s: &AppState, r: Result<T, SeedError>) -> Result<T, SeedError> {
    if let Err(e) = &r {
        if e.is_bad_input() {
            crate::metrics::Metrics::inc(&s.metrics.score_api_bad_requests);
        }
    }
    r
}

fn bad_date() -> SeedError {
    SeedError::Invalid {
        loc: ["path", "processing_date"],
        msg: "Invalid date format. Use YYYY-MM-DD".into(),
    }
}

fn no_scores(date: &str) -> SeedError {
    SeedError::NotFound(format!("No scores found for processing_date: {date}"))
}

impl ScoresApi {
    /// The network a request is about: the path's, else `?network=`, else the default.
    fn network(&self, path: Option<&str>, q: &HashMap<String, String>) -> Result<String, SeedError> {
        let n = path
            .or(q.get("network").map(String::as_str))
            .unwrap_or_else(|| self.networks.first().map_or("", String::as_str));
        if self.networks.iter().any(|x| x == n) {
            Ok(n.to_string())
        } else {
            Err(SeedError::NotFound(format!("Network not found: {n}")))
        }
    }

    fn latest(&self, network: &str) -> Result<Option<ProcessingDate>, SeedError> {
        Ok(self.cache.get_or(network, || {
            self.store.completed_dates(network).map(|d| d.first().copied())
        })?)
    }

    /// The COMPLETED batch for `date` (`latest` or YYYY-MM-DD) of `network`.
    fn batch(&self, network: &str, date: &str) -> Result<(ProcessingDate, BatchMeta), SeedError> {
        let d = if date == "latest" {
            self.latest(network)?.ok_or_else(|| {
                SeedError::NotFound("No scores found: no processing_date is COMPLETED".into())
            })?
        } else {
            ProcessingDate::parse(date).map_err(|_| bad_date())?
        };
        let meta = self
            .store
            .visible_batch(network, d)?
            .ok_or_else(|| no_scores(&d.to_string()))?;
        Ok((d, meta))
    }

    /// The served models by type (none without a models directory; damaged ones are logged).
    fn models(&self) -> HashMap<String, ServedModel> {
        let Some(dir) = &self.models_dir else {
            return HashMap::new();
        };
        read_all(dir)
            .unwrap_or_else(|e| {
                log::error!("score API: models: {e}");
                Vec::new()
            })
            .into_iter()
            .filter(|m| MODEL_TYPES.contains(&m.model_type.as_str()))
            .map(|m| (m.model_type.clone(), m))
            .collect()
    }

    /// Version per seed model type: the served models', else those of the latest batch. The
    /// ranker is the scorer's order, so it carries the scorer's version.
    fn versions(&self, network: &str) -> Result<serde_json::Map<String, Value>, SeedError> {
        let models = self.models();
        let mut out = serde_json::Map::new();
        if let Some(s) = models.get("alert_scorer") {
            let v = s.metadata["model_version"].clone();
            out.insert("alert_scorer".into(), v.clone());
            out.insert("alert_ranker".into(), v);
        }
        if let Some(c) = models.get("cluster_scorer") {
            out.insert("cluster_scorer".into(), c.metadata["model_version"].clone());
        }
        if out.is_empty() {
            if let Some(d) = self.latest(network)? {
                if let Some(m) = self.store.visible_batch(network, d)? {
                    out.insert("alert_scorer".into(), json!(m.model_versions_alert_scorer));
                    out.insert("alert_ranker".into(), json!(m.model_versions_alert_ranker));
                    out.insert("cluster_scorer".into(), json!(m.model_versions_cluster_scorer));
                }
            }
        }
        Ok(out)
    }
}

fn page(q: &HashMap<String, String>) -> Result<(usize, usize), SeedError> {
    let get = |name: &'static str, default: usize, max: usize| -> Result<usize, SeedError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(SeedError::Invalid {
                    loc: ["query", name],
                    msg: format!("{name} must be an integer from 0 to {max}"),
                }),
            },
        }
    };
    Ok((
        get("limit", DEFAULT_LIMIT, MAX_LIMIT)?,
        get("offset", 0, usize::MAX)?,
    ))
}

fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}

fn avg(total: f64, n: u32) -> f64 {
    if n == 0 {
        0.0
    } else {
        round(total / f64::from(n), 4)
    }
}

/// The date part of `2026-12-02T09:00:00Z`.
fn date_of(ts: &Value) -> Value {
    ts.as_str()
        .and_then(|s| s.get(..10))
        .map_or(Value::Null, |d| json!(d))
}

pub(super) async fn health(State(s): State<AppState>) -> Response {
    let connected = s.scores.store.completed_dates("").is_ok();
    Json(json!({
        "status": "healthy",
        "timestamp": rfc3339(hashward_common::clock::now_ms()),
        "version": env!("CARGO_PKG_VERSION"),
        "database_connected": connected,
        "uptime_s": s.started.elapsed().as_secs(),
        // The hub's own: a publisher that bypasses the agents waits for this before sending.
        "ingest_subscribed": s.metrics.ingest_subscribed.load(std::sync::atomic::Ordering::Relaxed),
    }))
    .into_response()
}

pub(super) async fn version(State(s): State<AppState>) -> Result<Response, SeedError> {
    let api = &s.scores;
    let default = api.networks.first().cloned().unwrap_or_default();
    Ok(Json(json!({
        "api_version": env!("CARGO_PKG_VERSION"),
        "models": api.versions(&default)?,
        "network": default,
        "networks": api.networks,
        "github_url": GITHUB_URL,
        "commit_hash": COMMIT_HASH,
        "version": env!("CARGO_PKG_VERSION"),
        "wire_schema": hashward_protocol::SCHEMA,
    }))
    .into_response())
}

fn miner_type(api: &ScoresApi) -> &'static str {
    if api.networks.len() == 1 {
        "single-network"
    } else {
        "multi-network"
    }
}

pub(super) async fn networks(State(s): State<AppState>) -> Result<Json<Value>, SeedError> {
    let api = &s.scores;
    let trained = api
        .models()
        .get("alert_scorer")
        .map(|m| date_of(&m.metadata["trained_at"]));
    let mut out = Vec::new();
    for n in &api.networks {
        let batches = api.store.visible_batches(n)?;
        out.push(json!({
            "network": n,
            "status": "active",
            "latest_processing_date": batches.last().map(|b| b.processing_date.clone()),
            "model_versions": api.versions(n)?,
            "total_alerts_scored": batches.iter().map(|b| u64::from(b.output_counts_alert_scores)).sum::<u64>(),
            "last_training_date": trained.clone().unwrap_or(Value::Null),
        }));
    }
    Ok(Json(json!({
        "networks": out,
        "total_networks": api.networks.len(),
        "miner_type": miner_type(api),
    })))
}

pub(super) async fn network(
    State(s): State<AppState>,
    Path(network): Path<String>,
) -> Result<Json<Value>, SeedError> {
    let api = &s.scores;
    let n = counted(&s, api.network(Some(&network), &HashMap::new()))?;
    let batches = api.store.visible_batches(&n)?;
    let models = api.models();
    let entry = |mt: &str, from: &str| -> Value {
        let Some(m) = models.get(from) else {
            return Value::Null;
        };
        let mut e = json!({ "version": m.metadata["model_version"], "trained_at": m.metadata["trained_at"] });
        if mt == "alert_scorer" {
            e["performance"] = json!({ "val_auc": m.metadata["performance"]["val_auc"] });
        }
        e
    };
    let mut versions = serde_json::Map::new();
    for (mt, from) in [
        ("alert_scorer", "alert_scorer"),
        ("alert_ranker", "alert_scorer"),
        ("cluster_scorer", "cluster_scorer"),
    ] {
        let e = entry(mt, from);
        if !e.is_null() {
            versions.insert(mt.into(), e);
        }
    }
    let last_training = models
        .get("alert_scorer")
        .map_or(Value::Null, |m| date_of(&m.metadata["trained_at"]));
    // Weekly retraining runs on Sundays (the seed's cron): the first Sunday after the last one.
    let next_training = last_training
        .as_str()
        .and_then(|d| ProcessingDate::parse(d).ok())
        .map(|d| {
            // 1970-01-01 was a Thursday: days % 7 == 3 is a Sunday.
            let ahead = (3 + 7 - d.days() % 7) % 7;
            json!(d.plus_days(if ahead == 0 { 7 } else { ahead }).to_string())
        })
        .unwrap_or(Value::Null);
    let alerts: u64 = batches
        .iter()
        .map(|b| u64::from(b.output_counts_alert_scores))
        .sum();
    let clusters: u64 = batches
        .iter()
        .map(|b| u64::from(b.output_counts_cluster_scores))
        .sum();
    let dates: Vec<&str> = batches.iter().rev().map(|b| b.processing_date.as_str()).collect();
    Ok(Json(json!({
        "network": n,
        "status": "active",
        "latest_processing_date": dates.first(),
        "available_dates": dates,
        "total_dates": dates.len(),
        "model_versions": versions,
        "statistics": {
            "total_alerts_scored": alerts,
            "total_clusters_scored": clusters,
            "avg_alerts_per_day": if dates.is_empty() { 0 } else { alerts / dates.len() as u64 },
            "first_date": dates.last(),
            "last_date": dates.first(),
        },
        "last_training_date": last_training,
        "next_training_date": next_training,
    })))
}

pub(super) async fn dates_available(
    State(s): State<AppState>,
    Query(q): Q,
) -> Result<Json<Value>, SeedError> {
    let n = counted(&s, s.scores.network(None, &q))?;
    let dates: Vec<String> = s
        .scores
        .store
        .completed_dates(&n)?
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(
        json!({ "total_count": dates.len(), "dates": dates, "network": n }),
    ))
}

pub(super) async fn dates_latest(State(s): State<AppState>, Query(q): Q) -> Result<Json<Value>, SeedError> {
    let n = counted(&s, s.scores.network(None, &q))?;
    let (d, meta) = s.scores.batch(&n, "latest")?;
    Ok(Json(json!({
        "latest_date": d.to_string(),
        "processed_at": rfc3339(meta.updated_ms),
        "network": n,
    })))
}

/// The three list endpoints: which one, and the path's (network, date).
#[derive(Clone, Copy)]
enum List {
    AlertScores,
    Rankings,
    ClusterScores,
}

fn list(
    s: &AppState,
    which: List,
    network: Option<&str>,
    date: &str,
    q: &HashMap<String, String>,
) -> Result<Value, SeedError> {
    let api = &s.scores;
    let n = api.network(network, q)?;
    let (d, meta) = api.batch(&n, date)?;
    let (limit, offset) = page(q)?;
    let processed_at = rfc3339(meta.updated_ms);
    let mut v = match which {
        List::AlertScores => {
            let rows = api.store.alert_scores(&n, d, offset, limit)?;
            json!({
                "processing_date": d.to_string(),
                "model_version": meta.model_versions_alert_scorer,
                "total_alerts": meta.output_counts_alert_scores,
                "scores": rows.iter().map(|(id, s, l)| json!({"alert_id": id, "score": s, "latency_ms": round(*l, 4)})).collect::<Vec<_>>(),
                "metadata": {
                    "processed_at": processed_at,
                    "total_latency_ms": meta.alert_latency_ms_total.round() as u64,
                    "avg_latency_ms": avg(meta.alert_latency_ms_total, meta.output_counts_alert_scores),
                },
            })
        }
        List::Rankings => {
            let rows = api.store.rankings(&n, d, offset, limit)?;
            json!({
                "processing_date": d.to_string(),
                "model_version": meta.model_versions_alert_ranker,
                "total_alerts": meta.output_counts_alert_rankings,
                "rankings": rows.iter().map(|(r, id, s)| json!({"alert_id": id, "rank": r, "score": s})).collect::<Vec<_>>(),
                "metadata": { "processed_at": processed_at },
            })
        }
        List::ClusterScores => {
            let rows = api.store.cluster_scores(&n, d, offset, limit)?;
            json!({
                "processing_date": d.to_string(),
                "model_version": meta.model_versions_cluster_scorer,
                "total_clusters": meta.output_counts_cluster_scores,
                "scores": rows.iter().map(|(id, s, l)| json!({"cluster_id": id, "score": s, "latency_ms": round(*l, 4)})).collect::<Vec<_>>(),
                "metadata": {
                    "processed_at": processed_at,
                    "total_latency_ms": meta.cluster_latency_ms_total.round() as u64,
                    "avg_latency_ms": avg(meta.cluster_latency_ms_total, meta.output_counts_cluster_scores),
                },
            })
        }
    };
    v["network"] = json!(n);
    v["limit"] = json!(limit);
    v["offset"] = json!(offset);
    Ok(v)
}

macro_rules! list_handlers {
    ($one:ident, $two:ident, $which:expr) => {
        pub(super) async fn $one(
            State(s): State<AppState>,
            Path(date): Path<String>,
            Query(q): Q,
        ) -> Result<Json<Value>, SeedError> {
            counted(&s, list(&s, $which, None, &date, &q)).map(Json)
        }

        pub(super) async fn $two(
            State(s): State<AppState>,
            Path((network, date)): Path<(String, String)>,
            Query(q): Q,
        ) -> Result<Json<Value>, SeedError> {
            counted(&s, list(&s, $which, Some(&network), &date, &q)).map(Json)
        }
    };
}

list_handlers!(alert_scores, alert_scores_of, List::AlertScores);
list_handlers!(rankings, rankings_of, List::Rankings);
list_handlers!(cluster_scores, cluster_scores_of, List::ClusterScores);

/// `/training/data-summary/{processing_date}`: the training run of `alert_scorer` that
/// completed on that date (the date is the training date, as in the seed).
pub(super) async fn training_summary(
    State(s): State<AppState>,
    Path(date): Path<String>,
) -> Result<Json<Value>, SeedError> {
    let d = counted(&s, ProcessingDate::parse(&date).map_err(|_| bad_date()))?;
    let none = || SeedError::NotFound(format!("No training run found for processing_date: {d}"));
    let dir = s.scores.models_dir.as_ref().ok_or_else(none)?;
    let m = read_model(dir, "alert_scorer").map_err(|e| {
        log::warn!("training summary: {e}");
        none()
    })?;
    let md = &m.metadata;
    if date_of(&md["trained_at"]).as_str() != Some(d.to_string().as_str()) {
        return Err(none());
    }
    let td = &md["training_data"];
    let ts = &md["training_summary"];
    Ok(Json(json!({
        "training_date": d.to_string(),
        "model_version": md["model_version"],
        "data_window": {
            "start_date": td["start_date"],
            "end_date": td["end_date"],
            "window_days": td["window_days"],
            "num_processing_dates": ts["num_processing_dates"],
        },
        "samples": {
            "total": td["num_samples"],
            "positive": td["num_positive"],
            "negative": td["num_negative"],
            "positive_rate": td["positive_rate"],
        },
        "features": {
            "total_features": td["num_features"],
            "feature_groups": ts["feature_groups"],
        },
        "data_sources": {
            "alerts_table": "simulated incidents (models/train/scores_train.py)",
            "features_table": "hub/src/scores/features.rs ALERT_FEATURES",
            "clusters_table": "hub/src/scores/cluster.rs",
            "money_flows_table": "none (not a mining concept)",
            "labels_table": "scenario ground truth, 3 % flipped",
        },
        "label_distribution": ts["label_distribution"],
    })))
}

#[cfg(test)]
#[path = "scores_tests.rs"]
mod tests;

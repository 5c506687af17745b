//! `/rigs`, `/rigs/{rig}` and the record listings under `/rigs/{rig}/` (telemetry, alerts,
//! asics, scores, advice, depin), each `?from=&to=` (ms since the epoch, inclusive) and `&limit=`.
//!
//! `/rigs` with no parameter answers every rig as a JSON array (as before issue 20). With
//! `limit` or `cursor` it answers one page, `{"rigs": [...], "next_cursor": "<rig>"|null}`, in
//! rig-id order; `site=`, `online=true|false` and `q=` (a case-insensitive substring of the rig
//! id, site or CPU model) filter either form.
//!
//! Must never decode a rig's other kinds of records to list one kind: listings read the store's
//! (rig, kind, time) index.

use super::{ApiError, AppState};
use crate::store::rig_query::{RigQuery, DEFAULT_PAGE, MAX_PAGE};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hashward_protocol::Body;
use serde_json::json;
use std::collections::HashMap;

const RIG_PARAMS: [&str; 5] = ["site", "online", "q", "limit", "cursor"];

pub(super) async fn list(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if let Some(unknown) = q.keys().find(|k| !RIG_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::bad_parameter(
            unknown,
            format!("unknown parameter {unknown:?} (known: {})", RIG_PARAMS.join(", ")),
        ));
    }
    let online = match q.get("online").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::bad_parameter(
                "online",
                format!("online={v:?} is not true or false"),
            ))
        }
    };
    let paged = q.contains_key("limit") || q.contains_key("cursor");
    let limit = param(&q, "limit", DEFAULT_PAGE as u64)?;
    if paged && (limit == 0 || limit > MAX_PAGE as u64) {
        return Err(ApiError::bad_parameter(
            "limit",
            format!("limit={limit} is outside 1..={MAX_PAGE}"),
        ));
    }
    let query = RigQuery {
        site: q.get("site").cloned(),
        online,
        text: q.get("q").cloned(),
        after: q.get("cursor").cloned(),
        limit: limit as usize,
    };
    if !paged {
        let mut rigs = s.store.rigs()?;
        rigs.retain(|e| query.matches_entry(e));
        return Ok(Json(rigs).into_response());
    }
    Ok(Json(s.store.rigs_page(&query)?).into_response())
}

pub(super) async fn one(State(s): State<AppState>, Path(rig): Path<String>) -> Result<Response, ApiError> {
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
        Some(v) => v.parse::<u64>().map_err(|_| {
            ApiError::bad_parameter(name, format!("{name}={v:?} is not a non-negative integer"))
        }),
    }
}

/// The listings: path segment, the body kind (topic leaf) listed, and the key each record's
/// body is shown under.
const LISTINGS: [(&str, &str, &str); 6] = [
    // Host and CPU-miner telemetry.
    ("telemetry", "tele", "telemetry"),
    // Anomaly alerts.
    ("alerts", "alert", "alert"),
    // Normalised readings of the ASICs the rig polls.
    ("asics", "asic", "asic"),
    // One inference score per assessed sample.
    ("scores", "score", "score"),
    // Power-target advice for the rig's ASICs, from its efficiency model.
    ("advice", "advice", "advice"),
    // DePIN node reports (Storj, Golem, Streamr), one per poll; `/depin` has the latest.
    ("depin", "depin", "depin"),
];

/// The rig's records of one kind in `?from=&to=`, oldest first, at most `&limit=`; each as
/// `{seq, ts_ms, <key>: body}`.
pub(super) async fn listing(
    State(s): State<AppState>,
    Path((rig, listing)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(&(_, kind, key)) = LISTINGS.iter().find(|(segment, _, _)| *segment == listing) else {
        let known: Vec<&str> = LISTINGS.iter().map(|(segment, _, _)| *segment).collect();
        return Err(ApiError::listing_not_found(&listing, &known));
    };
    let from = param(&q, "from", 0)?;
    let to = param(&q, "to", u64::MAX)?;
    let limit = param(&q, "limit", DEFAULT_LIMIT)?.min(MAX_LIMIT) as usize;
    if from > to {
        return Err(ApiError::bad_parameter(
            "from",
            format!("from {from} is after to {to}"),
        ));
    }
    if s.store.rig(&rig)?.is_none() {
        return Err(ApiError::rig_not_found(&rig));
    }
    let records: Vec<_> = s
        .store
        .records_of_kind(&rig, kind, from, to, limit)?
        .into_iter()
        .map(|r| {
            let body = match &r.body {
                Body::Tele(t) => json!(t),
                Body::Asic(a) => json!(a),
                Body::Alert(a) => json!(a),
                Body::Score(sc) => json!(sc),
                Body::Advice(a) => json!(a),
                Body::Depin(d) => json!(d),
                other => json!(other),
            };
            let mut v = json!({ "seq": r.seq, "ts_ms": r.ts_ms });
            v[key] = body;
            v
        })
        .collect();
    Ok(Json(json!({ "rig": rig, "records": records })).into_response())
}

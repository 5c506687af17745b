//! The allocation service's routes: `GET /allocation` (per rig and ASIC the current, proposed
//! and decided target with the alternatives and the assignment's state; per site the power now
//! and decided against its cap, the verdict and the seed's criteria; mode and cycle times),
//! `GET /allocation/history?limit=&before=` (stored decisions, newest first; `before` is a
//! `decided_ms`), `POST /sites/{site}/curtail` (`{"reduce_kw": X, "minutes": Y}`, demand
//! response, with the operator token).
//!
//! Must never change anything on a GET, act on a curtail request without the operator token,
//! or answer bad input with anything but a 4xx naming the field.

use crate::alloc::service::{CurtailRequest, DecisionRecord};
use crate::alloc::Shared;
use crate::store::StoreRead;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hashward_econ::alloc::curtail::{CurtailError, CurtailState};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Most decisions one history page holds.
pub const MAX_HISTORY: usize = 500;
const DEFAULT_HISTORY: usize = 20;

#[derive(Clone)]
pub struct AllocationApi {
    /// `None`: no `[allocation]` section, the service is off.
    pub shared: Option<Arc<Shared>>,
    pub fleet: Arc<dyn StoreRead>,
    pub operator_token: Option<String>,
}

pub fn router(api: AllocationApi) -> Router {
    Router::new()
        .route("/allocation", get(current))
        .route("/allocation/history", get(history))
        .route("/sites/{site}/curtail", post(curtail))
        .with_state(api)
}

fn error(status: StatusCode, field: &str, detail: String) -> Response {
    (status, Json(json!({"detail": detail, "field": field}))).into_response()
}

fn off() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "allocation",
        "the allocation service is off: hub.toml has no [allocation] section".into(),
    )
}

/// The view of one decision with the assignments as they stand.
pub fn view(
    shared: &Shared,
    rec: Option<&DecisionRecord>,
    assignments: &BTreeMap<String, crate::alloc::apply::Assignment>,
) -> Value {
    let s = &shared.settings;
    let interval_s = s.interval.as_secs();
    let mut out = json!({
        "mode": s.mode,
        "interval_s": interval_s,
        "ack_timeout_s": s.ack_timeout.as_secs(),
        "leader": shared.leader.is_leader(),
        "last_cycle_unix": Value::Null,
        "next_cycle_unix": Value::Null,
        "miners": [],
        "sites": {},
    });
    let Some(rec) = rec else {
        return out;
    };
    let d = &rec.decision;
    let last = d["now_unix"].as_i64().unwrap_or((rec.decided_ms / 1000) as i64);
    let miners: Vec<Value> = rec
        .inputs
        .rigs
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "site": r.site,
                "current_target": rec.inputs.current.get(&r.id).map(|a| a.target.clone()),
                "proposed_target": d["proposed"][&r.id]["target"],
                "decided_target": d["allocation"][&r.id]["target"],
                "alternatives": d["alternatives"][&r.id],
                "assignment": assignments.get(&r.id),
            })
        })
        .collect();
    let mut sites = Map::new();
    if let Some(m) = d["sites"].as_object() {
        for (name, sd) in m {
            let mut v = sd.clone();
            let cap = sd["power_cap_kw"].as_f64();
            let decided = sd["decided_power_kw"].as_f64().unwrap_or(0.0);
            v["utilisation_pct"] = match cap {
                Some(c) if c > 0.0 => json!(decided / c * 100.0),
                _ => Value::Null,
            };
            sites.insert(name.clone(), v);
        }
    }
    out["last_cycle_unix"] = json!(last);
    out["next_cycle_unix"] = json!(last + interval_s as i64);
    out["decided_ms"] = json!(rec.decided_ms);
    out["miners"] = Value::Array(miners);
    out["sites"] = Value::Object(sites);
    for k in [
        "expected_profit_usd_h",
        "market_used",
        "held_back",
        "solver_error",
        "utilisation_pct",
    ] {
        out[k] = d[k].clone();
    }
    out["excluded"] = json!(rec.excluded);
    out["missing_inputs"] = json!(rec.missing_inputs);
    out
}

async fn current(State(api): State<AllocationApi>) -> Response {
    let Some(shared) = &api.shared else {
        return off();
    };
    let (rec, assignments) = shared.snapshot();
    Json(view(shared, rec.as_ref(), &assignments)).into_response()
}

async fn history(State(api): State<AllocationApi>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let Some(shared) = api.shared.clone() else {
        return off();
    };
    let mut limit = DEFAULT_HISTORY;
    let mut before = None;
    for (k, v) in &q {
        match k.as_str() {
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_HISTORY).contains(&n) => limit = n,
                _ => {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "limit",
                        format!("must be an integer 1..={MAX_HISTORY}, got {v:?}"),
                    )
                }
            },
            "before" => match v.parse::<u64>() {
                Ok(n) => before = Some(n),
                Err(_) => {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "before",
                        format!("must be a decided_ms (integer milliseconds), got {v:?}"),
                    )
                }
            },
            other => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    other,
                    "unknown parameter (limit, before)".into(),
                )
            }
        }
    }
    let read = tokio::task::spawn_blocking(move || {
        shared.store.allocation_decisions::<DecisionRecord>(before, limit)
    })
    .await;
    match read {
        Ok(Ok(decisions)) => Json(json!({"decisions": decisions})).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

/// The sites the hub knows: configured, decided on, or in the rig registry.
fn known_sites(api: &AllocationApi, shared: &Shared) -> BTreeSet<String> {
    let mut sites: BTreeSet<String> = shared.settings.power_cap_kw.keys().cloned().collect();
    sites.extend(shared.settings.policy.sites.keys().cloned());
    if let Some(rec) = shared.snapshot().0 {
        sites.extend(rec.inputs.sites.keys().cloned());
    }
    match api.fleet.rigs() {
        Ok(rigs) => sites.extend(rigs.into_iter().map(|r| r.site.as_str().to_string())),
        Err(e) => log::warn!("curtail: reading the rig registry: {e}"),
    }
    sites
}

async fn curtail(
    State(api): State<AllocationApi>,
    headers: HeaderMap,
    Path(site): Path<String>,
    body: Bytes,
) -> Response {
    let Some(shared) = api.shared.clone() else {
        return off();
    };
    let Some(token) = &api.operator_token else {
        return error(
            StatusCode::FORBIDDEN,
            "authorization",
            "curtail requests need [web] operator_token".into(),
        );
    };
    if !crate::web::actions::authorised(&headers, token) {
        return error(
            StatusCode::UNAUTHORIZED,
            "authorization",
            "a valid operator token is required (Authorization: Bearer ...)".into(),
        );
    }
    let sites = {
        let (api, shared) = (api.clone(), shared.clone());
        tokio::task::spawn_blocking(move || known_sites(&api, &shared))
            .await
            .unwrap_or_default()
    };
    if !sites.contains(&site) {
        return error(
            StatusCode::NOT_FOUND,
            "site",
            format!("no site {site:?} at this hub"),
        );
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(m)) => Value::Object(m),
        Ok(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "body",
                "must be a JSON object".into(),
            )
        }
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "body", format!("not JSON: {e}")),
    };
    if let Some(k) = v
        .as_object()
        .and_then(|m| m.keys().find(|k| !["reduce_kw", "minutes"].contains(&k.as_str())))
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            k,
            "unknown field (reduce_kw, minutes)".into(),
        );
    }
    let Some(reduce_kw) = v["reduce_kw"].as_f64() else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reduce_kw",
            "must be a number of kW > 0".into(),
        );
    };
    let Some(minutes) = v["minutes"].as_i64() else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "minutes",
            "must be an integer 1..=1440".into(),
        );
    };
    // The same checks the service applies, on a scratch state: a bad value never gets queued.
    if let Err(e) = CurtailState::default().demand_response(reduce_kw, minutes, 0.0, 0) {
        let field = match e {
            CurtailError::ReduceKw(_) => "reduce_kw",
            CurtailError::Minutes(_) => "minutes",
        };
        return error(StatusCode::UNPROCESSABLE_ENTITY, field, e.to_string());
    }
    shared.curtail(CurtailRequest {
        site: site.clone(),
        reduce_kw,
        minutes,
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({"site": site, "reduce_kw": reduce_kw, "minutes": minutes, "status": "queued"})),
    )
        .into_response()
}

#[cfg(test)]
#[path = "allocation_service_tests.rs"]
mod tests;

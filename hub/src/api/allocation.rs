//! `POST /allocation/evaluate`: a dry run of one allocation cycle (hashward_econ::alloc::decide)
//! on the prices, tariffs, caps and rigs given in the body, from a fresh state unless the body
//! carries one. Answers the decision with its alternatives and reasons; errors are
//! `{"detail": ..., "field": ...}` with 422 (400 for a body that is not JSON of this shape).
//!
//! Must never store, push or apply anything (the service's advise/auto loop does that), and
//! never answer a bad body with a 500 or a decision computed from an invalid figure.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hashward_econ::alloc::{decide, Inputs, Policy, State};
use serde::Deserialize;
use serde_json::json;

/// Most rigs one dry run may hold (the MILP grows with them).
pub const MAX_RIGS: usize = 2000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateBody {
    inputs: Inputs,
    #[serde(default)]
    policy: Policy,
    /// The state a previous cycle left (outlier windows, confirmations, curtailment); fresh
    /// when absent.
    #[serde(default)]
    state: State,
}

pub fn router() -> Router {
    Router::new().route("/allocation/evaluate", post(evaluate))
}

fn error(status: StatusCode, field: &str, detail: String) -> Response {
    (status, Json(json!({"detail": detail, "field": field}))).into_response()
}

/// The first invalid figure of the inputs, by its JSON path.
fn invalid(i: &Inputs) -> Option<(String, String)> {
    for (name, s) in &i.sites {
        for (f, v) in [
            ("tariff_usd_kwh", Some(s.tariff_usd_kwh)),
            ("power_cap_kw", s.power_cap_kw),
        ] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Some((
                    format!("inputs.sites.{name}.{f}"),
                    format!("must be a finite number >= 0, got {v}"),
                ));
            }
        }
    }
    for (series, v) in &i.market {
        if !v.is_finite() {
            return Some((
                format!("inputs.market.{series}"),
                format!("must be a finite number, got {v}"),
            ));
        }
    }
    for (r, rig) in i.rigs.iter().enumerate() {
        if !i.sites.contains_key(&rig.site) {
            return Some((
                format!("inputs.rigs[{r}].site"),
                format!("{:?} is not in inputs.sites", rig.site),
            ));
        }
        for (t, target) in rig.targets.iter().enumerate() {
            if let Err(e) = target.validate() {
                return Some((format!("inputs.rigs[{r}].targets[{t}].{}", e.field), e.reason));
            }
        }
    }
    None
}

async fn evaluate(body: Bytes) -> Response {
    let b: EvaluateBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "body", e.to_string()),
    };
    if b.inputs.rigs.len() > MAX_RIGS {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "inputs.rigs",
            format!("at most {MAX_RIGS} rigs per dry run, got {}", b.inputs.rigs.len()),
        );
    }
    if let Some((field, detail)) = invalid(&b.inputs) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &field, detail);
    }
    let mut state = b.state;
    // The solver is CPU-bound: off the async workers.
    let out = tokio::task::spawn_blocking(move || {
        let d = decide(&b.inputs, &mut state, &b.policy);
        (d, state)
    })
    .await;
    match out {
        Ok((decision, state)) => Json(json!({"decision": decision, "state": state})).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "solver",
            format!("the dry run did not finish: {e}"),
        ),
    }
}

//! `/fleet/hints` (the tuning hints agents start from, one per class of hardware) and
//! `/fleet/config` (rollout: each scope's pushed version and, per rig, applied / pending /
//! rejected).
//!
//! Must never compute here what the domain computes: these handlers read and serialise.

use super::{ApiError, AppState};
use crate::domain::rollout;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub(super) async fn hints(State(s): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(s.store.fleet_hints(hashward_common::now_ms())?).into_response())
}

pub(super) async fn config(State(s): State<AppState>) -> Result<Response, ApiError> {
    let view = rollout::of_rigs(&s.store.pushes()?, &s.store.rigs()?);
    Ok(Json(view).into_response())
}

//! `/metrics` (Prometheus text; the gauges are computed from the registry at read time).
//! `/health` and `/version` are served by `scores` (seed 003's fields plus the hub's).

use super::{ApiError, AppState};
use crate::metrics::Gauges;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub(super) async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
    let rigs = s.store.rigs()?;
    let gauges = Gauges {
        rigs_total: rigs.len() as u64,
        rigs_online: rigs.iter().filter(|r| r.online).count() as u64,
        gaps: rigs.iter().map(|r| r.missing).sum(),
        store_bytes: s.store.size_bytes(),
    };
    let mut text = s.metrics.render(&gauges);
    // Per-rig and per-ASIC series (dashboards, Grafana).
    let snap = crate::fleetview::FleetSnapshot::load(s.store.as_ref(), hashward_common::now_ms())?;
    text.push_str(&crate::fleetview::prom::render(&snap));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

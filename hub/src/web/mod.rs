//! The web dashboard: the pages at `/` (one HTML file, plain JS modules and CSS, embedded in the
//! binary, no build step, no CDN) and the read-only endpoints made for them: `/fleet/overview`
//! (the fleet's totals and one row per rig and ASIC) and `/charts/rigs/{rig}[/asics/{asic}]`
//! (bucketed series for the 24 h charts). Everything else the pages show they read from the
//! API's existing routes, and a route that answers 404 is shown as "not there yet".
//!
//! Must never compute a figure in the browser that the hub could get wrong differently: totals
//! come from `crate::fleetview`, and the page shows them as served.

pub mod actions;
mod assets;
pub mod chart;

use crate::api::{ApiError, AppState};
use crate::fleetview::{overview, FleetSnapshot};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chart::{bucketize, layout, Agg, Chart, Sample, Series};
use hashward_protocol::Body;
use std::collections::HashMap;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{file}", get(assets::asset))
        .route("/fleet/overview", get(fleet_overview))
        .route("/charts/rigs/{rig}", get(rig_chart))
        .route("/charts/rigs/{rig}/asics/{asic}", get(asic_chart))
        .with_state(state)
}

async fn fleet_overview(State(s): State<AppState>) -> Result<Response, ApiError> {
    let snap = FleetSnapshot::load(s.store.as_ref(), hashward_common::now_ms())?;
    Ok(Json(overview(&snap)).into_response())
}

/// Records read for one chart (a day of 1 s readings from a handful of ASICs).
const CHART_RECORDS: usize = 100_000;

/// `?hours=` (1..=168, default 24): the window ending now.
fn window(q: &HashMap<String, String>) -> Result<(u64, u64), ApiError> {
    let hours = match q.get("hours") {
        None => 24,
        Some(v) => match v.parse::<u64>() {
            Ok(h) if (1..=168).contains(&h) => h,
            _ => {
                return Err(ApiError::bad_parameter(
                    "hours",
                    format!("hours={v:?} is not a whole number of hours from 1 to 168"),
                ))
            }
        },
    };
    let to = hashward_common::now_ms();
    Ok((to.saturating_sub(hours * 3600 * 1000), to))
}

fn chart(from: u64, to: u64, wanted: Vec<(&'static str, &'static str, Agg, Vec<Sample>)>) -> Chart {
    let (step, ts) = layout(from, to);
    let series = wanted
        .into_iter()
        .map(|(name, unit, agg, samples)| Series {
            name,
            unit,
            values: bucketize(from, step, ts.len(), &samples, agg),
        })
        .collect();
    Chart {
        from_ms: from,
        to_ms: to,
        step_ms: step,
        ts_ms: ts,
        series,
    }
}

async fn rig_chart(
    State(s): State<AppState>,
    Path(rig): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (from, to) = window(&q)?;
    if s.store.rig(&rig)?.is_none() {
        return Err(ApiError::rig_not_found(&rig));
    }
    let (mut cpu, mut temp) = (Vec::new(), Vec::new());
    for r in s.store.records_of_kind(&rig, "tele", from, to, CHART_RECORDS)? {
        if let Body::Tele(t) = r.body {
            if let Some(m) = &t.miner {
                cpu.push((r.ts_ms, String::new(), m.hashrate_60s.0));
            }
            if let Some(max) = t
                .temperatures
                .iter()
                .map(|x| f64::from(x.celsius.0))
                .reduce(f64::max)
            {
                temp.push((r.ts_ms, String::new(), max));
            }
        }
    }
    let (mut hs, mut power, mut chip) = (Vec::new(), Vec::new(), Vec::new());
    for r in s.store.records_of_kind(&rig, "asic", from, to, CHART_RECORDS)? {
        if let Body::Asic(a) = r.body {
            if !a.reachable {
                continue;
            }
            hs.push((r.ts_ms, a.miner_id.clone(), a.hashrate.total.0));
            if let Some(w) = a.power.consumption {
                power.push((r.ts_ms, a.miner_id.clone(), f64::from(w.0)));
            }
            if let Some(c) = a.temperature.max_chip {
                chip.push((r.ts_ms, a.miner_id.clone(), f64::from(c.0)));
            }
        }
    }
    Ok(Json(chart(
        from,
        to,
        vec![
            ("cpu_hashrate_hs", "H/s", Agg::Mean, cpu),
            ("asic_hashrate_hs", "H/s", Agg::SumOfMeans, hs),
            ("max_temp_c", "°C", Agg::Max, temp),
            ("asic_chip_max_c", "°C", Agg::Max, chip),
            ("asic_power_w", "W", Agg::SumOfMeans, power),
        ],
    ))
    .into_response())
}

async fn asic_chart(
    State(s): State<AppState>,
    Path((rig, asic)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (from, to) = window(&q)?;
    if s.store.rig(&rig)?.is_none() {
        return Err(ApiError::rig_not_found(&rig));
    }
    let (mut hs, mut power, mut chip) = (Vec::new(), Vec::new(), Vec::new());
    for r in s.store.records_of_kind(&rig, "asic", from, to, CHART_RECORDS)? {
        if let Body::Asic(a) = r.body {
            if a.miner_id != asic || !a.reachable {
                continue;
            }
            hs.push((r.ts_ms, String::new(), a.hashrate.total.0));
            if let Some(w) = a.power.consumption {
                power.push((r.ts_ms, String::new(), f64::from(w.0)));
            }
            if let Some(c) = a.temperature.max_chip {
                chip.push((r.ts_ms, String::new(), f64::from(c.0)));
            }
        }
    }
    Ok(Json(chart(
        from,
        to,
        vec![
            ("hashrate_hs", "H/s", Agg::Mean, hs),
            ("chip_max_c", "°C", Agg::Max, chip),
            ("power_w", "W", Agg::Mean, power),
        ],
    ))
    .into_response())
}

//! The economics endpoints (seed 000 §8 and the per-miner economics): difficulty prediction,
//! earnings prediction, worker optimisation (one and a batch), and a rig's, an ASIC's or the
//! fleet's day in money. Live inputs come through [`EconInputs`]; errors are `{"detail": ...}`
//! (seed 000's shape) with the offending `field` for a 4xx, and 503 naming what is missing.
//!
//! Must never answer a missing input with a made-up figure, or a bad body with a 500. Nothing
//! here writes anything.

use crate::econ::derived::{period_ms, rig_derived, Sample, PERIODS};
use crate::econ::report::{self, DayError};
use crate::econ::{EconInputs, MinerKind, Unavailable};
use crate::store::StoreRead;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hashward_econ::optimise::{optimise, WorkerState};
use hashward_econ::retarget::EpochEstimate;
use hashward_econ::{Coin, Difficulty, Hashrate, MinerDay, Usd, Watts};
use hashward_protocol::Body;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Most workers one batch may hold.
pub const MAX_BATCH: usize = 1000;

#[derive(Clone)]
pub struct EconState {
    pub inputs: Arc<dyn EconInputs>,
    /// The stored telemetry and scores the derived metrics read.
    pub store: Arc<dyn StoreRead>,
    /// Seconds since the epoch; a function so tests pin the clock.
    pub now_s: fn() -> i64,
}

pub fn router(state: EconState) -> Router {
    Router::new()
        .route("/api/v1/predict/difficulty", get(predict_difficulty))
        .route("/api/v1/predict/earnings", post(predict_earnings))
        .route("/api/v1/optimize/worker", post(optimize_worker))
        .route("/api/v1/optimize/batch", post(optimize_batch))
        .route("/rigs/{rig}/economics", get(rig_economics))
        .route("/asics/{id}/economics", get(asic_economics))
        .route("/fleet/economics", get(fleet_economics))
        .route("/rigs/{rig}/derived", get(rig_derived_metrics))
        .with_state(state)
}

#[derive(Debug)]
pub struct EconError {
    status: StatusCode,
    detail: String,
    field: Option<String>,
}

impl EconError {
    fn field(status: StatusCode, field: impl Into<String>, detail: impl Into<String>) -> EconError {
        let field = field.into();
        EconError {
            status,
            detail: format!("{field}: {}", detail.into()),
            field: Some(field),
        }
    }
    fn bad(field: impl Into<String>, detail: impl Into<String>) -> EconError {
        EconError::field(StatusCode::UNPROCESSABLE_ENTITY, field, detail)
    }
    fn not_found(detail: String) -> EconError {
        EconError {
            status: StatusCode::NOT_FOUND,
            detail,
            field: None,
        }
    }
}

impl From<Unavailable> for EconError {
    fn from(u: Unavailable) -> EconError {
        EconError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: u.0,
            field: None,
        }
    }
}

impl From<hashward_econ::InputError> for EconError {
    fn from(e: hashward_econ::InputError) -> EconError {
        EconError::bad(e.field, e.reason)
    }
}

impl IntoResponse for EconError {
    fn into_response(self) -> Response {
        let mut body = json!({ "detail": self.detail });
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        (self.status, Json(body)).into_response()
    }
}

/// A JSON body, or a 4xx whose detail is serde's message (it names the field and position).
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, EconError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let field = e.to_string().split('`').nth(1).unwrap_or("body").to_string();
        EconError {
            status: if e.is_syntax() || e.is_eof() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            detail: format!("invalid request body: {e}"),
            field: Some(field),
        }
    })
}

fn coin(param: Option<&str>) -> Result<Coin, EconError> {
    match param {
        None => Ok(Coin::Bitcoin),
        Some(c) => c
            .parse()
            .map_err(|e: hashward_econ::UnknownCoin| EconError::bad("coin", e.to_string())),
    }
}

fn iso_now(state: &EconState) -> String {
    hashward_econ::history::iso_utc((state.now_s)())
}

async fn predict_difficulty(
    State(s): State<EconState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, EconError> {
    let c = coin(q.get("coin").map(String::as_str))?;
    let net = s.inputs.network(c)?;
    let now = (s.now_s)();
    let (Some(epoch_start), Some(tip)) = (net.epoch_start_unix_s, net.tip_unix_s) else {
        return Err(Unavailable(format!(
            "the network source of {c} gives no {}: the epoch estimate needs it (a node, or a \
             mempool.space instance whose difficulty-adjustment has previousTime)",
            if net.epoch_start_unix_s.is_none() {
                "epoch start time"
            } else {
                "tip block time"
            }
        ))
        .into());
    };
    let e = EpochEstimate::compute(c, net.height, epoch_start, tip, now).ok_or_else(|| {
        EconError::bad(
            "coin",
            format!("{c} retargets every block (DigiShield); there is no epoch to predict"),
        )
    })?;
    let predicted = net.difficulty * (1.0 + e.difficulty_change_pct / 100.0);
    Ok(Json(json!({
        "coin": c,
        "current_difficulty": net.difficulty,
        "predicted_difficulty": predicted,
        "change_percentage": e.difficulty_change_pct,
        "direction": if e.difficulty_change_pct > 0.0 { "up" } else { "down" },
        // The share of the epoch's blocks already in: the estimate firms up as they come.
        "confidence": e.progress_pct / 100.0,
        "eta_hours": (e.remaining_time_s / 3600.0).round() as i64,
        "progress_pct": e.progress_pct,
        "remaining_blocks": e.remaining_blocks,
        "next_retarget_height": e.next_retarget_height,
        "estimated_retarget_at": hashward_econ::history::iso_utc(e.estimated_retarget_unix_s as i64),
        "method": "mempool.space epoch estimate (blocks so far)",
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EarningsRequest {
    user_id: String,
    #[serde(default)]
    coin: Option<String>,
    /// Hourly hashrate in H/s, oldest first (seed 000: the last 24 h).
    #[serde(default)]
    hashrate_history: Option<Vec<f64>>,
    #[serde(default)]
    difficulty: Option<f64>,
    #[serde(default)]
    price_usd: Option<f64>,
    #[serde(default)]
    height: Option<u64>,
    #[serde(default)]
    fees_per_block_coin: Option<f64>,
    /// Seed 000: a fraction (0.01 = 1 %).
    #[serde(default)]
    pool_fee: Option<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

async fn predict_earnings(State(s): State<EconState>, bytes: Bytes) -> Result<Json<Value>, EconError> {
    let r: EarningsRequest = body(&bytes)?;
    if r.user_id.trim().is_empty() {
        return Err(EconError::bad("user_id", "must not be empty"));
    }
    let c = coin(r.coin.as_deref())?;
    let pool_fee = r.pool_fee.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&pool_fee) {
        return Err(EconError::bad(
            "pool_fee",
            format!("a fraction 0..1, got {pool_fee}"),
        ));
    }
    let history = match r.hashrate_history {
        Some(h) if h.is_empty() => return Err(EconError::bad("hashrate_history", "empty")),
        Some(h) => {
            if let Some(i) = h.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
                return Err(EconError::bad(
                    format!("hashrate_history[{i}]"),
                    format!("must be a finite number >= 0, got {}", h[i]),
                ));
            }
            h
        }
        None => {
            let kind = if r.user_id.contains('/') {
                MinerKind::Asic
            } else {
                MinerKind::Rig
            };
            match s.inputs.miner(kind, &r.user_id)? {
                Some(m) => vec![m.hashrate_hs],
                None => return Err(EconError::not_found(format!("no rig or ASIC {:?}", r.user_id))),
            }
        }
    };
    let (difficulty, height, fees) = match (r.difficulty, r.height) {
        (Some(d), Some(h)) => (d, h, r.fees_per_block_coin.unwrap_or(0.0)),
        (None, None) => {
            let n = s.inputs.network(c)?;
            (
                n.difficulty,
                n.height,
                r.fees_per_block_coin.unwrap_or(n.fees_per_block_coin),
            )
        }
        (Some(_), None) => return Err(EconError::bad("height", "needed with difficulty")),
        (None, Some(_)) => return Err(EconError::bad("difficulty", "needed with height")),
    };
    let price = match r.price_usd {
        Some(p) => p,
        None => s.inputs.price_usd(c)?,
    };
    let mean = history.iter().sum::<f64>() / history.len() as f64;
    let per_hs = MinerDay {
        coin: c,
        hashrate: Hashrate::new(1.0).map_err(|e| EconError::bad("hashrate_history", e.to_string()))?,
        power: Watts::ZERO,
        tariff_usd_kwh: Usd::ZERO,
        difficulty: Difficulty::new(difficulty).map_err(|e| EconError::bad("difficulty", e.to_string()))?,
        price_usd: Usd::new(price).map_err(|e| EconError::bad("price_usd", e.to_string()))?,
        height,
        fees_per_block_coin: fees,
        pool_fee_pct: pool_fee * 100.0,
    }
    .economics()?
    .revenue_usd_day;
    let mut sorted = history.clone();
    sorted.sort_by(f64::total_cmp);
    // Bounds from the hashrate's own spread (10th / 90th percentile of the hourly history);
    // the market's movement is not in them: the price history is not in the hub yet.
    let (lower, upper, confidence) = if history.len() >= 2 {
        (
            Some(percentile(&sorted, 0.1) * per_hs),
            Some(percentile(&sorted, 0.9) * per_hs),
            hashward_econ::derived::hashrate_stability(&history),
        )
    } else {
        (None, None, None)
    };
    Ok(Json(json!({
        "user_id": r.user_id,
        "coin": c,
        "currency": "USD",
        "hashrate_hs": mean,
        "estimated_24h": mean * per_hs,
        "estimated_30d": mean * per_hs * 30.0,
        "lower_bound_24h": lower,
        "upper_bound_24h": upper,
        "confidence": confidence,
        "basis": "today's difficulty and price held; bounds from the hashrate history only",
        "generated_at": iso_now(&s),
    })))
}

async fn optimize_worker(bytes: Bytes) -> Result<Json<Value>, EconError> {
    let w: WorkerState = body(&bytes)?;
    Ok(Json(serde_json::to_value(optimise(&w)?).unwrap_or(Value::Null)))
}

async fn optimize_batch(bytes: Bytes) -> Result<Json<Value>, EconError> {
    let workers: Vec<WorkerState> = body(&bytes)?;
    if workers.len() > MAX_BATCH {
        return Err(EconError::bad(
            "body",
            format!("at most {MAX_BATCH} workers, got {}", workers.len()),
        ));
    }
    let mut out = Vec::with_capacity(workers.len());
    for (i, w) in workers.iter().enumerate() {
        let r = optimise(w).map_err(|e| EconError::bad(format!("[{i}].{}", e.field), e.reason))?;
        out.push(serde_json::to_value(r).unwrap_or(Value::Null));
    }
    Ok(Json(json!({ "results": out })))
}

impl From<DayError> for EconError {
    fn from(e: DayError) -> EconError {
        match e {
            DayError::Unavailable(u) => u.into(),
            DayError::Input { field, reason } => EconError::bad(field, reason),
        }
    }
}

/// Runs `f` off the async workers: the live inputs read the store.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EconError> + Send + 'static,
) -> Result<T, EconError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| EconError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        detail: format!("economics task: {e}"),
        field: None,
    })?
}

fn miner_economics(s: &EconState, kind: MinerKind, id: &str) -> Result<Json<Value>, EconError> {
    let m = s.inputs.miner(kind, id)?.ok_or_else(|| {
        EconError::not_found(format!(
            "no {} {id:?}",
            if kind == MinerKind::Rig { "rig" } else { "ASIC" }
        ))
    })?;
    let day = report::miner_day(s.inputs.as_ref(), &m)?;
    let e = day.economics;
    // Payback from today: the hardware's cost over today's profit (none when it loses money
    // or no cost is configured).
    let cost = s.inputs.hardware_cost_usd(&m.id).ok();
    let payback = cost
        .and_then(|c| hashward_econ::economics::break_even_days(Usd::new(c).ok()?, 0.0, e.profit_usd_day));
    Ok(Json(json!({
        "id": m.id,
        "kind": day.kind,
        "rig": m.rig,
        "site": m.site,
        "coin": m.coin,
        "hashrate_hs": m.hashrate_hs,
        "power_w": m.power_w,
        "tariff_usd_kwh": day.tariff_usd_kwh,
        "economics": e,
        "hardware_cost_usd": cost,
        "payback_days": payback,
        "generated_at": iso_now(s),
    })))
}

async fn rig_economics(
    State(s): State<EconState>,
    Path(rig): Path<String>,
) -> Result<Json<Value>, EconError> {
    blocking(move || miner_economics(&s, MinerKind::Rig, &rig)).await
}

async fn asic_economics(
    State(s): State<EconState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, EconError> {
    blocking(move || miner_economics(&s, MinerKind::Asic, &id)).await
}

async fn fleet_economics(State(s): State<EconState>) -> Result<Json<Value>, EconError> {
    blocking(move || {
        let f = report::fleet(s.inputs.as_ref())?;
        Ok(Json(crate::econ::publish::fleet_body(&f, &iso_now(&s))))
    })
    .await
}

/// Most records one derived-metrics request reads per kind (a week at one sample every 10 s
/// is 60,480).
const MAX_RECORDS: usize = 100_000;

async fn rig_derived_metrics(
    State(s): State<EconState>,
    Path(rig): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, EconError> {
    let period = q.get("period").map_or("24h", String::as_str);
    let Some(len) = period_ms(period) else {
        let known: Vec<&str> = PERIODS.iter().map(|(n, _)| *n).collect();
        return Err(EconError::field(
            StatusCode::BAD_REQUEST,
            "period",
            format!("{period:?} is not one of {}", known.join(", ")),
        ));
    };
    let store = s.store.clone();
    let now_ms = (s.now_s)().max(0) as u64 * 1000;
    let from = now_ms.saturating_sub(len);
    let r = rig.clone();
    let read = tokio::task::spawn_blocking(move || {
        if store.rig(&r)?.is_none() {
            return Ok(None);
        }
        let tele = store.records_of_kind(&r, "tele", from, now_ms, MAX_RECORDS)?;
        let scores = store.records_of_kind(&r, "score", from, now_ms, MAX_RECORDS)?;
        Ok::<_, crate::store::StoreError>(Some((tele, scores)))
    })
    .await
    .map_err(|e| EconError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        detail: format!("reading the store: {e}"),
        field: None,
    })?;
    let (tele, scores) = match read {
        Ok(Some(v)) => v,
        Ok(None) => return Err(EconError::not_found(format!("no rig {rig:?}"))),
        Err(e) => {
            log::error!("derived metrics of {rig}: {e}");
            return Err(EconError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                detail: "the store could not be read".into(),
                field: None,
            });
        }
    };
    let samples: Vec<Sample> = tele
        .iter()
        .filter_map(|rec| match &rec.body {
            Body::Tele(t) => Some(Sample {
                ts_ms: rec.ts_ms,
                hashrate_hs: t.miner.as_ref().map(|m| m.hashrate_60s.hs()),
                mining: t
                    .miner
                    .as_ref()
                    .is_some_and(|m| !m.paused && m.hashrate_10s.hs() > 0.0),
            }),
            _ => None,
        })
        .collect();
    let scores: Vec<(String, f32)> = scores
        .iter()
        .filter_map(|rec| match &rec.body {
            Body::Score(sc) => {
                let threat = serde_json::to_value(sc.threat_type).ok()?.as_str()?.to_string();
                Some((threat, sc.score))
            }
            _ => None,
        })
        .collect();
    let d = rig_derived(period, len, &samples, &scores);
    Ok(Json(json!({
        "rig": rig,
        "from_ms": from,
        "to_ms": now_ms,
        "operational_efficiency": {
            "hashrate_stability": d.hashrate_stability,
            "mean_hashrate_hs": d.mean_hashrate_hs,
            "uptime_percentage": d.uptime_percentage,
            // CPU rigs report no wall power and the hub has no thermal limit per rig yet.
            "power_efficiency_j_per_th": null,
            "thermal_efficiency": null,
        },
        "samples": d.samples,
        "sample_interval_ms": d.sample_interval_ms,
        "period": d.period,
        "anomaly_scores": d.anomaly_scores,
    })))
}

#[cfg(test)]
#[path = "econ_tests.rs"]
mod tests;

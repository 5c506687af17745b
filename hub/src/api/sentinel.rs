//! `POST /api/v1/sentinel/detect` (seed 000 §8: `AnomalyDetectionRequest` in,
//! `AnomalyDetectionResponse` out, plus the votes and the features used) and
//! `GET /api/v1/sentinel/findings` (each pool's latest assessment by the Sentinel service and the
//! pools whose switches a critical finding holds).
//!
//! The seed's request names pool-wide figures; the model's features are ratios, so the request
//! may add what makes them (`reported_hashrate`, `expected_payout_amount`, ...; see
//! [`features_of`]). Fields the model cannot use (`connections_per_second`,
//! `avg_share_difficulty`, `time_since_last_payout`) are accepted as the seed has them and
//! listed in `ignored_fields`. Must never guess: a bad or unknown field is a 400 naming it, and
//! a hub without the model answers 503 saying why.

use super::ApiError;
use crate::sentinel::detect::{self, pool_switch_hold};
use crate::sentinel::features::{NEUTRAL, POOL_FEATURES};
use crate::sentinel::service::Shared;
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Clone)]
pub struct SentinelApi {
    pub shared: Arc<Shared>,
    pub store: Arc<Store>,
}

pub fn router(state: SentinelApi) -> Router {
    Router::new()
        .route("/api/v1/sentinel/detect", post(detect_handler))
        .route("/api/v1/sentinel/findings", get(findings))
        .with_state(state)
}

const REQUIRED: [&str; 7] = [
    "connections_per_second",
    "hashrate",
    "valid_shares_rate",
    "invalid_shares_rate",
    "stale_shares_rate",
    "avg_share_difficulty",
    "unique_workers",
];
const OPTIONAL: [&str; 8] = [
    "payout_amount",
    "time_since_last_payout",
    "reported_hashrate",
    "min_worker_hashrate_ratio",
    "surging_workers",
    "expected_payout_amount",
    "site_alerting_fraction",
    "hashrate_change_pct",
];
/// Seed fields no pool feed lets the model learn from.
const UNUSED: [&str; 3] = [
    "connections_per_second",
    "avg_share_difficulty",
    "time_since_last_payout",
];

fn field(body: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) if REQUIRED.contains(&name) => {
            Err(ApiError::bad_parameter(name, format!("{name} is required")))
        }
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let x = v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| ApiError::bad_parameter(name, format!("{name} must be a finite number")))?;
            let low = if name == "hashrate_change_pct" { -1.0 } else { 0.0 };
            if x < low {
                return Err(ApiError::bad_parameter(name, format!("{name} must be >= {low}")));
            }
            if name == "site_alerting_fraction" && x > 1.0 {
                return Err(ApiError::bad_parameter(
                    name,
                    format!("{name} must be within 0..=1"),
                ));
            }
            if matches!(name, "unique_workers" | "surging_workers") && x.fract() != 0.0 {
                return Err(ApiError::bad_parameter(
                    name,
                    format!("{name} must be a whole number"),
                ));
            }
            Ok(Some(x))
        }
    }
}

/// The model's feature row from a request body, and the seed fields it did not use.
pub fn features_of(body: &Value) -> Result<([f32; 8], Vec<&'static str>), ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_parameter("body", "the body must be a JSON object"));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !REQUIRED.contains(&k.as_str()) && !OPTIONAL.contains(&k.as_str()))
    {
        return Err(ApiError::bad_parameter(k, format!("unknown field {k:?}")));
    }
    let mut got: BTreeMap<&'static str, f64> = BTreeMap::new();
    for name in REQUIRED.iter().chain(OPTIONAL.iter()) {
        if let Some(x) = field(obj, name)? {
            got.insert(*name, x);
        }
    }
    let g = |k: &str| got.get(k).copied();
    let mut v = NEUTRAL;
    let hashrate = g("hashrate").unwrap_or(0.0);
    if let Some(rep) = g("reported_hashrate").filter(|r| *r > 0.0) {
        v[0] = (hashrate / rep).clamp(0.0, 3.0) as f32;
        if g("unique_workers") == Some(1.0) {
            v[1] = (hashrate / rep).clamp(0.01, 3.0).ln() as f32;
        }
    }
    if let Some(r) = g("min_worker_hashrate_ratio") {
        v[1] = r.clamp(0.01, 3.0).ln() as f32;
    }
    let (valid, invalid, stale) = (
        g("valid_shares_rate").unwrap_or(0.0),
        g("invalid_shares_rate").unwrap_or(0.0),
        g("stale_shares_rate").unwrap_or(0.0),
    );
    let total = valid + invalid + stale;
    if total > 0.0 {
        v[2] = (invalid / total) as f32;
        v[3] = (stale / total) as f32;
    }
    let workers = g("unique_workers").unwrap_or(0.0);
    if let Some(s) = g("surging_workers") {
        if s > workers {
            return Err(ApiError::bad_parameter(
                "surging_workers",
                "surging_workers must not exceed unique_workers",
            ));
        }
        if workers > 0.0 {
            v[4] = (s / workers) as f32;
        }
    }
    if let (Some(paid), Some(expected)) = (g("payout_amount"), g("expected_payout_amount")) {
        if paid > 0.0 && expected > 0.0 {
            v[5] = (paid / expected).clamp(0.0, 3.0) as f32;
        }
    }
    if let Some(f) = g("site_alerting_fraction") {
        v[6] = f as f32;
    }
    if let Some(pct) = g("hashrate_change_pct") {
        v[7] = (1.0 + pct).clamp(0.0, 3.0) as f32;
    }
    let ignored = UNUSED
        .iter()
        .copied()
        .filter(|k| g(k).is_some_and(|x| x != 0.0))
        .collect();
    Ok((v, ignored))
}

async fn detect_handler(State(s): State<SentinelApi>, body: Bytes) -> Result<Response, ApiError> {
    let model = s.shared.model.as_ref().map_err(|why| {
        ApiError::other(
            StatusCode::SERVICE_UNAVAILABLE,
            "sentinel_unavailable",
            format!("the sentinel_pool model is not loaded: {why}"),
            "model_type",
            "sentinel_pool",
        )
    })?;
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| ApiError::bad_parameter("body", format!("not JSON: {e}")))
        .and_then(|v| features_of(&v));
    let (row, ignored) = parsed.inspect_err(|_| {
        s.shared.bad_requests.fetch_add(1, Ordering::Relaxed);
    })?;
    let out = model.run(&row).map_err(|e| {
        log::error!("sentinel detect: {e}");
        ApiError::other(
            StatusCode::INTERNAL_SERVER_ERROR,
            "model_error",
            "the model could not score the request",
            "model_type",
            "sentinel_pool",
        )
    })?;
    let d = detect::decide(&out);
    let features: BTreeMap<&str, f32> = POOL_FEATURES.iter().copied().zip(row).collect();
    Ok(Json(json!({
        "is_anomaly": d.is_anomaly,
        "ensemble_score": d.ensemble_score,
        "threat_type": d.threat_type,
        "severity": d.severity,
        "recommended_action": d.recommended_action,
        "individual_predictions": d.individual_predictions,
        "features": features,
        "ignored_fields": ignored,
        "model_version": model.version,
    }))
    .into_response())
}

async fn findings(State(s): State<SentinelApi>) -> Result<Response, ApiError> {
    let latest: Vec<Value> = {
        let l = s.shared.latest.read().unwrap_or_else(|p| p.into_inner());
        l.values().map(|f| json!(f)).collect()
    };
    let alerts = s.store.alert_state()?.alerts;
    let mut holds = Vec::new();
    let pools: std::collections::BTreeSet<String> =
        alerts.iter().filter_map(|a| a.subject.pool.clone()).collect();
    for pool in pools {
        if let Some(a) = pool_switch_hold(&alerts, &pool) {
            holds.push(json!({"pool": pool, "alert_id": a.id, "kind": a.kind, "since_ms": a.first_seen_ms}));
        }
    }
    Ok(Json(json!({
        "model": match &s.shared.model {
            Ok(m) => json!({"loaded": true, "version": m.version}),
            Err(why) => json!({"loaded": false, "reason": why}),
        },
        "assessed_updates": s.shared.assessed.load(Ordering::Relaxed),
        "failed_updates": s.shared.failed.load(Ordering::Relaxed),
        "alerts_raised": s.shared.alerts_raised.load(Ordering::Relaxed),
        "bad_requests": s.shared.bad_requests.load(Ordering::Relaxed),
        "findings": latest,
        "pool_switch_holds": holds,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::model::SentinelModel;

    async fn serve(model: Result<Arc<SentinelModel>, String>) -> (String, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Store::open(&dir.path().join("hub.redb")).expect("store"));
        let app = router(SentinelApi {
            shared: Arc::new(Shared::new(model)),
            store,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), dir)
    }

    async fn call(url: String, body: Option<Value>) -> (u16, Value) {
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = match body {
                Some(b) => agent
                    .post(&url)
                    .header("content-type", "application/json")
                    .send(b.to_string().as_bytes())
                    .expect("request"),
                None => agent.get(&url).call().expect("request"),
            };
            (resp.status().as_u16(), resp.body_mut().read_json().expect("json"))
        })
        .await
        .expect("join")
    }

    fn quiet() -> Value {
        json!({"connections_per_second": 0.0, "hashrate": 1.0e14, "reported_hashrate": 1.0e14,
               "valid_shares_rate": 5.0, "invalid_shares_rate": 0.02, "stale_shares_rate": 0.05,
               "avg_share_difficulty": 65536.0, "unique_workers": 20})
    }

    fn without(mut v: Value, k: &str) -> Value {
        if let Some(o) = v.as_object_mut() {
            o.remove(k);
        }
        v
    }

    fn with(mut v: Value, k: &str, x: Value) -> Value {
        v[k] = x;
        v
    }

    #[tokio::test]
    async fn detect_answers_the_seed_shape_and_names_bad_fields() {
        let model = SentinelModel::load(&crate::sentinel::model::tests::repo_models()).expect("model");
        let (base, _dir) = serve(Ok(Arc::new(model))).await;
        let url = format!("{base}/api/v1/sentinel/detect");

        let (st, v) = call(url.clone(), Some(quiet())).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(
            (v["is_anomaly"].as_bool(), v["threat_type"].is_null()),
            (Some(false), true),
            "{v}"
        );
        assert_eq!(v["recommended_action"]["auto_execute"], false);
        assert_eq!(v["features"]["hashrate_ratio"], 1.0);
        assert_eq!(v["ignored_fields"], json!(["avg_share_difficulty"]));

        // A quarter of the fleet's hashrate gone at the pool, one worker seen at nothing.
        let hijack = with(
            with(quiet(), "hashrate", json!(7.5e13)),
            "min_worker_hashrate_ratio",
            json!(0.0),
        );
        let (st, v) = call(url.clone(), Some(hijack)).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(
            (v["is_anomaly"].as_bool(), v["threat_type"].as_str()),
            (Some(true), Some("hashrate_hijacking")),
            "{v}"
        );
        assert!(v["individual_predictions"]["mlp"]["is_anomaly"]
            .as_bool()
            .unwrap_or(false));

        let surge = with(
            with(quiet(), "invalid_shares_rate", json!(1.5)),
            "surging_workers",
            json!(14),
        );
        let (_, v) = call(url.clone(), Some(surge)).await;
        assert_eq!(v["threat_type"], "share_manipulation", "{v}");

        let short = with(
            with(quiet(), "payout_amount", json!(0.004)),
            "expected_payout_amount",
            json!(0.01),
        );
        let (_, v) = call(url.clone(), Some(short)).await;
        assert_eq!(v["threat_type"], "suspicious_payout", "{v}");

        for (body, field) in [
            (with(quiet(), "hashrate", json!("fast")), "hashrate"),
            (
                with(quiet(), "stale_shares_rate", json!(-1.0)),
                "stale_shares_rate",
            ),
            (with(quiet(), "unique_workers", json!(2.5)), "unique_workers"),
            (
                with(quiet(), "site_alerting_fraction", json!(1.5)),
                "site_alerting_fraction",
            ),
            (with(quiet(), "surging_workers", json!(21)), "surging_workers"),
            (with(quiet(), "hashrat", json!(1.0)), "hashrat"),
            (without(quiet(), "valid_shares_rate"), "valid_shares_rate"),
            (json!([1, 2]), "body"),
        ] {
            let (st, v) = call(url.clone(), Some(body)).await;
            assert_eq!(
                (st, v["code"].as_str(), v["parameter"].as_str()),
                (400, Some("bad_parameter"), Some(field)),
                "{v}"
            );
        }

        let (st, v) = call(format!("{base}/api/v1/sentinel/findings"), None).await;
        assert_eq!(st, 200);
        assert_eq!(v["bad_requests"], 8, "every refused request counted");
        assert_eq!(
            (
                v["model"]["loaded"].as_bool(),
                v["findings"].as_array().map(Vec::len)
            ),
            (Some(true), Some(0))
        );
    }

    #[tokio::test]
    async fn without_the_model_detect_says_why() {
        let (base, _dir) = serve(Err("no models directory".into())).await;
        let (st, v) = call(format!("{base}/api/v1/sentinel/detect"), Some(quiet())).await;
        assert_eq!((st, v["code"].as_str()), (503, Some("sentinel_unavailable")));
        assert!(
            v["error"].as_str().unwrap_or("").contains("no models directory"),
            "{v}"
        );
    }
}

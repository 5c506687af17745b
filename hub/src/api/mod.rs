//! The hub's HTTP API (axum), one file per resource: `status` (health, version, Prometheus
//! metrics), `rigs` (the registry and each rig's record listings), `fleet` (tuning hints and
//! config rollout); the model registry's routes live in `crate::models`. Every error is an
//! [`ApiError`].
//!
//! Read-only, and reads only through the store's read traits, so it is tested against an
//! in-memory store. Must never answer a bad parameter with a 500, or serve a Rust `Debug` string.

pub mod alerts;
pub mod allocation;
pub mod allocation_service;
pub mod depin;
pub mod econ;
mod error;
mod fleet;
pub mod pools;
mod rigs;
pub mod scores;
/// `POST /api/v1/sentinel/detect`, `GET /api/v1/sentinel/findings` (merged in `serve`).
pub mod sentinel;
mod status;
pub mod telem;

pub use error::ApiError;

use crate::metrics::Metrics;
use crate::store::StoreRead;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn StoreRead>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    /// Seed 003's score API (also `/health` and `/version`).
    pub scores: Arc<scores::ScoresApi>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(scores::health))
        .route("/version", get(scores::version))
        .route("/metrics", get(status::metrics))
        .route("/rigs", get(rigs::list))
        .route("/rigs/{rig}", get(rigs::one))
        .route("/rigs/{rig}/{listing}", get(rigs::listing))
        .route("/fleet/hints", get(fleet::hints))
        .route("/fleet/config", get(fleet::config))
        .route("/networks", get(scores::networks))
        .route("/networks/{network}", get(scores::network))
        .route(
            "/training/data-summary/{processing_date}",
            get(scores::training_summary),
        )
        .route("/dates/available", get(scores::dates_available))
        .route("/dates/latest", get(scores::dates_latest))
        .route("/scores/alerts/{processing_date}", get(scores::alert_scores))
        .route(
            "/scores/alerts/{network}/{processing_date}",
            get(scores::alert_scores_of),
        )
        .route("/rankings/alerts/{processing_date}", get(scores::rankings))
        .route(
            "/rankings/alerts/{network}/{processing_date}",
            get(scores::rankings_of),
        )
        .route("/scores/clusters/{processing_date}", get(scores::cluster_scores))
        .route(
            "/scores/clusters/{network}/{processing_date}",
            get(scores::cluster_scores_of),
        )
        .route("/depin", get(depin::list))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rig::RigEntry;
    use crate::domain::rollout::PushRecord;
    use crate::store::memory::MemoryStore;
    use crate::store::{FleetRead, StoreError, StoredRecord};
    use hashward_protocol::{Body, FleetHints, RigId, Score, Severity, SiteId, ThreatType};

    impl FleetRead for MemoryStore {
        fn fleet_hints(&self, now_ms: u64) -> Result<FleetHints, StoreError> {
            Ok(FleetHints {
                generated_ms: now_ms,
                hints: Vec::new(),
            })
        }
        fn pushes(&self) -> Result<Vec<PushRecord>, StoreError> {
            Ok(vec![PushRecord {
                scope: "fleet".into(),
                version: 7,
                issued_ms: 1,
                patch: String::new(),
            }])
        }
    }

    impl StoreRead for MemoryStore {
        fn size_bytes(&self) -> u64 {
            4096
        }
    }

    fn score(seq: u64, ts_ms: u64, value: f32) -> StoredRecord {
        StoredRecord {
            seq,
            ts_ms,
            body: Body::Score(Score {
                subject: "rig".into(),
                score: value,
                threat_type: ThreatType::Overheat,
                severity: Severity::from_score(value),
                model_version: "sentinel_rig_v1.0.0_20261122_080000".into(),
                sample_ts_ms: ts_ms,
            }),
        }
    }

    async fn serve(store: MemoryStore) -> String {
        let app = router(AppState {
            store: Arc::new(store),
            metrics: Arc::new(Metrics::default()),
            started: Instant::now(),
            scores: Arc::new(scores::ScoresApi {
                store: Arc::new(crate::store::scores::tests::NoBatches),
                networks: vec!["bitcoin".into()],
                models_dir: None,
                cache: Default::default(),
            }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    /// GET with the status and JSON body, whatever the status.
    async fn get(url: String) -> (u16, serde_json::Value) {
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = agent.get(&url).call().expect("request");
            let status = resp.status().as_u16();
            (status, resp.body_mut().read_json().expect("json"))
        })
        .await
        .expect("join")
    }

    #[tokio::test]
    async fn listings_rollout_and_errors_from_an_in_memory_store() {
        let mut rig = RigEntry::new(RigId::new("r1").expect("id"), SiteId::new("s").expect("id"));
        rig.online = true;
        let base = serve(MemoryStore {
            rigs: vec![rig],
            records: vec![
                ("r1".into(), score(1, 100, 0.1)),
                ("r1".into(), score(2, 200, 0.2)),
                ("r1".into(), score(3, 300, 0.3)),
            ],
        })
        .await;
        let (status, v) = get(format!("{base}/rigs/r1/scores?from=150&limit=1")).await;
        assert_eq!(status, 200);
        assert_eq!(v["rig"], "r1");
        assert_eq!(v["records"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            (v["records"][0]["seq"].as_u64(), v["records"][0]["ts_ms"].as_u64()),
            (Some(2), Some(200))
        );
        assert_eq!(v["records"][0]["score"]["subject"], "rig");

        let (status, v) = get(format!("{base}/fleet/config")).await;
        assert_eq!(status, 200);
        assert_eq!(v["rigs"][0]["scopes"][0]["status"], "pending");
        assert_eq!(v["rigs"][0]["scopes"][0]["version"], 7);

        let (status, v) = get(format!("{base}/rigs/r1/scores?limit=-1")).await;
        assert_eq!(
            (status, v["code"].as_str(), v["parameter"].as_str()),
            (400, Some("bad_parameter"), Some("limit"))
        );
        let (status, v) = get(format!("{base}/rigs/nope/scores")).await;
        assert_eq!(
            (status, v["code"].as_str(), v["rig"].as_str()),
            (404, Some("rig_not_found"), Some("nope"))
        );
        let (status, v) = get(format!("{base}/rigs/r1/bogus")).await;
        assert_eq!((status, v["listing"].as_str()), (404, Some("bogus")));
        assert_eq!(v["known"][3], "scores");

        let (status, _) = get(format!("{base}/health")).await;
        assert_eq!(status, 200);
    }
}

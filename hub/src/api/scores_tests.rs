//! The score API against a score store whose every read fails: the seed's 500, and `/health`
//! saying the database is not connected.

use super::*;
use crate::metrics::Metrics;
use crate::store::Store;
use std::time::Instant;

/// A score store whose every read fails, as a damaged table would.
struct Broken;

fn fail<T>() -> Result<T, StoreError> {
    Err(StoreError::Scores(
        "batch".into(),
        serde_json::from_str::<u8>("x").expect_err("not json"),
    ))
}

impl ScoresRead for Broken {
    fn completed_dates(&self, _: &str) -> Result<Vec<ProcessingDate>, StoreError> {
        fail()
    }
    fn visible_batch(&self, _: &str, _: ProcessingDate) -> Result<Option<BatchMeta>, StoreError> {
        fail()
    }
    fn last_run(&self, _: &str, _: ProcessingDate) -> Result<Option<BatchMeta>, StoreError> {
        fail()
    }
    fn visible_batches(&self, _: &str) -> Result<Vec<BatchMeta>, StoreError> {
        fail()
    }
    fn alert_scores(
        &self,
        _: &str,
        _: ProcessingDate,
        _: usize,
        _: usize,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        fail()
    }
    fn rankings(
        &self,
        _: &str,
        _: ProcessingDate,
        _: usize,
        _: usize,
    ) -> Result<Vec<(u32, String, f64)>, StoreError> {
        fail()
    }
    fn cluster_scores(
        &self,
        _: &str,
        _: ProcessingDate,
        _: usize,
        _: usize,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        fail()
    }
}

#[tokio::test]
async fn a_store_failure_is_the_seeds_500_and_health_says_the_database_is_not_connected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("hub.redb")).expect("open"));
    let metrics = Arc::new(Metrics::default());
    let app = super::super::router(AppState {
        store,
        metrics: metrics.clone(),
        started: Instant::now(),
        scores: Arc::new(ScoresApi {
            store: Arc::new(Broken),
            networks: vec!["bitcoin".into()],
            models_dir: None,
            cache: Default::default(),
        }),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let get = |path: &'static str| {
        let url = format!("http://{addr}{path}");
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut resp = agent.get(&url).call().expect("request");
            let status = resp.status().as_u16();
            (status, resp.body_mut().read_json::<Value>().expect("json"))
        })
    };
    for path in [
        "/dates/available",
        "/scores/alerts/latest",
        "/rankings/alerts/2026-11-30",
        "/networks",
    ] {
        let (status, body) = get(path).await.expect("join");
        assert_eq!(
            (status, body),
            (500, json!({"detail": "Database read failed"})),
            "{path}"
        );
    }
    // A bad date is refused before the store is read.
    let (status, body) = get("/scores/clusters/2026-11-31").await.expect("join");
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["path", "processing_date"]));
    let (status, _) = get("/scores/alerts/latest?network=ethereum").await.expect("join");
    assert_eq!(status, 404);
    // The bad date and the unknown network are counted; the store failures are not bad input.
    let bad = &metrics.score_api_bad_requests;
    assert_eq!(bad.load(std::sync::atomic::Ordering::Relaxed), 2);
    let (status, body) = get("/health").await.expect("join");
    assert_eq!(
        (status, &body["status"], &body["database_connected"]),
        (200, &json!("healthy"), &json!(false))
    );
}

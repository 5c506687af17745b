//! The scores aggregate (seed 003's tables): per (network, processing date) the batch bookkeeping
//! (`batch_metadata`), the alert scores, the alert rankings, the cluster scores, each alert's
//! features (for `export alerts`) and each rig's daily alert count and score sum (the next
//! batches' history feature).
//!
//! Two bookkeeping rows per date: the latest *run* (RUNNING, FAILED or COMPLETED) and the
//! *visible* batch (the last COMPLETED one, which the rows belong to). A batch's rows, its visible
//! row and its run row are replaced in one write transaction, so a re-run swaps the date
//! atomically and a run that fails or dies half way leaves the previous COMPLETED batch served.
//! Must never serve a date that has no COMPLETED batch, or leave a run RUNNING across a restart.

use super::StoreError;
use crate::scores::date::ProcessingDate;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

type DateKey<'a> = (&'a str, u32);
/// (network, date) -> JSON BatchMeta of the latest run.
const RUNS: TableDefinition<DateKey, &[u8]> = TableDefinition::new("score_batch_runs");
/// (network, date) -> JSON BatchMeta of the COMPLETED batch being served.
const VISIBLE: TableDefinition<DateKey, &[u8]> = TableDefinition::new("score_batch_visible");
/// (network, date, alert_id) -> (score, latency_ms)
const ALERT_SCORES: TableDefinition<(&str, u32, &str), (f64, f64)> = TableDefinition::new("alert_scores");
/// (network, date, rank) -> (alert_id, score)
const RANKINGS: TableDefinition<(&str, u32, u32), (&str, f64)> = TableDefinition::new("alert_rankings");
/// (network, date, cluster_id) -> (score, latency_ms)
const CLUSTER_SCORES: TableDefinition<(&str, u32, &str), (f64, f64)> = TableDefinition::new("cluster_scores");
/// (network, date, alert_id) -> JSON ScoredAlert
const ALERT_DETAILS: TableDefinition<(&str, u32, &str), &[u8]> = TableDefinition::new("scored_alerts");
/// (network, rig, date) -> (alerts, score sum)
const RIG_DAYS: TableDefinition<(&str, &str, u32), (u32, f64)> = TableDefinition::new("score_rig_days");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchStatus {
    Running,
    Completed,
    Failed,
}

/// Seed 003's `batch_metadata` row, plus the window it covered and why a run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchMeta {
    pub network: String,
    pub processing_date: String,
    pub status: BatchStatus,
    pub input_counts_alerts: u32,
    pub output_counts_alert_scores: u32,
    pub output_counts_alert_rankings: u32,
    pub output_counts_cluster_scores: u32,
    /// Wall time of the whole batch.
    pub latencies_ms_total: u64,
    /// Sum of the per-alert scoring latencies.
    pub alert_latency_ms_total: f64,
    /// Sum of the per-cluster scoring latencies.
    pub cluster_latency_ms_total: f64,
    pub model_versions_alert_scorer: String,
    pub model_versions_alert_ranker: String,
    pub model_versions_cluster_scorer: String,
    /// The alerts' time window `[start, end)`.
    pub window_start_ms: u64,
    pub window_end_ms: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub error: Option<String>,
}

/// One scored alert as kept for export and retraining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredAlert {
    pub alert_id: String,
    pub site: String,
    pub rig: String,
    pub subject: String,
    pub ts_ms: u64,
    pub threat_type: String,
    pub severity: String,
    pub agent_score: f32,
    pub hardware_class: String,
    pub pool: Option<String>,
    pub features: Vec<f32>,
    pub score: f32,
    pub rank: u32,
}

/// A finished batch's rows.
#[derive(Debug, Clone, Default)]
pub struct BatchRows {
    /// (alert_id, score, latency_ms)
    pub alert_scores: Vec<(String, f64, f64)>,
    /// (rank, alert_id, score), rank from 1
    pub rankings: Vec<(u32, String, f64)>,
    /// (cluster_id, score, latency_ms)
    pub cluster_scores: Vec<(String, f64, f64)>,
    pub details: Vec<ScoredAlert>,
}

/// The served score tables, read.
pub trait ScoresRead: Send + Sync {
    /// Dates with a COMPLETED batch, newest first.
    fn completed_dates(&self, network: &str) -> Result<Vec<ProcessingDate>, StoreError>;
    /// The COMPLETED batch served for the date.
    fn visible_batch(&self, network: &str, date: ProcessingDate) -> Result<Option<BatchMeta>, StoreError>;
    /// The latest run of the date, whatever its status.
    fn last_run(&self, network: &str, date: ProcessingDate) -> Result<Option<BatchMeta>, StoreError>;
    /// Every COMPLETED batch of the network, oldest first.
    fn visible_batches(&self, network: &str) -> Result<Vec<BatchMeta>, StoreError>;
    /// (alert_id, score, latency_ms) ordered by alert_id.
    fn alert_scores(
        &self,
        network: &str,
        date: ProcessingDate,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64, f64)>, StoreError>;
    /// (rank, alert_id, score) ordered by rank.
    fn rankings(
        &self,
        network: &str,
        date: ProcessingDate,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(u32, String, f64)>, StoreError>;
    /// (cluster_id, score, latency_ms) ordered by cluster_id.
    fn cluster_scores(
        &self,
        network: &str,
        date: ProcessingDate,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, f64, f64)>, StoreError>;
}

fn json_err(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Scores(what.to_string(), e)
}

fn decode_meta(key: (&str, u32), bytes: &[u8]) -> Result<BatchMeta, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        json_err(
            &format!("batch {}/{}", key.0, ProcessingDate::from_days(key.1)),
            e,
        )
    })
}

/// Creates the tables; a run left RUNNING by a process that died is marked FAILED.
pub(super) fn create(tx: &WriteTransaction, now_ms: u64) -> Result<(), StoreError> {
    for t in [RUNS, VISIBLE] {
        tx.open_table(t)?;
    }
    tx.open_table(ALERT_SCORES)?;
    tx.open_table(RANKINGS)?;
    tx.open_table(CLUSTER_SCORES)?;
    tx.open_table(ALERT_DETAILS)?;
    tx.open_table(RIG_DAYS)?;
    let mut runs = tx.open_table(RUNS)?;
    let mut stale = Vec::new();
    for entry in runs.iter()? {
        let (k, v) = entry?;
        let (net, day) = k.value();
        let mut meta = decode_meta((net, day), v.value())?;
        if meta.status == BatchStatus::Running {
            meta.status = BatchStatus::Failed;
            meta.updated_ms = now_ms;
            meta.error = Some("interrupted: the process stopped while the batch ran".into());
            stale.push(((net.to_string(), day), meta));
        }
    }
    for ((net, day), meta) in stale {
        log::warn!(
            "score batch {net}/{} was interrupted; marked FAILED",
            meta.processing_date
        );
        let bytes = serde_json::to_vec(&meta).map_err(|e| json_err("batch", e))?;
        runs.insert((net.as_str(), day), bytes.as_slice())?;
    }
    Ok(())
}

/// Records the date's run (RUNNING or FAILED); the visible batch is untouched.
pub(super) fn record_run(
    tx: &WriteTransaction,
    meta: &BatchMeta,
    date: ProcessingDate,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(meta).map_err(|e| json_err("batch", e))?;
    tx.open_table(RUNS)?
        .insert((meta.network.as_str(), date.days()), bytes.as_slice())?;
    Ok(())
}

/// Replaces the date's rows with `rows` and makes `meta` (COMPLETED) its visible batch.
pub(super) fn replace(
    tx: &WriteTransaction,
    meta: &BatchMeta,
    date: ProcessingDate,
    rows: &BatchRows,
) -> Result<(), StoreError> {
    let (net, d) = (meta.network.as_str(), date.days());
    {
        let mut t = tx.open_table(ALERT_SCORES)?;
        t.retain_in((net, d, "")..(net, d + 1, ""), |_, _| false)?;
        for (id, s, l) in &rows.alert_scores {
            t.insert((net, d, id.as_str()), (*s, *l))?;
        }
    }
    {
        let mut t = tx.open_table(RANKINGS)?;
        t.retain_in((net, d, 0)..(net, d + 1, 0), |_, _| false)?;
        for (rank, id, s) in &rows.rankings {
            t.insert((net, d, *rank), (id.as_str(), *s))?;
        }
    }
    {
        let mut t = tx.open_table(CLUSTER_SCORES)?;
        t.retain_in((net, d, "")..(net, d + 1, ""), |_, _| false)?;
        for (id, s, l) in &rows.cluster_scores {
            t.insert((net, d, id.as_str()), (*s, *l))?;
        }
    }
    {
        let mut t = tx.open_table(ALERT_DETAILS)?;
        t.retain_in((net, d, "")..(net, d + 1, ""), |_, _| false)?;
        let mut rig_days = tx.open_table(RIG_DAYS)?;
        rig_days.retain(|(n, _, day), _| !(n == net && day == d))?;
        let mut per_rig: std::collections::BTreeMap<&str, (u32, f64)> = Default::default();
        for a in &rows.details {
            let bytes = serde_json::to_vec(a).map_err(|e| json_err("scored alert", e))?;
            t.insert((net, d, a.alert_id.as_str()), bytes.as_slice())?;
            let e = per_rig.entry(a.rig.as_str()).or_default();
            e.0 += 1;
            e.1 += f64::from(a.score);
        }
        for (rig, v) in per_rig {
            rig_days.insert((net, rig, d), v)?;
        }
    }
    let bytes = serde_json::to_vec(meta).map_err(|e| json_err("batch", e))?;
    tx.open_table(VISIBLE)?.insert((net, d), bytes.as_slice())?;
    tx.open_table(RUNS)?.insert((net, d), bytes.as_slice())?;
    Ok(())
}

/// Each rig's (alerts, score sum) over the dates `[from, to]`.
pub(super) fn rig_history(
    tx: &ReadTransaction,
    network: &str,
    from: ProcessingDate,
    to: ProcessingDate,
) -> Result<std::collections::HashMap<String, (u32, f64)>, StoreError> {
    let t = tx.open_table(RIG_DAYS)?;
    let mut out: std::collections::HashMap<String, (u32, f64)> = Default::default();
    // Keyed by rig first: walk the network's rows and keep the dates in range.
    for entry in t.range((network, "", 0)..)? {
        let (k, v) = entry?;
        let (n, rig, day) = k.value();
        if n != network {
            break;
        }
        if (from.days()..=to.days()).contains(&day) {
            let (c, s) = v.value();
            let e = out.entry(rig.to_string()).or_default();
            e.0 += c;
            e.1 += s;
        }
    }
    Ok(out)
}

/// The scored alerts of `[from, to]`, every network, oldest date first.
pub(super) fn scored_alerts(
    tx: &ReadTransaction,
    from: ProcessingDate,
    to: ProcessingDate,
) -> Result<Vec<(String, String, ScoredAlert)>, StoreError> {
    let t = tx.open_table(ALERT_DETAILS)?;
    let mut out = Vec::new();
    for entry in t.iter()? {
        let (k, v) = entry?;
        let (net, day, id) = k.value();
        if !(from.days()..=to.days()).contains(&day) {
            continue;
        }
        let a: ScoredAlert = serde_json::from_slice(v.value()).map_err(|e| json_err(id, e))?;
        out.push((net.to_string(), ProcessingDate::from_days(day).to_string(), a));
    }
    out.sort_by(|a, b| (&a.1, &a.0, a.2.ts_ms).cmp(&(&b.1, &b.0, b.2.ts_ms)));
    Ok(out)
}

pub(super) fn completed_dates(
    tx: &ReadTransaction,
    network: &str,
) -> Result<Vec<ProcessingDate>, StoreError> {
    let t = tx.open_table(VISIBLE)?;
    let mut out = Vec::new();
    for entry in t.range((network, 0)..=(network, u32::MAX))?.rev() {
        let (k, _) = entry?;
        out.push(ProcessingDate::from_days(k.value().1));
    }
    Ok(out)
}

pub(super) fn visible_batches(tx: &ReadTransaction, network: &str) -> Result<Vec<BatchMeta>, StoreError> {
    let t = tx.open_table(VISIBLE)?;
    let mut out = Vec::new();
    for entry in t.range((network, 0)..=(network, u32::MAX))? {
        let (k, v) = entry?;
        out.push(decode_meta(k.value(), v.value())?);
    }
    Ok(out)
}

pub(super) fn meta(
    tx: &ReadTransaction,
    visible: bool,
    network: &str,
    date: ProcessingDate,
) -> Result<Option<BatchMeta>, StoreError> {
    let t = tx.open_table(if visible { VISIBLE } else { RUNS })?;
    let key = (network, date.days());
    match t.get(key)? {
        Some(v) => decode_meta(key, v.value()).map(Some),
        None => Ok(None),
    }
}

pub(super) fn alert_scores(
    tx: &ReadTransaction,
    network: &str,
    date: ProcessingDate,
    offset: usize,
    limit: usize,
) -> Result<Vec<(String, f64, f64)>, StoreError> {
    let t = tx.open_table(ALERT_SCORES)?;
    let d = date.days();
    let mut out = Vec::with_capacity(limit.min(16_384));
    for entry in t
        .range((network, d, "")..(network, d + 1, ""))?
        .skip(offset)
        .take(limit)
    {
        let (k, v) = entry?;
        let (s, l) = v.value();
        out.push((k.value().2.to_string(), s, l));
    }
    Ok(out)
}

pub(super) fn rankings(
    tx: &ReadTransaction,
    network: &str,
    date: ProcessingDate,
    offset: usize,
    limit: usize,
) -> Result<Vec<(u32, String, f64)>, StoreError> {
    let t = tx.open_table(RANKINGS)?;
    let d = date.days();
    // Ranks are 1..=n without gaps, so the offset is a key, not a skip.
    let first = u32::try_from(offset).unwrap_or(u32::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(limit.min(16_384));
    for entry in t.range((network, d, first)..(network, d + 1, 0))?.take(limit) {
        let (k, v) = entry?;
        let (id, s) = v.value();
        out.push((k.value().2, id.to_string(), s));
    }
    Ok(out)
}

pub(super) fn cluster_scores(
    tx: &ReadTransaction,
    network: &str,
    date: ProcessingDate,
    offset: usize,
    limit: usize,
) -> Result<Vec<(String, f64, f64)>, StoreError> {
    let t = tx.open_table(CLUSTER_SCORES)?;
    let d = date.days();
    let mut out = Vec::with_capacity(limit.min(16_384));
    for entry in t
        .range((network, d, "")..(network, d + 1, ""))?
        .skip(offset)
        .take(limit)
    {
        let (k, v) = entry?;
        let (s, l) = v.value();
        out.push((k.value().2.to_string(), s, l));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A score store with no batch at all (for API tests about other resources).
    pub(crate) struct NoBatches;

    impl ScoresRead for NoBatches {
        fn completed_dates(&self, _: &str) -> Result<Vec<ProcessingDate>, StoreError> {
            Ok(vec![])
        }
        fn visible_batch(&self, _: &str, _: ProcessingDate) -> Result<Option<BatchMeta>, StoreError> {
            Ok(None)
        }
        fn last_run(&self, _: &str, _: ProcessingDate) -> Result<Option<BatchMeta>, StoreError> {
            Ok(None)
        }
        fn visible_batches(&self, _: &str) -> Result<Vec<BatchMeta>, StoreError> {
            Ok(vec![])
        }
        fn alert_scores(
            &self,
            _: &str,
            _: ProcessingDate,
            _: usize,
            _: usize,
        ) -> Result<Vec<(String, f64, f64)>, StoreError> {
            Ok(vec![])
        }
        fn rankings(
            &self,
            _: &str,
            _: ProcessingDate,
            _: usize,
            _: usize,
        ) -> Result<Vec<(u32, String, f64)>, StoreError> {
            Ok(vec![])
        }
        fn cluster_scores(
            &self,
            _: &str,
            _: ProcessingDate,
            _: usize,
            _: usize,
        ) -> Result<Vec<(String, f64, f64)>, StoreError> {
            Ok(vec![])
        }
    }

    pub(crate) fn meta(status: BatchStatus, date: &str, alerts: u32) -> BatchMeta {
        BatchMeta {
            network: "bitcoin".into(),
            processing_date: date.into(),
            status,
            input_counts_alerts: alerts,
            output_counts_alert_scores: alerts,
            output_counts_alert_rankings: alerts,
            output_counts_cluster_scores: 1,
            latencies_ms_total: 5,
            alert_latency_ms_total: 1.0,
            cluster_latency_ms_total: 0.5,
            model_versions_alert_scorer: "alert_scorer_v1".into(),
            model_versions_alert_ranker: "alert_scorer_v1".into(),
            model_versions_cluster_scorer: "cluster_scorer_v1".into(),
            window_start_ms: 0,
            window_end_ms: 1,
            created_ms: 1,
            updated_ms: 2,
            error: None,
        }
    }

    fn rows(ids: &[&str]) -> BatchRows {
        BatchRows {
            alert_scores: ids.iter().map(|i| (i.to_string(), 0.5, 1.0)).collect(),
            rankings: ids
                .iter()
                .enumerate()
                .map(|(r, i)| (r as u32 + 1, i.to_string(), 0.5))
                .collect(),
            cluster_scores: vec![("site/s/01h".into(), 0.7, 0.5)],
            details: vec![],
        }
    }

    #[test]
    fn a_rerun_replaces_the_date_and_a_dead_run_leaves_the_last_completed_served() {
        use crate::store::Store;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.redb");
        let d = ProcessingDate::parse("2026-11-30").expect("day");
        let next = d.plus_days(1);
        {
            let s = Store::open(&path).expect("open");
            s.replace_score_batch(
                &meta(BatchStatus::Completed, "2026-11-30", 3),
                d,
                &rows(&["a", "b", "c"]),
            )
            .expect("first");
            s.replace_score_batch(
                &meta(BatchStatus::Completed, "2026-11-30", 2),
                d,
                &rows(&["b", "d"]),
            )
            .expect("rerun");
            let ids: Vec<String> = s
                .alert_scores("bitcoin", d, 0, 100)
                .expect("read")
                .into_iter()
                .map(|r| r.0)
                .collect();
            assert_eq!(ids, vec!["b", "d"], "the re-run replaced every row");
            assert_eq!(
                s.rankings("bitcoin", d, 1, 10).expect("read")[0].0,
                2,
                "offset is by rank"
            );
            assert_eq!(s.alert_scores("bitcoin", d, 1, 1).expect("read")[0].0, "d");
            // A re-run starts and the process dies; the next day only ever FAILED.
            s.record_score_run(&meta(BatchStatus::Running, "2026-11-30", 0), d)
                .expect("running");
            let mut failed = meta(BatchStatus::Failed, "2026-12-01", 0);
            failed.error = Some("model".into());
            s.record_score_run(&failed, next).expect("failed");
        }
        let s = Store::open(&path).expect("reopen");
        let run = s.last_run("bitcoin", d).expect("read").expect("run");
        assert_eq!(run.status, BatchStatus::Failed);
        assert!(
            run.error.as_deref().is_some_and(|e| e.contains("interrupted")),
            "{run:?}"
        );
        let served = s.visible_batch("bitcoin", d).expect("read").expect("served");
        assert_eq!(
            (served.status, served.output_counts_alert_scores),
            (BatchStatus::Completed, 2)
        );
        assert_eq!(s.alert_scores("bitcoin", d, 0, 100).expect("read").len(), 2);
        assert_eq!(
            s.completed_dates("bitcoin").expect("dates"),
            vec![d],
            "the FAILED date is not listed"
        );
        assert!(s.visible_batch("bitcoin", next).expect("read").is_none());
        assert!(s.completed_dates("litecoin").expect("dates").is_empty());
    }
}

//! `GET /depin`: the latest report of every DePIN node of every rig (Storj, Golem, Streamr side
//! workloads the agents poll), with its age and whether it is stale, and [`latest_depin`], the
//! read function allocation uses for DePIN earnings and resource use.
//!
//! `?within_s=` (default one day) bounds how far back a node's last report is looked for: a node
//! silent for longer is not listed (its rig's `missing` and staleness say why). Must never
//! present a stale report as current, nor fill in a figure the report does not have.

use super::{ApiError, AppState};
use crate::store::{RecordsRead, RigsRead, StoreError};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hashward_protocol::{Body, DepinReport};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// A report older than this many poll intervals is stale (one missed poll is normal jitter).
pub const STALE_AFTER_INTERVALS: u64 = 3;
const DEFAULT_WITHIN_S: u64 = 86_400;
/// Reports read per rig at most: a day of one node polled every 10 s, with room.
const MAX_RECORDS_PER_RIG: usize = 50_000;

/// One node's latest report as the hub holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepinLatest {
    pub rig: String,
    pub site: String,
    pub seq: u64,
    pub ts_ms: u64,
    pub age_s: u64,
    /// Older than [`STALE_AFTER_INTERVALS`] poll intervals.
    pub stale: bool,
    pub report: DepinReport,
}

/// The latest report per (rig, node) received in the last `within_ms` before `now_ms`, by rig
/// then node. For allocation: a stale entry's figures are history, not the present.
pub fn latest_depin<S: RigsRead + RecordsRead + ?Sized>(
    store: &S,
    now_ms: u64,
    within_ms: u64,
) -> Result<Vec<DepinLatest>, StoreError> {
    let mut out = Vec::new();
    for rig in store.rigs()? {
        let records = store.records_of_kind(
            rig.rig.as_str(),
            "depin",
            now_ms.saturating_sub(within_ms),
            u64::MAX,
            MAX_RECORDS_PER_RIG,
        )?;
        let mut newest: BTreeMap<String, (u64, u64, DepinReport)> = BTreeMap::new();
        for r in records {
            let Body::Depin(d) = r.body else { continue };
            // By seq, not ts_ms: a rig's clock may step back; its sequence does not.
            if newest.get(&d.node).is_none_or(|(seq, _, _)| *seq < r.seq) {
                newest.insert(d.node.clone(), (r.seq, r.ts_ms, d));
            }
        }
        for (_, (seq, ts_ms, report)) in newest {
            let age_s = now_ms.saturating_sub(ts_ms) / 1000;
            let stale = age_s
                > report
                    .poll_interval_s
                    .max(1)
                    .saturating_mul(STALE_AFTER_INTERVALS);
            out.push(DepinLatest {
                rig: rig.rig.to_string(),
                site: rig.site.to_string(),
                seq,
                ts_ms,
                age_s,
                stale,
                report,
            });
        }
    }
    Ok(out)
}

pub(super) async fn list(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let within_s = match q.get("within_s") {
        None => DEFAULT_WITHIN_S,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|w| (1..=366 * 86_400).contains(w))
            .ok_or_else(|| {
                ApiError::bad_parameter("within_s", format!("within_s={v:?} is not 1..=31622400 seconds"))
            })?,
    };
    let now_ms = hashward_common::now_ms();
    let nodes = latest_depin(s.store.as_ref(), now_ms, within_s * 1000)?;
    Ok(Json(json!({
        "now_ms": now_ms,
        "within_s": within_s,
        "stale_after_intervals": STALE_AFTER_INTERVALS,
        "nodes": nodes,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rig::RigEntry;
    use crate::store::memory::MemoryStore;
    use crate::store::StoredRecord;
    use hashward_protocol::{DepinKind, RigId, SiteId};

    fn report(node: &str, disk: u64) -> DepinReport {
        DepinReport {
            node: node.into(),
            kind: DepinKind::Storj,
            reachable: true,
            error_kind: None,
            error: None,
            poll_interval_s: 60,
            node_id: None,
            version: None,
            uptime_s: None,
            earnings: None,
            earnings_unavailable: Some("test".into()),
            disk_used_bytes: Some(disk),
            disk_available_bytes: None,
            bandwidth_bytes: None,
            cpu_share_pct: None,
            active_jobs: None,
        }
    }

    fn rec(seq: u64, ts_ms: u64, r: DepinReport) -> (String, StoredRecord) {
        (
            "r1".into(),
            StoredRecord {
                seq,
                ts_ms,
                body: Body::Depin(r),
            },
        )
    }

    #[test]
    fn latest_per_node_by_seq_with_age_and_staleness() {
        let store = MemoryStore {
            rigs: vec![RigEntry::new(
                RigId::new("r1").expect("id"),
                SiteId::new("s1").expect("id"),
            )],
            records: vec![
                rec(1, 1_000_000, report("a", 1)),
                // A later seq with an earlier clock (a step back) is still the latest.
                rec(3, 900_000, report("a", 3)),
                rec(2, 1_100_000, report("a", 2)),
                rec(4, 1_000_000, report("b", 40)),
                // Outside the window: not listed.
                rec(5, 10_000, report("c", 50)),
            ],
        };
        let now = 1_000_000 + 200_000;
        let got = latest_depin(&store, now, 400_000).expect("read");
        let summary: Vec<(&str, u64, Option<u64>, u64, bool)> = got
            .iter()
            .map(|l| {
                (
                    l.report.node.as_str(),
                    l.seq,
                    l.report.disk_used_bytes,
                    l.age_s,
                    l.stale,
                )
            })
            .collect();
        // a: seq 3, 300 s old = 5 intervals of 60 s: stale; b: 200 s, 3.3 intervals: stale too.
        assert_eq!(
            summary,
            [("a", 3, Some(3), 300, true), ("b", 4, Some(40), 200, true)]
        );
        let fresh = latest_depin(&store, 1_000_000 + 150_000, 400_000).expect("read");
        assert!(fresh
            .iter()
            .any(|l| l.report.node == "b" && !l.stale && l.age_s == 150));
        assert_eq!(got[0].site, "s1");
    }
}

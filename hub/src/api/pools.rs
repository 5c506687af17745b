//! `/pools`, `/pools/{pool}/workers` and `/network/{coin}`: the pool accounts and chain
//! snapshots the collectors stored, each with `stale` (its source is not answering now, so this
//! is the last good value) and `age_s`. A pool's workers and balances come from its live link
//! only (`stale`); its profitability also from the HTTP fallback (`profitability_stale`). Workers are joined to the rigs and ASICs that mine for
//! them (`domain::pool_join`) from the rigs' latest telemetry and ASIC readings.
//!
//! Read-only. Must never serve a key (none is stored) and never answer a bad path with a 500.

use super::ApiError;
use crate::collect::chain::Coin;
use crate::collect::pool_view;
use crate::collect::source::Registry;
use crate::domain::pool_join::{self, MinerSide};
use crate::store::{RecordsRead, RigsRead, Store};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hashward_common::clock::now_ms;
use hashward_protocol::Body;
use serde_json::{json, Value};
use std::sync::Arc;

/// ASIC readings older than this are not joined (a rig that stopped polling one).
const ASIC_WINDOW_MS: u64 = 15 * 60 * 1000;

#[derive(Clone)]
pub struct PoolsApi {
    pub store: Arc<Store>,
    pub sources: Arc<Registry>,
}

pub fn router(state: PoolsApi) -> Router {
    Router::new()
        .route("/pools", get(pools))
        .route("/pools/{pool}/workers", get(workers))
        .route("/network/{coin}", get(network))
        .with_state(state)
}

fn age_s(now: u64, at_ms: u64) -> u64 {
    now.saturating_sub(at_ms) / 1000
}

async fn pools(State(s): State<PoolsApi>) -> Result<Response, ApiError> {
    // Small reads from redb, as the other handlers do them: no blocking pool needed.
    let states = s.store.pool_states()?;
    let now = now_ms();
    let pools: Vec<Value> = states
        .into_iter()
        .map(|(pool, received_ms, state)| {
            let mut v = pool_view::pool_entry(&s.sources, &pool, received_ms, &state, now);
            v["age_s"] = json!(age_s(now, received_ms));
            v
        })
        .collect();
    Ok(Json(json!({ "pools": pools })).into_response())
}

/// What the rigs and their ASICs report about themselves, for the join.
fn miner_sides(store: &Store, now: u64) -> Result<Vec<MinerSide>, crate::store::StoreError> {
    let mut out = Vec::new();
    for rig in store.rigs()? {
        let name = rig.rig.as_str().to_string();
        if let Some(m) = rig.last_telemetry.as_ref().and_then(|t| t.miner.as_ref()) {
            if let Some(p) = &m.pool {
                out.push(MinerSide {
                    rig: name.clone(),
                    asic: None,
                    user: p.user.clone(),
                    reported_hs: m.hashrate_60s.hs(),
                    accepted: p.accepted,
                    rejected: p.rejected,
                    stale: p.stale_dropped,
                    sample_ms: rig.last_telemetry_ms,
                });
            }
        }
        let recs = store.records_of_kind(&name, "asic", now.saturating_sub(ASIC_WINDOW_MS), now, 100_000)?;
        // Oldest first: the last reading of each ASIC wins.
        let mut latest: std::collections::BTreeMap<String, MinerSide> = std::collections::BTreeMap::new();
        for r in recs {
            if let Body::Asic(a) = r.body {
                if let Some(p) = &a.pool {
                    latest.insert(
                        a.miner_id.clone(),
                        MinerSide {
                            rig: name.clone(),
                            asic: Some(a.miner_id.clone()),
                            user: p.user.clone(),
                            reported_hs: a.hashrate.total.hs(),
                            accepted: a.shares.accepted,
                            rejected: a.shares.rejected,
                            stale: a.shares.stale,
                            sample_ms: r.ts_ms,
                        },
                    );
                }
            }
        }
        out.extend(latest.into_values());
    }
    Ok(out)
}

async fn workers(State(s): State<PoolsApi>, Path(pool): Path<String>) -> Result<Response, ApiError> {
    let now = now_ms();
    let states = s.store.pool_states()?;
    let Some((_, received_ms, state)) = states.into_iter().find(|(p, _, _)| *p == pool) else {
        return Err(ApiError::not_found("pool", &pool));
    };
    let miners = miner_sides(&s.store, now)?;
    let rows = pool_join::join(&state.performance(now), &miners);
    Ok(Json(json!({
        "pool_id": pool,
        "stale": !pool_view::live(&s.sources, pool_view::pool_sources(&pool).0),
        "age_s": age_s(now, received_ms),
        "workers": rows,
    }))
    .into_response())
}

async fn network(State(s): State<PoolsApi>, Path(coin): Path<String>) -> Result<Response, ApiError> {
    let Ok(c) = Coin::parse(&coin) else {
        return Err(ApiError::not_found("coin", &coin));
    };
    let now = now_ms();
    let sources = [
        crate::collect::node_rpc::source_name(c),
        crate::collect::explorer::source_name(c),
    ];
    let Some(snap) = s
        .store
        .network_latest()?
        .into_iter()
        .find(|n| n.coin == c.as_str())
    else {
        // Known coin, nothing received yet: say which sources were asked and how they fare.
        let statuses: Vec<_> = s
            .sources
            .all()
            .into_iter()
            .filter(|st| sources.contains(&st.name))
            .collect();
        return Ok(
            Json(json!({ "coin": c.as_str(), "no_data_yet": true, "sources": statuses })).into_response(),
        );
    };
    let mut v = pool_view::network_entry(&s.sources, &snap);
    v["age_s"] = json!(age_s(now, snap.fetched_at_ms));
    Ok(Json(v).into_response())
}

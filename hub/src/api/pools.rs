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
use crate::store::Store;
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
    /// The rigs and their ASIC readings (the fleet store: `store` itself, or PostgreSQL).
    pub fleet: Arc<dyn crate::store::StoreRead>,
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
pub(crate) fn miner_sides(
    store: &dyn crate::store::StoreRead,
    now: u64,
) -> Result<Vec<MinerSide>, crate::store::StoreError> {
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
    let miners = miner_sides(s.fleet.as_ref(), now)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::prohashing::payload;
    use crate::collect::prohashing::state::PoolState;
    use crate::store::Incoming;
    use hashward_protocol::{
        AgentCounters, AsicApi, AsicHashrate, AsicPool, AsicTelemetry, Envelope, Hashrate, MinerTelemetry,
        PoolTelemetry, RigId, RigTelemetry, Shares, SiteId,
    };

    fn incoming(rig: &str, seq: u64, ts: u64, body: Body) -> Incoming {
        let envelope = Envelope::new(RigId::new(rig).expect("id"), seq, ts, body);
        let bytes = hashward_protocol::encode(&envelope).expect("encode");
        Incoming {
            site: SiteId::new("s").expect("id"),
            envelope,
            bytes,
            received_ms: ts,
        }
    }

    fn cpu_rig(user: &str, hs: f64) -> Body {
        Body::Tele(RigTelemetry {
            uptime_s: 1,
            load_1m: 0.0,
            load_5m: 0.0,
            load_15m: 0.0,
            cpu_usage_pct: 1.0,
            memory_used_bytes: 1,
            memory_total_bytes: 2,
            temperatures: vec![],
            miner: Some(MinerTelemetry {
                algo: "scrypt".into(),
                kernel: "scrypt-avx2".into(),
                threads: 8,
                batch: 1,
                paused: false,
                hashrate_10s: Hashrate(hs),
                hashrate_60s: Hashrate(hs),
                hashrate_15m: Hashrate(hs),
                pool: Some(PoolTelemetry {
                    url: "stratum+tcp://prohashing.com:3333".into(),
                    user: user.into(),
                    connected: true,
                    difficulty: 512.0,
                    accepted: 90,
                    rejected: 5,
                    stale_dropped: 5,
                    last_share_ts_ms: None,
                    latency_ms: None,
                }),
                constraints: vec![],
            }),
            agent: AgentCounters::default(),
        })
    }

    fn asic(id: &str, user: &str, hs: f64) -> Body {
        Body::Asic(AsicTelemetry {
            miner_id: id.into(),
            ip_address: "10.0.0.5".into(),
            api: AsicApi::Vnish,
            reachable: true,
            model: Some("Antminer S9".into()),
            firmware_version: None,
            hashrate: AsicHashrate {
                total: Hashrate(hs),
                ..AsicHashrate::default()
            },
            temperature: Default::default(),
            power: Default::default(),
            fans: vec![],
            pool: Some(AsicPool {
                url: "stratum+tcp://prohashing.com:3335".into(),
                user: user.into(),
                status: "alive".into(),
            }),
            shares: Shares {
                accepted: 199,
                rejected: 1,
                stale: 0,
                last_share_ts_ms: None,
            },
            status: Default::default(),
            config: Default::default(),
            invalid: vec![],
        })
    }

    /// The rigs' own readings end up beside the pool's view of the same workers.
    #[tokio::test]
    async fn workers_are_joined_to_the_rig_and_the_asic_mining_for_them() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Store::open(&dir.path().join("hub.redb")).expect("store"));
        let now = now_ms();
        store
            .ingest(&[
                incoming("rigA", 1, now - 1000, asic("s9a", "acct.s9a", 14.0e12)),
                incoming("rigB", 1, now - 1000, cpu_rig("acct.l3", 4.0e8)),
            ])
            .expect("ingest");
        let mut state = PoolState::default();
        let miners = payload::miners_snapshot(&[serde_json::json!([
            {"uuid": "u1", "miner_name": "s9a", "algorithm_name": "SHA-256", "hashrate": 13.1e12, "share_count": 1804},
            {"uuid": "u2", "miner_name": "acct.l3", "algorithm_name": "Scrypt", "hashrate": 5.0e8, "share_count": 77},
        ])])
        .expect("miners");
        state.apply_miner_snapshot(miners, now, "prohashing_wamp");
        store.save_pool("prohashing", &state, now).expect("save");

        let app = router(PoolsApi {
            fleet: store.clone(),
            store,
            sources: Arc::new(Registry::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let v: Value = tokio::task::spawn_blocking(move || {
            let mut r = ureq::get(&format!("http://{addr}/pools/prohashing/workers"))
                .call()
                .expect("get");
            r.body_mut().read_json().expect("json")
        })
        .await
        .expect("join");
        assert_eq!(v["stale"], true, "no source is live in this test");
        let rows = v["workers"].as_array().expect("rows");
        let s9 = rows.iter().find(|r| r["worker_id"] == "s9a").expect("s9a");
        assert_eq!(
            (s9["rig"].as_str(), s9["asic"].as_str()),
            (Some("rigA"), Some("s9a"))
        );
        assert_eq!(s9["hashrate"]["reported"].as_f64(), Some(14.0e12));
        assert_eq!(s9["miner_acceptance"].as_f64(), Some(0.995));
        let r = s9["effective_over_reported"].as_f64().expect("ratio");
        assert!((r - 13.1 / 14.0).abs() < 1e-12, "{r}");
        let l3 = rows.iter().find(|r| r["worker_id"] == "acct.l3").expect("l3");
        assert_eq!((l3["rig"].as_str(), l3["asic"].as_str()), (Some("rigB"), None));
        assert_eq!(l3["miner_acceptance"].as_f64(), Some(0.9));
        assert_eq!(l3["effective_over_reported"].as_f64(), Some(1.25));
    }
}

//! The served form of the pool and network data, shared by the HTTP API (`/pools`,
//! `/network/{coin}`) and the retained dashboard topics (`hashward/json/pools/{pool}`,
//! `hashward/json/network/{coin}`), so both say the same thing: the stored record plus `stale`
//! (its source is not answering now: this is the last good value).
//!
//! Must never hold a key (nothing stored has one) and never guess a value that is not stored.

use super::chain::Coin;
use super::prohashing::state::PoolState;
use super::source::{Registry, SourceState};
use super::{explorer, node_rpc};
use hashward_protocol::pool::NetworkSnapshot;
use hashward_protocol::topic::JSON_PREFIX;
use serde_json::{json, Value};

/// Whether any of `sources` is answering now.
pub fn live(reg: &Registry, sources: &[&str]) -> bool {
    reg.all()
        .iter()
        .any(|s| sources.contains(&s.name) && s.state == SourceState::Ok)
}

/// The sources that feed a pool's workers and balances (the live link only), and its
/// profitability (the link or the HTTP fallback).
pub fn pool_sources(pool: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match pool {
        "prohashing" => (&["prohashing"], &["prohashing", "prohashing_http"]),
        _ => (&[], &[]),
    }
}

/// A coin's network sources (its node, its explorer).
pub fn network_sources(c: Coin) -> [&'static str; 2] {
    [node_rpc::source_name(c), explorer::source_name(c)]
}

/// One pool as served: account totals, balances, per-algorithm profitability and the §4.2
/// worker records. No age (the API adds `age_s`; a retained topic must not change by the second).
pub fn pool_entry(reg: &Registry, pool: &str, received_ms: u64, state: &PoolState, now: u64) -> Value {
    let workers = state.performance(now);
    let (live_sources, profit_sources) = pool_sources(pool);
    json!({
        "pool_id": pool,
        "stale": !live(reg, live_sources),
        "profitability_stale": !live(reg, profit_sources),
        "received_at_ms": received_ms,
        "effective_hashrate_hs": state.total_ths() * 1e12,
        "workers_total": workers.len(),
        "workers_online": workers.iter().filter(|w| w.status == "online").count(),
        "balances": state.balances.iter().map(|(coin, amount)| json!({"coin": coin, "amount": amount})).collect::<Vec<_>>(),
        "balances_at_ms": state.balances_ms,
        "profitability": state.profitability(now),
        "workers": workers,
    })
}

/// A coin's snapshot as served, with `stale`.
pub fn network_entry(reg: &Registry, snap: &NetworkSnapshot) -> Value {
    let stale = match Coin::parse(&snap.coin) {
        Ok(c) => !live(reg, &network_sources(c)),
        Err(_) => true,
    };
    let mut v = serde_json::to_value(snap).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("stale".into(), json!(stale));
    }
    v
}

pub fn pool_topic(pool: &str) -> String {
    format!("{JSON_PREFIX}/pools/{pool}")
}

pub fn network_topic(coin: &str) -> String {
    format!("{JSON_PREFIX}/network/{coin}")
}

/// (source or pool, received ms, stale): a retained body is republished only when this moves.
pub type ChangeKey = (String, u64, bool);

/// Every pool and network topic with what it should carry now: (topic, change key, JSON body).
pub fn retained(reg: &Registry, store: &crate::store::Store, now: u64) -> Vec<(String, ChangeKey, Vec<u8>)> {
    let mut out = Vec::new();
    match store.pool_states() {
        Ok(states) => {
            for (pool, received_ms, state) in states {
                let v = pool_entry(reg, &pool, received_ms, &state, now);
                let stale = v["stale"].as_bool().unwrap_or(true)
                    || v["profitability_stale"].as_bool().unwrap_or(true);
                if let Ok(body) = serde_json::to_vec(&v) {
                    out.push((pool_topic(&pool), (pool.clone(), received_ms, stale), body));
                }
            }
        }
        Err(e) => log::warn!("pool topics: store unreadable: {e}"),
    }
    match store.network_latest() {
        Ok(snaps) => {
            for snap in snaps {
                let v = network_entry(reg, &snap);
                let stale = v["stale"].as_bool().unwrap_or(true);
                if let Ok(body) = serde_json::to_vec(&v) {
                    out.push((
                        network_topic(&snap.coin),
                        (snap.source.clone(), snap.fetched_at_ms, stale),
                        body,
                    ));
                }
            }
        }
        Err(e) => log::warn!("network topics: store unreadable: {e}"),
    }
    out
}

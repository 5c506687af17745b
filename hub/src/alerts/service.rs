//! The alert engine's loop: takes commands from [`super::AlertSink`]s (sources, the ingest, the
//! API), ticks the engine every `tick_ms`, decides `site_offline` from the rig registry, and
//! writes every step (state and the notifications it queued) to the store in one transaction
//! before answering the API or waking the delivery loop.
//!
//! Must never tell the delivery loop about a notification that is not committed, nor answer
//! an acknowledgement before it is stored.

use super::config::NotifyConfig;
use super::engine::Engine;
use super::feed::{self, Op};
use super::model::AlertKey;
use super::{Command, Subject};
use crate::store::{Store, StoreRead};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

/// The engine as the store last saw it.
pub fn restore(cfg: Arc<NotifyConfig>, store: &Store) -> Result<Engine, crate::store::StoreError> {
    let s = store.alert_state()?;
    Ok(Engine::restore(cfg, s.alerts, s.silences, s.groups, s.next_ids))
}

async fn persist(engine: &mut Engine, store: &Arc<Store>, wake: &Notify) -> Result<(), String> {
    let changes = engine.take_changes();
    if changes.is_empty() {
        return Ok(());
    }
    let store = store.clone();
    let queued =
        tokio::task::spawn_blocking(move || store.apply_alert_changes(&changes, hashward_common::now_ms()))
            .await
            .map_err(|e| format!("alert store task: {e}"))?
            .map_err(|e| format!("writing alerts: {e}"))?;
    if queued > 0 {
        wake.notify_one();
    }
    Ok(())
}

fn apply(engine: &mut Engine, cmd: Command, now: u64) -> Option<Box<dyn FnOnce() + Send>> {
    match cmd {
        Command::Op(Op::Raise(ev)) => {
            engine.raise(ev, now);
            None
        }
        Command::Op(Op::Resolve(key)) => {
            engine.resolve(&key, now);
            None
        }
        Command::Ack { id, by, reply } => {
            let r = engine.ack(id, &by, now);
            Some(Box::new(move || {
                reply.send(r).ok();
            }))
        }
        Command::Silence {
            matchers,
            window,
            created_by,
            comment,
            reply,
        } => {
            let r = engine.add_silence(matchers, window, &created_by, &comment, now);
            Some(Box::new(move || {
                reply.send(r).ok();
            }))
        }
        Command::Expire { id, reply } => {
            let r = engine.expire_silence(id, now);
            Some(Box::new(move || {
                reply.send(r).ok();
            }))
        }
        Command::Test { receiver, reply } => {
            engine.test_message(&receiver, now);
            Some(Box::new(move || {
                reply.send(()).ok();
            }))
        }
    }
}

/// Raises or resolves `site_offline` per site from the registry.
async fn check_sites(engine: &mut Engine, store: &Arc<dyn StoreRead>, min_rigs: usize, now: u64) {
    let s = store.clone();
    let rigs = match tokio::task::spawn_blocking(move || s.rigs()).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            log::error!("alerts: reading the rig registry for site_offline: {e}");
            return;
        }
        Err(e) => {
            log::error!("alerts: rig registry task: {e}");
            return;
        }
    };
    for (site, offline) in feed::sites_offline(&rigs, min_rigs) {
        let subject = Subject {
            site: Some(site.clone()),
            ..Subject::default()
        };
        let key = AlertKey::new(feed::SITE_OFFLINE, &subject);
        match (offline, engine.is_open(&key)) {
            (true, false) => {
                engine.raise(feed::site_offline_event(&site), now);
            }
            (false, true) => {
                engine.resolve(&key, now);
            }
            _ => {}
        }
    }
}

/// Runs until `stop` turns true.
pub(crate) async fn run(
    mut engine: Engine,
    cfg: Arc<NotifyConfig>,
    store: Arc<Store>,
    // The rig registry `site_offline` is decided from (the fleet store).
    fleet: Arc<dyn StoreRead>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.tick_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { return Ok(()) };
                let now = hashward_common::now_ms();
                let mut replies = Vec::new();
                replies.extend(apply(&mut engine, cmd, now));
                // Whatever else is waiting goes into the same transaction.
                while let Ok(cmd) = rx.try_recv() {
                    replies.extend(apply(&mut engine, cmd, now));
                }
                persist(&mut engine, &store, &wake).await?;
                for r in replies {
                    r();
                }
            }
            _ = tick.tick() => {
                let now = hashward_common::now_ms();
                check_sites(&mut engine, &fleet, cfg.sources.site_offline_min_rigs, now).await;
                engine.tick(now);
                persist(&mut engine, &store, &wake).await?;
            }
            _ = async { stop.wait_for(|s| *s).await.ok(); } => {
                return persist(&mut engine, &store, &wake).await;
            }
        }
    }
}

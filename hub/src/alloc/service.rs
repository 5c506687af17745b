//! The allocation loop: a thin shell around `hashward_econ::alloc::decide`. Every check period
//! it settles the assignments in flight from the rigs' acks; when a cycle is due (the interval,
//! a large market move, a demand-response request) it observes the fleet, builds the inputs
//! (`inputs::build`), decides with the state kept from the last cycle, stores the decision and
//! the state, and in `auto` mode applies the changes through the fleet control.
//!
//! Runs cycles only while this hub is the elected leader. Must never make a decision itself
//! (no thresholds here), apply anything in `advise` mode, or forget a rejection: a rig that
//! refuses or does not ack is rolled back in the stored state and raised as an alert
//! (`source: allocation`).

use super::apply::{self, Assignment, Awaited, Status, Step};
use super::config::{Mode, Settings};
use super::inputs::{self, Action, Observed, ObservedAsic, ObservedRig};
use crate::alerts::{AlertEvent, AlertSink, Level, Subject};
use crate::control::Control;
use crate::econ::{EconInputs, MinerKind};
use crate::elect::Leader;
use crate::store::{Store, StoreRead};
use hashward_econ::alloc::{decide, rules, Inputs, State};
use hashward_econ::Coin;
use hashward_protocol::{Body, RigId, SiteId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{watch, Notify};

/// ASIC readings read per rig per cycle to learn each ASIC's API.
const ASIC_READINGS_READ: usize = 2_000;

/// What the service keeps between cycles and across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    pub decide: State,
    /// Each rig's last non-zero hashrate (TH/s): a paused rig is priced with it.
    pub hashrate_ths: BTreeMap<String, f64>,
    /// The latest assignment per miner id.
    pub assignments: BTreeMap<String, Assignment>,
    pub last_decided_ms: Option<u64>,
    /// The highest config version this service pushed (versions only grow).
    pub last_config_version: u64,
}

/// One stored decision: its inputs, the decision (alternatives, reasons) and its assignments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub decided_ms: u64,
    pub mode: Mode,
    pub inputs: Inputs,
    /// Miners left out of the decision, with the reason.
    pub excluded: BTreeMap<String, String>,
    /// Market or tariff inputs that were missing, with the reason.
    pub missing_inputs: Vec<String>,
    pub decision: serde_json::Value,
    pub assignments: Vec<Assignment>,
}

/// A demand-response request from the API, applied at the next cycle (started at once).
#[derive(Debug, Clone, PartialEq)]
pub struct CurtailRequest {
    pub site: String,
    pub reduce_kw: f64,
    pub minutes: i64,
}

/// What the service and the API share.
pub struct Shared {
    pub settings: Settings,
    pub store: Arc<Store>,
    pub leader: Leader,
    latest: Mutex<Option<DecisionRecord>>,
    assignments: Mutex<BTreeMap<String, Assignment>>,
    curtail: Mutex<Vec<CurtailRequest>>,
    wake: Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(settings: Settings, store: Arc<Store>, leader: Leader) -> Shared {
        Shared {
            settings,
            store,
            leader,
            latest: Mutex::new(None),
            assignments: Mutex::new(BTreeMap::new()),
            curtail: Mutex::new(Vec::new()),
            wake: Notify::new(),
        }
    }

    /// The latest decision and the assignments as they stand now.
    pub fn snapshot(&self) -> (Option<DecisionRecord>, BTreeMap<String, Assignment>) {
        (lock(&self.latest).clone(), lock(&self.assignments).clone())
    }

    #[cfg(test)]
    pub(crate) fn latest_for_tests(&self) -> std::sync::MutexGuard<'_, Option<DecisionRecord>> {
        lock(&self.latest)
    }

    #[cfg(test)]
    pub(crate) fn take_curtail_for_tests(&self) -> Vec<CurtailRequest> {
        std::mem::take(&mut *lock(&self.curtail))
    }

    /// Queues a demand-response request and starts a cycle.
    pub fn curtail(&self, req: CurtailRequest) {
        lock(&self.curtail).push(req);
        self.wake.notify_one();
    }
}

/// What the loop needs from the rest of the hub.
pub struct Deps {
    pub shared: Arc<Shared>,
    pub fleet: Arc<dyn StoreRead>,
    pub econ: Arc<dyn EconInputs>,
    /// Required in auto mode (serve refuses to start auto without it).
    pub control: Option<Control>,
    pub alerts: AlertSink,
    pub now_ms: fn() -> u64,
}

pub async fn run(deps: Deps, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let shared = deps.shared.clone();
    let mut state: ServiceState = shared
        .store
        .allocation_state()
        .map_err(|e| format!("allocation state unreadable: {e}"))?
        .unwrap_or_default();
    *lock(&shared.latest) = shared
        .store
        .allocation_decisions::<DecisionRecord>(None, 1)
        .map_err(|e| format!("allocation history unreadable: {e}"))?
        .pop();
    *lock(&shared.assignments) = state.assignments.clone();
    let mut tick = tokio::time::interval(shared.settings.check_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            _ = shared.wake.notified() => true,
            _ = stop.changed() => return Ok(()),
        };
        if !shared.leader.is_leader() {
            continue;
        }
        settle_all(&deps, &mut state);
        if let Err(e) = cycle(&deps, &mut state, forced).await {
            log::warn!("allocation cycle: {e}");
        }
        *lock(&shared.assignments) = state.assignments.clone();
    }
}

/// Settles pending assignments; a refusal or a timeout rolls back and raises an alert.
fn settle_all(deps: &Deps, state: &mut ServiceState) {
    let now = (deps.now_ms)();
    let mut changed: BTreeMap<u64, Vec<Assignment>> = BTreeMap::new();
    for a in state.assignments.values_mut() {
        if a.status != Status::Pending {
            continue;
        }
        let entry = match deps.fleet.rig(&a.rig) {
            Ok(e) => e,
            Err(e) => {
                log::warn!("allocation: reading rig {:?}: {e}", a.rig);
                continue;
            }
        };
        apply::settle(a, entry.as_ref(), now);
        if a.status == Status::Pending {
            continue;
        }
        if matches!(a.status, Status::Rejected | Status::TimedOut) {
            rollback(&mut state.decide, a);
            report(&deps.alerts, a);
        } else {
            log::info!("allocation: {} now runs {}", a.id, a.to_target);
        }
        changed.entry(a.decided_ms).or_default().push(a.clone());
    }
    if changed.is_empty() {
        return;
    }
    for (ms, settled) in changed {
        update_record(deps, ms, &settled);
    }
    if let Err(e) = deps.shared.store.save_allocation_state(state) {
        log::error!("allocation: saving state: {e}");
    }
}

/// A refused move: the site's rule state forgets the profit it assumed from the switch (so the
/// next cycle compares from what the rig really runs); the dwell since the attempt stays, so a
/// rig that refuses is not asked again every cycle.
fn rollback(state: &mut State, a: &Assignment) {
    if let Some(s) = state.sites.get_mut(&a.site) {
        s.rules.last_current_usd_h = None;
    }
}

fn report(sink: &AlertSink, a: &Assignment) {
    let (rig, asic) = match a.id.split_once('/') {
        Some((_, m)) => (a.rig.as_str(), Some(m.to_string())),
        None => (a.rig.as_str(), None),
    };
    let mut subject = Subject::rig(&a.site, rig);
    subject.asic = asic;
    let why = a.reason.clone().unwrap_or_default();
    log::warn!(
        "allocation: {} did not move to {}: {why}; rolled back",
        a.id,
        a.to_target
    );
    sink.raise(AlertEvent {
        kind: "allocation_rejected".into(),
        level: Level::Warning,
        source: "allocation".into(),
        subject,
        message: format!(
            "{} did not move from {} to {}: {why}; rolled back",
            a.id, a.from_target, a.to_target
        ),
        hold_ms: 0,
        auto_resolve_ms: 3_600_000,
    });
}

/// Rewrites the stored decision `ms` with the settled assignments.
fn update_record(deps: &Deps, ms: u64, settled: &[Assignment]) {
    let mut latest = lock(&deps.shared.latest);
    let mut rec = match latest.as_ref().filter(|r| r.decided_ms == ms) {
        Some(r) => r.clone(),
        None => match deps
            .shared
            .store
            .allocation_decisions::<DecisionRecord>(Some(ms + 1), 1)
        {
            Ok(mut v) => match v.pop().filter(|r| r.decided_ms == ms) {
                Some(r) => r,
                None => return,
            },
            Err(e) => {
                log::error!("allocation: reading decision {ms}: {e}");
                return;
            }
        },
    };
    for s in settled {
        if let Some(a) = rec.assignments.iter_mut().find(|a| a.id == s.id) {
            *a = s.clone();
        }
    }
    if let Err(e) = deps.shared.store.save_allocation_decision(ms, &rec) {
        log::error!("allocation: saving decision {ms}: {e}");
    }
    if latest.as_ref().is_some_and(|r| r.decided_ms == ms) {
        *latest = Some(rec);
    }
}

/// Reads what the cycle starts from: the fleet's miners, their telemetry, tariffs, coins.
fn observe(deps: &Deps, now_ms: u64) -> Result<Observed, String> {
    let fleet = deps.econ.fleet().map_err(|e| e.0)?;
    let mut obs = Observed {
        now_unix: (now_ms / 1000) as i64,
        excluded: fleet.excluded.clone(),
        ..Observed::default()
    };
    let mut asic_api: BTreeMap<String, bool> = BTreeMap::new();
    for m in &fleet.miners {
        match m.kind {
            MinerKind::Rig => {
                let entry = deps.fleet.rig(&m.rig).map_err(|e| e.to_string())?;
                let Some(miner) = entry.and_then(|e| e.last_telemetry).and_then(|t| t.miner) else {
                    continue;
                };
                obs.rigs.push(ObservedRig {
                    id: m.id.clone(),
                    site: m.site.clone(),
                    algo: miner.algo.to_ascii_lowercase(),
                    pool_url: miner.pool.map(|p| p.url),
                    paused: miner.paused,
                    hashrate_ths: m.hashrate_hs / 1e12,
                    power_w: m.power_w,
                });
            }
            MinerKind::Asic => {
                if !asic_api.contains_key(&m.id) {
                    let from = now_ms.saturating_sub(crate::fleetview::ASIC_FRESH_MS);
                    let recs = deps
                        .fleet
                        .records_of_kind(&m.rig, "asic", from, u64::MAX, ASIC_READINGS_READ)
                        .map_err(|e| e.to_string())?;
                    for r in recs {
                        if let Body::Asic(a) = r.body {
                            asic_api.insert(
                                format!("{}/{}", m.rig, a.miner_id),
                                a.api == hashward_protocol::AsicApi::Vnish,
                            );
                        }
                    }
                }
                obs.asics.push(ObservedAsic {
                    id: m.id.clone(),
                    site: m.site.clone(),
                    coin: m.coin,
                    presets: asic_api.get(&m.id).copied().unwrap_or(false),
                    hashrate_ths: m.hashrate_hs / 1e12,
                    power_w: m.power_w,
                });
            }
        }
        obs.tariffs
            .entry(m.site.clone())
            .or_insert_with(|| deps.econ.tariff_usd_kwh(&m.site).map_err(|e| e.0));
    }
    let mut coins: Vec<Coin> = deps.shared.settings.pools.iter().map(|p| p.coin).collect();
    coins.extend(obs.asics.iter().map(|a| a.coin));
    for c in coins {
        obs.coins.entry(c.name().to_string()).or_insert_with(|| {
            let price = deps.econ.price_usd(c).map_err(|e| e.0)?;
            let net = deps.econ.network(c).map_err(|e| e.0)?;
            Ok((price, net))
        });
    }
    Ok(obs)
}

async fn cycle(deps: &Deps, state: &mut ServiceState, forced: bool) -> Result<(), String> {
    let settings = &deps.shared.settings;
    let now_ms = (deps.now_ms)();
    let obs = observe(deps, now_ms)?;
    let grace_ms = settings.ack_timeout.as_millis() as u64;
    let assumed = apply::assumed(&state.assignments, now_ms, grace_ms);
    let built = inputs::build(settings, &obs, &mut state.hashrate_ths, &assumed);
    let requests: Vec<CurtailRequest> = std::mem::take(&mut *lock(&deps.shared.curtail));
    if !requests.is_empty() {
        let now_eval = hashward_econ::alloc::evaluate(
            &built.inputs.rigs,
            &built.inputs.sites,
            &built.inputs.market,
            &built.inputs.current,
        );
        for r in &requests {
            let kw = now_eval.power_kw_by_site.get(&r.site).copied().unwrap_or(0.0);
            let site = state.decide.sites.entry(r.site.clone()).or_default();
            match site
                .curtail
                .demand_response(r.reduce_kw, r.minutes, kw, obs.now_unix)
            {
                Ok(dr) => log::info!(
                    "allocation: site {} asked to shed {} kW from {kw:.3} kW until {}",
                    r.site,
                    dr.reduce_kw,
                    dr.until_unix
                ),
                Err(e) => log::warn!("allocation: demand response for {}: {e}", r.site),
            }
        }
    }
    let due = forced
        || !requests.is_empty()
        || rules::cycle_due(
            obs.now_unix,
            state.decide.last_cycle_unix,
            &state.decide.last_market,
            &built.inputs.market,
            &settings.policy.default.rebalance,
        );
    if !due {
        return Ok(());
    }
    let (inputs_for_decide, mut decide_state, policy) = (
        built.inputs.clone(),
        state.decide.clone(),
        settings.policy.clone(),
    );
    let (decision, decide_state) = tokio::task::spawn_blocking(move || {
        let d = decide(&inputs_for_decide, &mut decide_state, &policy);
        (d, decide_state)
    })
    .await
    .map_err(|e| format!("the decision did not finish: {e}"))?;
    state.decide = decide_state;
    let decision_json = serde_json::to_value(&decision).map_err(|e| format!("encoding the decision: {e}"))?;
    let mut assignments = Vec::new();
    for (id, chosen) in &decision.allocation {
        let Some(now) = built.inputs.current.get(id) else {
            continue;
        };
        if now.target == chosen.target {
            continue;
        }
        if state
            .assignments
            .get(id)
            .is_some_and(|a| a.status == Status::Pending)
        {
            continue;
        }
        let site = built
            .inputs
            .rigs
            .iter()
            .find(|r| &r.id == id)
            .map(|r| r.site.clone())
            .unwrap_or_default();
        let rig = id.split_once('/').map_or(id.as_str(), |(r, _)| r).to_string();
        let mut a = Assignment {
            id: id.clone(),
            rig,
            site,
            from_target: now.target.clone(),
            to_target: chosen.target.clone(),
            status: Status::Advised,
            reason: None,
            decided_ms: now_ms,
            deadline_ms: now_ms + grace_ms,
            awaited: Vec::new(),
            settled_ms: None,
        };
        if settings.mode == Mode::Auto {
            let acts = built.actions.get(id);
            let from = acts.and_then(|m| m.get(&now.target));
            let to = acts.and_then(|m| m.get(&chosen.target));
            match (from, to) {
                (Some(from), Some(to)) => send(deps, state, &mut a, from, to, now_ms),
                _ => {
                    a.status = Status::Rejected;
                    a.reason = Some(format!("no action known for target {:?}", chosen.target));
                }
            }
            if a.status == Status::Rejected {
                rollback(&mut state.decide, &a);
                report(&deps.alerts, &a);
            }
        }
        state.assignments.insert(id.clone(), a.clone());
        assignments.push(a);
    }
    let record = DecisionRecord {
        decided_ms: now_ms,
        mode: settings.mode,
        inputs: built.inputs,
        excluded: built.excluded.into_iter().map(|e| (e.id, e.reason)).collect(),
        missing_inputs: built.missing,
        decision: decision_json,
        assignments,
    };
    state.last_decided_ms = Some(now_ms);
    let store = &deps.shared.store;
    store
        .save_allocation_decision(now_ms, &record)
        .map_err(|e| format!("storing the decision: {e}"))?;
    store
        .save_allocation_state(state)
        .map_err(|e| format!("storing the state: {e}"))?;
    *lock(&deps.shared.latest) = Some(record);
    Ok(())
}

/// Signs and queues the steps of one assignment; marks it pending, or rejected with why.
fn send(deps: &Deps, state: &mut ServiceState, a: &mut Assignment, from: &Action, to: &Action, now_ms: u64) {
    let Some(control) = &deps.control else {
        a.status = Status::Rejected;
        a.reason = Some("auto mode without [commands] signing_key".into());
        return;
    };
    let asic = a.id.split_once('/').map(|(_, m)| m);
    let steps = match apply::steps(from, to, asic) {
        Ok(s) => s,
        Err(why) => {
            a.status = Status::Rejected;
            a.reason = Some(why);
            return;
        }
    };
    let ids = SiteId::new(&a.site).and_then(|s| RigId::new(&a.rig).map(|r| (s, r)));
    let Ok((site, rig)) = ids else {
        a.status = Status::Rejected;
        a.reason = Some(format!("{:?}/{:?} is not a valid site/rig id", a.site, a.rig));
        return;
    };
    for step in steps {
        let sent = match step {
            Step::Command(c) => control.send(&site, &rig, &c).map(|s| Awaited::Command {
                name: s.command.to_string(),
                nonce: s.nonce,
            }),
            Step::PushPool(pool) => {
                let scope = format!("rig:{site}/{rig}");
                let in_force = deps
                    .fleet
                    .pushes()
                    .ok()
                    .and_then(|p| p.into_iter().find(|p| p.scope == scope));
                let patch =
                    match apply::pool_patch(in_force.as_ref().map(|p| p.patch.as_str()), &pool, &a.rig) {
                        Ok(p) => p,
                        Err(why) => {
                            a.status = Status::Rejected;
                            a.reason = Some(why);
                            return;
                        }
                    };
                let version = now_ms
                    .max(in_force.map_or(0, |p| p.version + 1))
                    .max(state.last_config_version + 1);
                state.last_config_version = version;
                control
                    .push_config(&site, &rig, &patch, version)
                    .map(|_| Awaited::Config { scope, version })
            }
        };
        match sent {
            Ok(w) => a.awaited.push(w),
            Err(e) => {
                a.status = Status::Rejected;
                a.reason = Some(format!("could not send: {e}"));
                return;
            }
        }
    }
    a.status = if a.awaited.is_empty() {
        Status::Applied
    } else {
        Status::Pending
    };
    if a.status == Status::Applied {
        a.settled_ms = Some(now_ms);
    }
    log::info!(
        "allocation: {} {} -> {} sent ({} message(s))",
        a.id,
        a.from_target,
        a.to_target,
        a.awaited.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::feed::Op;

    #[test]
    fn a_refused_move_is_rolled_back_and_raised_by_allocation() {
        let (sink, mut rx) = AlertSink::new(Default::default());
        let mut state = State::default();
        state
            .sites
            .entry("farm".into())
            .or_default()
            .rules
            .last_current_usd_h = Some(5.0);
        state
            .sites
            .entry("farm".into())
            .or_default()
            .rules
            .last_switch_unix = Some(100);
        let a = Assignment {
            id: "ctl-1/s19".into(),
            rig: "ctl-1".into(),
            site: "farm".into(),
            from_target: "3068w".into(),
            to_target: "2200w".into(),
            status: Status::Rejected,
            reason: Some("set-power-target rejected: no tuned preset at or below 2200 W".into()),
            decided_ms: 1,
            deadline_ms: 2,
            awaited: Vec::new(),
            settled_ms: Some(2),
        };
        rollback(&mut state, &a);
        let rules = &state.sites["farm"].rules;
        assert_eq!(rules.last_current_usd_h, None, "the assumed profit is forgotten");
        assert_eq!(
            rules.last_switch_unix,
            Some(100),
            "the dwell since the attempt stays"
        );
        report(&sink, &a);
        let Ok(crate::alerts::Command::Op(Op::Raise(ev))) = rx.try_recv() else {
            panic!("no alert raised");
        };
        assert_eq!(
            (ev.kind.as_str(), ev.source.as_str()),
            ("allocation_rejected", "allocation")
        );
        assert_eq!(ev.subject.site.as_deref(), Some("farm"));
        assert_eq!(ev.subject.rig.as_deref(), Some("ctl-1"));
        assert_eq!(ev.subject.asic.as_deref(), Some("s19"));
        assert!(
            ev.message.contains("3068w") && ev.message.contains("no tuned preset"),
            "{}",
            ev.message
        );
    }
}

//! The engine with values and a simulated clock: grouping, resolved messages, silences,
//! inhibition, grace periods, repeats, escalation and a restore from persisted state.

use super::*;
use crate::alerts::model::Subject;

fn cfg(extra_route: &str) -> Arc<NotifyConfig> {
    let text = format!(
        "[[routes]]\nlevels = [\"critical\"]\nreceivers = [\"hook\", \"mail\"]\ngroup_by = [\"site\", \"kind\"]\n\
         group_wait_ms = 1000\ngroup_interval_ms = 5000\nrepeat_interval_ms = 60000\n\
         escalate_to = [\"pager\"]\nescalate_after_ms = 30000\n{extra_route}"
    );
    Arc::new(toml::from_str(&text).expect("config"))
}

fn overheat(rig: &str) -> AlertEvent {
    AlertEvent {
        kind: "overheat".into(),
        level: Level::Critical,
        source: "agent".into(),
        subject: Subject::rig("lab", rig),
        message: format!("{rig} at 98 C"),
        hold_ms: 0,
        auto_resolve_ms: 0,
    }
}

/// Ticks from `from` to `to` every 100 ms; returns the messages queued, as (receiver, status,
/// alert count).
fn run(e: &mut Engine, from: u64, to: u64) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        e.tick(t);
        out.extend(
            e.take_changes()
                .outbox
                .into_iter()
                .map(|(r, n)| (r, n.status, n.alerts.len())),
        );
        t += 100;
    }
    out
}

fn msg(r: &str, status: &str, n: usize) -> (String, String, usize) {
    (r.to_string(), status.to_string(), n)
}

#[test]
fn three_overheating_rigs_make_one_message_per_receiver_then_one_resolved() {
    let mut e = Engine::new(cfg(""));
    e.raise(overheat("r1"), 0);
    e.raise(overheat("r2"), 300);
    assert!(run(&mut e, 0, 500).is_empty(), "nothing before group_wait");
    e.raise(overheat("r3"), 600);
    e.raise(overheat("r1"), 700); // the same alert again: counted, not new
    let sent = run(&mut e, 600, 4000);
    assert_eq!(sent, vec![msg("hook", "firing", 3), msg("mail", "firing", 3)]);
    let r1 = e
        .alerts()
        .find(|a| a.subject.rig.as_deref() == Some("r1"))
        .expect("r1");
    assert_eq!(
        (r1.count, r1.state, r1.notified_ms),
        (2, AlertState::Firing, Some(1000))
    );
    for rig in ["r1", "r2", "r3"] {
        e.resolve(&overheat(rig).key(), 4000);
    }
    // The resolved message waits for group_interval after the firing one (sent at 1000).
    assert!(run(&mut e, 4000, 5900).is_empty());
    assert_eq!(
        run(&mut e, 6000, 20_000),
        vec![msg("hook", "resolved", 3), msg("mail", "resolved", 3)]
    );
    assert!(e.groups.is_empty(), "the group is gone once all resolved");
}

#[test]
fn a_warning_goes_nowhere_without_a_route_and_a_pending_alert_resolves_quietly() {
    let mut e = Engine::new(cfg(""));
    let mut w = overheat("r1");
    w.level = Level::Warning;
    e.raise(w, 0);
    assert!(run(&mut e, 0, 10_000).is_empty());
    let mut off = overheat("r2");
    off.kind = "rig_offline".into();
    off.hold_ms = 5000;
    e.raise(off.clone(), 0);
    assert_eq!(e.alert(2).map(|a| a.state), Some(AlertState::Pending));
    e.resolve(&off.key(), 3000);
    assert!(
        run(&mut e, 3000, 20_000).is_empty(),
        "back within the grace period: nobody is told"
    );
    // Not back in time: it fires.
    e.raise(off, 20_000);
    let sent = run(&mut e, 20_000, 30_000);
    assert_eq!(sent, vec![msg("hook", "firing", 1), msg("mail", "firing", 1)]);
}

#[test]
fn a_silence_suppresses_a_maintenance_and_its_end_lets_the_alert_through() {
    let mut e = Engine::new(cfg(""));
    let s = e
        .add_silence(
            Matchers {
                site: Some("lab".into()),
                ..Matchers::default()
            },
            (0, 10_000),
            "ops",
            "planned maintenance",
            0,
        )
        .expect("silence");
    e.raise(overheat("r1"), 100);
    assert_eq!(
        e.alert(1).and_then(|a| a.silenced_by.clone()),
        Some(format!("silence:{}", s.id))
    );
    assert!(run(&mut e, 100, 9900).is_empty(), "silenced: no message");
    let sent = run(&mut e, 10_000, 12_000);
    assert_eq!(sent, vec![msg("hook", "firing", 1), msg("mail", "firing", 1)]);
    // An expired silence changes nothing more; a bad one is refused.
    assert_eq!(
        e.add_silence(Matchers::default(), (0, 50_000), "x", "", 12_000),
        Err(EngineError::EmptySilence)
    );
    assert_eq!(
        e.add_silence(
            Matchers {
                rig: Some("r1".into()),
                ..Matchers::default()
            },
            (0, 11_000),
            "x",
            "",
            12_000
        ),
        Err(EngineError::SilenceWindow)
    );
}

#[test]
fn an_unacknowledged_critical_escalates_once_and_an_acknowledged_one_does_not() {
    let mut e = Engine::new(cfg(""));
    e.raise(overheat("r1"), 0);
    e.raise(overheat("r2"), 0);
    assert_eq!(run(&mut e, 0, 1000).len(), 2);
    e.ack(2, "alice", 5000).expect("ack");
    assert!(run(&mut e, 1100, 30_900).is_empty());
    let sent = run(&mut e, 31_000, 59_000);
    assert_eq!(sent, vec![msg("pager", "escalation", 1)]);
    assert!(e.alert(1).is_some_and(|a| a.escalated));
    assert!(e
        .alert(2)
        .is_some_and(|a| !a.escalated && a.acknowledged_by.as_deref() == Some("alice")));
    // The repeat reminds about the unacknowledged one only.
    let sent = run(&mut e, 59_100, 62_000);
    assert_eq!(sent, vec![msg("hook", "firing", 2), msg("mail", "firing", 2)]);
    assert_eq!(e.ack(99, "x", 0).expect_err("none"), EngineError::NoAlert(99));
}

#[test]
fn a_site_offline_inhibits_its_rigs_offline_alerts() {
    let mut e = Engine::new(cfg("[[routes]]\nkinds = [\"rig_offline\", \"site_offline\"]\nreceivers = [\"hook\"]\ngroup_wait_ms = 0\n"));
    let site = AlertEvent {
        kind: "site_offline".into(),
        level: Level::Critical,
        source: "hub".into(),
        subject: Subject {
            site: Some("lab".into()),
            ..Subject::default()
        },
        message: "all down".into(),
        hold_ms: 0,
        auto_resolve_ms: 0,
    };
    e.raise(site.clone(), 0);
    let mut off = overheat("r1");
    off.kind = "rig_offline".into();
    off.level = Level::Warning;
    e.raise(off.clone(), 0);
    assert_eq!(e.alert(2).map(|a| a.state), Some(AlertState::Silenced));
    assert_eq!(
        e.alert(2).and_then(|a| a.silenced_by.clone()).as_deref(),
        Some("inhibited_by:1")
    );
    let sent = run(&mut e, 0, 3000);
    assert!(
        sent.iter().all(|(_, _, n)| *n == 1) && sent.len() == 3,
        "site_offline only: {sent:?}"
    );
    // The site comes back but the rig does not: its own alert fires.
    e.resolve(&site.key(), 3000);
    run(&mut e, 3000, 3000);
    assert_eq!(e.alert(2).map(|a| a.state), Some(AlertState::Firing));
}

#[test]
fn stale_alerts_resolve_and_the_state_survives_a_restore() {
    let c = cfg("");
    let mut e = Engine::new(c.clone());
    let mut a = overheat("r1");
    a.auto_resolve_ms = 10_000;
    e.raise(a.clone(), 0);
    e.raise(overheat("r2"), 0);
    run(&mut e, 0, 2000);
    // What the store would hold.
    let mut alerts = BTreeMap::new();
    let mut groups = BTreeMap::new();
    let apply = |ch: Changes, alerts: &mut BTreeMap<u64, Alert>, groups: &mut BTreeMap<String, Group>| {
        for x in ch.alerts {
            alerts.insert(x.id, x);
        }
        for g in ch.groups {
            groups.insert(g.key.clone(), g);
        }
        for k in ch.removed_groups {
            groups.remove(&k);
        }
        ch.next_ids
    };
    let mut e2 = Engine::new(c.clone());
    e2.raise(a.clone(), 0);
    e2.raise(overheat("r2"), 0);
    let mut ids = (1, 1);
    let mut t = 0;
    while t <= 2000 {
        e2.tick(t);
        ids = apply(e2.take_changes(), &mut alerts, &mut groups);
        t += 100;
    }
    let mut restored = Engine::restore(
        c,
        alerts.into_values().collect(),
        vec![],
        groups.into_values().collect(),
        ids,
    );
    assert_eq!(restored.alerts().count(), 2);
    assert!(restored.is_open(&a.key()));
    // Nothing is re-sent after the restore; the stale one resolves, with a message.
    assert!(run(&mut restored, 2100, 9900).is_empty());
    let sent = run(&mut restored, 10_000, 20_000);
    assert_eq!(sent, vec![msg("hook", "firing", 2), msg("mail", "firing", 2)]);
    assert_eq!(restored.alert(1).map(|a| a.state), Some(AlertState::Resolved));
    assert_eq!(
        restored.raise(overheat("r3"), 20_000),
        3,
        "ids continue after a restore"
    );
    drop(e);
}

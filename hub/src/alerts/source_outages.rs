//! Collector outages as alerts: a data source (market, pool, network, tariff feed) that cannot
//! be reached, or whose circuit breaker opened, raises `source_down` for that source (subject
//! `pool` = the source's name), and resolves it when the source answers again. The decision is
//! pure ([`changes`]); [`run`] polls the collectors' registry and feeds the [`AlertSink`].
//!
//! Must never raise for a source that was only slow once (`failing` is the scheduler retrying
//! with backoff, not an outage) nor for one turned off in the config.

use super::{AlertEvent, AlertKey, AlertSink, Level, Subject};
use crate::collect::source::{Registry, SourceState, SourceStatus};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a source stays down before anyone is told (the engine holds the alert this long).
const GRACE_MS: u64 = 10 * 60 * 1000;
const POLL: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Down { source: String, why: String },
    Up { source: String },
}

fn is_down(state: SourceState) -> Option<bool> {
    match state {
        SourceState::Unreachable | SourceState::CircuitOpen => Some(true),
        SourceState::Ok => Some(false),
        // Retrying, starting or turned off: no news either way.
        _ => None,
    }
}

/// What changed since `known` (source -> down), which it updates.
pub fn changes(known: &mut BTreeMap<String, bool>, now: &[SourceStatus]) -> Vec<Change> {
    let mut out = Vec::new();
    for s in now {
        let Some(down) = is_down(s.state) else { continue };
        let was = known.insert(s.name.to_string(), down).unwrap_or(false);
        match (was, down) {
            (false, true) => out.push(Change::Down {
                source: s.name.to_string(),
                why: s
                    .last_error
                    .as_ref()
                    .map_or_else(|| format!("{:?}", s.state).to_lowercase(), |e| e.message.clone()),
            }),
            (true, false) => out.push(Change::Up {
                source: s.name.to_string(),
            }),
            _ => {}
        }
    }
    out
}

fn subject(source: &str) -> Subject {
    Subject {
        pool: Some(source.to_string()),
        ..Subject::default()
    }
}

/// Polls `registry` until `stop` and tells `sink` about every outage and recovery.
pub async fn run(
    registry: Arc<Registry>,
    sink: AlertSink,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut known = BTreeMap::new();
    let mut tick = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        for c in changes(&mut known, &registry.all()) {
            match c {
                Change::Down { source, why } => sink.raise(AlertEvent {
                    kind: "source_down".into(),
                    level: Level::Warning,
                    source: source.clone(),
                    subject: subject(&source),
                    message: format!("data source {source} is down: {why}"),
                    hold_ms: GRACE_MS,
                    auto_resolve_ms: 0,
                }),
                Change::Up { source } => sink.resolve(AlertKey::new("source_down", &subject(&source))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::source::SourceError;

    fn status(name: &'static str, state: SourceState) -> SourceStatus {
        let mut s = SourceStatus::new(name);
        s.state = state;
        s
    }

    #[test]
    fn only_transitions_between_down_and_ok_are_news() {
        let mut known = BTreeMap::new();
        // Starting and retrying say nothing; a source never seen down does not "recover".
        assert!(changes(&mut known, &[status("coingecko", SourceState::Starting)]).is_empty());
        assert!(changes(&mut known, &[status("coingecko", SourceState::Ok)]).is_empty());
        assert!(changes(&mut known, &[status("coingecko", SourceState::Failing)]).is_empty());
        let mut down = status("coingecko", SourceState::CircuitOpen);
        down.record_failure(1, None, &SourceError::Connect("refused".into()));
        down.state = SourceState::CircuitOpen;
        let c = changes(&mut known, std::slice::from_ref(&down));
        assert!(
            matches!(&c[..], [Change::Down { source, why }] if source == "coingecko" && why.contains("refused")),
            "{c:?}"
        );
        // Still down, or retrying in between: no second alert.
        assert!(changes(&mut known, &[down.clone()]).is_empty());
        assert!(changes(&mut known, &[status("coingecko", SourceState::Failing)]).is_empty());
        assert_eq!(
            changes(&mut known, &[status("coingecko", SourceState::Ok)]),
            vec![Change::Up {
                source: "coingecko".into()
            }]
        );
        assert!(changes(&mut known, &[status("coingecko", SourceState::Ok)]).is_empty());
    }
}

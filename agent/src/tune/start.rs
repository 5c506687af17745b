//! Where a search starts, decided once for the live control loop and for `hashward-agent tune`:
//! this rig's own performance store first (it measured this very machine), then a hint (the
//! fleet's, or one the operator passed), then a guess from the topology.
//!
//! Must never read the store, the hub or the hardware itself (the callers look them up and pass
//! what they found), and never start outside the bounds it is given.

use crate::tune::perf_store::{Match, PerfKey, PerfStats};
use crate::tune::tuner::{Bounds, Origin, Point, Tuner};
use hashward_protocol::{Hashrate, TuningHint};

/// Hints less certain than this are not worth starting from. A single rig's single report scores
/// 0.1 at the hub; a hint is only a starting point that is measured before it is kept, so even
/// that is better than a guess.
pub const MIN_HINT_CONFIDENCE: f32 = 0.05;

/// A hint for where to start when the store knows nothing.
#[derive(Debug, Clone, Copy)]
pub enum Hint<'a> {
    /// The hub's hint for this class of hardware; ignored below [`MIN_HINT_CONFIDENCE`].
    Fleet(&'a TuningHint),
    /// A point the operator asked for (`tune --hint`).
    Operator(Point),
}

/// The host facts the topology guess needs.
#[derive(Debug, Clone, Copy)]
pub struct Fallback {
    pub physical_cores: usize,
    /// The configured batch size.
    pub batch: u32,
}

/// The chosen start, how it was found and a sentence for the logs and the constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub point: Point,
    pub origin: Origin,
    pub note: String,
}

/// Chooses the start: store, then hint, then topology; always inside `bounds`.
pub fn choose_start(
    stored: Option<&(PerfKey, PerfStats, Match)>,
    hint: Option<Hint<'_>>,
    bounds: &Bounds,
    fallback: Fallback,
) -> Start {
    if let Some((k, st, m)) = stored {
        let point = bounds.clamp(Point {
            threads: k.threads,
            batch: k.batch_size,
        });
        let note = format!(
            "{point} from own performance store ({m:?} match, {} expected over {} windows)",
            Hashrate(st.avg_hashrate),
            st.sample_count
        );
        return Start {
            point,
            origin: Origin::Store,
            note,
        };
    }
    match hint {
        Some(Hint::Fleet(h)) if h.confidence >= MIN_HINT_CONFIDENCE => {
            let point = bounds.clamp(Point {
                threads: h.threads,
                batch: h.batch_size,
            });
            let note = format!(
                "Telemetry hint: {} expected (confidence: {:.0}%, {} rig(s)) at {point}",
                Hashrate(h.expected_hashrate_hs),
                h.confidence * 100.0,
                h.rigs
            );
            Start {
                point,
                origin: Origin::FleetHint,
                note,
            }
        }
        Some(Hint::Operator(p)) => {
            let point = bounds.clamp(p);
            Start {
                point,
                origin: Origin::FleetHint,
                note: format!("{point} from the operator's hint"),
            }
        }
        _ => {
            let point = Tuner::topology_start(bounds, fallback.physical_cores, fallback.batch);
            Start {
                point,
                origin: Origin::Topology,
                note: format!(
                    "{point} from topology ({} physical cores)",
                    fallback.physical_cores
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds::new((1, 8), (1, 16))
    }

    fn fallback() -> Fallback {
        Fallback {
            physical_cores: 4,
            batch: 8,
        }
    }

    fn stored(threads: u32, batch: u32) -> (PerfKey, PerfStats, Match) {
        (
            PerfKey {
                cpu_model: "cpu".into(),
                profile: "balanced".into(),
                pow_algo: "sha256d".into(),
                threads,
                batch_size: batch,
                numa_layout: "unpinned".into(),
            },
            PerfStats {
                sample_count: 3,
                avg_hashrate: 1000.0,
                best_hashrate: 1100.0,
                last_update: 0,
            },
            Match::Exact,
        )
    }

    fn fleet(threads: u32, batch: u32, confidence: f32) -> TuningHint {
        TuningHint {
            cpu_model: "cpu".into(),
            logical_cores: 8,
            pow_algo: "sha256d".into(),
            profile: "balanced".into(),
            threads,
            batch_size: batch,
            expected_hashrate_hs: 900.0,
            confidence,
            rigs: 2,
        }
    }

    #[test]
    fn store_wins_over_every_hint() {
        let s = stored(6, 4);
        let h = fleet(2, 2, 0.9);
        for hint in [
            Some(Hint::Fleet(&h)),
            Some(Hint::Operator(Point { threads: 3, batch: 3 })),
            None,
        ] {
            let start = choose_start(Some(&s), hint, &bounds(), fallback());
            assert_eq!(start.origin, Origin::Store);
            assert_eq!(start.point, Point { threads: 6, batch: 4 });
            assert!(start.note.contains("own performance store"), "{}", start.note);
        }
    }

    #[test]
    fn fleet_hint_without_store() {
        let h = fleet(2, 2, 0.5);
        let start = choose_start(None, Some(Hint::Fleet(&h)), &bounds(), fallback());
        assert_eq!(start.origin, Origin::FleetHint);
        assert_eq!(start.point, Point { threads: 2, batch: 2 });
        assert!(start.note.contains("confidence: 50%"), "{}", start.note);
    }

    #[test]
    fn uncertain_fleet_hint_falls_to_topology() {
        let h = fleet(2, 2, 0.01);
        let start = choose_start(None, Some(Hint::Fleet(&h)), &bounds(), fallback());
        assert_eq!(start.origin, Origin::Topology);
        assert_eq!(start.point, Point { threads: 4, batch: 8 });
    }

    #[test]
    fn operator_hint_without_store() {
        let p = Point { threads: 1, batch: 8 };
        let start = choose_start(None, Some(Hint::Operator(p)), &bounds(), fallback());
        assert_eq!(start.origin, Origin::FleetHint);
        assert_eq!(start.point, p);
    }

    #[test]
    fn topology_when_nothing_is_known() {
        let start = choose_start(None, None, &bounds(), fallback());
        assert_eq!(start.origin, Origin::Topology);
        assert_eq!(start.point, Point { threads: 4, batch: 8 });
        assert!(start.note.contains("4 physical cores"), "{}", start.note);
    }

    #[test]
    fn every_start_is_inside_the_bounds() {
        let b = Bounds::new((2, 4), (4, 8));
        let s = stored(32, 64);
        let h = fleet(1, 1, 1.0);
        let cases = [
            choose_start(Some(&s), None, &b, fallback()),
            choose_start(None, Some(Hint::Fleet(&h)), &b, fallback()),
            choose_start(
                None,
                Some(Hint::Operator(Point {
                    threads: 99,
                    batch: 1,
                })),
                &b,
                fallback(),
            ),
            choose_start(
                None,
                None,
                &b,
                Fallback {
                    physical_cores: 64,
                    batch: 1,
                },
            ),
        ];
        for start in cases {
            assert_eq!(b.clamp(start.point), start.point, "{}", start.note);
        }
    }
}

//! The auto-tuner (docs/ARCHITECTURE.md#thresholds-tuner), as pure logic: a coordinate pattern
//! search over threads x batch.
//!
//! It starts from the best known point (own store, then fleet hint, then a topology guess:
//! physical cores first, as XMRig does), measures the neighbours of the incumbent one dimension
//! at a time, moves when a neighbour is better by the mode's margin, halves the thread step when
//! nothing is, and settles when a whole round moves nothing. Later `recheck` re-measures the
//! incumbent; a drift beyond [`DRIFT`] starts a new local search from it.
//!
//! Must never: read the clock or the engine (the caller measures and reports), propose a point
//! outside its bounds, or measure the same point twice in one search.

use crate::tune::config::TuneMode;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// A re-measured incumbent that moved by more than this fraction restarts the search.
pub const DRIFT: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Point {
    pub threads: u32,
    /// SIMD blocks per kernel call.
    pub batch: u32,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} threads x batch {}", self.threads, self.batch)
    }
}

/// The space the tuner may explore; both ranges inclusive and non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bounds {
    pub min_threads: u32,
    pub max_threads: u32,
    pub min_batch: u32,
    pub max_batch: u32,
}

impl Bounds {
    /// Orders and clamps the ranges so they are never empty.
    pub fn new(threads: (u32, u32), batch: (u32, u32)) -> Bounds {
        let (t0, t1) = (threads.0.max(1), threads.1.max(1));
        let (b0, b1) = (batch.0.max(1), batch.1.max(1));
        Bounds {
            min_threads: t0.min(t1),
            max_threads: t0.max(t1),
            min_batch: b0.min(b1),
            max_batch: b0.max(b1),
        }
    }

    pub fn clamp(&self, p: Point) -> Point {
        Point {
            threads: p.threads.clamp(self.min_threads, self.max_threads),
            batch: self.nearest_batch(p.batch),
        }
    }

    /// The batch values explored: powers of two inside the range, plus both ends. Batch acts
    /// on per-call overhead, which halves with each doubling, so a finer grid measures noise.
    pub fn batches(&self) -> Vec<u32> {
        let mut v = vec![self.min_batch];
        let mut b = 1u32;
        while b <= self.max_batch {
            if b > self.min_batch {
                v.push(b);
            }
            b = match b.checked_mul(2) {
                Some(n) => n,
                None => break,
            };
        }
        if v.last() != Some(&self.max_batch) {
            v.push(self.max_batch);
        }
        v
    }

    fn nearest_batch(&self, b: u32) -> u32 {
        let batches = self.batches();
        batches
            .iter()
            .copied()
            .min_by_key(|&x| (x.abs_diff(b), x))
            .unwrap_or(self.min_batch)
    }

    /// Every point of the grid, for an exhaustive sweep.
    pub fn grid(&self) -> Vec<Point> {
        let batches = self.batches();
        (self.min_threads..=self.max_threads)
            .flat_map(|threads| batches.iter().map(move |&batch| Point { threads, batch }))
            .collect()
    }
}

/// Where the first point came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// This rig's own performance store.
    Store,
    /// The hub's hint for this class of hardware.
    FleetHint,
    /// No data: physical cores and the configured batch.
    Topology,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Store => "own performance store",
            Origin::FleetHint => "fleet hint",
            Origin::Topology => "topology guess",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Explore,
    Recheck,
}

/// One measurement the tuner asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    pub point: Point,
    pub hashrate_hs: f64,
    pub phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Run this point for an evaluation window and `record` the hashrate.
    Measure(Point),
    /// Nothing to measure: run the incumbent until the next `recheck`.
    Settled(Point),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Threads,
    Batch,
}

/// How a mode explores: the margin a move must gain and the first thread step.
fn margin(mode: TuneMode) -> f64 {
    match mode {
        TuneMode::Conservative => 0.03,
        TuneMode::Normal => 0.01,
        TuneMode::Aggressive => 0.005,
    }
}

fn first_thread_step(mode: TuneMode, b: &Bounds) -> u32 {
    let range = b.max_threads - b.min_threads;
    let div = match mode {
        TuneMode::Aggressive => 2,
        TuneMode::Normal | TuneMode::Conservative => 4,
    };
    (range / div).max(1)
}

pub struct Tuner {
    bounds: Bounds,
    mode: TuneMode,
    origin: Origin,
    incumbent: Point,
    incumbent_rate: Option<f64>,
    /// Rates measured in the current search; never measured twice.
    measured: HashMap<Point, f64>,
    dim: Dim,
    thread_step: u32,
    /// Candidates of the current probe still to measure.
    queue: VecDeque<Point>,
    /// Candidates of the current probe already measured.
    probe: Vec<(Point, f64)>,
    moved_this_round: bool,
    /// Which dimension started the round, to know when a round without a move is complete.
    dims_done: u8,
    pending: Option<(Point, Phase)>,
    settled: bool,
    trials: Vec<Trial>,
}

impl Tuner {
    pub fn new(bounds: Bounds, mode: TuneMode, start: Point, origin: Origin) -> Tuner {
        let start = bounds.clamp(start);
        Tuner {
            bounds,
            mode,
            origin,
            incumbent: start,
            incumbent_rate: None,
            measured: HashMap::new(),
            dim: Dim::Threads,
            thread_step: first_thread_step(mode, &bounds),
            queue: VecDeque::new(),
            probe: Vec::new(),
            moved_this_round: false,
            dims_done: 0,
            pending: Some((start, Phase::Explore)),
            settled: false,
            trials: Vec::new(),
        }
    }

    /// The topology guess: one thread per physical core (within bounds) and the configured batch.
    pub fn topology_start(bounds: &Bounds, physical_cores: usize, batch: u32) -> Point {
        bounds.clamp(Point {
            threads: u32::try_from(physical_cores).unwrap_or(u32::MAX),
            batch,
        })
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    pub fn next(&self) -> Step {
        match self.pending {
            Some((p, _)) => Step::Measure(p),
            None => Step::Settled(self.incumbent),
        }
    }

    /// The best point so far and its measured hashrate.
    pub fn incumbent(&self) -> (Point, Option<f64>) {
        (self.incumbent, self.incumbent_rate)
    }

    pub fn is_settled(&self) -> bool {
        self.settled
    }

    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// Measurements taken so far (every trial, rechecks included).
    pub fn measurements(&self) -> usize {
        self.trials.len()
    }

    /// Re-measures the incumbent (the re-evaluation schedule, or a "re-tune now" command).
    pub fn recheck(&mut self) {
        if self.pending.is_none() {
            self.pending = Some((self.incumbent, Phase::Recheck));
        }
    }

    /// Reports the hashrate measured at `point`. Ignored (false) when it is not the point asked
    /// for or the figure is not a hashrate (the caller then measures again).
    pub fn record(&mut self, point: Point, hashrate_hs: f64) -> bool {
        let Some((want, phase)) = self.pending else {
            return false;
        };
        if want != point || !hashrate_hs.is_finite() || hashrate_hs < 0.0 {
            return false;
        }
        self.pending = None;
        self.trials.push(Trial {
            point,
            hashrate_hs,
            phase,
        });
        match phase {
            Phase::Recheck => self.after_recheck(hashrate_hs),
            Phase::Explore => {
                self.measured.insert(point, hashrate_hs);
                if self.incumbent_rate.is_none() {
                    self.incumbent_rate = Some(hashrate_hs);
                    self.start_probe();
                } else {
                    self.probe.push((point, hashrate_hs));
                    self.continue_probe();
                }
            }
        }
        true
    }

    fn after_recheck(&mut self, rate: f64) {
        let old = self.incumbent_rate.unwrap_or(rate);
        let drift = if old > 0.0 {
            (rate - old).abs() / old
        } else {
            f64::from(u8::from(rate > 0.0))
        };
        if drift > DRIFT {
            // The machine changed under us (heat, other load, a new kernel): search again,
            // locally, from the incumbent as it performs now.
            self.measured.clear();
            self.measured.insert(self.incumbent, rate);
            self.incumbent_rate = Some(rate);
            self.thread_step = 1;
            self.dim = Dim::Threads;
            self.moved_this_round = false;
            self.dims_done = 0;
            self.settled = false;
            self.start_probe();
        } else {
            // Within noise: keep the point, let the figure follow slowly.
            self.incumbent_rate = Some(0.5 * (old + rate));
        }
    }

    fn neighbours(&self) -> Vec<Point> {
        let p = self.incumbent;
        let b = &self.bounds;
        let mut out = Vec::new();
        match self.dim {
            Dim::Threads => {
                let s = self.thread_step;
                if let Some(t) = p.threads.checked_add(s).filter(|&t| t <= b.max_threads) {
                    out.push(Point { threads: t, ..p });
                }
                if let Some(t) = p.threads.checked_sub(s).filter(|&t| t >= b.min_threads) {
                    out.push(Point { threads: t, ..p });
                }
            }
            Dim::Batch => {
                let batches = b.batches();
                if let Some(i) = batches.iter().position(|&x| x == p.batch) {
                    if let Some(&up) = batches.get(i + 1) {
                        out.push(Point { batch: up, ..p });
                    }
                    if let Some(&down) = i.checked_sub(1).and_then(|j| batches.get(j)) {
                        out.push(Point { batch: down, ..p });
                    }
                }
            }
        }
        out
    }

    /// Queues the incumbent's neighbours in the current dimension; already measured ones count
    /// at once.
    fn start_probe(&mut self) {
        self.queue.clear();
        self.probe.clear();
        for n in self.neighbours() {
            match self.measured.get(&n) {
                Some(&r) => self.probe.push((n, r)),
                None => self.queue.push_back(n),
            }
        }
        self.continue_probe();
    }

    fn continue_probe(&mut self) {
        if let Some(n) = self.queue.pop_front() {
            self.pending = Some((n, Phase::Explore));
            return;
        }
        let inc = self.incumbent_rate.unwrap_or(0.0);
        let best = self
            .probe
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((p, r)) if r > inc * (1.0 + margin(self.mode)) => {
                self.incumbent = p;
                self.incumbent_rate = Some(r);
                self.moved_this_round = true;
                self.start_probe();
            }
            _ if self.dim == Dim::Threads && self.thread_step > 1 => {
                self.thread_step /= 2;
                self.start_probe();
            }
            _ => self.end_dimension(),
        }
    }

    fn end_dimension(&mut self) {
        self.dims_done += 1;
        if self.dims_done >= 2 {
            if !self.moved_this_round {
                self.settled = true;
                self.pending = None;
                return;
            }
            self.moved_this_round = false;
            self.dims_done = 0;
        }
        self.dim = match self.dim {
            Dim::Threads => Dim::Batch,
            Dim::Batch => Dim::Threads,
        };
        // After the first round only local moves are left to find.
        self.thread_step = 1;
        self.start_probe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CPU-like surface: linear in threads up to the physical cores, a little from SMT
    /// siblings, a loss from oversubscription; batch pays a per-call overhead.
    fn surface(p: Point, physical: u32, logical: u32) -> f64 {
        let t = f64::from(p.threads);
        let phys = f64::from(physical);
        let mut rate = t.min(phys) * 1000.0;
        if p.threads > physical {
            rate += (f64::from(p.threads.min(logical)) - phys) * 150.0;
        }
        if p.threads > logical {
            rate -= (t - f64::from(logical)) * 80.0;
        }
        rate * (1.0 - 0.25 / f64::from(p.batch))
    }

    fn noise(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.01
    }

    fn run(tuner: &mut Tuner, f: impl Fn(Point) -> f64, seed: &mut u64) -> Point {
        for _ in 0..10_000 {
            match tuner.next() {
                Step::Measure(p) => {
                    assert!(p == tuner.bounds().clamp(p), "{p} is out of bounds");
                    let r = f(p) * (1.0 + noise(seed));
                    assert!(tuner.record(p, r));
                }
                Step::Settled(p) => return p,
            }
        }
        panic!("the tuner never settled");
    }

    fn best(bounds: &Bounds, f: impl Fn(Point) -> f64) -> f64 {
        bounds.grid().into_iter().map(&f).fold(0.0, f64::max)
    }

    #[test]
    fn batches_are_powers_of_two_and_the_ends() {
        assert_eq!(Bounds::new((1, 1), (1, 32)).batches(), vec![1, 2, 4, 8, 16, 32]);
        assert_eq!(Bounds::new((1, 1), (3, 20)).batches(), vec![3, 4, 8, 16, 20]);
        assert_eq!(Bounds::new((1, 1), (5, 5)).batches(), vec![5]);
        assert_eq!(
            Bounds::new((1, 1), (3, 20))
                .clamp(Point { threads: 9, batch: 7 })
                .batch,
            8
        );
    }

    #[test]
    fn finds_the_best_within_3_percent_in_fewer_measurements_than_a_sweep() {
        for (physical, logical) in [(1, 2), (2, 2), (4, 8), (12, 24), (32, 64), (64, 128)] {
            let bounds = Bounds::new((1, logical), (1, 32));
            let f = |p: Point| surface(p, physical, logical);
            let mut seed = u64::from(logical);
            let start = Tuner::topology_start(&bounds, physical as usize, 4);
            let mut t = Tuner::new(bounds, TuneMode::Normal, start, Origin::Topology);
            let chosen = run(&mut t, f, &mut seed);
            let (grid, best) = (bounds.grid().len(), best(&bounds, f));
            assert!(
                f(chosen) >= 0.97 * best,
                "{physical}/{logical}: {chosen} gives {} of {best}",
                f(chosen)
            );
            assert!(
                t.measurements() < grid,
                "{physical}/{logical}: {} >= {grid}",
                t.measurements()
            );
        }
    }

    #[test]
    fn a_fleet_hint_needs_at_most_a_third_of_the_sweep() {
        for (physical, logical) in [(1, 2), (2, 2), (4, 8), (12, 24), (64, 128)] {
            let bounds = Bounds::new((1, logical), (1, 32));
            let f = |p: Point| surface(p, physical, logical);
            let hint = bounds
                .grid()
                .into_iter()
                .max_by(|a, b| f(*a).total_cmp(&f(*b)))
                .expect("grid");
            let mut seed = 7;
            let mut t = Tuner::new(bounds, TuneMode::Normal, hint, Origin::FleetHint);
            let chosen = run(&mut t, f, &mut seed);
            assert!(f(chosen) >= 0.97 * best(&bounds, f));
            assert!(
                t.measurements() * 3 <= bounds.grid().len(),
                "{physical}/{logical}: {} of {}",
                t.measurements(),
                bounds.grid().len()
            );
        }
    }

    #[test]
    fn fixed_threads_tune_only_the_batch_and_never_leave_the_bounds() {
        let bounds = Bounds::new((6, 6), (2, 16));
        let mut t = Tuner::new(
            bounds,
            TuneMode::Conservative,
            Point {
                threads: 99,
                batch: 1,
            },
            Origin::Topology,
        );
        let mut seed = 1;
        let chosen = run(&mut t, |p| surface(p, 8, 16), &mut seed);
        assert_eq!(chosen.threads, 6);
        assert!(t
            .trials()
            .iter()
            .all(|tr| tr.point.threads == 6 && (2..=16).contains(&tr.point.batch)));
        let mut seen = std::collections::HashSet::new();
        assert!(
            t.trials().iter().all(|tr| seen.insert(tr.point)),
            "a point was measured twice"
        );
    }

    #[test]
    fn drift_on_recheck_restarts_a_local_search_and_noise_does_not() {
        let bounds = Bounds::new((1, 8), (1, 32));
        let mut seed = 3;
        let mut t = Tuner::new(
            bounds,
            TuneMode::Normal,
            Point { threads: 4, batch: 4 },
            Origin::Topology,
        );
        let chosen = run(&mut t, |p| surface(p, 4, 8), &mut seed);
        let (_, rate) = t.incumbent();
        let rate = rate.expect("measured");

        t.recheck();
        assert_eq!(t.next(), Step::Measure(chosen));
        assert!(t.record(chosen, rate * 1.02));
        assert_eq!(t.next(), Step::Settled(chosen), "2 % is noise");

        // Something else now uses half the machine: fewer threads win.
        let loaded = |p: Point| surface(p, 2, 4);
        t.recheck();
        let before = t.measurements();
        let moved = run(&mut t, loaded, &mut seed);
        assert!(t.measurements() > before + 1, "a new search ran");
        assert!(loaded(moved) >= 0.97 * best(&bounds, loaded), "{moved}");
        assert!(t.trials().iter().any(|tr| tr.phase == Phase::Recheck));
    }

    #[test]
    fn bad_reports_are_ignored() {
        let bounds = Bounds::new((1, 4), (1, 8));
        let start = Point { threads: 2, batch: 4 };
        let mut t = Tuner::new(bounds, TuneMode::Aggressive, start, Origin::Store);
        assert!(
            !t.record(Point { threads: 3, batch: 4 }, 10.0),
            "not the point asked for"
        );
        assert!(!t.record(start, f64::NAN));
        assert!(!t.record(start, -1.0));
        assert_eq!(t.next(), Step::Measure(start));
        assert!(t.record(start, 10.0));
        assert_eq!(t.measurements(), 1);
    }
}

//! Curtailment per site: a state machine on the electricity price with hysteresis (Foreman's
//! rule, made staged), a maximum site power whatever the price, and demand-response requests
//! ("reduce by X kW for Y minutes"). Its output is a power cap in kW that the optimiser obeys, so
//! the optimiser picks *how* to shed (the cheapest kW first) and the state machine only *how much*.
//!
//! Stages: `full` -> `reduced_power` (cap = each rig's lowest non-zero exclusive power, i.e.
//! ASICs on their lowest power preset, so power targets drop before anything pauses) ->
//! `paused` (cap 0). Each price window (one cycle):
//! - price >= high strike: `paused` at once;
//! - price > strike: count a window above; after `curtail_after_windows` in a row, one stage
//!   down (and count again for the next stage);
//! - price <= strike: count a window below; after `resume_after_windows` in a row, one stage up.
//!
//! Must never raise a cap above the site's configured `power_cap_kw` or `max_site_power_kw`,
//! and never let a demand-response request outlive its end time.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurtailPolicy {
    /// USD/kWh above which windows count towards curtailing; none: price never curtails.
    pub strike_usd_kwh: Option<f64>,
    /// USD/kWh at or above which the site pauses at once.
    pub high_strike_usd_kwh: Option<f64>,
    pub curtail_after_windows: u32,
    pub resume_after_windows: u32,
    /// A ceiling whatever the price (a breaker, a contract), in kW.
    pub max_site_power_kw: Option<f64>,
}

impl Default for CurtailPolicy {
    fn default() -> Self {
        CurtailPolicy {
            strike_usd_kwh: None,
            high_strike_usd_kwh: None,
            curtail_after_windows: 3,
            resume_after_windows: 3,
            max_site_power_kw: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Full,
    ReducedPower,
    Paused,
}

impl Stage {
    fn down(self) -> Stage {
        match self {
            Stage::Full => Stage::ReducedPower,
            _ => Stage::Paused,
        }
    }
    fn up(self) -> Stage {
        match self {
            Stage::Paused => Stage::ReducedPower,
            _ => Stage::Full,
        }
    }
}

/// "Reduce by `reduce_kw` for a while": the cap is the site's draw when asked minus the cut.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandResponse {
    pub reduce_kw: f64,
    pub baseline_kw: f64,
    pub until_unix: i64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CurtailError {
    #[error("reduce_kw must be a finite number > 0, got {0}")]
    ReduceKw(f64),
    #[error("minutes must be 1..=1440, got {0}")]
    Minutes(i64),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CurtailState {
    pub stage: Stage,
    pub windows_above: u32,
    pub windows_below: u32,
    pub demand_response: Option<DemandResponse>,
}

/// What one price window did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurtailStep {
    pub stage: Stage,
    pub previous: Stage,
    pub price_usd_kwh: f64,
    pub windows_above: u32,
    pub windows_below: u32,
}

impl CurtailState {
    /// Accepts a demand-response request at `now_unix` while the site draws `site_kw`.
    pub fn demand_response(
        &mut self,
        reduce_kw: f64,
        minutes: i64,
        site_kw: f64,
        now_unix: i64,
    ) -> Result<DemandResponse, CurtailError> {
        if !(reduce_kw.is_finite() && reduce_kw > 0.0) {
            return Err(CurtailError::ReduceKw(reduce_kw));
        }
        if !(1..=1440).contains(&minutes) {
            return Err(CurtailError::Minutes(minutes));
        }
        let dr = DemandResponse {
            reduce_kw,
            baseline_kw: site_kw.max(0.0),
            until_unix: now_unix + minutes * 60,
        };
        self.demand_response = Some(dr);
        Ok(dr)
    }

    /// One price window.
    pub fn step(&mut self, price_usd_kwh: f64, p: &CurtailPolicy) -> CurtailStep {
        let previous = self.stage;
        let high = p.high_strike_usd_kwh.is_some_and(|h| price_usd_kwh >= h);
        let above = p.strike_usd_kwh.is_some_and(|s| price_usd_kwh > s);
        if high {
            self.stage = Stage::Paused;
            self.windows_above = 0;
            self.windows_below = 0;
        } else if above {
            self.windows_below = 0;
            self.windows_above += 1;
            if self.windows_above >= p.curtail_after_windows.max(1) && self.stage != Stage::Paused {
                self.stage = self.stage.down();
                self.windows_above = 0;
            }
        } else {
            self.windows_above = 0;
            if self.stage != Stage::Full {
                self.windows_below += 1;
                if self.windows_below >= p.resume_after_windows.max(1) {
                    self.stage = self.stage.up();
                    self.windows_below = 0;
                }
            } else {
                self.windows_below = 0;
            }
        }
        CurtailStep {
            stage: self.stage,
            previous,
            price_usd_kwh,
            windows_above: self.windows_above,
            windows_below: self.windows_below,
        }
    }

    /// The cap the optimiser must obey now (kW), or none when nothing limits the site.
    /// `reduced_kw` is the site's draw with every rig on its lowest non-zero power.
    pub fn cap_kw(
        &mut self,
        site_cap_kw: Option<f64>,
        reduced_kw: f64,
        now_unix: i64,
        p: &CurtailPolicy,
    ) -> Option<f64> {
        if self.demand_response.is_some_and(|d| now_unix >= d.until_unix) {
            self.demand_response = None;
        }
        let stage_cap = match self.stage {
            Stage::Full => None,
            Stage::ReducedPower => Some(reduced_kw),
            Stage::Paused => Some(0.0),
        };
        let dr_cap = self
            .demand_response
            .map(|d| (d.baseline_kw - d.reduce_kw).max(0.0));
        [site_cap_kw, p.max_site_power_kw, stage_cap, dr_cap]
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CurtailPolicy {
        CurtailPolicy {
            strike_usd_kwh: Some(0.10),
            high_strike_usd_kwh: Some(0.30),
            curtail_after_windows: 2,
            resume_after_windows: 3,
            max_site_power_kw: Some(50.0),
        }
    }

    #[test]
    fn staged_down_with_hysteresis_and_back_up() {
        let p = policy();
        let mut s = CurtailState::default();
        let stages: Vec<Stage> = [
            0.12, 0.05, 0.12, 0.12, 0.12, 0.12, 0.05, 0.05, 0.12, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05,
        ]
        .iter()
        .map(|&x| s.step(x, &p).stage)
        .collect();
        use Stage::*;
        assert_eq!(
            stages,
            vec![
                Full,
                Full, // one window above, then below: the count restarts
                Full,
                ReducedPower, // two above in a row: power targets first
                ReducedPower,
                Paused, // two more: pause
                Paused,
                Paused, // two below: not yet (needs three)
                Paused, // above again: the below count restarts
                Paused,
                Paused,
                ReducedPower, // three below: one stage up
                ReducedPower,
                ReducedPower,
                Full,
            ]
        );
    }

    #[test]
    fn high_strike_pauses_at_once() {
        let mut s = CurtailState::default();
        assert_eq!(s.step(0.31, &policy()).stage, Stage::Paused);
        let mut s = CurtailState::default();
        assert_eq!(
            s.step(0.31, &CurtailPolicy::default()).stage,
            Stage::Full,
            "no strikes configured"
        );
    }

    #[test]
    fn caps_combine_and_demand_response_expires() {
        let p = policy();
        let mut s = CurtailState::default();
        assert_eq!(
            s.cap_kw(Some(80.0), 20.0, 0, &p),
            Some(50.0),
            "max site power under the cap"
        );
        assert_eq!(s.cap_kw(None, 20.0, 0, &CurtailPolicy::default()), None);
        s.stage = Stage::ReducedPower;
        assert_eq!(s.cap_kw(Some(80.0), 20.0, 0, &p), Some(20.0));
        s.stage = Stage::Full;
        // Drawing 45 kW, asked to shed 15 kW for 30 minutes: cap 30 kW until t + 1800.
        let dr = s.demand_response(15.0, 30, 45.0, 1000).expect("dr");
        assert_eq!(dr.until_unix, 2800);
        assert_eq!(s.cap_kw(Some(80.0), 20.0, 2799, &p), Some(30.0));
        assert_eq!(s.cap_kw(Some(80.0), 20.0, 2800, &p), Some(50.0));
        assert_eq!(s.demand_response, None);
        assert_eq!(
            s.demand_response(-1.0, 30, 45.0, 0),
            Err(CurtailError::ReduceKw(-1.0))
        );
        assert_eq!(s.demand_response(1.0, 0, 45.0, 0), Err(CurtailError::Minutes(0)));
    }
}

//! Storj storage node: the dashboard API on port 14002.
//!
//! Shapes (field names and nesting) from storj/storj:
//! - `GET /api/sno/`: `storagenode/console/service.go` `Dashboard` (`nodeID`, `diskSpace`,
//!   `bandwidth`, `version`, `upToDate`, `startedAt`) with `DiskSpaceInfo` of
//!   `storagenode/console/diskspace.go` (`used`, `available`, `trash`; newer nodes add
//!   `allocated`, `overused`, `reclaimable`, and then `available` is the space left rather than
//!   the allocation);
//! - `GET /api/sno/satellites`: `Satellites` in the same file (`bandwidthSummary`,
//!   `egressSummary`, `ingressSummary`, bytes this month);
//! - `GET /api/sno/estimated-payout`: `storagenode/payouts/estimatedpayouts/estimatedpayouts.go`
//!   `EstimatedPayout` (`currentMonth.payout`, `currentMonthExpectations`), in US cents.
//!
//! Storj quotes earnings in USD and pays the STORJ token at the payout-day price, so the token
//! amount is `None`. Must never turn a missing field into zero.

use super::clock::{month_start_ms, parse_rfc3339_ms};
use super::http::{connect, get_json};
use super::{DepinAdapter, DepinError, PollFuture, Reading};
use crate::asic::http::HttpConn;
use hashward_protocol::{DepinEarnings, DepinKind, EarningsPeriod};
use serde::Deserialize;
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:14002";
const DEFAULT_PORT: u16 = 14002;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    #[serde(rename = "nodeID")]
    pub node_id: String,
    pub disk_space: DiskSpace,
    pub bandwidth: Bandwidth,
    pub version: Option<String>,
    pub started_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DiskSpace {
    pub used: i64,
    pub available: i64,
    pub trash: Option<i64>,
    /// Present on nodes whose `available` is the space left.
    pub allocated: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Bandwidth {
    pub used: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Satellites {
    pub bandwidth_summary: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimatedPayout {
    pub current_month: PayoutMonthly,
    pub current_month_expectations: f64,
}

#[derive(Debug, Deserialize)]
pub struct PayoutMonthly {
    /// US cents.
    pub payout: f64,
}

fn bytes(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}

fn usd_from_cents(c: f64) -> Option<f64> {
    (c.is_finite() && c >= 0.0).then_some(c / 100.0)
}

/// The reading of one poll's three replies. Pure.
pub fn normalise(d: Dashboard, s: Satellites, p: EstimatedPayout, now_ms: u64) -> Reading {
    let used = bytes(d.disk_space.used);
    let trash = d.disk_space.trash.and_then(bytes).unwrap_or(0);
    let available = match d.disk_space.allocated {
        Some(_) => bytes(d.disk_space.available),
        // Older nodes: `available` is the allocation; what is left is it minus what is stored.
        None => bytes(d.disk_space.available)
            .zip(used)
            .map(|(a, u)| a.saturating_sub(u).saturating_sub(trash)),
    };
    let uptime_s = d
        .started_at
        .as_deref()
        .and_then(parse_rfc3339_ms)
        .filter(|t| *t <= now_ms)
        .map(|t| (now_ms - t) / 1000);
    let usd = usd_from_cents(p.current_month.payout);
    Reading {
        node_id: Some(d.node_id),
        version: d.version,
        uptime_s,
        earnings: usd.map(|usd| DepinEarnings {
            period: EarningsPeriod::CurrentMonth,
            period_start_ms: month_start_ms(now_ms),
            usd: Some(usd),
            token_amount: None,
            token: None,
            estimated_period_usd: usd_from_cents(p.current_month_expectations),
        }),
        earnings_unavailable: usd
            .is_none()
            .then(|| format!("estimated-payout gave payout {}", p.current_month.payout)),
        disk_used_bytes: used,
        disk_available_bytes: available,
        // The satellites' monthly total; the dashboard's own figure if that is absent.
        bandwidth_bytes: bytes(s.bandwidth_summary).or(bytes(d.bandwidth.used)),
        cpu_share_pct: None,
        active_jobs: None,
    }
}

pub struct StorjClient {
    url: String,
    timeout: Duration,
    conn: Option<HttpConn>,
}

impl StorjClient {
    pub fn new(url: &str, timeout: Duration) -> StorjClient {
        StorjClient {
            url: url.to_string(),
            timeout,
            conn: None,
        }
    }

    async fn read(&mut self, now_ms: u64) -> Result<Reading, DepinError> {
        let conn = match self.conn.take() {
            Some(c) => c,
            None => connect(&self.url, DEFAULT_PORT, self.timeout).await?,
        };
        let conn = self.conn.insert(conn);
        let d: Dashboard = get_json(conn, "/api/sno/", &[]).await?;
        let s: Satellites = get_json(conn, "/api/sno/satellites", &[]).await?;
        let p: EstimatedPayout = get_json(conn, "/api/sno/estimated-payout", &[]).await?;
        Ok(normalise(d, s, p, now_ms))
    }
}

impl DepinAdapter for StorjClient {
    fn kind(&self) -> DepinKind {
        DepinKind::Storj
    }

    fn poll(&mut self, now_ms: u64) -> PollFuture<'_> {
        Box::pin(self.read(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dash(json: &str) -> Dashboard {
        serde_json::from_str(json).expect("dashboard")
    }

    #[test]
    fn an_older_node_reports_its_allocation_as_available() {
        let d = dash(
            r#"{"nodeID":"1abc","wallet":"0x1","satellites":[],"diskSpace":{"used":600,"available":1000,"trash":100},
                "bandwidth":{"used":5},"lastPinged":"2026-12-02T00:00:00Z","version":"1.90.2",
                "allowedVersion":"1.80.0","upToDate":true,"startedAt":"2026-12-01T00:00:00Z"}"#,
        );
        let now = parse_rfc3339_ms("2026-12-02T00:00:00Z").expect("ts");
        let r = normalise(
            d,
            Satellites { bandwidth_summary: 7 },
            EstimatedPayout {
                current_month: PayoutMonthly { payout: 157.0 },
                current_month_expectations: 312.0,
            },
            now,
        );
        assert_eq!(r.disk_used_bytes, Some(600));
        assert_eq!(r.disk_available_bytes, Some(300));
        assert_eq!(r.bandwidth_bytes, Some(7));
        assert_eq!(r.uptime_s, Some(86_400));
        let e = r.earnings.expect("earnings");
        assert_eq!(
            (e.usd, e.estimated_period_usd, e.token_amount),
            (Some(1.57), Some(3.12), None)
        );
        assert_eq!(
            e.period_start_ms,
            parse_rfc3339_ms("2026-12-01T00:00:00Z").expect("ts")
        );
    }

    #[test]
    fn a_newer_node_reports_the_space_left_and_bad_figures_stay_unknown() {
        let d = dash(
            r#"{"nodeID":"1abc","diskSpace":{"used":600,"available":250,"trash":100,"allocated":1000,
                "overused":0,"reclaimable":0},"bandwidth":{"used":-1},"version":"1.104.1","startedAt":"soon"}"#,
        );
        let r = normalise(
            d,
            Satellites {
                bandwidth_summary: -5,
            },
            EstimatedPayout {
                current_month: PayoutMonthly { payout: -3.0 },
                current_month_expectations: 0.0,
            },
            1,
        );
        assert_eq!(r.disk_available_bytes, Some(250));
        assert_eq!((r.bandwidth_bytes, r.uptime_s), (None, None));
        assert!(r.earnings.is_none() && r.earnings_unavailable.is_some());
    }

    #[test]
    fn a_dashboard_without_the_node_id_is_refused() {
        assert!(serde_json::from_str::<Dashboard>(
            r#"{"diskSpace":{"used":1,"available":2},"bandwidth":{"used":0}}"#
        )
        .is_err());
    }
}

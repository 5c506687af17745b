//! Golem provider: the local yagna daemon's REST API (port 7465), `Authorization: Bearer <app
//! key>` (`yagna app-key create`; the key lives in a 0600 file, never in the config).
//!
//! Shapes from golemfactory/ya-client `model/src`: `identity.rs` (`GET /me`: `identity`),
//! `payment/invoice.rs` (`GET /payment-api/v1/invoices?afterTimestamp=`: `issuerId`,
//! `timestamp`, `amount` as a decimal string, `status` `ISSUED|RECEIVED|ACCEPTED|REJECTED|FAILED|
//! SETTLED|CANCELLED`), `payment/debit_note.rs` (`GET /payment-api/v1/debitNotes?afterTimestamp=`:
//! `issuerId`, `activityId`), `activity/activity_state.rs` (`GET /activity-api/v1/activity/{id}/
//! state`: `state: [current, pending]`); query parameters from `payment/params.rs`
//! (`FilterParams`). Routes from golemfactory/yagna `core/payment/src/api/{invoices,debit_notes}.rs`
//! and `core/activity/src/api.rs` (yagna has no "list activities" route, so the activities are
//! those the provider billed in the last hour).
//!
//! Earnings: the GLM of invoices this node issued in the last 24 h that the requestor accepted
//! or paid; USD is `None` (the agent has no GLM price: the hub's market data converts). CPU share
//! is `None`: yagna does not report it without the agreement's usage vector, which is not read
//! yet. Must never send the app key anywhere but the configured yagna, nor log it.

use super::clock::{format_rfc3339, parse_rfc3339_ms};
use super::http::{connect, get_json};
use super::{DepinAdapter, DepinError, PollFuture, Reading};
use crate::asic::error::ApiError;
use crate::asic::http::HttpConn;
use hashward_protocol::{DepinEarnings, DepinKind, EarningsPeriod};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:7465";
const DEFAULT_PORT: u16 = 7465;
const DAY_MS: u64 = 86_400_000;
/// Debit notes come every few minutes while an activity runs: an hour finds every live one.
const ACTIVE_WINDOW_MS: u64 = 3_600_000;
/// Activity states asked per poll at most (each is one request).
const MAX_ACTIVITIES: usize = 32;

#[derive(Debug, Deserialize)]
pub struct Me {
    pub identity: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    pub issuer_id: String,
    pub timestamp: String,
    pub amount: String,
    pub status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebitNote {
    pub issuer_id: String,
    pub activity_id: String,
}

#[derive(Debug, Deserialize)]
pub struct ActivityState {
    /// `[current, pending]`, e.g. `["Ready", null]`.
    pub state: (String, Option<String>),
}

impl ActivityState {
    /// Running or being set up for a requestor (not `New`, `Terminated`, `Unresponsive`, and not
    /// on its way to `Terminated`).
    pub fn is_working(&self) -> bool {
        matches!(self.state.0.as_str(), "Initialized" | "Deployed" | "Ready")
            && self.state.1.as_deref() != Some("Terminated")
    }
}

/// GLM earned in the window: invoices `me` issued since `since_ms` that were accepted or paid.
/// An amount that is not a decimal number is an error, not a zero. Pure.
pub fn earned_glm(me: &str, invoices: &[Invoice], since_ms: u64) -> Result<f64, String> {
    let mut sum = 0.0;
    for inv in invoices {
        if !inv.issuer_id.eq_ignore_ascii_case(me)
            || !matches!(inv.status.to_ascii_uppercase().as_str(), "ACCEPTED" | "SETTLED")
            || parse_rfc3339_ms(&inv.timestamp).is_none_or(|t| t < since_ms)
        {
            continue;
        }
        match inv.amount.trim().parse::<f64>() {
            Ok(a) if a.is_finite() && a >= 0.0 => sum += a,
            _ => return Err(format!("invoice amount {:?} is not a GLM amount", inv.amount)),
        }
    }
    Ok(sum)
}

/// The distinct activities `me` billed in `notes`, at most [`MAX_ACTIVITIES`]. Pure.
pub fn billed_activities(me: &str, notes: &[DebitNote]) -> Vec<String> {
    let ids: BTreeSet<&str> = notes
        .iter()
        .filter(|n| n.issuer_id.eq_ignore_ascii_case(me))
        .map(|n| n.activity_id.as_str())
        .collect();
    ids.into_iter().take(MAX_ACTIVITIES).map(str::to_string).collect()
}

/// Activity ids go into a path: anything but the id alphabet is refused, not escaped.
fn path_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Reads the app key file: owner-only (mode 0600 or stricter), one line.
pub fn read_app_key(path: &Path) -> Result<String, DepinError> {
    let err = |detail: String| DepinError::AppKey {
        path: path.to_path_buf(),
        detail,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "readable by others (mode {mode:04o}); app key files must be mode 0600"
            )));
        }
    }
    if !meta.is_file() || meta.len() > 4096 {
        return Err(err("not a small regular file".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let key = text.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(err("the key must be one line of printable ASCII".into()));
    }
    Ok(key.to_string())
}

pub struct GolemClient {
    url: String,
    key_file: PathBuf,
    timeout: Duration,
    conn: Option<HttpConn>,
    /// Read on the first poll and again after a 401 (the key may have been replaced).
    key: Option<String>,
}

impl GolemClient {
    pub fn new(url: &str, key_file: &Path, timeout: Duration) -> GolemClient {
        GolemClient {
            url: url.to_string(),
            key_file: key_file.to_path_buf(),
            timeout,
            conn: None,
            key: None,
        }
    }

    async fn read(&mut self, now_ms: u64) -> Result<Reading, DepinError> {
        let key = match self.key.take() {
            Some(k) => k,
            None => read_app_key(&self.key_file)?,
        };
        let conn = match self.conn.take() {
            Some(c) => c,
            None => connect(&self.url, DEFAULT_PORT, self.timeout).await?,
        };
        let conn = self.conn.insert(conn);
        let bearer = format!("Bearer {key}");
        let auth = [("authorization", bearer.as_str())];
        let result = read_with(conn, &auth, now_ms).await;
        if !matches!(result, Err(ApiError::Unauthorized { .. })) {
            self.key = Some(key);
        }
        Ok(result?)
    }
}

async fn read_with(conn: &mut HttpConn, auth: &[(&str, &str)], now_ms: u64) -> Result<Reading, ApiError> {
    let me: Me = get_json(conn, "/me", auth).await?;
    let since = now_ms.saturating_sub(DAY_MS);
    let invoices: Vec<Invoice> = get_json(
        conn,
        &format!(
            "/payment-api/v1/invoices?afterTimestamp={}",
            format_rfc3339(since)
        ),
        auth,
    )
    .await?;
    let notes: Vec<DebitNote> = get_json(
        conn,
        &format!(
            "/payment-api/v1/debitNotes?afterTimestamp={}",
            format_rfc3339(now_ms.saturating_sub(ACTIVE_WINDOW_MS))
        ),
        auth,
    )
    .await?;
    let mut working = 0u32;
    for id in billed_activities(&me.identity, &notes) {
        if !path_safe(&id) {
            return Err(ApiError::malformed(
                "debit note activityId",
                format!("{id:?} is not an id"),
            ));
        }
        let st: ActivityState =
            get_json(conn, &format!("/activity-api/v1/activity/{id}/state"), auth).await?;
        working += u32::from(st.is_working());
    }
    let glm = earned_glm(&me.identity, &invoices, since)
        .map_err(|e| ApiError::malformed("GET /payment-api/v1/invoices", e))?;
    Ok(Reading {
        node_id: Some(me.identity),
        earnings: Some(DepinEarnings {
            period: EarningsPeriod::Last24h,
            period_start_ms: since,
            usd: None,
            token_amount: Some(glm),
            token: Some("GLM".into()),
            estimated_period_usd: None,
        }),
        active_jobs: Some(working),
        ..Reading::default()
    })
}

impl DepinAdapter for GolemClient {
    fn kind(&self) -> DepinKind {
        DepinKind::Golem
    }

    fn poll(&mut self, now_ms: u64) -> PollFuture<'_> {
        Box::pin(self.read(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(issuer: &str, ts: &str, amount: &str, status: &str) -> Invoice {
        Invoice {
            issuer_id: issuer.into(),
            timestamp: ts.into(),
            amount: amount.into(),
            status: status.into(),
        }
    }

    #[test]
    fn only_our_accepted_or_paid_invoices_in_the_window_count() {
        let since = parse_rfc3339_ms("2026-12-01T12:00:00Z").expect("ts");
        let me = "0xabc";
        let list = [
            inv("0xABC", "2026-12-01T13:00:00Z", "0.5", "SETTLED"),
            inv(me, "2026-12-02T01:00:00.5Z", "0.25", "ACCEPTED"),
            inv(me, "2026-12-02T01:00:00Z", "7", "ISSUED"),
            inv(me, "2026-12-02T01:00:00Z", "7", "REJECTED"),
            inv(me, "2026-12-01T11:59:59Z", "7", "SETTLED"),
            inv("0xother", "2026-12-02T01:00:00Z", "7", "SETTLED"),
        ];
        assert_eq!(earned_glm(me, &list, since), Ok(0.75));
        let bad = [inv(me, "2026-12-02T01:00:00Z", "lots", "SETTLED")];
        assert!(earned_glm(me, &bad, since).is_err());
    }

    #[test]
    fn working_activities_are_those_not_terminating() {
        let st = |a: &str, b: Option<&str>| ActivityState {
            state: (a.into(), b.map(str::to_string)),
        };
        assert!(st("Ready", None).is_working());
        assert!(st("Deployed", Some("Ready")).is_working());
        assert!(!st("Ready", Some("Terminated")).is_working());
        assert!(!st("Terminated", None).is_working());
        assert!(!st("Unresponsive", None).is_working());
        let parsed: ActivityState =
            serde_json::from_str(r#"{"state":["Ready",null],"reason":null,"errorMessage":null}"#)
                .expect("shape");
        assert!(parsed.is_working());
    }

    #[test]
    fn billed_activities_are_ours_and_distinct() {
        let n = |i: &str, a: &str| DebitNote {
            issuer_id: i.into(),
            activity_id: a.into(),
        };
        let got = billed_activities(
            "0xme",
            &[n("0xme", "b"), n("0xme", "a"), n("0xme", "b"), n("0xyou", "c")],
        );
        assert_eq!(got, ["a", "b"]);
        assert!(!path_safe("../x") && !path_safe("") && path_safe("a1-b_2"));
    }

    #[test]
    fn the_app_key_file_must_be_private_and_one_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("key");
        std::fs::write(&p, "abc123\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = read_app_key(&p).expect_err("world-readable");
        assert!(e.to_string().contains("0600"), "{e}");
        assert!(!e.to_string().contains("abc123"), "never the key: {e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_app_key(&p).expect("ok"), "abc123");
        assert!(read_app_key(&dir.path().join("missing")).is_err());
    }
}

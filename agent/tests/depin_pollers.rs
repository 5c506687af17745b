//! The DePIN pollers against fake Storj, Golem and Streamr nodes (real HTTP on loopback, the
//! real nodes' JSON shapes, `depin_support`): what each reports when the node answers, is down,
//! answers garbage, or refuses the app key. Every figure asserted is computed from what the
//! fake served, not copied from the implementation.

mod depin_support;

use depin_support::{closed_port, golem, storj, streamr, StorjFigures};
use hashward_agent::depin::clock::{format_rfc3339, month_start_ms};
use hashward_agent::depin::{DepinPoller, DepinSection};
use hashward_protocol::{DepinKind, DepinReport, EarningsPeriod};
use serde_json::json;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

fn section(nodes: &str) -> DepinSection {
    #[derive(serde::Deserialize)]
    struct Doc {
        depin: DepinSection,
    }
    let d: Doc = toml::from_str(&format!("[depin]\nrequest_timeout_ms = 2000\n{nodes}")).expect("toml");
    d.depin.validate().expect("valid");
    d.depin
}

/// Runs the poller over `section` until `n` reports came (or 30 s passed), then stops it.
async fn reports(section: &DepinSection, n: usize) -> Vec<DepinReport> {
    let (tx, mut rx) = mpsc::channel(16);
    let (stop, stopped) = oneshot::channel::<()>();
    let poller = DepinPoller::new(section.specs());
    let task = tokio::spawn(poller.run(tx, async move {
        let _ = stopped.await;
    }));
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) => got.push(r),
            _ => break,
        }
    }
    let _ = stop.send(());
    let _ = task.await;
    got.sort_by(|a, b| a.node.cmp(&b.node));
    got
}

fn storj_figures() -> StorjFigures {
    StorjFigures {
        used: 1_200_000_000_000,
        available: 2_000_000_000_000,
        trash: 50_000_000_000,
        bandwidth_summary: 345_000_000_000,
        payout_cents: 412.0,
        expectations_cents: 1234,
        started_at: format_rfc3339(hashward_common::now_ms() - 7_200_000),
    }
}

#[tokio::test]
async fn storj_reports_disk_bandwidth_uptime_and_usd_earnings() {
    let f = storj_figures();
    let fake = storj(f.clone()).await;
    let s = section(&format!(
        "[[depin.nodes]]\nid = \"storj-1\"\nkind = \"storj\"\nurl = \"{}\"\npoll_interval_s = 60\n",
        fake.url()
    ));
    let r = reports(&s, 1).await.remove(0);
    assert_eq!(
        (r.node.as_str(), r.kind, r.reachable),
        ("storj-1", DepinKind::Storj, true)
    );
    assert_eq!((r.error_kind, r.poll_interval_s), (None, 60));
    assert_eq!(
        r.node_id.as_deref(),
        Some("12rfG3sh9NCWiX3ivPjq2HtdLmbqCrvHVEzJubnzFzosMuawymB")
    );
    assert_eq!(r.version.as_deref(), Some("1.90.2"));
    assert_eq!(r.disk_used_bytes, Some(f.used as u64));
    // This node's `available` is its allocation (no `allocated` field): left = it - used - trash.
    assert_eq!(
        r.disk_available_bytes,
        Some((f.available - f.used - f.trash) as u64)
    );
    assert_eq!(r.bandwidth_bytes, Some(f.bandwidth_summary as u64));
    let up = r.uptime_s.expect("uptime");
    assert!((7_200..7_260).contains(&up), "{up}");
    let e = r.earnings.expect("earnings");
    assert_eq!(e.period, EarningsPeriod::CurrentMonth);
    assert_eq!(e.usd, Some(f.payout_cents / 100.0));
    assert_eq!(e.estimated_period_usd, Some(f.expectations_cents as f64 / 100.0));
    assert_eq!(
        e.token_amount, None,
        "paid in STORJ at the payout-day price: not known now"
    );
    assert_eq!(e.period_start_ms, month_start_ms(hashward_common::now_ms()));
    assert_eq!(r.cpu_share_pct, None);
}

#[tokio::test]
async fn golem_sums_our_accepted_invoices_of_the_day_and_counts_running_jobs() {
    let now = hashward_common::now_ms();
    let ts = |ago_ms: u64| format_rfc3339(now - ago_ms);
    let me = "0x1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
    let invoices = vec![
        (me, ts(3_600_000), "0.125", "SETTLED"),
        (me, ts(7_200_000), "0.5", "ACCEPTED"),
        (me, ts(7_200_000), "3", "ISSUED"),
        (me, ts(7_200_000), "3", "REJECTED"),
        ("0xsomeoneelse", ts(3_600_000), "3", "SETTLED"),
        // Older than a day: the fake leaves it out by afterTimestamp, as yagna does.
        (me, ts(90_000_000), "3", "SETTLED"),
    ];
    let activities = vec![
        ("act-ready", json!(["Ready", null])),
        ("act-deploying", json!(["Deployed", "Ready"])),
        ("act-ending", json!(["Ready", "Terminated"])),
        ("act-done", json!(["Terminated", null])),
    ];
    let fake = golem("s3cr3t-app-key", me, invoices, activities).await;
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("yagna-key");
    std::fs::write(&key, "s3cr3t-app-key\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let s = section(&format!(
        "[[depin.nodes]]\nid = \"golem\"\nkind = \"golem\"\nurl = \"{}\"\napp_key_file = \"{}\"\n",
        fake.url(),
        key.display()
    ));
    let r = reports(&s, 1).await.remove(0);
    assert!(r.reachable && r.error.is_none(), "{r:?}");
    assert_eq!(r.node_id.as_deref(), Some(me));
    let e = r.earnings.expect("earnings");
    assert_eq!(e.period, EarningsPeriod::Last24h);
    assert_eq!((e.token.as_deref(), e.token_amount), (Some("GLM"), Some(0.625)));
    assert_eq!(e.usd, None, "no GLM price on the rig");
    assert_eq!(r.active_jobs, Some(2));
    assert_eq!(r.disk_used_bytes, None);
}

#[tokio::test]
async fn a_wrong_app_key_is_an_auth_error_and_never_earnings() {
    let fake = golem("the-right-key", "0xme", vec![], vec![]).await;
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("k");
    std::fs::write(&key, "a-wrong-key").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let s = section(&format!(
        "[[depin.nodes]]\nid = \"golem\"\nkind = \"golem\"\nurl = \"{}\"\napp_key_file = \"{}\"\n",
        fake.url(),
        key.display()
    ));
    let r = reports(&s, 1).await.remove(0);
    assert!(r.reachable, "yagna answered, with a 401");
    assert_eq!(r.error_kind.as_deref(), Some("auth"));
    let err = r.error.expect("error");
    assert!(err.contains("401") && !err.contains("a-wrong-key"), "{err}");
    assert!(r.earnings.is_none() && r.earnings_unavailable.is_some());
}

#[tokio::test]
async fn streamr_is_health_only_with_the_reason_for_no_earnings() {
    let fake = streamr("0xabc#1").await;
    let s = section(&format!(
        "[[depin.nodes]]\nid = \"streamr\"\nkind = \"streamr\"\nurl = \"{}\"\n",
        fake.url()
    ));
    let r = reports(&s, 1).await.remove(0);
    assert!(r.reachable);
    assert_eq!(r.node_id.as_deref(), Some("0xabc#1"));
    assert!(r.earnings.is_none());
    assert!(r.earnings_unavailable.expect("reason").contains("on-chain"));
}

#[tokio::test]
async fn a_node_that_is_down_is_reported_down_and_garbage_is_malformed() {
    let down = closed_port().await;
    let fake = storj(storj_figures()).await;
    fake.garbage.store(true, std::sync::atomic::Ordering::Relaxed);
    let s = section(&format!(
        "[[depin.nodes]]\nid = \"a-down\"\nkind = \"storj\"\nurl = \"http://{down}\"\n\
         [[depin.nodes]]\nid = \"b-garbage\"\nkind = \"storj\"\nurl = \"{}\"\n",
        fake.url()
    ));
    let got = reports(&s, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let (d, g) = (&got[0], &got[1]);
    assert!(!d.reachable);
    assert_eq!(d.error_kind.as_deref(), Some("unreachable"));
    assert!(d.earnings.is_none() && d.disk_used_bytes.is_none() && d.uptime_s.is_none());
    assert!(g.reachable, "it answered");
    assert_eq!(g.error_kind.as_deref(), Some("malformed"));
    assert!(g.error.as_deref().expect("error").contains("/api/sno/"), "{g:?}");
    assert!(g.earnings.is_none() && g.disk_used_bytes.is_none());
    assert!(fake.requests.load(std::sync::atomic::Ordering::Relaxed) >= 1);
}

#[test]
fn a_grass_node_is_refused_with_the_reason() {
    #[derive(serde::Deserialize)]
    struct Doc {
        depin: DepinSection,
    }
    let d: Doc = toml::from_str("[depin]\n[[depin.nodes]]\nid = \"g\"\nkind = \"grass\"\n").expect("toml");
    let e = d.depin.validate().expect_err("grass");
    assert!(e.contains("no local API"), "{e}");
}

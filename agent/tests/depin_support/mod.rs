//! Fake DePIN node APIs for the tests: a Storj storage node dashboard, a Golem yagna daemon and
//! a Streamr node, each a real HTTP/1.1 server (hyper) on a loopback port, answering with the
//! real nodes' JSON shapes. Field names and nesting follow the nodes' source:
//! - Storj: storj/storj `storagenode/console/service.go` (`Dashboard`, `Satellites`),
//!   `storagenode/console/diskspace.go`, `storagenode/payouts/estimatedpayouts/estimatedpayouts.go`;
//! - Golem: golemfactory/ya-client `model/src/identity.rs`, `payment/invoice.rs`,
//!   `payment/debit_note.rs`, `activity/activity_state.rs`; routes from golemfactory/yagna
//!   `core/payment/src/api/*.rs`, `core/activity/src/api.rs` (401 without the app key);
//! - Streamr: streamr-dev/network `packages/node/src/plugins/info/InfoPlugin.ts`.
//!
//! Each can be switched to garbage (not JSON). Test-only: never shipped.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

pub type Handler = dyn Fn(&str, &hyper::HeaderMap) -> (u16, String) + Send + Sync;

/// A running fake: its address, request counter and garbage switch. Dropping it stops it.
pub struct Fake {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
    pub garbage: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn start(handler: Arc<Handler>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(AtomicU64::new(0));
        let garbage = Arc::new(AtomicBool::new(false));
        let (r, g) = (requests.clone(), garbage.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (h, r, g) = (handler.clone(), r.clone(), g.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (h, r, g) = (h.clone(), r.clone(), g.clone());
                        async move {
                            r.fetch_add(1, Ordering::Relaxed);
                            let path = req
                                .uri()
                                .path_and_query()
                                .map(|p| p.as_str().to_string())
                                .unwrap_or_default();
                            let (status, body) = if g.load(Ordering::Relaxed) {
                                (200, "<html>502 Bad Gateway</html>{\"nodeID\":".to_string())
                            } else {
                                h(&path, req.headers())
                            };
                            let resp = hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body)))
                                .expect("response");
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Fake {
            addr,
            requests,
            garbage,
            task,
        }
    }
}

/// Storj dashboard figures the fake serves.
#[derive(Debug, Clone)]
pub struct StorjFigures {
    pub used: i64,
    pub available: i64,
    pub trash: i64,
    pub bandwidth_summary: i64,
    pub payout_cents: f64,
    pub expectations_cents: i64,
    pub started_at: String,
}

pub async fn storj(f: StorjFigures) -> Fake {
    Fake::start(Arc::new(move |path: &str, _h: &hyper::HeaderMap| match path {
        "/api/sno/" => (
            200,
            json!({
                "nodeID": "12rfG3sh9NCWiX3ivPjq2HtdLmbqCrvHVEzJubnzFzosMuawymB",
                "wallet": "0x0000000000000000000000000000000000000001",
                "walletFeatures": null,
                "satellites": [{"id": "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S",
                                "url": "us1.storj.io:7777", "disqualified": null, "suspended": null}],
                "diskSpace": {"used": f.used, "available": f.available, "trash": f.trash, "overused": 0},
                "bandwidth": {"used": 123, "available": 0},
                "lastPinged": "2026-12-02T11:59:00Z",
                "version": "1.90.2",
                "allowedVersion": "1.88.0",
                "upToDate": true,
                "startedAt": f.started_at,
                "configuredPort": "28967",
                "quicStatus": "OK",
                "lastQuicPingedAt": "2026-12-02T11:58:00Z"
            })
            .to_string(),
        ),
        "/api/sno/satellites" => (
            200,
            json!({
                "storageDaily": [], "bandwidthDaily": [], "storageSummary": 1.5e15,
                "averageUsageBytes": 1.4e12,
                "bandwidthSummary": f.bandwidth_summary, "egressSummary": f.bandwidth_summary / 2,
                "ingressSummary": f.bandwidth_summary - f.bandwidth_summary / 2,
                "earliestJoinedAt": "2024-01-01T00:00:00Z", "audits": []
            })
            .to_string(),
        ),
        "/api/sno/estimated-payout" => {
            let month = |payout: f64| {
                json!({"egressBandwidth": 1, "egressBandwidthPayout": 0.5, "egressRepairAudit": 0,
                       "egressRepairAuditPayout": 0.0, "diskSpace": 1.0, "diskSpacePayout": 0.5,
                       "heldRate": 0.0, "payout": payout, "held": 0.0})
            };
            (
                200,
                json!({
                    "currentMonth": month(f.payout_cents),
                    "previousMonth": month(999.0),
                    "currentMonthExpectations": f.expectations_cents
                })
                .to_string(),
            )
        }
        _ => (404, "{\"error\":\"not found\"}".into()),
    }))
    .await
}

/// One invoice of the Golem fake: (issuer, timestamp, amount, status).
pub type FakeInvoice = (&'static str, String, &'static str, &'static str);

/// The yagna fake: `/me`, invoices, debit notes and activity states, 401 without `key`.
pub async fn golem(
    key: &'static str,
    me: &'static str,
    invoices: Vec<FakeInvoice>,
    activities: Vec<(&'static str, Value)>,
) -> Fake {
    Fake::start(Arc::new(move |path: &str, h: &hyper::HeaderMap| {
        let auth = h.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {key}")) {
            return (401, "{\"message\":\"Invalid application key\"}".into());
        }
        let (route, query) = path.split_once('?').unwrap_or((path, ""));
        let after = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("afterTimestamp="))
            .map(str::to_string);
        match route {
            "/me" => (200, json!({"identity": me, "name": "provider", "role": "manager"}).to_string()),
            "/payment-api/v1/invoices" => {
                let Some(after) = after else {
                    return (400, "{\"message\":\"test wants afterTimestamp\"}".into());
                };
                let list: Vec<Value> = invoices
                    .iter()
                    .enumerate()
                    // RFC 3339 UTC strings of one format compare in time order.
                    .filter(|(_, (_, ts, _, _))| ts.as_str() > after.as_str())
                    .map(|(i, (issuer, ts, amount, status))| {
                        json!({"invoiceId": format!("inv-{i}"), "issuerId": issuer,
                               "recipientId": "0xrequestor", "payeeAddr": issuer, "payerAddr": "0xrequestor",
                               "paymentPlatform": "erc20-polygon-glm", "timestamp": ts,
                               "agreementId": "agr-1", "activityIds": ["act-1"], "amount": amount,
                               "paymentDueDate": ts, "status": status})
                    })
                    .collect();
                (200, Value::Array(list).to_string())
            }
            "/payment-api/v1/debitNotes" => {
                let list: Vec<Value> = activities
                    .iter()
                    .map(|(id, _)| {
                        json!({"debitNoteId": format!("dn-{id}"), "issuerId": me, "recipientId": "0xrequestor",
                               "payeeAddr": me, "payerAddr": "0xrequestor", "paymentPlatform": "erc20-polygon-glm",
                               "previousDebitNoteId": null, "timestamp": "2026-12-02T11:00:00Z",
                               "agreementId": "agr-1", "activityId": id, "totalAmountDue": "0.01",
                               "usageCounterVector": [1.0, 2.0], "paymentDueDate": null, "status": "RECEIVED"})
                    })
                    .collect();
                (200, Value::Array(list).to_string())
            }
            r => match r
                .strip_prefix("/activity-api/v1/activity/")
                .and_then(|r| r.strip_suffix("/state"))
                .and_then(|id| activities.iter().find(|(a, _)| *a == id))
            {
                Some((_, state)) => (
                    200,
                    json!({"state": state, "reason": null, "errorMessage": null}).to_string(),
                ),
                None => (404, "{\"message\":\"not found\"}".into()),
            },
        }
    }))
    .await
}

pub async fn streamr(node_id: &'static str) -> Fake {
    Fake::start(Arc::new(move |path: &str, _h: &hyper::HeaderMap| match path {
        "/info" => (200, json!({"nodeId": node_id}).to_string()),
        _ => (404, "not found".into()),
    }))
    .await
}

/// A loopback port nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}

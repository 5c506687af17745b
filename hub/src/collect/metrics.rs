//! The collectors' series in `/metrics` (Prometheus text), rendered from the sources' statuses
//! and the intake's counters at read time: requests, errors by kind, latency, staleness, up,
//! budget used and quota per source; observations, store errors, pruned rows per tier, market
//! topics published.
//!
//! Must never print a label value that comes from outside: source names and kinds are ours.

use super::service::CollectState;
use super::source::{ErrorKind, SourceState};
use hashward_common::clock::now_ms;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

impl CollectState {
    /// The collectors' Prometheus series (appended to `/metrics`).
    pub fn render_metrics(&self, out: &mut String) {
        let statuses = self.registry.all();
        let now = now_ms();
        let mut family =
            |name: &str, kind: &str, help: &str, rows: &mut dyn Iterator<Item = (String, f64)>| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
                for (labels, v) in rows {
                    let _ = if labels.is_empty() {
                        writeln!(out, "{name} {v}")
                    } else {
                        writeln!(out, "{name}{{{labels}}} {v}")
                    };
                }
            };
        family(
            "hashward_hub_collect_requests_total",
            "counter",
            "Requests (or push connections) made per source.",
            &mut statuses
                .iter()
                .map(|s| (format!("source=\"{}\"", s.name), s.requests as f64)),
        );
        family(
            "hashward_hub_collect_errors_total",
            "counter",
            "Failed requests per source and error kind.",
            &mut statuses.iter().flat_map(|s| {
                ErrorKind::ALL.iter().map(move |k| {
                    (
                        format!("source=\"{}\",kind=\"{}\"", s.name, k.as_str()),
                        s.errors.get(k).copied().unwrap_or(0) as f64,
                    )
                })
            }),
        );
        family(
            "hashward_hub_collect_latency_ms",
            "gauge",
            "Latency of the last request per source, ms.",
            &mut statuses
                .iter()
                .filter_map(|s| s.latency_ms.map(|l| (format!("source=\"{}\"", s.name), l as f64))),
        );
        family(
            "hashward_hub_collect_staleness_seconds",
            "gauge",
            "Seconds since the last success per source (absent before the first).",
            &mut statuses.iter().filter_map(|s| {
                s.last_success_ms.map(|t| {
                    (
                        format!("source=\"{}\"", s.name),
                        now.saturating_sub(t) as f64 / 1000.0,
                    )
                })
            }),
        );
        family(
            "hashward_hub_collect_up",
            "gauge",
            "1 when the source's last attempt succeeded.",
            &mut statuses.iter().map(|s| {
                (
                    format!("source=\"{}\"", s.name),
                    f64::from(u8::from(s.state == SourceState::Ok)),
                )
            }),
        );
        family(
            "hashward_hub_collect_budget_used",
            "gauge",
            "Quota units (requests or credits) used this month per source.",
            &mut statuses.iter().filter_map(|s| {
                s.budget
                    .as_ref()
                    .map(|b| (format!("source=\"{}\"", s.name), b.used as f64))
            }),
        );
        family(
            "hashward_hub_collect_budget_quota",
            "gauge",
            "Monthly quota per source (absent when the plan has none).",
            &mut statuses.iter().filter_map(|s| {
                s.budget
                    .as_ref()
                    .and_then(|b| b.quota.map(|q| (format!("source=\"{}\"", s.name), q as f64)))
            }),
        );
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let counters = &self.counters;
        family(
            "hashward_hub_market_pruned_rows_total",
            "counter",
            "Market rows deleted by the retention pruner, per tier.",
            &mut [
                ("raw", c(&counters.pruned_raw)),
                ("hourly", c(&counters.pruned_hourly)),
                ("daily", c(&counters.pruned_daily)),
                ("global", c(&counters.pruned_global)),
            ]
            .into_iter()
            .map(|(t, v)| (format!("tier=\"{t}\""), v)),
        );
        family(
            "hashward_hub_pool_network_pruned_rows_total",
            "counter",
            "Pool profitability and network history rows deleted by the pruner (older than 30 days).",
            &mut [
                ("pool_profitability", c(&counters.pruned_pool_profitability)),
                ("network", c(&counters.pruned_network)),
            ]
            .into_iter()
            .map(|(t, v)| (format!("table=\"{t}\""), v)),
        );
        family(
            "hashward_hub_collect_observations_total",
            "counter",
            "Observations delivered by the sources.",
            &mut std::iter::once((String::new(), c(&counters.observations))),
        );
        family(
            "hashward_hub_market_topics_published_total",
            "counter",
            "Retained hashward/json/market/{coin} messages published.",
            &mut std::iter::once((String::new(), c(&counters.published))),
        );
        family(
            "hashward_hub_collect_store_errors_total",
            "counter",
            "Collector writes the store refused.",
            &mut std::iter::once((String::new(), c(&counters.store_errors))),
        );
    }
}

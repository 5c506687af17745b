//! Fleet simulator for hub load runs: N simulated rigs, each its own MQTT connection with its
//! own client id and per-rig sequence numbers, publishing realistic records at QoS 1 through a
//! real broker to a real hub; at the end, what the hub stored against what the broker accepted.
//! Started by `benches/fleet-sim.sh`, which runs mosquitto and the hub; not shipped.
//!
//! Must never count a record as sent before the broker acknowledged it, nor report a figure it
//! did not read from the hub (a hub that does not answer fails the run).

mod mqtt;
mod records;

use anyhow::{bail, Context, Result};
use clap::Parser;
use hashward_protocol::RigId;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Simulated rigs publishing to a hub through a real MQTT broker")]
struct Args {
    #[arg(long)]
    rigs: u32,
    #[arg(long, default_value_t = 10_000)]
    interval_ms: u64,
    #[arg(long)]
    seconds: u64,
    /// Connections are opened evenly over this many seconds.
    #[arg(long, default_value_t = 10)]
    ramp_s: u64,
    /// Percent of rigs that drop their connection and reconnect each minute.
    #[arg(long, default_value_t = 0.0)]
    churn_pct_per_min: f64,
    #[arg(long, default_value = "127.0.0.1:1883")]
    broker: SocketAddr,
    /// The hub's HTTP address, read at the end (`/metrics`).
    #[arg(long, default_value = "127.0.0.1:8080")]
    hub_http: SocketAddr,
    /// The hub's pid, for its CPU time and peak RSS.
    #[arg(long)]
    hub_pid: Option<u32>,
    #[arg(long, default_value_t = 100)]
    sites: u32,
    /// More brokers (the other nodes of a NATS cluster's MQTT listeners): rig i publishes to
    /// the ((i mod n))th of `--broker` and these.
    #[arg(long)]
    extra_broker: Vec<SocketAddr>,
    /// More hubs sharing the load (on NATS, one consumer): what they stored adds up.
    #[arg(long)]
    extra_hub_http: Vec<SocketAddr>,
    /// Seconds to wait after the last publish for the hub to store everything.
    #[arg(long, default_value_t = 120)]
    drain_s: u64,
}

#[derive(Default)]
struct Counters {
    records_acked: AtomicU64,
    wire_bytes: AtomicU64,
    publish_errors: AtomicU64,
    reconnects: AtomicU64,
    connected: AtomicU64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let hub_before = hub_cpu(args.hub_pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.rigs as usize);
    let brokers: Vec<SocketAddr> = std::iter::once(args.broker)
        .chain(args.extra_broker.iter().copied())
        .collect();
    let ramp_gap = Duration::from_secs(args.ramp_s).as_secs_f64() / f64::from(args.rigs.max(1));
    for i in 0..args.rigs {
        let start_at = started + Duration::from_secs_f64(ramp_gap * f64::from(i));
        let rig = RigId::new(format!("sim-{i:06}")).context("rig id")?;
        let site = format!("site{:03}", i % args.sites.max(1));
        // 20,000 connections per loopback source address keeps clear of the ephemeral port limit.
        let source = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            (1 + i / 20_000 / 250) as u8,
            (1 + (i / 20_000) % 250) as u8,
        ));
        tasks.push(tokio::spawn(rig_loop(
            RigSpec {
                rig,
                site,
                source,
                start_at,
                index: i,
            },
            SimConfig {
                broker: brokers[i as usize % brokers.len()],
                interval: Duration::from_millis(args.interval_ms),
                churn_per_tick: args.churn_pct_per_min / 100.0 * args.interval_ms as f64 / 60_000.0,
            },
            counters.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.context("rig task")?;
    }
    let publishing_s = started.elapsed().as_secs_f64();
    let acked = counters.records_acked.load(Ordering::SeqCst);

    // Everything the broker acknowledged must reach the hub's store.
    let drain_start = Instant::now();
    let hubs: Vec<SocketAddr> = std::iter::once(args.hub_http)
        .chain(args.extra_hub_http.iter().copied())
        .collect();
    let stored_by_all = || -> Result<u64> {
        hubs.iter()
            .map(|h| hub_metric(*h, "hashward_hub_records_stored_total"))
            .sum()
    };
    let mut stored = stored_by_all()?;
    let mut last_change = Instant::now();
    while stored < acked && drain_start.elapsed() < Duration::from_secs(args.drain_s) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = stored_by_all()?;
        if now != stored {
            last_change = Instant::now();
            stored = now;
        } else if last_change.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    let hub_after = hub_cpu(args.hub_pid);
    let text = hub_text(args.hub_http)?;
    let get = |name: &str| metric_value(&text, name);
    let (p50, p99) = (
        histogram_quantile(&text, "hashward_hub_ingest_lag_ms", 0.50),
        histogram_quantile(&text, "hashward_hub_ingest_lag_ms", 0.99),
    );
    let store_bytes = get("hashward_hub_store_bytes").unwrap_or(0);
    let wire = counters.wire_bytes.load(Ordering::SeqCst);
    let hub_cpu_cores = match (hub_before, hub_after) {
        (Some(a), Some(b)) => Some((b - a) / (publishing_s + drain_s)),
        _ => None,
    };
    let report = json!({
        "rigs": args.rigs,
        "interval_ms": args.interval_ms,
        "seconds": args.seconds,
        "records_sent": acked,
        "records_per_s": acked as f64 / publishing_s,
        "records_stored": stored,
        "records_lost": acked.saturating_sub(stored),
        "hubs": hubs.len(),
        // What the hubs together stored per second, from the first publish to the last commit.
        "stored_per_s": stored as f64 / (publishing_s + drain_s),
        "hub_duplicates_dropped": get("hashward_hub_duplicates_total"),
        "hub_gaps": get("hashward_hub_gaps"),
        "hub_store_errors": get("hashward_hub_store_errors_total"),
        "publish_errors": counters.publish_errors.load(Ordering::SeqCst),
        "reconnects": counters.reconnects.load(Ordering::SeqCst),
        "ingest_lag_p50_ms": p50,
        "ingest_lag_p99_ms": p99,
        "drain_s": drain_s,
        "hub_cpu_cores": hub_cpu_cores,
        "hub_peak_rss_mib": args.hub_pid.and_then(peak_rss_kib).map(|k| k as f64 / 1024.0),
        "sim_cpu_cores": self_cpu_s() / (publishing_s + drain_s),
        "wire_bytes_per_record": if acked > 0 { wire as f64 / acked as f64 } else { 0.0 },
        "store_bytes_per_record": if stored > 0 { store_bytes as f64 / stored as f64 } else { 0.0 },
    });
    println!("{report}");
    if stored < acked {
        bail!("the hub stored {stored} of {acked} acknowledged records");
    }
    Ok(())
}

struct RigSpec {
    rig: RigId,
    site: String,
    source: IpAddr,
    start_at: Instant,
    index: u32,
}

#[derive(Clone, Copy)]
struct SimConfig {
    broker: SocketAddr,
    interval: Duration,
    churn_per_tick: f64,
}

/// One rig: connect at its ramp slot, publish every interval (first tick at a random offset so
/// the fleet does not tick in step), resend what was not acknowledged after a reconnect.
async fn rig_loop(spec: RigSpec, cfg: SimConfig, counters: Arc<Counters>, stop: Arc<AtomicBool>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(spec.index));
    tokio::time::sleep_until(spec.start_at.into()).await;
    let client_id = format!("sim-{}", spec.rig.as_str());
    let keep_alive = (cfg.interval.as_secs() * 3).clamp(30, 600) as u16;
    let mut conn = None;
    let mut seq = 0u64;
    let mut pending: Vec<(String, Vec<u8>)> = Vec::new();
    let mut next = tokio::time::Instant::now() + cfg.interval.mul_f64(rng.gen_range(0.0..1.0));
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) || !pending.is_empty() {
        if pending.is_empty() {
            tokio::time::sleep_until(next).await;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            next += cfg.interval;
            tick += 1;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            for (leaf, payload) in records::tick(&spec.rig, &mut seq, tick, now_ms, &mut rng) {
                pending.push((
                    format!("hashward/v1/{}/{}/{leaf}", spec.site, spec.rig.as_str()),
                    payload,
                ));
            }
            if conn.is_some() && rng.gen_bool(cfg.churn_per_tick.clamp(0.0, 1.0)) {
                conn = None;
                counters.connected.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match mqtt::Conn::connect(cfg.broker, spec.source, &client_id, keep_alive).await {
                Ok(c) => {
                    counters.connected.fetch_add(1, Ordering::Relaxed);
                    conn.insert(c)
                }
                Err(_) => {
                    counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(rng.gen_range(200..2000))).await;
                    continue;
                }
            },
        };
        let mut failed = false;
        while let Some((topic, payload)) = pending.first() {
            match c.publish(topic, payload, false, Duration::from_secs(30)).await {
                Ok(()) => {
                    counters.records_acked.fetch_add(1, Ordering::Relaxed);
                    counters
                        .wire_bytes
                        .fetch_add(payload.len() as u64, Ordering::Relaxed);
                    pending.remove(0);
                }
                Err(_) => {
                    counters.publish_errors.fetch_add(1, Ordering::Relaxed);
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            conn = None;
            counters.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn hub_text(http: SocketAddr) -> Result<String> {
    let mut resp = ureq::get(&format!("http://{http}/metrics"))
        .call()
        .with_context(|| format!("reading the hub's /metrics on {http}"))?;
    Ok(resp.body_mut().read_to_string()?)
}

fn hub_metric(http: SocketAddr, name: &str) -> Result<u64> {
    metric_value(&hub_text(http)?, name).with_context(|| format!("the hub's /metrics has no {name}"))
}

fn metric_value(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The `q` quantile of a Prometheus histogram, interpolated linearly inside its bucket as
/// Prometheus' `histogram_quantile` does.
fn histogram_quantile(text: &str, name: &str, q: f64) -> Option<f64> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in &buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let within = if count > prev.1 {
                (rank - prev.1) / (count - prev.1)
            } else {
                0.0
            };
            return Some(prev.0 + (le - prev.0) * within);
        }
        prev = (le, count);
    }
    None
}

/// User + system CPU seconds of `pid`.
fn hub_cpu(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")?
                .trim()
                .strip_suffix(" kB")?
                .trim()
                .parse()
                .ok()
        })
}

fn self_cpu_s() -> f64 {
    hub_cpu(Some(std::process::id())).unwrap_or(0.0)
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::histogram_quantile;

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let text = "x_bucket{le=\"10\"} 50\nx_bucket{le=\"20\"} 90\nx_bucket{le=\"+Inf\"} 100\n";
        // rank 50 is the end of the first bucket; rank 70 is halfway through the second.
        assert_eq!(histogram_quantile(text, "x", 0.5), Some(10.0));
        assert_eq!(histogram_quantile(text, "x", 0.7), Some(15.0));
        // Past the last finite bucket: its bound, as Prometheus answers.
        assert_eq!(histogram_quantile(text, "x", 0.95), Some(20.0));
        assert_eq!(histogram_quantile("", "x", 0.5), None);
    }
}

//! cgminer / bmminer JSON API on TCP port 4028: one JSON command per connection, the reply
//! terminated by a NUL byte; `STATUS` checked on every reply; `summary+stats+pools` asked in one
//! combined command when the miner supports it.
//!
//! [`parse`] reads `summary` (`GHS 5s`/`MHS 5s`, `Elapsed`, shares), `stats` (`chain_rate{i}`,
//! `chain_acn{i}`, `temp{i}`, `temp2_{i}`, `fan{i}`, `total_rateideal`, `rate_unit`) and `pools`.
//! Must never read without a deadline or past [`MAX_REPLY`], and never trust the key's unit
//! (`GHS 5s`) over the miner's own `rate_unit`.

use super::error::ApiError;
use super::json::{arr_of, as_num, str_of, Obj, Reader};
use super::normalise::{HashUnit, RawBoard, RawFan, RawPool, RawReading};
use hashward_protocol::AsicApi;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A `stats` reply of a big miner is ~10 kB.
pub const MAX_REPLY: usize = 1024 * 1024;

pub struct CgminerClient {
    addr: SocketAddr,
    timeout: Duration,
    /// Learned on first use: old cgminer builds refuse `summary+stats`.
    combined: Option<bool>,
}

/// The replies a telemetry poll needs.
#[derive(Debug, Clone)]
pub struct CgminerReplies {
    pub summary: Value,
    pub stats: Value,
    pub pools: Option<Value>,
}

impl CgminerClient {
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        CgminerClient {
            addr,
            timeout,
            combined: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one command (or a `+`-joined combination) and returns the parsed reply, without
    /// checking STATUS.
    pub async fn raw(&self, command: &str, parameter: Option<&str>) -> Result<Value, ApiError> {
        let what = format!("cgminer {} `{command}`", self.addr);
        let fut = async {
            let mut s = TcpStream::connect(self.addr)
                .await
                .map_err(|source| ApiError::Connect {
                    addr: self.addr.to_string(),
                    source,
                })?;
            let mut req = serde_json::json!({ "command": command });
            if let Some(p) = parameter {
                req["parameter"] = Value::String(p.to_string());
            }
            let io = |source| ApiError::Io {
                what: what.clone(),
                source,
            };
            s.write_all(req.to_string().as_bytes()).await.map_err(io)?;
            let mut buf = Vec::with_capacity(4096);
            let mut chunk = [0u8; 8192];
            loop {
                let n = s.read(&mut chunk).await.map_err(io)?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_REPLY {
                    return Err(ApiError::TooLarge {
                        what: what.clone(),
                        limit: MAX_REPLY,
                    });
                }
                // The reply ends with a NUL; the connection may stay open after it.
                if buf.last() == Some(&0) {
                    break;
                }
            }
            Ok(buf)
        };
        let buf = tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| ApiError::Timeout {
                what: what.clone(),
                after: self.timeout,
            })??;
        decode(&what, &buf)
    }

    /// One command, STATUS checked.
    pub async fn command(&self, command: &str, parameter: Option<&str>) -> Result<Value, ApiError> {
        let v = self.raw(command, parameter).await?;
        check_status(&v, command)?;
        Ok(v)
    }

    /// The telemetry poll: `summary+stats+pools` in one connection when supported, else three.
    pub async fn read_replies(&mut self) -> Result<CgminerReplies, ApiError> {
        if self.combined != Some(false) {
            let v = self.raw("summary+stats+pools", None).await?;
            match split_combined(&v) {
                Ok(r) => {
                    self.combined = Some(true);
                    return Ok(r);
                }
                // Old builds answer a combined command with a single error STATUS.
                Err(e) if v.get("STATUS").is_some() && self.combined.is_none() => {
                    log::info!(
                        "cgminer {}: combined commands not supported ({e}); using single ones",
                        self.addr
                    );
                    self.combined = Some(false);
                }
                Err(e) => return Err(e),
            }
        }
        let summary = self.command("summary", None).await?;
        let stats = self.command("stats", None).await?;
        let pools = match self.command("pools", None).await {
            Ok(p) => Some(p),
            Err(e) => {
                log::debug!("cgminer {}: pools: {e}", self.addr);
                None
            }
        };
        Ok(CgminerReplies {
            summary,
            stats,
            pools,
        })
    }

    pub async fn read(&mut self) -> Result<RawReading, ApiError> {
        let r = self.read_replies().await?;
        parse(&r)
    }
}

/// Strips the NUL terminator and parses, repairing the JSON bugs real bmminer builds have.
pub fn decode(what: &str, buf: &[u8]) -> Result<Value, ApiError> {
    let end = buf
        .iter()
        .rposition(|b| *b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let body = &buf[..end];
    if body.is_empty() {
        return Err(ApiError::malformed(what, "empty reply"));
    }
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            // bmminer's `stats` joins objects without a comma (`}{`) and some builds put raw
            // newlines or NULs inside; fix those and try once more, else report the first error.
            let text = String::from_utf8_lossy(body)
                .replace("}{", "},{")
                .replace(['\n', '\r', '\0'], "");
            serde_json::from_str(&text).map_err(|_| {
                let kind = if first.is_eof() {
                    "truncated JSON"
                } else {
                    "invalid JSON"
                };
                ApiError::malformed(what, format!("{kind}: {first}"))
            })
        }
    }
}

/// Checks a reply's `STATUS` (`S` success, `I` info, `W` warning are fine; `E`, `F` are not).
pub fn check_status(v: &Value, command: &str) -> Result<(), ApiError> {
    let st = match v.get("STATUS") {
        Some(Value::Array(a)) => a.first().and_then(Value::as_object),
        Some(Value::Object(o)) => Some(o),
        _ => None,
    }
    .ok_or_else(|| ApiError::malformed(format!("cgminer `{command}`"), "no STATUS"))?;
    let status = str_of(st, "STATUS").unwrap_or("");
    match status {
        "S" | "I" | "W" => Ok(()),
        _ => Err(ApiError::Command {
            command: command.to_string(),
            status: status.to_string(),
            code: st.get("Code").and_then(as_num).unwrap_or(-1.0) as i64,
            msg: str_of(st, "Msg").unwrap_or("").to_string(),
        }),
    }
}

/// Splits `{"summary": [reply], "stats": [reply], "pools": [reply]}`, checking each STATUS.
pub fn split_combined(v: &Value) -> Result<CgminerReplies, ApiError> {
    let part = |name: &str| -> Result<Value, ApiError> {
        let p = v
            .get(name)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned()
            .ok_or_else(|| match v.get("STATUS") {
                Some(_) => check_status(v, "summary+stats+pools").err().unwrap_or_else(|| {
                    ApiError::malformed("cgminer summary+stats+pools", format!("no `{name}`"))
                }),
                None => ApiError::malformed("cgminer summary+stats+pools", format!("no `{name}`")),
            })?;
        check_status(&p, name)?;
        Ok(p)
    };
    Ok(CgminerReplies {
        summary: part("summary")?,
        stats: part("stats")?,
        pools: part("pools").ok(),
    })
}

/// The first hashrate field present and the unit its key names (`GHS 5s` -> GH).
fn rate(rd: &mut Reader, o: &Obj, suffix: &str) -> Option<(f64, HashUnit)> {
    for (prefix, unit) in [
        ("GHS", HashUnit::GH),
        ("MHS", HashUnit::MH),
        ("THS", HashUnit::TH),
        ("KHS", HashUnit::KH),
    ] {
        if let Some(v) = rd.num(o, &format!("{prefix} {suffix}"), "") {
            return Some((v, unit));
        }
    }
    None
}

/// Board temperatures come as `temp{i}` numbers or `temp_chip{i}` = "55-53-70-72" strings.
fn dash_list(o: &Obj, key: &str) -> Vec<f64> {
    match o.get(key) {
        Some(Value::String(s)) => s
            .split('-')
            .filter_map(|t| t.trim().parse::<f64>().ok())
            .collect(),
        Some(Value::Array(a)) => a.iter().filter_map(as_num).collect(),
        _ => Vec::new(),
    }
}

pub fn parse(r: &CgminerReplies) -> Result<RawReading, ApiError> {
    let mut raw = RawReading::new(AsicApi::Cgminer);
    let mut invalid = Vec::new();
    let mut rd = Reader::new(&mut invalid);
    let summary = arr_of(
        r.summary
            .as_object()
            .ok_or_else(|| ApiError::malformed("cgminer summary", "not an object"))?,
        "SUMMARY",
    )
    .first()
    .and_then(Value::as_object)
    .ok_or_else(|| ApiError::malformed("cgminer summary", "no SUMMARY[0]"))?;
    let stats_list = r
        .stats
        .get("STATS")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::malformed("cgminer stats", "no STATS"))?;
    // STATS[0] is the version block; the miner's numbers are in the entry that has them.
    let stats = stats_list
        .iter()
        .filter_map(Value::as_object)
        .find(|o| o.contains_key("Elapsed") || o.keys().any(|k| k.starts_with("chain_rate")))
        .ok_or_else(|| ApiError::malformed("cgminer stats", "no STATS entry with miner data"))?;
    if let Some(ver) = stats_list.first().and_then(Value::as_object) {
        raw.model = str_of(ver, "Type").map(str::to_string);
        raw.firmware = str_of(ver, "Miner")
            .or_else(|| str_of(ver, "BMMiner"))
            .or_else(|| str_of(ver, "CGMiner"))
            .map(str::to_string);
    }

    // The miner's own `rate_unit` wins: scrypt bmminer names its keys `GHS 5s` but sends MH/s.
    let declared = match str_of(stats, "rate_unit") {
        Some(u) => match HashUnit::parse(u) {
            Ok(u) => Some(Some(u)),
            Err(e) => {
                rd.flag(format!("hashrates left out: {e} in stats rate_unit"));
                Some(None)
            }
        },
        None => None,
    };
    let to_hs = |v: f64, key_unit: HashUnit| -> Option<f64> {
        match declared {
            Some(Some(u)) => Some(u.to_hs(v)),
            Some(None) => None,
            None => Some(key_unit.to_hs(v)),
        }
    };
    raw.total_hs = rate(&mut rd, summary, "5s")
        .or_else(|| rate(&mut rd, stats, "5s"))
        .and_then(|(v, u)| to_hs(v, u));
    raw.average_hs = rate(&mut rd, summary, "av")
        .or_else(|| rate(&mut rd, stats, "av"))
        .and_then(|(v, u)| to_hs(v, u));
    raw.nominal_hs = rd
        .num(stats, "total_rateideal", "stats.")
        .and_then(|v| to_hs(v, HashUnit::GH));
    raw.uptime_s = rd
        .num(summary, "Elapsed", "summary.")
        .or_else(|| rd.num(stats, "Elapsed", "stats."));
    raw.frequency_mhz = rd
        .num(stats, "total_freqavg", "stats.")
        .or_else(|| rd.num(stats, "frequency", "stats."));
    raw.power_w = rd
        .num(stats, "Power", "stats.")
        .or_else(|| rd.num(summary, "Power", "summary."));

    // Chains: every index i with chain_acn{i} > 0 or a non-zero chain_rate{i}.
    let mut idx: Vec<u32> = stats
        .keys()
        .filter_map(|k| {
            k.strip_prefix("chain_acn")
                .or_else(|| k.strip_prefix("chain_rate"))
        })
        .filter_map(|s| s.parse::<u32>().ok())
        .collect();
    idx.sort_unstable();
    idx.dedup();
    let present: Vec<u32> = idx
        .iter()
        .copied()
        .filter(|i| {
            stats
                .get(&format!("chain_acn{i}"))
                .and_then(as_num)
                .is_some_and(|n| n > 0.0)
                || stats
                    .get(&format!("chain_rate{i}"))
                    .and_then(as_num)
                    .is_some_and(|n| n != 0.0)
        })
        .collect();
    // S9-era bmminer numbers its three chains 6, 7, 8; later ones 1, 2, 3. Board ids start at 1.
    let base = if present.first().is_some_and(|f| *f >= 6) {
        5
    } else {
        0
    };
    for &i in &present {
        let ctx = format!("stats.chain{i}.");
        let chips = rd.count(stats, &format!("chain_acn{i}"), &ctx);
        let pcb = dash_list(stats, &format!("temp_pcb{i}"));
        let chip = dash_list(stats, &format!("temp_chip{i}"));
        let (pcb_min, pcb_max) = if pcb.is_empty() {
            let t = rd.num(stats, &format!("temp{i}"), &ctx);
            (t, t)
        } else {
            (
                pcb.iter().copied().reduce(f64::min),
                pcb.iter().copied().reduce(f64::max),
            )
        };
        let (chip_min, chip_max) = if chip.is_empty() {
            let t = rd.num(stats, &format!("temp2_{i}"), &ctx);
            (t, t)
        } else {
            (
                chip.iter().copied().reduce(f64::min),
                chip.iter().copied().reduce(f64::max),
            )
        };
        let rate = rd
            .num(stats, &format!("chain_rate{i}"), &ctx)
            .and_then(|v| to_hs(v, HashUnit::GH));
        let ideal = rd
            .num(stats, &format!("chain_rateideal{i}"), &ctx)
            .and_then(|v| to_hs(v, HashUnit::GH));
        // A chain with detected chips but no rate at all is hashing nothing.
        let state = if chips == Some(0) {
            Some("failure".to_string())
        } else {
            None
        };
        raw.boards.push(RawBoard {
            id: i - base,
            hashrate_hs: rate.or(Some(0.0)),
            ideal_hs: ideal,
            frequency_mhz: rd.num(stats, &format!("freq_avg{i}"), &ctx),
            chips,
            state,
            chip_min,
            chip_max,
            pcb_min,
            pcb_max,
            ..Default::default()
        });
    }

    // Fans: fan{i} keys. Some builds list eight slots for two fans; then only spinning ones count.
    let mut fan_idx: Vec<u32> = stats
        .keys()
        .filter_map(|k| k.strip_prefix("fan"))
        .filter_map(|s| s.parse::<u32>().ok())
        .collect();
    fan_idx.sort_unstable();
    let fan_num = stats.get("fan_num").and_then(as_num).map(|n| n as usize);
    let spinning_only = fan_num.is_some_and(|n| fan_idx.len() > n);
    for i in fan_idx {
        let rpm = rd.num(stats, &format!("fan{i}"), "stats.");
        if spinning_only && rpm.unwrap_or(0.0) == 0.0 {
            continue;
        }
        raw.fans.push(RawFan {
            id: i,
            rpm,
            ..Default::default()
        });
    }

    if let Some(pools) = r
        .pools
        .as_ref()
        .and_then(|p| p.get("POOLS"))
        .and_then(Value::as_array)
    {
        for (i, p) in pools.iter().enumerate() {
            let Some(p) = p.as_object() else { continue };
            let ctx = format!("pools[{i}].");
            let status = str_of(p, "Status").unwrap_or("unknown").to_string();
            // `Last Share Time` is epoch seconds on cgminer, "0:00:12" (ago) on some bmminer.
            let last = rd
                .num(p, "Last Share Time", &ctx)
                .filter(|t| *t > 0.0)
                .map(|t| (t * 1000.0) as u64);
            raw.pools.push(RawPool {
                url: str_of(p, "URL").unwrap_or("").to_string(),
                user: str_of(p, "User").unwrap_or("").to_string(),
                active: p.get("Stratum Active").and_then(Value::as_bool).unwrap_or(false),
                devfee: false,
                status,
                accepted: rd.count(p, "Accepted", &ctx),
                rejected: rd.count(p, "Rejected", &ctx),
                stale: rd.count(p, "Stale", &ctx),
                last_share_ts_ms: last,
            });
        }
    } else {
        // Without pools the summary still has the totals.
        raw.pools.push(RawPool {
            accepted: rd.count(summary, "Accepted", "summary."),
            rejected: rd.count(summary, "Rejected", "summary."),
            stale: rd.count(summary, "Stale", "summary."),
            status: "unknown".into(),
            ..Default::default()
        });
    }

    // cgminer has no state word: a miner that answers and hashes is mining.
    raw.state = match raw.total_hs {
        Some(h) if h > 0.0 => "mining".into(),
        Some(_) => "idle".into(),
        None => "unknown".into(),
    };
    raw.invalid = invalid;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_terminator_and_bmminer_comma_bug_are_handled() {
        let v = decode(
            "t",
            b"{\"STATUS\":[{\"STATUS\":\"S\"}],\"STATS\":[{\"a\":1}{\"b\":2}]}\0",
        )
        .unwrap();
        assert_eq!(v["STATS"][1]["b"], 2);
        assert!(matches!(
            decode("t", b"{\"STATUS\":[{\"STA"),
            Err(ApiError::Malformed { .. })
        ));
        assert!(matches!(decode("t", b"\0"), Err(ApiError::Malformed { .. })));
    }

    #[test]
    fn error_status_is_an_error_with_its_message() {
        let v: Value =
            serde_json::from_str(r#"{"STATUS":[{"STATUS":"E","Code":14,"Msg":"Invalid command"}]}"#).unwrap();
        match check_status(&v, "stats") {
            Err(ApiError::Command { code, msg, .. }) => {
                assert_eq!((code, msg.as_str()), (14, "Invalid command"))
            }
            other => panic!("{other:?}"),
        }
        let v: Value = serde_json::from_str(r#"{"STATUS":[{"STATUS":"S"}]}"#).unwrap();
        assert!(check_status(&v, "stats").is_ok());
        assert!(check_status(&Value::Null, "stats").is_err());
    }
}

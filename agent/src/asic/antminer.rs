//! Stock Bitmain Antminer web API: `/cgi-bin/stats.cgi`, `summary.cgi` and `pools.cgi`, behind
//! HTTP Digest authentication (RFC 2617, MD5, realm `antMiner Configuration`).
//!
//! The digest challenge is kept and reused with an increasing nonce count; a 401 fetches a fresh
//! challenge once, a second 401 is a credentials error. It must never send the password itself
//! over the wire or put it in an error.

use super::error::ApiError;
use super::http::HttpConn;
use super::json::{self, arr_of, as_num, str_of, Obj, Reader};
use super::normalise::{HashUnit, RawBoard, RawFan, RawPool, RawReading};
use hashward_protocol::{AsicApi, AsicError};
use hyper::header::WWW_AUTHENTICATE;
use hyper::Method;
use md5::{Digest, Md5};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// The realm stock Antminer firmware uses; detection looks for it.
pub const REALM: &str = "antMiner Configuration";

/// A server's Digest challenge (`WWW-Authenticate: Digest realm=..., nonce=..., qop=auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// `qop=auth` offered (the Antminer does); without it the RFC 2069 form is used.
    pub qop_auth: bool,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value. `None` when it is not a Digest MD5 challenge.
    pub fn parse(header: &str) -> Option<Challenge> {
        let rest = header.trim();
        // `get`, not `[..7]`: byte 7 may fall inside a multi-byte character (found by
        // fuzz_antminer_digest: "Digest\u{b7}realm=..." panicked).
        if !rest.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("digest ")) {
            return None;
        }
        let params = parse_params(&rest[7..]);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        if let Some(alg) = get("algorithm") {
            if !alg.eq_ignore_ascii_case("MD5") {
                return None;
            }
        }
        Some(Challenge {
            realm: get("realm")?,
            nonce: get("nonce")?,
            opaque: get("opaque"),
            qop_auth: get("qop").is_some_and(|q| q.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth"))),
        })
    }

    /// The `Authorization` header value for one request.
    pub fn authorization(
        &self,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let ha1 = md5_hex(&format!("{user}:{}:{password}", self.realm));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let mut h = format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", algorithm=MD5",
            self.realm, self.nonce
        );
        if self.qop_auth {
            let nc = format!("{nc:08x}");
            let response = md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce));
            h.push_str(&format!(
                ", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
            ));
        } else {
            let response = md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce));
            h.push_str(&format!(", response=\"{response}\""));
        }
        if let Some(o) = &self.opaque {
            h.push_str(&format!(", opaque=\"{o}\""));
        }
        h
    }
}

pub fn md5_hex(s: &str) -> String {
    let d = Md5::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `k=v, k="quoted, value"` pairs of an auth header.
pub fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                val.push(n);
                            }
                        }
                        '"' => break,
                        c => val.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_string(), val.trim().to_string()));
    }
    out
}

pub struct AntminerClient {
    http: HttpConn,
    user: String,
    password: String,
    challenge: Option<Challenge>,
    nc: u32,
}

impl AntminerClient {
    /// Stock firmware's default login is root/root; the credentials file overrides it.
    pub fn new(addr: SocketAddr, user: String, password: String, timeout: Duration) -> Self {
        AntminerClient {
            http: HttpConn::new(addr, timeout),
            user,
            password,
            challenge: None,
            nc: 0,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    fn cnonce(&self) -> String {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        md5_hex(&format!("{t}:{}:{}", self.nc, self.http.addr()))[..16].to_string()
    }

    /// GET one cgi path, answering the digest challenge; STATUS checked.
    pub async fn get(&mut self, path: &str) -> Result<Value, ApiError> {
        let what = format!("GET {path}");
        let mut fresh = false;
        loop {
            let auth = match &self.challenge {
                Some(c) => {
                    self.nc = self.nc.wrapping_add(1);
                    Some(c.authorization(&self.user, &self.password, "GET", path, self.nc, &self.cnonce()))
                }
                None => None,
            };
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("authorization", a)])
                .unwrap_or_default();
            let reply = self.http.send(Method::GET, path, &headers, None).await?;
            match reply.status {
                200 => {
                    let v = json::parse(&what, &reply.body)?;
                    super::cgminer::check_status(&v, path)?;
                    return Ok(v);
                }
                401 if !fresh => {
                    let header = reply
                        .headers
                        .get(WWW_AUTHENTICATE)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("");
                    let c = Challenge::parse(header).ok_or_else(|| ApiError::Unauthorized {
                        what: what.clone(),
                        detail: format!("401 without a Digest MD5 challenge ({header:?})"),
                    })?;
                    self.challenge = Some(c);
                    self.nc = 0;
                    fresh = true;
                }
                401 | 403 => {
                    return Err(ApiError::Unauthorized {
                        what,
                        detail: "digest credentials refused".into(),
                    })
                }
                s => return Err(ApiError::Status { what, status: s }),
            }
        }
    }

    /// The telemetry poll: stats, summary and pools.
    pub async fn read(&mut self) -> Result<RawReading, ApiError> {
        let stats = self.get("/cgi-bin/stats.cgi").await?;
        let summary = self.get("/cgi-bin/summary.cgi").await?;
        let pools = match self.get("/cgi-bin/pools.cgi").await {
            Ok(p) => Some(p),
            Err(e) => {
                log::debug!("antminer {}: pools.cgi: {e}", self.http.addr());
                None
            }
        };
        parse(&stats, &summary, pools.as_ref())
    }

    /// Whether an unauthenticated request gets this firmware's Digest challenge (detection).
    pub async fn looks_like_antminer(&mut self) -> Result<bool, ApiError> {
        let reply = self
            .http
            .send(Method::GET, "/cgi-bin/summary.cgi", &[], None)
            .await?;
        Ok(match reply.status {
            401 => reply
                .headers
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .and_then(Challenge::parse)
                .is_some_and(|c| c.realm == REALM),
            200 => json::parse("summary.cgi", &reply.body).is_ok_and(|v| v.get("SUMMARY").is_some()),
            _ => false,
        })
    }
}

fn numbers(v: Option<&Value>) -> Vec<f64> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(as_num).collect(),
        Some(Value::String(s)) => s.split('-').filter_map(|t| t.trim().parse().ok()).collect(),
        Some(v) => as_num(v).into_iter().collect(),
        None => Vec::new(),
    }
}

pub fn parse(stats: &Value, summary: &Value, pools: Option<&Value>) -> Result<RawReading, ApiError> {
    let mut raw = RawReading::new(AsicApi::Antminer);
    let mut invalid = Vec::new();
    let mut rd = Reader::new(&mut invalid);
    let st = stats
        .get("STATS")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::malformed("stats.cgi", "no STATS[0]"))?;
    let sm = summary
        .get("SUMMARY")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::malformed("summary.cgi", "no SUMMARY[0]"))?;
    if let Some(info) = stats.get("INFO").and_then(Value::as_object) {
        raw.model = str_of(info, "type").map(str::to_string);
        raw.firmware = str_of(info, "miner_version").map(|v| format!("Bitmain {v}"));
    }
    let unit = match str_of(st, "rate_unit").or_else(|| str_of(sm, "rate_unit")) {
        Some(u) => match HashUnit::parse(u) {
            Ok(u) => Some(u),
            Err(e) => {
                rd.flag(format!("hashrates left out: {e} in rate_unit"));
                None
            }
        },
        None => Some(HashUnit::GH),
    };
    let hs = |v: Option<f64>| unit.and_then(|u| v.map(|v| u.to_hs(v)));
    raw.total_hs = hs(rd
        .num(sm, "rate_5s", "summary.")
        .or_else(|| rd.num(st, "rate_5s", "stats.")));
    raw.average_hs = hs(rd
        .num(sm, "rate_avg", "summary.")
        .or_else(|| rd.num(sm, "rate_30m", "summary.")));
    raw.nominal_hs = hs(rd
        .num(st, "rate_ideal", "stats.")
        .or_else(|| rd.num(sm, "rate_ideal", "summary.")));
    raw.uptime_s = rd
        .num(sm, "elapsed", "summary.")
        .or_else(|| rd.num(st, "elapsed", "stats."));

    for (i, c) in arr_of(st, "chain").iter().enumerate() {
        let Some(c) = c.as_object() else { continue };
        let ctx = format!("chain[{i}].");
        let id = rd
            .count(c, "index", &ctx)
            // An index past u32 is not a board this firmware has: fall back to the position
            // (found by fuzz_asic_antminer: `"index": 4294967295` overflowed).
            .and_then(|v| u32::try_from(v).ok()?.checked_add(1))
            .unwrap_or(i as u32 + 1);
        let chip = numbers(c.get("temp_chip"));
        let pcb = numbers(c.get("temp_pcb"));
        let chips = rd.count(c, "asic_num", &ctx);
        raw.boards.push(RawBoard {
            id,
            hashrate_hs: hs(rd.num(c, "rate_real", &ctx)),
            ideal_hs: hs(rd.num(c, "rate_ideal", &ctx)),
            frequency_mhz: rd.num(c, "freq_avg", &ctx),
            chips,
            state: if chips == Some(0) {
                Some("failure".into())
            } else {
                None
            },
            chip_min: chip.iter().copied().reduce(f64::min),
            chip_max: chip.iter().copied().reduce(f64::max),
            pcb_min: pcb.iter().copied().reduce(f64::min),
            pcb_max: pcb.iter().copied().reduce(f64::max),
            ..Default::default()
        });
    }
    for (i, f) in arr_of(st, "fan").iter().enumerate() {
        match as_num(f) {
            Some(rpm) => raw.fans.push(RawFan {
                id: i as u32,
                rpm: Some(rpm),
                ..Default::default()
            }),
            None => rd.flag(format!("stats.fan[{i}]: not a number")),
        }
    }
    // summary.cgi lists the firmware's own health checks; anything not `s` is an error it sees.
    for s in arr_of(sm, "status").iter().filter_map(Value::as_object) {
        let ok = str_of(s, "status").is_none_or(|v| v.eq_ignore_ascii_case("s"));
        if !ok {
            raw.errors.push(AsicError {
                code: format!("firmware_{}", str_of(s, "type").unwrap_or("status")),
                message: str_of(s, "msg").unwrap_or("").to_string(),
                severity: if str_of(s, "status") == Some("e") {
                    "critical"
                } else {
                    "warning"
                }
                .into(),
            });
        }
    }
    if let Some(list) = pools.and_then(|p| p.get("POOLS")).and_then(Value::as_array) {
        for (i, p) in list.iter().enumerate() {
            let Some(p) = p.as_object() else { continue };
            let ctx = format!("pools[{i}].");
            raw.pools.push(pool(&mut rd, p, &ctx));
        }
        // The stock API has no "active" flag: the lowest priority pool that is alive is in use.
        let best = raw
            .pools
            .iter()
            .enumerate()
            .filter(|(_, p)| p.status.eq_ignore_ascii_case("alive"))
            .map(|(i, _)| i)
            .next();
        if let Some(i) = best {
            raw.pools[i].active = true;
        }
    }
    let mining = raw.total_hs.is_some_and(|h| h > 0.0);
    raw.state = if mining { "mining".into() } else { "idle".into() };
    raw.invalid = invalid;
    Ok(raw)
}

fn pool(rd: &mut Reader, p: &Obj, ctx: &str) -> RawPool {
    RawPool {
        url: str_of(p, "url").unwrap_or("").to_string(),
        user: str_of(p, "user").unwrap_or("").to_string(),
        status: str_of(p, "status").unwrap_or("unknown").to_string(),
        active: false,
        devfee: false,
        accepted: rd.count(p, "accepted", ctx),
        rejected: rd.count(p, "rejected", ctx),
        stale: rd.count(p, "stale", ctx),
        last_share_ts_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 section 3.5 example: the published response value.
    #[test]
    fn digest_matches_the_rfc_2617_example() {
        let c = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(c.qop_auth);
        let h = c.authorization(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            1,
            "0a4f113b",
        );
        assert!(h.contains("response=\"6629fae49393a05397450978507c4ef1\""), "{h}");
        assert!(h.contains("nc=00000001"));
        assert!(h.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    }

    #[test]
    fn non_digest_or_non_md5_challenges_are_not_taken() {
        assert!(Challenge::parse("Basic realm=\"x\"").is_none());
        assert!(Challenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-256").is_none());
        assert!(Challenge::parse("Digest nonce=\"n\"").is_none());
        let c = Challenge::parse("digest realm=\"antMiner Configuration\", nonce=\"abc\"").unwrap();
        assert_eq!(c.realm, REALM);
        assert!(!c.qop_auth);
    }
}

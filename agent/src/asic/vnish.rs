//! Vnish firmware web API (`http://<ip>/api/v1/`): unlock with the web password for a Bearer
//! token (re-unlocked once on a 401) or use an `x-api-key`; read `/info`, `/summary`, `/chains`,
//! `/status`, `/settings`, `/autotune/presets`; send control requests.
//!
//! [`parse`] turns the replies into a [`RawReading`], reading both the older field names
//! (`instant_hashrate`/`average_hashrate`, TH/s) and the 1.2.6+ ones (`hr_realtime`/`hr_average`/
//! `hr_nominal`, in the `/info` `hr_measure` unit). It must never log or return the password, the
//! token or the API key, and never retry a refused unlock in a loop.

use super::error::ApiError;
use super::http::HttpConn;
use super::json::{self, arr_of, obj_of, str_of, Obj, Reader};
use super::normalise::{state_of, HashUnit, RawBoard, RawFan, RawPool, RawReading, Sensor};
use bytes::Bytes;
use hashward_protocol::AsicApi;
use hyper::Method;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// How the agent proves itself to a Vnish miner.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum VnishAuth {
    /// Only the endpoints the firmware leaves open.
    #[default]
    None,
    /// Web password: `POST /unlock {"pw": ...}` gives a Bearer token.
    Password(String),
    /// An API key created in the web UI, sent as `x-api-key`.
    ApiKey(String),
}

impl std::fmt::Debug for VnishAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VnishAuth::None => "None",
            VnishAuth::Password(_) => "Password(***)",
            VnishAuth::ApiKey(_) => "ApiKey(***)",
        })
    }
}

/// Slow-changing data, read on the config schedule (`config_interval_s`) and kept.
#[derive(Debug, Clone, Default)]
pub struct VnishStatic {
    pub info: Option<Value>,
    pub settings: Option<Value>,
    pub presets: Option<Value>,
    pub status: Option<Value>,
}

pub struct VnishClient {
    http: HttpConn,
    auth: VnishAuth,
    token: Option<String>,
    pub cache: VnishStatic,
}

const API: &str = "/api/v1";

impl VnishClient {
    pub fn new(addr: SocketAddr, auth: VnishAuth, timeout: Duration) -> Self {
        VnishClient {
            http: HttpConn::new(addr, timeout),
            auth,
            token: None,
            cache: VnishStatic::default(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    async fn unlock(&mut self) -> Result<(), ApiError> {
        let VnishAuth::Password(pw) = &self.auth else {
            return Err(ApiError::Unauthorized {
                what: format!("vnish {}", self.http.addr()),
                detail: "the miner wants a password or API key and none is configured".into(),
            });
        };
        let body = serde_json::to_vec(&serde_json::json!({ "pw": pw }))
            .map_err(|e| ApiError::malformed("unlock request", e))?;
        let what = format!("POST {API}/unlock");
        let reply = self
            .http
            .send(
                Method::POST,
                &format!("{API}/unlock"),
                &[],
                Some(Bytes::from(body)),
            )
            .await?;
        match reply.status {
            200 => {}
            401 | 403 => {
                return Err(ApiError::Unauthorized {
                    what,
                    detail: "unlock refused: wrong web password".into(),
                })
            }
            s => return Err(ApiError::Status { what, status: s }),
        }
        let v = json::parse(&what, &reply.body)?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::malformed(&what, "no `token` in the reply"))?;
        self.token = Some(token.to_string());
        Ok(())
    }

    /// One authorised request. A 401 with a token re-unlocks once (tokens expire on reboot and
    /// after a while); a second 401 is an error.
    async fn call(&mut self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        if matches!(self.auth, VnishAuth::Password(_)) && self.token.is_none() {
            self.unlock().await?;
        }
        let body = match body {
            Some(b) => Some(Bytes::from(
                serde_json::to_vec(b).map_err(|e| ApiError::malformed(path, e))?,
            )),
            None => None,
        };
        let url = format!("{API}{path}");
        let what = format!("{method} {url}");
        let mut unlocked_now = false;
        loop {
            let auth_header;
            let headers: Vec<(&str, &str)> = match (&self.auth, &self.token) {
                (VnishAuth::ApiKey(k), _) => vec![("x-api-key", k.as_str())],
                (VnishAuth::Password(_), Some(t)) => {
                    auth_header = format!("Bearer {t}");
                    vec![("authorization", auth_header.as_str())]
                }
                _ => vec![],
            };
            let reply = self
                .http
                .send(method.clone(), &url, &headers, body.clone())
                .await?;
            match reply.status {
                200 => {
                    // Control endpoints may answer with an empty body.
                    if reply.body.iter().all(|b| b.is_ascii_whitespace()) {
                        return Ok(Value::Null);
                    }
                    return json::parse(&what, &reply.body);
                }
                401 if matches!(self.auth, VnishAuth::Password(_)) && !unlocked_now => {
                    log::debug!("vnish {}: {what} got 401, unlocking again", self.http.addr());
                    self.token = None;
                    self.unlock().await?;
                    unlocked_now = true;
                }
                401 | 403 => {
                    return Err(ApiError::Unauthorized {
                        what,
                        detail: match self.auth {
                            VnishAuth::ApiKey(_) => "API key refused".into(),
                            VnishAuth::Password(_) => "refused even after a fresh unlock".into(),
                            VnishAuth::None => "no credentials configured".into(),
                        },
                    })
                }
                s => return Err(ApiError::Status { what, status: s }),
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Result<Value, ApiError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `/info` without credentials: detection uses it, and it is open on every Vnish version.
    pub async fn info_open(&mut self) -> Result<Value, ApiError> {
        let what = format!("GET {API}/info");
        let reply = self
            .http
            .send(Method::GET, &format!("{API}/info"), &[], None)
            .await?;
        match reply.status {
            200 => json::parse(&what, &reply.body),
            401 | 403 => Err(ApiError::Unauthorized {
                what,
                detail: "info is locked".into(),
            }),
            s => Err(ApiError::Status { what, status: s }),
        }
    }

    /// Reads `/info`, `/settings`, `/autotune/presets` and `/status` into the cache. A failure of
    /// one keeps the previous value of that one.
    pub async fn refresh_static(&mut self) -> Result<(), ApiError> {
        let info = self.get("/info").await?;
        self.cache.info = Some(info);
        let mut first_err = None;
        for (path, slot) in [("/settings", 0), ("/autotune/presets", 1), ("/status", 2)] {
            match self.get(path).await {
                Ok(v) => match slot {
                    0 => self.cache.settings = Some(v),
                    1 => self.cache.presets = Some(v),
                    _ => self.cache.status = Some(v),
                },
                // Presets do not exist on firmware without autotune: not an error of the miner.
                Err(ApiError::Status { status: 404, .. }) => {}
                Err(e) => {
                    log::warn!("vnish {}: {path}: {e}", self.http.addr());
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The telemetry poll: `/summary`, plus `/chains` when the summary carries no chains.
    pub async fn read(&mut self) -> Result<RawReading, ApiError> {
        let summary = self.get("/summary").await?;
        let has_chains = summary
            .get("miner")
            .and_then(|m| m.get("chains"))
            .and_then(Value::as_array)
            .is_some();
        let chains = if has_chains {
            None
        } else {
            Some(self.get("/chains").await?)
        };
        parse(&summary, chains.as_ref(), &self.cache)
    }

    pub fn http_reset(&mut self) {
        self.http.reset();
    }
}

/// Builds a reading from Vnish replies. `summary` is required; the rest refines it.
pub fn parse(summary: &Value, chains: Option<&Value>, cache: &VnishStatic) -> Result<RawReading, ApiError> {
    let miner = summary
        .get("miner")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::malformed("vnish /summary", "no `miner` object"))?;
    let info = cache.info.as_ref().and_then(Value::as_object);
    let mut raw = RawReading::new(AsicApi::Vnish);
    let mut invalid = Vec::new();
    let mut rd = Reader::new(&mut invalid);

    // The unit of hr_* and chain rates. Firmware before `hr_measure` existed was SHA-256 only
    // and reported GH/s there.
    let unit = match info.and_then(|i| str_of(i, "hr_measure")) {
        Some(u) => match HashUnit::parse(u) {
            Ok(u) => Some(u),
            Err(e) => {
                rd.flag(format!("hashrates left out: {e} in /info hr_measure"));
                None
            }
        },
        None => Some(HashUnit::GH),
    };
    let hs = |v: Option<f64>| unit.and_then(|u| v.map(|v| u.to_hs(v)));

    // Model and firmware: /info when read, else the summary's `miner_type`
    // ("Antminer S19 (Vnish 1.2.0-beta10)").
    let miner_type = str_of(miner, "miner_type");
    raw.model = info
        .and_then(|i| str_of(i, "miner").or_else(|| str_of(i, "model")))
        .map(str::to_string)
        .or_else(|| miner_type.map(|t| t.split(" (").next().unwrap_or(t).trim().to_string()));
    raw.firmware = info
        .and_then(|i| {
            let ver = str_of(i, "fw_version")?;
            Some(format!("{} {ver}", str_of(i, "fw_name").unwrap_or("Vnish")))
        })
        .or_else(|| {
            let t = miner_type?;
            let start = t.find("(Vnish ")? + 1;
            Some(t[start..].trim_end_matches(')').to_string())
        });

    // Hashrates: 1.2.6+ names first; older firmware sent instant/average in TH/s.
    raw.total_hs = match rd.num(miner, "hr_realtime", "") {
        Some(v) => hs(Some(v)),
        None => rd
            .num(miner, "instant_hashrate", "")
            .map(|v| HashUnit::TH.to_hs(v)),
    };
    raw.average_hs = match rd.num(miner, "hr_average", "") {
        Some(v) => hs(Some(v)),
        None => rd
            .num(miner, "average_hashrate", "")
            .map(|v| HashUnit::TH.to_hs(v)),
    };
    raw.nominal_hs = hs(rd
        .num(miner, "hr_nominal", "")
        .or_else(|| rd.num(miner, "hr_stock", "")));
    raw.power_w = rd
        .num(miner, "power_consumption", "")
        .or_else(|| rd.num(miner, "power_usage", ""));

    if let Some(ms) = obj_of(miner, "miner_status") {
        raw.state = str_of(ms, "miner_state")
            .map(state_of)
            .unwrap_or_else(|| "unknown".into());
        raw.uptime_s = rd.num(ms, "miner_state_time", "miner_status.");
    } else if let Some(st) = cache.status.as_ref().and_then(Value::as_object) {
        raw.state = str_of(st, "miner_state")
            .map(state_of)
            .unwrap_or_else(|| "unknown".into());
    }

    let range = |rd: &mut Reader, o: &Obj, key: &str, ctx: &str| -> (Option<f64>, Option<f64>) {
        match obj_of(o, key) {
            Some(r) => (
                rd.num(r, "min", &format!("{ctx}{key}.")),
                rd.num(r, "max", &format!("{ctx}{key}.")),
            ),
            None => (None, None),
        }
    };
    raw.chip_range = range(&mut rd, miner, "chip_temp", "");

    // Hydro models report water temperatures; where exactly differs by version.
    let cooling = obj_of(miner, "cooling");
    for (key, slot) in [("inlet_water_temp", 0), ("outlet_water_temp", 1)] {
        let v = rd
            .num(miner, key, "")
            .or_else(|| cooling.and_then(|c| rd.num(c, key, "cooling.")));
        if slot == 0 {
            raw.inlet_water_c = v;
        } else {
            raw.outlet_water_c = v;
        }
    }
    if let Some(c) = cooling {
        raw.fan_duty_percent = rd.num(c, "fan_duty", "cooling.");
        for (i, f) in arr_of(c, "fans").iter().enumerate() {
            let Some(f) = f.as_object() else {
                rd.flag(format!("cooling.fans[{i}]: not an object"));
                continue;
            };
            let ctx = format!("cooling.fans[{i}].");
            raw.fans.push(RawFan {
                id: rd.count(f, "id", &ctx).map(|v| v as u32).unwrap_or(i as u32),
                rpm: rd.num(f, "rpm", &ctx),
                max_rpm: rd.num(f, "max_rpm", &ctx),
                status: str_of(f, "status").map(str::to_string),
            });
        }
    }

    for (i, p) in arr_of(miner, "pools").iter().enumerate() {
        let Some(p) = p.as_object() else {
            rd.flag(format!("pools[{i}]: not an object"));
            continue;
        };
        let ctx = format!("pools[{i}].");
        let status = str_of(p, "status").unwrap_or("unknown").to_string();
        raw.pools.push(RawPool {
            url: str_of(p, "url").unwrap_or("").to_string(),
            user: str_of(p, "user").unwrap_or("").to_string(),
            active: status == "active",
            devfee: str_of(p, "pool_type") == Some("DevFee") || str_of(p, "url") == Some("DevFee"),
            status,
            accepted: rd.count(p, "accepted", &ctx),
            rejected: rd.count(p, "rejected", &ctx),
            stale: rd.count(p, "stale", &ctx),
            last_share_ts_ms: None,
        });
    }

    let chain_list: &[Value] = match miner.get("chains").and_then(Value::as_array) {
        Some(c) => c,
        None => match chains {
            Some(Value::Array(c)) => c,
            Some(Value::Object(o)) => arr_of(o, "chains"),
            _ => &[],
        },
    };
    for (i, c) in chain_list.iter().enumerate() {
        let Some(c) = c.as_object() else {
            rd.flag(format!("chains[{i}]: not an object"));
            continue;
        };
        let ctx = format!("chains[{i}].");
        // An id past u32 would be truncated into another board's id: use the position.
        let id = match rd.count(c, "id", &ctx).and_then(|id| u32::try_from(id).ok()) {
            Some(id) => id,
            None => i as u32 + 1,
        };
        let sensors = |rd: &mut Reader, key: &str| -> Vec<Sensor> {
            let mut out = Vec::new();
            for (j, s) in arr_of(c, key).iter().enumerate() {
                let Some(s) = s.as_object() else { continue };
                let status = str_of(s, "status").unwrap_or("measure").to_string();
                if let Some(t) = rd.num(s, "temp", &format!("{ctx}{key}[{j}].")) {
                    out.push(Sensor {
                        temp_c: t,
                        ok: status == "measure",
                        status,
                    });
                }
            }
            out
        };
        let chip_sensors = sensors(&mut rd, "chip_temp_sens");
        let pcb_sensors = sensors(&mut rd, "pcb_temp_sens");
        let (chip_min, chip_max) = range(&mut rd, c, "chip_temp", &ctx);
        let (pcb_min, pcb_max) = range(&mut rd, c, "pcb_temp", &ctx);
        let status = obj_of(c, "status");
        // Chain voltage is in millivolts on the versions seen (14000 = 14.0 V); volts are
        // never above 100 on a hashboard, so larger numbers are mV.
        let voltage = rd
            .num(c, "voltage", &ctx)
            .map(|v| if v > 100.0 { v / 1000.0 } else { v });
        let chips = obj_of(c, "chip_statuses").and_then(|s| {
            // Checked: counts near u64::MAX overflowed the sum (found by fuzz_asic_vnish).
            let n: Option<u64> = ["red", "orange", "grey"]
                .iter()
                .try_fold(0u64, |acc, k| acc.checked_add(s.get(*k).and_then(Value::as_u64)?));
            n.filter(|n| *n > 0)
        });
        raw.boards.push(RawBoard {
            id,
            hashrate_hs: hs(rd.num(c, "hashrate_rt", &ctx)),
            ideal_hs: hs(rd.num(c, "hashrate_ideal", &ctx)),
            frequency_mhz: rd.num(c, "frequency", &ctx),
            voltage_v: voltage,
            power_w: rd
                .num(c, "power_consumption", &ctx)
                .or_else(|| rd.num(c, "power_usage", &ctx)),
            chips,
            state: status.and_then(|s| str_of(s, "state")).map(str::to_string),
            description: status.and_then(|s| str_of(s, "description")).map(str::to_string),
            chip_min,
            chip_max,
            pcb_min,
            pcb_max,
            chip_sensors,
            pcb_sensors,
        });
    }

    // Settings: the active preset is the power limit in watts ("disabled" = stock).
    if let Some(oc) = cache
        .settings
        .as_ref()
        .and_then(|s| s.get("miner"))
        .and_then(|m| m.get("overclock"))
        .and_then(Value::as_object)
    {
        if let Some(p) = str_of(oc, "preset").filter(|p| !p.is_empty() && *p != "disabled") {
            raw.overclock_profile = Some(p.to_string());
            raw.power_limit_w = p.trim().parse::<f64>().ok();
        }
        if let Some(g) = obj_of(oc, "globals") {
            raw.frequency_mhz = rd
                .num(g, "freq", "settings.overclock.globals.")
                .filter(|f| *f > 0.0);
        }
    }
    raw.invalid = invalid;
    Ok(raw)
}

/// One autotune preset (`{"name": "3250", "pretty": "3250 watt ~ 110 TH", "status": "tuned"}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: String,
    pub watts: Option<f64>,
    pub tuned: bool,
}

/// Reads `/autotune/presets` (a list, or `{"presets": [...]}` on newer versions).
pub fn parse_presets(v: &Value) -> Result<Vec<Preset>, ApiError> {
    let list = match v {
        Value::Array(a) => a.as_slice(),
        Value::Object(o) if o.get("presets").is_some_and(Value::is_array) => arr_of(o, "presets"),
        _ => {
            return Err(ApiError::malformed(
                "vnish /autotune/presets",
                "neither a list nor {\"presets\": [...]}",
            ))
        }
    };
    let mut out = Vec::new();
    for p in list {
        let Some(p) = p.as_object() else { continue };
        let Some(name) = str_of(p, "name") else { continue };
        // Power is the number before "watt" in `pretty`; the name is the fallback (it is the
        // wattage on every version seen, but `pretty` is what the UI shows).
        let watts = str_of(p, "pretty")
            .and_then(|s| s.split('~').next())
            .and_then(|s| {
                s.to_ascii_lowercase()
                    .replace("watt", "")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .or_else(|| name.trim().parse::<f64>().ok())
            .filter(|w| w.is_finite() && *w > 0.0);
        out.push(Preset {
            name: name.to_string(),
            watts,
            tuned: str_of(p, "status") == Some("tuned"),
        });
    }
    Ok(out)
}

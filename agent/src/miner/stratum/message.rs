//! Stratum v1 JSON-RPC lines: parsing what a pool sends, serialising what the client sends.
//!
//! What it is for: one place that knows the wire shapes of `mining.*` / `client.*` messages,
//! turning each line into typed values or a precise [`MessageError`] that says what was wrong.
//! What it must never do: I/O, panicking or `unwrap()` on pool input, or trusting that a field
//! has the type or length the protocol says it should.

use serde_json::{json, Value};

/// Longest line accepted from a pool (bytes, without the newline). Longer lines are skipped.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// What was wrong with a line from a pool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("line is longer than {max} bytes ({len} bytes)")]
    TooLong { len: usize, max: usize },
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("message is not a JSON object")]
    NotAnObject,
    #[error("message has neither a method nor a result/error")]
    NotRpc,
    #[error("{what}: expected {expected}")]
    WrongType {
        what: &'static str,
        expected: &'static str,
    },
    #[error("{0}: missing")]
    Missing(&'static str),
    #[error("{what}: invalid hex {value:?}")]
    BadHex { what: &'static str, value: String },
    #[error("{what}: expected {expected} bytes, got {got}")]
    BadLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{what}: value {value} out of range")]
    OutOfRange { what: &'static str, value: String },
}

/// A JSON-RPC error as pools send it: `[code, "message", traceback]` or `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

/// One parsed line from a pool.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A response to one of our requests. `id` is `None` when the pool's id was not a
    /// non-negative integer (so it cannot be one of ours).
    Response {
        id: Option<u64>,
        result: Value,
        error: Option<RpcError>,
    },
    /// A notification (`id` null or absent) or a server-to-client request (`id` set).
    Call {
        id: Option<Value>,
        method: String,
        params: Vec<Value>,
    },
}

/// Parse one line (without its newline) from a pool.
pub fn parse_line(line: &str) -> Result<Incoming, MessageError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(MessageError::TooLong {
            len: line.len(),
            max: MAX_LINE_BYTES,
        });
    }
    let value: Value = serde_json::from_str(line).map_err(|e| MessageError::Json(e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(MessageError::NotAnObject);
    };
    let id = obj.remove("id").filter(|v| !v.is_null());
    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err(MessageError::WrongType {
                what: "method",
                expected: "a string",
            });
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(MessageError::WrongType {
                    what: "params",
                    expected: "an array",
                })
            }
        };
        return Ok(Incoming::Call { id, method, params });
    }
    if obj.contains_key("result") || obj.contains_key("error") {
        let result = obj.remove("result").unwrap_or(Value::Null);
        let error = match obj.remove("error") {
            None | Some(Value::Null) => None,
            Some(e) => Some(parse_rpc_error(&e)?),
        };
        let id = id.as_ref().and_then(Value::as_u64);
        return Ok(Incoming::Response { id, result, error });
    }
    Err(MessageError::NotRpc)
}

fn parse_rpc_error(e: &Value) -> Result<RpcError, MessageError> {
    const WHAT: &str = "error";
    const EXPECTED: &str = "[code, message, ...] or {code, message}";
    let (code, message) = match e {
        Value::Array(a) => (a.first(), a.get(1)),
        Value::Object(o) => (o.get("code"), o.get("message")),
        Value::String(s) => {
            return Ok(RpcError {
                code: 20,
                message: s.clone(),
            })
        }
        _ => {
            return Err(MessageError::WrongType {
                what: WHAT,
                expected: EXPECTED,
            })
        }
    };
    let code = code.and_then(Value::as_i64).ok_or(MessageError::WrongType {
        what: "error code",
        expected: "an integer",
    })?;
    let message = match message {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    Ok(RpcError { code, message })
}

/// Serialise a request or notification we send: `{"id":..,"method":..,"params":..}\n`.
pub fn request_line(id: u64, method: &str, params: Value) -> String {
    let mut s = json!({ "id": id, "method": method, "params": params }).to_string();
    s.push('\n');
    s
}

/// Serialise our answer to a server-to-client request.
pub fn response_line(id: &Value, result: Value, error: Option<&RpcError>) -> String {
    let error = match error {
        Some(e) => json!([e.code, e.message, Value::Null]),
        None => Value::Null,
    };
    let mut s = json!({ "id": id, "result": result, "error": error }).to_string();
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------------
// Typed params

/// `mining.notify` params, decoded but not yet interpreted (see `job.rs` for the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub job_id: String,
    /// Previous block hash as sent (each 4-byte word byte-swapped relative to the header).
    pub prevhash_stratum: [u8; 32],
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
    /// Merkle branch hashes, in internal (hashing) byte order.
    pub merkle_branch: Vec<[u8; 32]>,
    pub version: u32,
    pub nbits: u32,
    pub ntime: u32,
    pub clean_jobs: bool,
}

/// Most merkle branch entries accepted (a branch of 32 covers 2^32 transactions).
pub const MAX_MERKLE_BRANCH: usize = 32;

/// Largest extranonce2 size accepted, in bytes.
pub const MAX_EXTRANONCE2_SIZE: usize = 32;

/// Largest extranonce1 accepted, in bytes.
pub const MAX_EXTRANONCE1_SIZE: usize = 32;

fn param<'a>(params: &'a [Value], i: usize, what: &'static str) -> Result<&'a Value, MessageError> {
    params.get(i).ok_or(MessageError::Missing(what))
}

fn str_param<'a>(params: &'a [Value], i: usize, what: &'static str) -> Result<&'a str, MessageError> {
    param(params, i, what)?.as_str().ok_or(MessageError::WrongType {
        what,
        expected: "a string",
    })
}

/// Decode a hex string (even length, `0x` prefix not allowed).
pub fn decode_hex(s: &str, what: &'static str) -> Result<Vec<u8>, MessageError> {
    hex::decode(s).map_err(|_| MessageError::BadHex {
        what,
        value: truncate_for_log(s),
    })
}

fn decode_fixed<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], MessageError> {
    let v = decode_hex(s, what)?;
    let got = v.len();
    v.try_into().map_err(|_| MessageError::BadLength {
        what,
        expected: N,
        got,
    })
}

/// Decode an 8-hex-digit big-endian u32 (version, nbits, ntime, nonce as Stratum sends them).
pub fn decode_u32_be(s: &str, what: &'static str) -> Result<u32, MessageError> {
    Ok(u32::from_be_bytes(decode_fixed::<4>(s, what)?))
}

fn truncate_for_log(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        s.to_string()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...({} bytes)", &s[..end], s.len())
    }
}

/// Parse `mining.notify` params:
/// `[job_id, prevhash, coinb1, coinb2, merkle_branch[], version, nbits, ntime, clean_jobs]`.
pub fn parse_notify(params: &[Value]) -> Result<Notify, MessageError> {
    let job_id = str_param(params, 0, "notify job_id")?;
    if job_id.is_empty() || job_id.len() > 128 {
        return Err(MessageError::OutOfRange {
            what: "notify job_id length",
            value: job_id.len().to_string(),
        });
    }
    let prevhash_stratum = decode_fixed::<32>(str_param(params, 1, "notify prevhash")?, "notify prevhash")?;
    let coinb1 = decode_hex(str_param(params, 2, "notify coinb1")?, "notify coinb1")?;
    let coinb2 = decode_hex(str_param(params, 3, "notify coinb2")?, "notify coinb2")?;
    let branch = param(params, 4, "notify merkle_branch")?
        .as_array()
        .ok_or(MessageError::WrongType {
            what: "notify merkle_branch",
            expected: "an array of hex strings",
        })?;
    if branch.len() > MAX_MERKLE_BRANCH {
        return Err(MessageError::OutOfRange {
            what: "notify merkle_branch length",
            value: branch.len().to_string(),
        });
    }
    let merkle_branch = branch
        .iter()
        .map(|v| {
            let s = v.as_str().ok_or(MessageError::WrongType {
                what: "notify merkle_branch entry",
                expected: "a hex string",
            })?;
            decode_fixed::<32>(s, "notify merkle_branch entry")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let version = decode_u32_be(str_param(params, 5, "notify version")?, "notify version")?;
    let nbits = decode_u32_be(str_param(params, 6, "notify nbits")?, "notify nbits")?;
    let ntime = decode_u32_be(str_param(params, 7, "notify ntime")?, "notify ntime")?;
    let clean_jobs = param(params, 8, "notify clean_jobs")?
        .as_bool()
        .ok_or(MessageError::WrongType {
            what: "notify clean_jobs",
            expected: "a boolean",
        })?;
    Ok(Notify {
        job_id: job_id.to_string(),
        prevhash_stratum,
        coinb1,
        coinb2,
        merkle_branch,
        version,
        nbits,
        ntime,
        clean_jobs,
    })
}

/// `mining.subscribe` result: `[subscriptions, extranonce1, extranonce2_size]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
}

fn parse_extranonce(en1: Option<&Value>, en2_size: Option<&Value>) -> Result<Subscribed, MessageError> {
    let en1 = en1
        .ok_or(MessageError::Missing("extranonce1"))?
        .as_str()
        .ok_or(MessageError::WrongType {
            what: "extranonce1",
            expected: "a hex string",
        })?;
    let extranonce1 = decode_hex(en1, "extranonce1")?;
    if extranonce1.len() > MAX_EXTRANONCE1_SIZE {
        return Err(MessageError::OutOfRange {
            what: "extranonce1 length",
            value: extranonce1.len().to_string(),
        });
    }
    let size = en2_size
        .ok_or(MessageError::Missing("extranonce2_size"))?
        .as_u64()
        .ok_or(MessageError::WrongType {
            what: "extranonce2_size",
            expected: "a non-negative integer",
        })?;
    if size == 0 || size > MAX_EXTRANONCE2_SIZE as u64 {
        return Err(MessageError::OutOfRange {
            what: "extranonce2_size",
            value: size.to_string(),
        });
    }
    Ok(Subscribed {
        extranonce1,
        extranonce2_size: size as usize,
    })
}

/// Parse the result of `mining.subscribe`.
pub fn parse_subscribe_result(result: &Value) -> Result<Subscribed, MessageError> {
    let arr = result.as_array().ok_or(MessageError::WrongType {
        what: "subscribe result",
        expected: "an array",
    })?;
    parse_extranonce(arr.get(1), arr.get(2))
}

/// Parse `mining.set_extranonce` params: `[extranonce1, extranonce2_size]`.
pub fn parse_set_extranonce(params: &[Value]) -> Result<Subscribed, MessageError> {
    parse_extranonce(params.first(), params.get(1))
}

/// Parse `mining.set_difficulty` params: `[difficulty]` (finite, > 0).
pub fn parse_set_difficulty(params: &[Value]) -> Result<f64, MessageError> {
    let d = param(params, 0, "difficulty")?
        .as_f64()
        .ok_or(MessageError::WrongType {
            what: "difficulty",
            expected: "a number",
        })?;
    if !d.is_finite() || d <= 0.0 {
        return Err(MessageError::OutOfRange {
            what: "difficulty",
            value: d.to_string(),
        });
    }
    Ok(d)
}

/// Parse the result of `mining.configure`; returns the version-rolling mask if the pool
/// granted version rolling with a mask, `None` otherwise.
pub fn parse_configure_result(result: &Value) -> Result<Option<u32>, MessageError> {
    let obj = result.as_object().ok_or(MessageError::WrongType {
        what: "configure result",
        expected: "an object",
    })?;
    match obj.get("version-rolling") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) | None => return Ok(None),
        Some(_) => {
            return Err(MessageError::WrongType {
                what: "configure version-rolling",
                expected: "a boolean",
            })
        }
    }
    match obj.get("version-rolling.mask") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let mask = decode_u32_be(s, "configure version-rolling.mask")?;
            Ok((mask != 0).then_some(mask))
        }
        Some(_) => Err(MessageError::WrongType {
            what: "configure version-rolling.mask",
            expected: "a hex string",
        }),
    }
}

/// `client.reconnect` params: `[host?, port?, wait_seconds?]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconnect {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub wait_secs: u64,
}

/// Parse `client.reconnect` params. Port and wait may be numbers or numeric strings.
pub fn parse_reconnect(params: &[Value]) -> Result<Reconnect, MessageError> {
    let host = match params.first() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(MessageError::WrongType {
                what: "reconnect host",
                expected: "a string",
            })
        }
    };
    let num = |v: Option<&Value>, what: &'static str| -> Result<Option<u64>, MessageError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(MessageError::OutOfRange {
                what,
                value: n.to_string(),
            }),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.parse::<u64>().map(Some).map_err(|_| MessageError::OutOfRange {
                what,
                value: truncate_for_log(s),
            }),
            Some(_) => Err(MessageError::WrongType {
                what,
                expected: "a number",
            }),
        }
    };
    let port = match num(params.get(1), "reconnect port")? {
        None => None,
        Some(p) if (1..=65535).contains(&p) => Some(p as u16),
        Some(p) => {
            return Err(MessageError::OutOfRange {
                what: "reconnect port",
                value: p.to_string(),
            })
        }
    };
    let wait_secs = num(params.get(2), "reconnect wait")?.unwrap_or(0);
    Ok(Reconnect {
        host,
        port,
        wait_secs,
    })
}

/// Interpret a `mining.submit` / `mining.authorize` result: `true` is success.
pub fn result_is_true(result: &Value) -> bool {
    matches!(result, Value::Bool(true))
}

// ---------------------------------------------------------------------------------------------
// Requests we send

/// `mining.subscribe` params: `[user_agent]`.
pub fn subscribe_params(user_agent: &str) -> Value {
    json!([user_agent])
}

/// `mining.authorize` params: `[user, password]`.
pub fn authorize_params(user: &str, password: &str) -> Value {
    json!([user, password])
}

/// `mining.configure` params requesting BIP310 version rolling with `mask`.
pub fn configure_version_rolling_params(mask: u32, min_bit_count: u32) -> Value {
    json!([
        ["version-rolling"],
        {
            "version-rolling.mask": format!("{mask:08x}"),
            "version-rolling.min-bit-count": min_bit_count,
        }
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_braiins_notify() {
        let line = r#"{"params": ["bf", "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000", "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008", "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000", [], "00000002", "1c2ac4af", "504e86b9", false], "id": null, "method": "mining.notify"}"#;
        let Ok(Incoming::Call { id, method, params }) = parse_line(line) else {
            panic!("not a call");
        };
        assert_eq!(id, None);
        assert_eq!(method, "mining.notify");
        let n = parse_notify(&params).expect("valid notify");
        assert_eq!(n.job_id, "bf");
        assert_eq!(n.version, 2);
        assert_eq!(n.nbits, 0x1c2ac4af);
        assert_eq!(n.ntime, 0x504e86b9);
        assert!(!n.clean_jobs);
        assert!(n.merkle_branch.is_empty());
        assert_eq!(n.prevhash_stratum[0], 0x4d);
        assert_eq!(n.coinb1.len(), 58);
    }

    #[test]
    fn parses_responses_and_errors() {
        let r = parse_line(r#"{"id": 1, "result": [ [ ["mining.set_difficulty", "b4b6693b72a50c7116db18d6497cac52"], ["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"]], "08000002", 4], "error": null}"#)
            .expect("valid");
        let Incoming::Response { id, result, error } = r else {
            panic!("not a response")
        };
        assert_eq!(id, Some(1));
        assert_eq!(error, None);
        let s = parse_subscribe_result(&result).expect("valid subscribe");
        assert_eq!(s.extranonce1, vec![8, 0, 0, 2]);
        assert_eq!(s.extranonce2_size, 4);

        let r =
            parse_line(r#"{"id":4,"result":null,"error":[23,"Low difficulty share",null]}"#).expect("valid");
        assert_eq!(
            r,
            Incoming::Response {
                id: Some(4),
                result: Value::Null,
                error: Some(RpcError {
                    code: 23,
                    message: "Low difficulty share".into()
                })
            }
        );
        let r =
            parse_line(r#"{"id":"x","result":false,"error":{"code":21,"message":"Stale"}}"#).expect("valid");
        assert_eq!(
            r,
            Incoming::Response {
                id: None,
                result: Value::Bool(false),
                error: Some(RpcError {
                    code: 21,
                    message: "Stale".into()
                })
            }
        );
        let r = parse_line(r#"{"id":5,"result":true}"#).expect("valid");
        assert!(
            matches!(r, Incoming::Response { id: Some(5), ref result, error: None } if result_is_true(result))
        );
    }

    #[test]
    fn bad_lines_give_precise_errors() {
        let long = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_LINE_BYTES));
        let cases: Vec<(&str, MessageError)> = vec![
            ("not json", MessageError::Json(String::new())),
            ("[1,2]", MessageError::NotAnObject),
            ("{}", MessageError::NotRpc),
            (
                r#"{"method":5,"params":[]}"#,
                MessageError::WrongType {
                    what: "method",
                    expected: "a string",
                },
            ),
            (
                r#"{"method":"mining.notify","params":"oops"}"#,
                MessageError::WrongType {
                    what: "params",
                    expected: "an array",
                },
            ),
            (
                r#"{"id":1,"result":null,"error":["x","y"]}"#,
                MessageError::WrongType {
                    what: "error code",
                    expected: "an integer",
                },
            ),
            (
                r#"{"id":1,"result":null,"error":7}"#,
                MessageError::WrongType {
                    what: "error",
                    expected: "[code, message, ...] or {code, message}",
                },
            ),
            (
                &long,
                MessageError::TooLong {
                    len: long.len(),
                    max: MAX_LINE_BYTES,
                },
            ),
        ];
        for (line, want) in cases {
            let got = parse_line(line).expect_err(line);
            match (&got, &want) {
                (MessageError::Json(_), MessageError::Json(_)) => {}
                _ => assert_eq!(got, want, "{line}"),
            }
        }
    }

    fn notify_params() -> Vec<Value> {
        serde_json::from_str::<Vec<Value>>(&format!(
            r#"["j1", "{}", "aa", "bb", ["{}"], "20000000", "1d00ffff", "504e86b9", true]"#,
            "00".repeat(32),
            "11".repeat(32)
        ))
        .expect("test json")
    }

    #[test]
    fn bad_notify_params() {
        assert!(parse_notify(&notify_params()).is_ok());
        let mutate = |i: usize, v: Value| {
            let mut p = notify_params();
            p[i] = v;
            parse_notify(&p).expect_err("must fail")
        };
        assert_eq!(
            mutate(0, json!(5)),
            MessageError::WrongType {
                what: "notify job_id",
                expected: "a string"
            }
        );
        assert!(matches!(
            mutate(1, json!("00")),
            MessageError::BadLength {
                what: "notify prevhash",
                expected: 32,
                got: 1
            }
        ));
        assert!(matches!(
            mutate(2, json!("zz")),
            MessageError::BadHex {
                what: "notify coinb1",
                ..
            }
        ));
        assert!(matches!(
            mutate(3, json!("abc")),
            MessageError::BadHex {
                what: "notify coinb2",
                ..
            }
        ));
        assert!(matches!(
            mutate(4, json!("x")),
            MessageError::WrongType {
                what: "notify merkle_branch",
                ..
            }
        ));
        assert!(matches!(
            mutate(4, json!([1])),
            MessageError::WrongType {
                what: "notify merkle_branch entry",
                ..
            }
        ));
        assert!(matches!(mutate(4, json!(["11"])), MessageError::BadLength { .. }));
        assert!(matches!(mutate(5, json!("2000000")), MessageError::BadHex { .. }));
        assert!(matches!(
            mutate(6, json!("1d00ffff00")),
            MessageError::BadLength {
                what: "notify nbits",
                ..
            }
        ));
        assert!(matches!(
            mutate(7, json!(1234)),
            MessageError::WrongType {
                what: "notify ntime",
                ..
            }
        ));
        assert!(matches!(
            mutate(8, json!("true")),
            MessageError::WrongType {
                what: "notify clean_jobs",
                ..
            }
        ));
        let mut p = notify_params();
        p.truncate(8);
        assert_eq!(parse_notify(&p), Err(MessageError::Missing("notify clean_jobs")));
        assert!(parse_notify(&[]).is_err());
    }

    #[test]
    fn other_typed_params() {
        assert_eq!(parse_set_difficulty(&[json!(1024)]), Ok(1024.0));
        assert_eq!(parse_set_difficulty(&[json!(0.5)]), Ok(0.5));
        assert!(parse_set_difficulty(&[json!("1024")]).is_err());
        assert!(parse_set_difficulty(&[json!(0)]).is_err());
        assert!(parse_set_difficulty(&[json!(-3)]).is_err());
        assert!(parse_set_difficulty(&[]).is_err());

        assert_eq!(
            parse_set_extranonce(&[json!("0a0b"), json!(6)]),
            Ok(Subscribed {
                extranonce1: vec![10, 11],
                extranonce2_size: 6
            })
        );
        assert!(parse_set_extranonce(&[json!("0a0b"), json!(0)]).is_err());
        assert!(parse_set_extranonce(&[json!("0a0b"), json!(33)]).is_err());
        assert!(parse_set_extranonce(&[json!("0a0"), json!(4)]).is_err());
        assert!(parse_subscribe_result(&json!({"a":1})).is_err());
        assert!(parse_subscribe_result(&json!([[], "00", "4"])).is_err());

        assert_eq!(
            parse_configure_result(&json!({"version-rolling": true, "version-rolling.mask": "1fffe000"})),
            Ok(Some(0x1fffe000))
        );
        assert_eq!(
            parse_configure_result(&json!({"version-rolling": false})),
            Ok(None)
        );
        assert_eq!(
            parse_configure_result(&json!({"version-rolling": true})),
            Ok(None)
        );
        assert_eq!(
            parse_configure_result(&json!({"version-rolling": true, "version-rolling.mask": "00000000"})),
            Ok(None)
        );
        assert!(parse_configure_result(&json!({"version-rolling": "yes"})).is_err());
        assert!(
            parse_configure_result(&json!({"version-rolling": true, "version-rolling.mask": 5})).is_err()
        );
        assert!(parse_configure_result(&json!(true)).is_err());

        assert_eq!(
            parse_reconnect(&[json!("pool.example"), json!("3334"), json!(5)]),
            Ok(Reconnect {
                host: Some("pool.example".into()),
                port: Some(3334),
                wait_secs: 5
            })
        );
        assert_eq!(parse_reconnect(&[]), Ok(Reconnect::default()));
        assert!(parse_reconnect(&[json!(1)]).is_err());
        assert!(parse_reconnect(&[json!("h"), json!(70000)]).is_err());
        assert!(parse_reconnect(&[json!("h"), json!("x")]).is_err());
    }

    #[test]
    fn serialises_requests() {
        let line = request_line(3, "mining.authorize", authorize_params("w", "x"));
        assert!(line.ends_with('\n'));
        let v: Value = serde_json::from_str(line.trim_end()).expect("json");
        assert_eq!(
            v,
            json!({"id": 3, "method": "mining.authorize", "params": ["w", "x"]})
        );
        let v: Value = serde_json::from_str(&request_line(
            1,
            "mining.configure",
            configure_version_rolling_params(0x1fffe000, 2),
        ))
        .expect("json");
        assert_eq!(v["params"][1]["version-rolling.mask"], json!("1fffe000"));
        let v: Value = serde_json::from_str(&response_line(
            &json!(7),
            Value::Null,
            Some(&RpcError {
                code: -3,
                message: "Method not found".into(),
            }),
        ))
        .expect("json");
        assert_eq!(
            v,
            json!({"id": 7, "result": null, "error": [-3, "Method not found", null]})
        );
    }
}

//! Lenient readers for miner JSON: firmware sends numbers as numbers or as strings (`"GHS 5s":
//! "13512.34"`), and omits fields between versions.
//!
//! A missing or `null` field is simply absent. A field that is present but of the wrong type is
//! recorded in `invalid` with its name and value, never silently turned into zero.

use serde_json::{Map, Value};

pub type Obj = Map<String, Value>;

/// Parses a reply body, mapping a JSON error to a message that says where it broke.
pub fn parse(what: &str, body: &[u8]) -> Result<Value, super::error::ApiError> {
    serde_json::from_slice(body).map_err(|e| super::error::ApiError::malformed(what, describe(&e, body)))
}

fn describe(e: &serde_json::Error, body: &[u8]) -> String {
    let kind = if e.is_eof() {
        "truncated JSON"
    } else {
        "invalid JSON"
    };
    let head: String = String::from_utf8_lossy(&body[..body.len().min(60)])
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    format!("{kind} ({e}); {} bytes starting {head:?}", body.len())
}

/// Reads numbers, strings and nested objects out of one JSON object, collecting type problems.
pub struct Reader<'a> {
    invalid: &'a mut Vec<String>,
}

impl<'a> Reader<'a> {
    pub fn new(invalid: &'a mut Vec<String>) -> Self {
        Reader { invalid }
    }

    /// A number or numeric string. Flags any other present, non-null value.
    pub fn num(&mut self, o: &Obj, key: &str, ctx: &str) -> Option<f64> {
        let v = o.get(key)?;
        match as_num(v) {
            Some(n) => Some(n),
            None if v.is_null() => None,
            // Empty strings are how cgminer says "no value" (`"chain_rate4": ""`).
            None if v.as_str().is_some_and(|s| s.trim().is_empty()) => None,
            None => {
                self.invalid
                    .push(format!("{ctx}{key}: not a number: {}", short(v)));
                None
            }
        }
    }

    /// A non-negative integer counter (shares, chip counts). Negative or fractional is flagged.
    pub fn count(&mut self, o: &Obj, key: &str, ctx: &str) -> Option<u64> {
        let n = self.num(o, key, ctx)?;
        if n >= 0.0 && n.fract() == 0.0 && n < u64::MAX as f64 {
            Some(n as u64)
        } else {
            self.invalid.push(format!("{ctx}{key}: impossible count {n}"));
            None
        }
    }

    pub fn flag(&mut self, msg: String) {
        self.invalid.push(msg);
    }
}

pub fn as_num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

pub fn str_of<'v>(o: &'v Obj, key: &str) -> Option<&'v str> {
    o.get(key).and_then(Value::as_str)
}

pub fn obj_of<'v>(o: &'v Obj, key: &str) -> Option<&'v Obj> {
    o.get(key).and_then(Value::as_object)
}

pub fn arr_of<'v>(o: &'v Obj, key: &str) -> &'v [Value] {
    o.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A value shortened for a log line.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        let mut end = 40;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

//! Prohashing's payloads, read strictly into typed values. The shapes (from Prohashing's public
//! WAMP clients and the prohashing-http proxy's documented responses):
//! - `f_all_miner_updates(key)` -> `[ {uuid, miner_name, coin_name, algorithm_name, hashrate,
//!   difficulty, difficulty_is_static, share_count, ...}, ... ]`; `miner_update_diffs_{key}`
//!   events carry one such object with only the changed fields (always with `uuid`).
//! - `f_all_balance_updates(key)` -> `{ "<coin name>": balance, ... }`; `balance_updates_{key}`
//!   events carry `{coin, balance}` where `balance` is the amount credited (a delta).
//! - `f_all_profitability_updates()` and `profitability_updates` events -> `{ "<algo id>":
//!   {algorithm_name, usd, btc, max_usd, max_btc, percentile_usd, percentile_btc,
//!   data_timestamp, server_timestamp, server_id} }` (an event may carry a list of such maps).
//!
//! Must never accept a payload half-way: a whole payload parses, or it is a [`PayloadError`]
//! naming the field, and nothing of it is applied. Unknown fields are ignored (additions are not
//! a schema change); a known field of the wrong type is.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayloadError {
    #[error("{what}: expected {expected}")]
    Shape {
        what: &'static str,
        expected: &'static str,
    },
    #[error("{what}: field `{field}` is not {expected}")]
    Field {
        what: &'static str,
        field: String,
        expected: &'static str,
    },
}

/// One worker's fields as sent (a diff leaves the ones it does not change as `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinerFields {
    pub uuid: String,
    pub miner_name: Option<String>,
    pub coin_name: Option<String>,
    pub algorithm_name: Option<String>,
    /// H/s, pool-measured.
    pub hashrate: Option<f64>,
    pub difficulty: Option<f64>,
    pub share_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BalanceDelta {
    pub coin: String,
    pub amount: f64,
}

/// One algorithm's quote, per Prohashing unit (MH/s) per day.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgoQuote {
    pub id: String,
    pub algorithm_name: String,
    pub usd: f64,
    pub btc: Option<f64>,
    pub max_usd: Option<f64>,
    pub percentile_usd: Option<f64>,
    /// Unix seconds (fractional) of the pool's data.
    pub data_timestamp: Option<f64>,
}

fn object<'a>(v: &'a Value, what: &'static str) -> Result<&'a Map<String, Value>, PayloadError> {
    v.as_object().ok_or(PayloadError::Shape {
        what,
        expected: "an object",
    })
}

fn field_err(what: &'static str, field: &str, expected: &'static str) -> PayloadError {
    PayloadError::Field {
        what,
        field: field.to_string(),
        expected,
    }
}

fn opt_f64(m: &Map<String, Value>, what: &'static str, f: &str) -> Result<Option<f64>, PayloadError> {
    match m.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or(field_err(what, f, "a number")),
    }
}

fn opt_str(m: &Map<String, Value>, what: &'static str, f: &str) -> Result<Option<String>, PayloadError> {
    match m.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field_err(what, f, "a string")),
    }
}

/// A string id, or a number sent as an id.
fn id_of(m: &Map<String, Value>, what: &'static str, f: &str) -> Result<String, PayloadError> {
    match m.get(f) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(field_err(what, f, "a non-empty id")),
    }
}

fn miner(v: &Value) -> Result<MinerFields, PayloadError> {
    const W: &str = "miner update";
    let m = object(v, W)?;
    let share_count = match opt_f64(m, W, "share_count")? {
        Some(x) if x >= 0.0 => Some(x.round() as u64),
        Some(_) => return Err(field_err(W, "share_count", "a count")),
        None => None,
    };
    let hashrate = opt_f64(m, W, "hashrate")?;
    if hashrate.is_some_and(|h| h < 0.0) {
        return Err(field_err(W, "hashrate", "a rate"));
    }
    // Some clients key workers by name only; the name then stands in for the id.
    let uuid = match id_of(m, W, "uuid") {
        Ok(u) => u,
        Err(e) => opt_str(m, W, "miner_name")?.ok_or(e)?,
    };
    Ok(MinerFields {
        uuid,
        miner_name: opt_str(m, W, "miner_name")?,
        coin_name: opt_str(m, W, "coin_name")?,
        algorithm_name: opt_str(m, W, "algorithm_name")?,
        hashrate,
        difficulty: opt_f64(m, W, "difficulty")?,
        share_count,
    })
}

/// `f_all_miner_updates`'s result: its first argument, a list of workers.
pub fn miners_snapshot(args: &[Value]) -> Result<Vec<MinerFields>, PayloadError> {
    let list = args
        .first()
        .and_then(Value::as_array)
        .ok_or(PayloadError::Shape {
            what: "miner snapshot",
            expected: "a list of workers as the first argument",
        })?;
    list.iter().map(miner).collect()
}

/// A `miner_update_diffs` event: each argument is one worker's changed fields.
pub fn miner_diffs(args: &[Value]) -> Result<Vec<MinerFields>, PayloadError> {
    if args.is_empty() {
        return Err(PayloadError::Shape {
            what: "miner diff",
            expected: "at least one argument",
        });
    }
    args.iter().map(miner).collect()
}

/// `f_all_balance_updates`'s result: `{coin: balance}`.
pub fn balances_snapshot(args: &[Value]) -> Result<Vec<BalanceDelta>, PayloadError> {
    const W: &str = "balance snapshot";
    let m = object(args.first().unwrap_or(&Value::Null), W)?;
    m.iter()
        .map(|(coin, v)| {
            v.as_f64()
                .filter(|x| x.is_finite())
                .map(|amount| BalanceDelta {
                    coin: coin.clone(),
                    amount,
                })
                .ok_or(field_err(W, coin, "a number"))
        })
        .collect()
}

/// A `balance_updates` event: `{coin, balance}` per argument, each a credit.
pub fn balance_deltas(args: &[Value]) -> Result<Vec<BalanceDelta>, PayloadError> {
    const W: &str = "balance update";
    if args.is_empty() {
        return Err(PayloadError::Shape {
            what: W,
            expected: "at least one argument",
        });
    }
    args.iter()
        .map(|v| {
            let m = object(v, W)?;
            let coin = opt_str(m, W, "coin")?.ok_or(field_err(W, "coin", "a string"))?;
            let amount = opt_f64(m, W, "balance")?.ok_or(field_err(W, "balance", "a number"))?;
            Ok(BalanceDelta { coin, amount })
        })
        .collect()
}

fn quote(id: &str, v: &Value) -> Result<AlgoQuote, PayloadError> {
    const W: &str = "profitability";
    let m = object(v, W)?;
    let usd = opt_f64(m, W, "usd")?.ok_or(field_err(W, "usd", "a number"))?;
    let algorithm_name =
        opt_str(m, W, "algorithm_name")?.ok_or(field_err(W, "algorithm_name", "a string"))?;
    Ok(AlgoQuote {
        id: id.to_string(),
        algorithm_name,
        usd,
        btc: opt_f64(m, W, "btc")?,
        max_usd: opt_f64(m, W, "max_usd")?,
        percentile_usd: opt_f64(m, W, "percentile_usd")?,
        data_timestamp: opt_f64(m, W, "data_timestamp")?,
    })
}

/// A profitability map (a call result, an event, or the HTTP `/profitability` body); an event's
/// argument may also be a list of such maps.
pub fn profitability(args: &[Value]) -> Result<Vec<AlgoQuote>, PayloadError> {
    let mut out = Vec::new();
    let mut maps = Vec::new();
    for a in args {
        match a {
            Value::Array(list) => maps.extend(list.iter()),
            other => maps.push(other),
        }
    }
    if maps.is_empty() {
        return Err(PayloadError::Shape {
            what: "profitability",
            expected: "a map of algorithm ids",
        });
    }
    for m in maps {
        for (id, v) in object(m, "profitability")? {
            out.push(quote(id, v)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recorded_shapes_parse() {
        let miners = miners_snapshot(&[json!([
            {"uuid": "u1", "miner_name": "rig1", "coin_name": "bitcoin", "algorithm_name": "SHA-256",
             "hashrate": 1.2e13, "difficulty": 65536, "difficulty_is_static": false, "share_count": 1200},
        ])])
        .expect("miners");
        assert_eq!(miners[0].hashrate, Some(1.2e13));
        assert_eq!(miners[0].share_count, Some(1200));
        let diff = miner_diffs(&[json!({"uuid": "u1", "hashrate": 1.1e13})]).expect("diff");
        assert_eq!(
            (diff[0].hashrate, diff[0].miner_name.as_deref()),
            (Some(1.1e13), None)
        );
        let b = balances_snapshot(&[json!({"bitcoin": 0.0012, "dogecoin": 52.5})]).expect("balances");
        assert_eq!(b.len(), 2);
        let d = balance_deltas(&[json!({"coin": "litecoin", "balance": 0.01})]).expect("delta");
        assert_eq!(d[0].amount, 0.01);
        let p = profitability(&[
            json!({"2": {"algorithm_name": "SHA-256", "usd": 1.3292067065643e-7,
            "btc": 3.6428598623226e-11, "data_timestamp": 1547510680.4959, "server_id": 4}}),
        ])
        .expect("profit");
        assert_eq!((p[0].id.as_str(), p[0].algorithm_name.as_str()), ("2", "SHA-256"));
        let p = profitability(&[json!([{"1": {"algorithm_name": "Scrypt", "usd": 0.0025}}])]).expect("list");
        assert_eq!(p[0].usd, 0.0025);
    }

    #[test]
    fn changed_schema_is_an_error_naming_the_field() {
        let e = miners_snapshot(&[json!([{"uuid": "u1", "hashrate": "12 TH/s"}])]).expect_err("string");
        assert_eq!(e.to_string(), "miner update: field `hashrate` is not a number");
        let e = miners_snapshot(&[json!({"workers": []})]).expect_err("not a list");
        assert!(e.to_string().contains("a list of workers"), "{e}");
        let e = profitability(&[json!({"2": {"algorithm_name": "SHA-256", "usd_per_th": 0.1}})])
            .expect_err("renamed");
        assert!(e.to_string().contains("`usd`"), "{e}");
        assert!(balance_deltas(&[json!({"coin": "x"})]).is_err());
        assert!(balances_snapshot(&[json!({"bitcoin": "lots"})]).is_err());
        assert!(miner_diffs(&[]).is_err());
        assert!(
            miner_diffs(&[json!({"hashrate": 1})]).is_err(),
            "no uuid nor name"
        );
    }
}

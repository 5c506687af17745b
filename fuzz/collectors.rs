//! The collectors' decoders under fuzzed input, shared by the stable harness
//! (`hub/tests/fuzz_collectors.rs`) and the libFuzzer targets (`collector_json`, `wamp_message`),
//! included with `#[path]`. Properties: no panic; an error that names what was wrong; a payload
//! accepted only whole (every coin asked for present with a finite positive USD price, every
//! chart point finite); a decoded WAMP message re-encodes to one that decodes to itself.
//! Must never filter inputs so that a check cannot fail (the one exception, documented below,
//! keeps PBKDF2 cost per input bounded).

#![allow(dead_code)]

use hashward_hub::collect::prohashing::{http as ph_http, payload};
use hashward_hub::collect::source::{Observation, SourceError};
use hashward_hub::collect::wamp::{cra, message::Message};
use hashward_hub::collect::{coingecko, coinmarketcap, coins};
use serde_json::Value;

const NOW_MS: u64 = 1_764_633_600_000;

fn named(e: &SourceError) {
    assert!(!e.to_string().is_empty(), "an error that says nothing");
}

fn market_prices_sane(obs: &[Observation], wanted: usize, what: &str) {
    let markets = obs
        .iter()
        .filter_map(|o| match o {
            Observation::Market(m) => Some(m),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert!(
        markets.len() >= wanted.min(1),
        "{what}: accepted without the coins asked for"
    );
    for m in markets {
        let usd = m.price.usd.expect("an accepted market row has a USD price");
        assert!(usd.is_finite() && usd > 0.0, "{what}: price {usd} accepted");
        assert!(
            m.timestamp_ms <= NOW_MS,
            "{what}: a timestamp in the future was kept"
        );
    }
}

/// Every market/pool decoder on the same bytes. Returns how many accepted them.
pub fn collector_json(bytes: &[u8]) -> u32 {
    let coins = coins::resolve(&["bitcoin".to_string(), "litecoin".to_string()])
        .expect("the coin table knows bitcoin and litecoin");
    let mut accepted = 0;
    match coingecko::parse_simple_price(bytes, &coins, NOW_MS) {
        Ok(obs) => {
            assert_eq!(
                obs.len(),
                coins.len(),
                "simple/price: a coin missing from an accepted payload"
            );
            market_prices_sane(&obs, coins.len(), "simple/price");
            accepted += 1;
        }
        Err(e) => named(&e),
    }
    match coingecko::parse_markets(bytes, &coins, NOW_MS) {
        Ok(obs) => {
            assert_eq!(
                obs.len(),
                coins.len(),
                "coins/markets: a coin missing from an accepted payload"
            );
            market_prices_sane(&obs, coins.len(), "coins/markets");
            accepted += 1;
        }
        Err(e) => named(&e),
    }
    match coingecko::parse_market_chart(bytes, NOW_MS) {
        Ok(points) => {
            for p in points {
                assert!(
                    p.price_usd.is_finite() && p.price_usd >= 0.0,
                    "chart price {}",
                    p.price_usd
                );
                assert_eq!(p.day_ms % 86_400_000, 0, "a chart point not at 00:00 UTC");
            }
            accepted += 1;
        }
        Err(e) => named(&e),
    }
    for (what, parsed) in [
        (
            "quotes/latest",
            coinmarketcap::parse_quotes(bytes, &coins, NOW_MS),
        ),
        (
            "listings/latest",
            coinmarketcap::parse_listings(bytes, &coins, NOW_MS),
        ),
        ("global", coinmarketcap::parse_global(bytes, NOW_MS)),
    ] {
        match parsed {
            Ok(polled) => {
                if what == "quotes/latest" {
                    assert_eq!(polled.observations.len(), coins.len(), "{what}: a coin missing");
                }
                market_prices_sane(&polled.observations, 0, what);
                accepted += 1;
            }
            Err(e) => named(&e),
        }
    }
    match ph_http::parse(bytes) {
        Ok(quotes) => {
            for q in quotes {
                assert!(q.usd.is_finite(), "prohashing quote usd {}", q.usd);
            }
            accepted += 1;
        }
        Err(e) => named(&e),
    }
    // The WAMP payloads arrive as the args of a RESULT or EVENT: an array, or one value.
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        let args = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        let results = [
            payload::miners_snapshot(&args).map(|_| ()),
            payload::miner_diffs(&args).map(|_| ()),
            payload::balances_snapshot(&args).map(|_| ()),
            payload::balance_deltas(&args).map(|_| ()),
            payload::profitability(&args).map(|_| ()),
        ];
        for r in results {
            match r {
                Ok(()) => accepted += 1,
                Err(e) => assert!(!e.to_string().is_empty(), "an error that says nothing"),
            }
        }
    }
    accepted
}

/// A WAMP text frame: decodes, or an error; a decoded message re-encodes to itself. A CHALLENGE
/// is answered as the client would (WAMP-CRA).
pub fn wamp_message(text: &str) -> bool {
    let msg = match Message::decode(text) {
        Ok(m) => m,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error that says nothing");
            return false;
        }
    };
    let again = msg.encode();
    let back = Message::decode(&again).unwrap_or_else(|e| panic!("re-encoded {again} does not decode: {e}"));
    assert_eq!(back, msg, "re-encoding changed the message");
    if let Message::Challenge { extra, .. } = &msg {
        // The only input filter: PBKDF2 at the protocol's maximum (10^6 iterations) costs about
        // a second, which would stall the fuzzer; the limit itself is checked by cra's tests.
        let costly = extra
            .get("iterations")
            .and_then(Value::as_u64)
            .is_some_and(|n| n > 4096)
            || extra
                .get("keylen")
                .and_then(Value::as_u64)
                .is_some_and(|n| n > 256);
        if !costly {
            if let Ok(sig) = cra::respond("secret", extra) {
                assert!(!sig.is_empty(), "an empty signature");
            }
        }
    }
    true
}

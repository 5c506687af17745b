//! WAMP-CRA (challenge-response authentication), as autobahn implements it: the signature is
//! `base64(HMAC-SHA256(key, challenge))` where `challenge` is the router's challenge string as
//! sent (not re-serialized) and `key` is the secret's UTF-8 bytes; when the challenge carries
//! `salt`, `key` is instead the ASCII base64 text of `PBKDF2-HMAC-SHA256(secret, salt,
//! iterations, keylen)` (autobahn's defaults: 1000 iterations, 32 bytes).
//!
//! Must never spend unbounded CPU on a router's say-so (iterations and keylen are capped) and
//! never log the secret.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// A router asking for more work than this per login is refused rather than obeyed.
pub const MAX_ITERATIONS: u64 = 1_000_000;
pub const MAX_KEYLEN: u64 = 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CraError {
    #[error("WAMP-CRA challenge has no `challenge` string")]
    NoChallenge,
    #[error("WAMP-CRA challenge field `{0}` is not usable")]
    BadField(&'static str),
    #[error("WAMP-CRA challenge asks for {0} PBKDF2 iterations (at most {MAX_ITERATIONS})")]
    TooManyIterations(u64),
    #[error("WAMP-CRA challenge asks for a {0}-byte key (at most {MAX_KEYLEN})")]
    KeyTooLong(u64),
}

/// `base64(HMAC-SHA256(key, challenge))`.
pub fn sign(key: &[u8], challenge: &str) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_hmac(),
    };
    mac.update(challenge.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// HMAC-SHA256 takes a key of any length, so `new_from_slice` has no error case to reach.
fn unreachable_hmac() -> ! {
    unreachable!("HMAC-SHA256 accepts every key length")
}

/// The salted key: base64 of PBKDF2-HMAC-SHA256, used as the HMAC key in its text form.
pub fn derive_key(secret: &str, salt: &str, iterations: u32, keylen: usize) -> String {
    let mut key = vec![0u8; keylen];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt.as_bytes(), iterations, &mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The AUTHENTICATE signature for a CHALLENGE's `extra` dict.
pub fn respond(secret: &str, extra: &Map<String, Value>) -> Result<String, CraError> {
    let challenge = extra
        .get("challenge")
        .and_then(Value::as_str)
        .ok_or(CraError::NoChallenge)?;
    let Some(salt) = extra.get("salt") else {
        return Ok(sign(secret.as_bytes(), challenge));
    };
    let salt = salt.as_str().ok_or(CraError::BadField("salt"))?;
    let number = |name: &'static str, default: u64| match extra.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().filter(|n| *n > 0).ok_or(CraError::BadField(name)),
    };
    let iterations = number("iterations", 1000)?;
    let keylen = number("keylen", 32)?;
    if iterations > MAX_ITERATIONS {
        return Err(CraError::TooManyIterations(iterations));
    }
    if keylen > MAX_KEYLEN {
        return Err(CraError::KeyTooLong(keylen));
    }
    // Both were bounded just above, far below u32::MAX / usize::MAX.
    let key = derive_key(secret, salt, iterations as u32, keylen as usize);
    Ok(sign(key.as_bytes(), challenge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extra(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    /// Autobahn's own test vectors (test_auth.py: compute_wcs and derive_key), which Python's
    /// hmac/hashlib reproduce independently.
    #[test]
    fn autobahn_vectors() {
        assert_eq!(
            sign(b"L3L1YUE8Txlw", "[1, 2, 3]"),
            "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0="
        );
        assert_eq!(
            derive_key("L3L1YUE8Txlw", "salt123", 1000, 32),
            "qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y="
        );
    }

    /// Prohashing's public login (`web`/`web`) on a challenge shaped like crossbar's; expected
    /// values computed with Python's hmac/hashlib.
    #[test]
    fn prohashing_web_secret_plain_and_salted() {
        let challenge = r#"{"authid": "web", "authrole": "web", "authmethod": "wampcra", "authprovider": "static", "session": 1234, "nonce": "x7Qn", "timestamp": "2026-12-02T08:00:00.000Z"}"#;
        assert_eq!(
            respond("web", &extra(json!({ "challenge": challenge }))),
            Ok("CQzD9pXKAzyF85GR2uYSqQU3EjkrBa1plTqODlQD7iw=".to_string())
        );
        assert_eq!(
            derive_key("web", "salt123", 1000, 32),
            "Wny1Z9jCERgXXWHZPLezCNhMF0icQCUrKYNGSL2fyNo="
        );
        let salted =
            extra(json!({ "challenge": challenge, "salt": "salt123", "iterations": 1000, "keylen": 32 }));
        assert_eq!(
            respond("web", &salted),
            Ok("wmvbYpcWYXpof7g4a6sUvHPGjy6cIgJhavsi3IpE9BI=".to_string())
        );
        // A different secret gives a different signature: the router would refuse it.
        assert_ne!(respond("wrong", &salted), respond("web", &salted));
    }

    #[test]
    fn unusable_challenges_are_refused_by_name() {
        assert_eq!(respond("web", &Map::new()), Err(CraError::NoChallenge));
        assert_eq!(
            respond("web", &extra(json!({"challenge": "c", "salt": 5}))),
            Err(CraError::BadField("salt"))
        );
        assert_eq!(
            respond(
                "web",
                &extra(json!({"challenge": "c", "salt": "s", "iterations": -1}))
            ),
            Err(CraError::BadField("iterations"))
        );
        assert_eq!(
            respond(
                "web",
                &extra(json!({"challenge": "c", "salt": "s", "iterations": 50_000_000}))
            ),
            Err(CraError::TooManyIterations(50_000_000))
        );
        assert_eq!(
            respond(
                "web",
                &extra(json!({"challenge": "c", "salt": "s", "keylen": 1_000_000}))
            ),
            Err(CraError::KeyTooLong(1_000_000))
        );
    }
}

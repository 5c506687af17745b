//! Difficulty and share-target arithmetic for Stratum pools.
//!
//! What it is for: turning a pool's `mining.set_difficulty` value into a [`Target`] given the
//! algorithm's difficulty-1 target, and checking a hash against a target. The client takes the
//! difficulty-1 target as a parameter so the same code serves sha256d and scrypt pools:
//!
//! * sha256d: diff-1 target = `0xFFFF * 2^208` ([`DIFF1_SHA256D`]).
//! * scrypt: diff-1 target = `0xFFFF * 2^224` ([`DIFF1_SCRYPT`]). Scrypt pools therefore scale
//!   difficulty by 65536 relative to sha256d: the same numeric difficulty means a target 65536
//!   times larger (easier) on a scrypt pool than on a sha256d pool.
//!
//! What it must never do: panic on any difficulty a pool can send (NaN, infinite, zero,
//! negative, tiny or huge values are handled), or do I/O.

use super::Target;

/// sha256d (Bitcoin) difficulty-1 target, `0xFFFF * 2^208`, little-endian.
pub const DIFF1_SHA256D: Target = diff1_at_byte(26);

/// scrypt (Litecoin family) difficulty-1 target, `0xFFFF * 2^224`, little-endian.
pub const DIFF1_SCRYPT: Target = diff1_at_byte(28);

const fn diff1_at_byte(low: usize) -> Target {
    let mut t = [0u8; 32];
    t[low] = 0xff;
    t[low + 1] = 0xff;
    Target(t)
}

/// The easiest possible target (every hash meets it).
pub const TARGET_MAX: Target = Target([0xff; 32]);

/// Why a difficulty could not be turned into a target.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum DifficultyError {
    #[error("difficulty {0} is not a finite positive number")]
    NotPositiveFinite(f64),
}

/// 512-bit little-endian limbs: room for diff1 shifted left by up to 288 bits.
type Wide = [u64; 8];

fn to_wide(t: &Target) -> Wide {
    let mut limbs = [0u64; 8];
    for (i, limb) in limbs.iter_mut().take(4).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&t.0[i * 8..i * 8 + 8]);
        *limb = u64::from_le_bytes(b);
    }
    limbs
}

/// The low 256 bits as a target, or `None` if the value does not fit.
fn from_wide(limbs: &Wide) -> Option<Target> {
    if limbs[4..].iter().any(|l| *l != 0) {
        return None;
    }
    let mut t = [0u8; 32];
    for (i, limb) in limbs.iter().take(4).enumerate() {
        t[i * 8..i * 8 + 8].copy_from_slice(&limb.to_le_bytes());
    }
    Some(Target(t))
}

fn shr(v: &Wide, n: u32) -> Wide {
    let mut out = [0u64; 8];
    let words = (n / 64) as usize;
    let bits = n % 64;
    for (i, o) in out.iter_mut().enumerate() {
        let Some(&lo) = v.get(i + words) else { break };
        let hi = match v.get(i + words + 1) {
            Some(h) if bits > 0 => h << (64 - bits),
            _ => 0,
        };
        *o = (lo >> bits) | hi;
    }
    out
}

/// Shift left; the caller guarantees no set bit is shifted out of 512 bits.
fn shl(v: &Wide, n: u32) -> Wide {
    let mut out = [0u64; 8];
    let words = (n / 64) as usize;
    let bits = n % 64;
    for i in words..8 {
        let hi = v[i - words] << bits;
        let lo = if bits > 0 && i > words {
            v[i - words - 1] >> (64 - bits)
        } else {
            0
        };
        out[i] = hi | lo;
    }
    out
}

fn bit_length(v: &Wide) -> u32 {
    for (i, limb) in v.iter().enumerate().rev() {
        if *limb != 0 {
            return 64 * i as u32 + (64 - limb.leading_zeros());
        }
    }
    0
}

/// Divide by a non-zero u64 (floor).
fn div_small(v: &Wide, d: u64) -> Wide {
    let mut out = [0u64; 8];
    let mut rem: u128 = 0;
    for i in (0..8).rev() {
        let cur = (rem << 64) | u128::from(v[i]);
        out[i] = (cur / u128::from(d)) as u64;
        rem = cur % u128::from(d);
    }
    out
}

/// Share target for `difficulty` on an algorithm whose difficulty-1 target is `diff1`:
/// `floor(diff1 / difficulty)`, saturating at [`TARGET_MAX`] for tiny difficulties.
/// Exact for any f64 difficulty (full 53-bit mantissa), not only powers of two.
pub fn target_from_difficulty(diff1: &Target, difficulty: f64) -> Result<Target, DifficultyError> {
    if !difficulty.is_finite() || difficulty <= 0.0 {
        return Err(DifficultyError::NotPositiveFinite(difficulty));
    }
    // Decompose difficulty = mantissa * 2^exp with an odd integer mantissa < 2^53.
    let bits = difficulty.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mantissa, exp) = if raw_exp == 0 {
        (frac, -1074) // subnormal
    } else {
        (frac | (1u64 << 52), raw_exp - 1075)
    };
    let tz = mantissa.trailing_zeros();
    let mantissa = mantissa >> tz;
    let exp = exp + tz as i32;
    let d1 = to_wide(diff1);
    let len = bit_length(&d1);
    if len == 0 {
        return Ok(Target([0; 32]));
    }
    let scaled = if exp >= 0 {
        shr(&d1, exp.unsigned_abs().min(512))
    } else {
        let shift = exp.unsigned_abs();
        // quotient >= 2^(len - 1 + shift - 53); past 256 bits it saturates anyway.
        if len - 1 + shift >= 256 + 53 || len + shift > 512 {
            return Ok(TARGET_MAX);
        }
        shl(&d1, shift)
    };
    Ok(from_wide(&div_small(&scaled, mantissa)).unwrap_or(TARGET_MAX))
}

/// Approximate difficulty of `target` relative to `diff1` (for display and statistics).
pub fn difficulty_of_target(diff1: &Target, target: &Target) -> f64 {
    let to_f = |t: &Target| {
        t.0.iter()
            .rev()
            .fold(0.0f64, |acc, b| acc * 256.0 + f64::from(*b))
    };
    let t = to_f(target);
    if t == 0.0 {
        return f64::INFINITY;
    }
    to_f(diff1) / t
}

/// True when `hash` (as produced by the hash function, read little-endian) is `<= target`.
pub fn hash_meets_target(hash: &[u8; 32], target: &Target) -> bool {
    for i in (0..32).rev() {
        if hash[i] != target.0[i] {
            return hash[i] < target.0[i];
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be_hex(t: &Target) -> String {
        let mut b = t.0;
        b.reverse();
        hex::encode(b)
    }

    #[test]
    fn diff1_constants() {
        assert_eq!(
            be_hex(&DIFF1_SHA256D),
            "00000000ffff0000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(
            be_hex(&DIFF1_SCRYPT),
            "0000ffff00000000000000000000000000000000000000000000000000000000"
        );
    }

    #[test]
    fn difficulty_one_is_diff1() {
        for d1 in [DIFF1_SHA256D, DIFF1_SCRYPT] {
            assert_eq!(target_from_difficulty(&d1, 1.0), Ok(d1));
        }
    }

    #[test]
    fn powers_of_two_are_exact() {
        let t = target_from_difficulty(&DIFF1_SHA256D, 2.0).expect("valid");
        assert_eq!(
            be_hex(&t),
            "000000007fff8000000000000000000000000000000000000000000000000000"
        );
        let t = target_from_difficulty(&DIFF1_SHA256D, 1.0 / 64.0).expect("valid");
        assert_eq!(
            be_hex(&t),
            "0000003fffc00000000000000000000000000000000000000000000000000000"
        );
        // scrypt diff 65536 == sha256d diff 1 as a target.
        let t = target_from_difficulty(&DIFF1_SCRYPT, 65536.0).expect("valid");
        assert_eq!(t, DIFF1_SHA256D);
    }

    #[test]
    fn non_power_of_two() {
        // 0xFFFF * 2^208 / 3 = 0x5555 * 2^208
        let t = target_from_difficulty(&DIFF1_SHA256D, 3.0).expect("valid");
        assert_eq!(
            be_hex(&t),
            "0000000055550000000000000000000000000000000000000000000000000000"
        );
        let d = difficulty_of_target(&DIFF1_SHA256D, &t);
        assert!((d - 3.0).abs() < 1e-9, "{d}");
    }

    #[test]
    fn fractional_difficulties_are_exact() {
        // A difficulty that is not a power of two below 1, as pools send (0.001, or a
        // power of two that went through a JSON round trip off by one ULP: 2^-24 one ULP up).
        let d = f64::from_bits(2f64.powi(-24).to_bits() + 1);
        let t = target_from_difficulty(&DIFF1_SHA256D, d).expect("valid");
        let got = difficulty_of_target(&DIFF1_SHA256D, &t);
        assert!((got / d - 1.0).abs() < 1e-12, "{got} vs {d}");
        assert!(be_hex(&t).starts_with("00fffe"), "{}", be_hex(&t)); // just below 0x00ffff << 224
        for d in [0.001, 0.37, 1.5, 1e-9, 123456.789, 65536.0 * 3.0] {
            for d1 in [DIFF1_SHA256D, DIFF1_SCRYPT] {
                let t = target_from_difficulty(&d1, d).expect("valid");
                if d1 == DIFF1_SCRYPT && d < 1.0 / 65535.0 {
                    assert_eq!(t, TARGET_MAX, "beyond 2^256: saturates");
                    continue;
                }
                let got = difficulty_of_target(&d1, &t);
                assert!((got / d - 1.0).abs() < 1e-9, "{got} vs {d}");
            }
        }
    }

    #[test]
    fn extreme_difficulties() {
        assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 1e-300), Ok(TARGET_MAX));
        assert_eq!(target_from_difficulty(&DIFF1_SHA256D, 1e300), Ok(Target([0; 32])));
        assert_eq!(
            target_from_difficulty(&DIFF1_SHA256D, f64::MIN_POSITIVE / 4.0),
            Ok(TARGET_MAX)
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(target_from_difficulty(&DIFF1_SHA256D, bad).is_err());
        }
    }

    #[test]
    fn meets_target_compares_little_endian() {
        let target = DIFF1_SHA256D;
        let mut hash = [0u8; 32];
        assert!(hash_meets_target(&hash, &target));
        hash[27] = 0xff;
        hash[26] = 0xff;
        assert!(hash_meets_target(&hash, &target)); // equal
        hash[0] = 1;
        assert!(!hash_meets_target(&hash, &target)); // just above
        let mut hash = [0xffu8; 32];
        hash[31] = 0;
        hash[30] = 0;
        hash[29] = 0;
        hash[28] = 0;
        hash[27] = 0xfe;
        assert!(hash_meets_target(&hash, &target));
    }
}

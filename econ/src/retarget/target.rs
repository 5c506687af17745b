//! Proof-of-work targets as 256-bit integers and their compact `nBits` encoding, with just the
//! arithmetic the retarget rules need (multiply and divide by a small number, shifts, compare),
//! done exactly as Bitcoin Core's `arith_uint256` does, so a retarget reproduces consensus bit
//! for bit. Five 64-bit limbs hold the product before the division, so nothing overflows
//! silently; consensus' own 256-bit truncation is applied where the coins apply it.
//!
//! Must never accept a negative or overflowing compact value (those are invalid targets).

/// Little-endian 64-bit limbs; limb 4 only ever holds a product's overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target([u64; 5]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("compact bits {0:#010x} are negative")]
    Negative(u32),
    #[error("compact bits {0:#010x} overflow 256 bits")]
    Overflow(u32),
    #[error("compact bits {0:#010x} encode a zero target")]
    Zero(u32),
}

impl Target {
    pub const ZERO: Target = Target([0; 5]);

    /// From four little-endian 64-bit words (a 256-bit value).
    pub fn from_words(w: [u64; 4]) -> Target {
        Target([w[0], w[1], w[2], w[3], 0])
    }

    /// `nBits` -> target (Core's `SetCompact`), refusing negative, overflowing and zero targets.
    pub fn from_compact(bits: u32) -> Result<Target, CompactError> {
        let size = bits >> 24;
        let mut word = bits & 0x007f_ffff;
        let t = if size <= 3 {
            word >>= 8 * (3 - size);
            Target([u64::from(word), 0, 0, 0, 0])
        } else {
            Target([u64::from(word), 0, 0, 0, 0]).shl_bits(8 * (size - 3))
        };
        if word != 0 && bits & 0x0080_0000 != 0 {
            return Err(CompactError::Negative(bits));
        }
        if word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32)) {
            return Err(CompactError::Overflow(bits));
        }
        if t == Target::ZERO {
            return Err(CompactError::Zero(bits));
        }
        Ok(t)
    }

    /// target -> `nBits` (Core's `GetCompact`): the top three significant bytes, rounded down.
    pub fn to_compact(self) -> u32 {
        let mut size = self.bits().div_ceil(8);
        let mut compact = if size <= 3 {
            (self.0[0] << (8 * (3 - size))) as u32
        } else {
            self.shr_bits(8 * (size - 3)).0[0] as u32
        };
        if compact & 0x0080_0000 != 0 {
            compact >>= 8;
            size += 1;
        }
        compact | (size << 24)
    }

    /// Number of significant bits.
    pub fn bits(self) -> u32 {
        for i in (0..5).rev() {
            if self.0[i] != 0 {
                return 64 * i as u32 + 64 - self.0[i].leading_zeros();
            }
        }
        0
    }

    pub fn shl_bits(self, n: u32) -> Target {
        let mut out = [0u64; 5];
        let (words, rem) = ((n / 64) as usize, n % 64);
        for i in (0..5).rev() {
            if i >= words {
                let src = i - words;
                out[i] = self.0[src] << rem;
                if rem > 0 && src > 0 {
                    out[i] |= self.0[src - 1] >> (64 - rem);
                }
            }
        }
        Target(out)
    }

    pub fn shr_bits(self, n: u32) -> Target {
        let mut out = [0u64; 5];
        let (words, rem) = ((n / 64) as usize, n % 64);
        for (i, slot) in out.iter_mut().enumerate() {
            let src = i + words;
            if src < 5 {
                *slot = self.0[src] >> rem;
                if rem > 0 && src + 1 < 5 {
                    *slot |= self.0[src + 1] << (64 - rem);
                }
            }
        }
        Target(out)
    }

    /// self x m, into the fifth limb if it must (the caller truncates to 256 bits if consensus
    /// does).
    pub fn mul_u64(self, m: u64) -> Target {
        let mut out = [0u64; 5];
        let mut carry = 0u128;
        for (i, slot) in out.iter_mut().enumerate() {
            let p = u128::from(self.0[i]) * u128::from(m) + carry;
            *slot = p as u64;
            carry = p >> 64;
        }
        Target(out)
    }

    /// self / d, rounded down; `d` must not be zero.
    pub fn div_u64(self, d: u64) -> Target {
        let mut out = [0u64; 5];
        let mut rem = 0u128;
        for i in (0..5).rev() {
            let cur = (rem << 64) | u128::from(self.0[i]);
            out[i] = (cur / u128::from(d)) as u64;
            rem = cur % u128::from(d);
        }
        Target(out)
    }

    /// Drops everything above bit 255, as `arith_uint256` arithmetic does.
    pub fn truncate_256(self) -> Target {
        Target([self.0[0], self.0[1], self.0[2], self.0[3], 0])
    }

    pub fn to_f64(self) -> f64 {
        self.0
            .iter()
            .rev()
            .fold(0.0, |acc, &w| acc * 18_446_744_073_709_551_616.0 + w as f64)
    }

    /// Bitcoin's difficulty of this target: 0xffff x 2^208 / target (difficulty 1 = 0x1d00ffff),
    /// the definition every table and explorer uses for Bitcoin and its scrypt forks.
    pub fn difficulty(self) -> f64 {
        65535.0 * 2f64.powi(208) / self.to_f64()
    }
}

impl PartialOrd for Target {
    fn partial_cmp(&self, other: &Target) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Target {
    fn cmp(&self, other: &Target) -> std::cmp::Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_round_trips_and_known_difficulties() {
        // Genesis 0x1d00ffff: target 0xffff << 208, difficulty exactly 1.
        let g = Target::from_compact(0x1d00_ffff).expect("genesis");
        assert_eq!(g, Target([0xffff, 0, 0, 0, 0]).shl_bits(208));
        assert_eq!(g.difficulty(), 1.0);
        assert_eq!(g.to_compact(), 0x1d00_ffff);
        // btc_retargets.csv row 794,304: bits 0x1705606d, difficulty 52,350,439,455,487.47.
        let t = Target::from_compact(0x1705_606d).expect("t");
        assert!((t.difficulty() / 52_350_439_455_487.47 - 1.0).abs() < 1e-12);
        assert_eq!(t.to_compact(), 0x1705_606d);
        // Litecoin genesis 0x1e0ffff0: 0.000244140625 = 2^-12 exactly.
        assert_eq!(
            Target::from_compact(0x1e0f_fff0).expect("ltc").difficulty(),
            0.000244140625
        );
        // A mantissa with the sign bit set is stored one byte longer: 0x00800000 at size 4.
        let t = Target([0x80, 0, 0, 0, 0]).shl_bits(8 * 3);
        assert_eq!(t.to_compact(), 0x0500_8000);
        assert_eq!(Target::from_compact(0x0500_8000), Ok(t));
        // Small sizes shift right: 0x02123456 is 0x1234.
        assert_eq!(
            Target::from_compact(0x0212_3456),
            Ok(Target([0x1234, 0, 0, 0, 0]))
        );
    }

    #[test]
    fn invalid_compact_values_are_refused() {
        assert_eq!(
            Target::from_compact(0x0480_0001),
            Err(CompactError::Negative(0x0480_0001))
        );
        assert_eq!(
            Target::from_compact(0x2301_0000),
            Err(CompactError::Overflow(0x2301_0000))
        );
        assert_eq!(
            Target::from_compact(0x0100_0000),
            Err(CompactError::Zero(0x0100_0000))
        );
    }

    #[test]
    fn arithmetic_is_exact() {
        let g = Target::from_compact(0x1d00_ffff).expect("g");
        assert_eq!(g.mul_u64(1_209_600).div_u64(1_209_600), g);
        assert_eq!(g.mul_u64(4).bits(), g.bits() + 2);
        assert_eq!(g.shl_bits(3).shr_bits(3), g);
        assert!(g.shr_bits(1) < g);
        // 2^255 x 2 lands in the fifth limb and truncates to zero as uint256 would.
        let top = Target([1, 0, 0, 0, 0]).shl_bits(255);
        assert_eq!(top.mul_u64(2).truncate_256(), Target::ZERO);
        assert_eq!(top.mul_u64(2).bits(), 257);
    }
}

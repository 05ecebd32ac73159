//! Deterministic randomness: every generated value is a pure function of
//! `(seed, company, what, index)`, so any record can be rebuilt alone, in any order.

/// SplitMix64 finaliser: a fast, well-mixed 64-bit hash.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stream of pseudo-random numbers for one record, derived from the world's key.
#[derive(Debug, Clone)]
pub(crate) struct Dice {
    state: u64,
}

impl Dice {
    /// The dice of record `index` of kind `tag` in the world keyed `key`.
    pub(crate) fn new(key: u64, tag: u64, index: u64) -> Self {
        Dice {
            state: mix(key ^ mix(tag.wrapping_mul(0x1000_0000_01B3) ^ mix(index))),
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0)");
        self.next() % n.max(1)
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_numbers_and_different_indexes_differ() {
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Dice::new(1, 2, 3), |d, _| Some(d.next()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Dice::new(1, 2, 3), |d, _| Some(d.next()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(Dice::new(1, 2, 4), |d, _| Some(d.next()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut d = Dice::new(9, 9, 9);
        assert!((0..1000).all(|_| d.range(3, 7) >= 3 && d.range(3, 7) <= 7));
    }
}

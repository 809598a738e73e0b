//! A set of UIDs as a bit vector: what index lookups produce and combine.
//! Owns nothing else.

/// UIDs as bits (bit `u` set for UID `u`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidBits(Vec<u64>);

impl UidBits {
    /// Adds `uid`.
    pub fn set(&mut self, uid: u32) {
        let (w, b) = ((uid / 64) as usize, uid % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.0
            .get((uid / 64) as usize)
            .is_some_and(|w| w & (1 << (uid % 64)) != 0)
    }

    /// Keeps only the UIDs also in `other`.
    pub fn intersect(&mut self, other: &UidBits) {
        self.0.truncate(other.0.len());
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a &= b;
        }
    }

    /// The UIDs, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            (0..64u32)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i as u32 * 64 + b)
        })
    }

    /// How many UIDs.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_contains_intersect() {
        let mut a = UidBits::default();
        for u in [1, 63, 64, 1000] {
            a.set(u);
        }
        assert!(a.contains(64) && !a.contains(65) && !a.contains(1_000_000));
        let mut b = UidBits::default();
        b.set(64);
        b.set(2);
        a.intersect(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![64]);
        assert_eq!(a.len(), 1);
        b.intersect(&UidBits::default());
        assert!(b.is_empty());
    }
}

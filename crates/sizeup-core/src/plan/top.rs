//! A streaming top N: the best `n` items seen, in memory that does not grow
//! with the number of items offered.

use std::collections::BinaryHeap;

/// The `n` smallest items offered so far (smaller is better).
///
/// Memory is `O(n)` whatever the number of offers; each offer costs
/// `O(log n)` at worst and one comparison when the item cannot enter.
/// Ties are broken by the items' own order, so merging the tops of
/// several workers gives the same result in any order.
///
/// ```
/// use sizeup_core::plan::TopN;
/// let mut top = TopN::new(2);
/// for x in [5, 1, 4, 2, 3] {
///     top.offer(x);
/// }
/// assert_eq!(top.into_sorted(), vec![1, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct TopN<T: Ord> {
    n: usize,
    // A max-heap: its top is the worst of the best `n`, the one to evict.
    heap: BinaryHeap<T>,
}

impl<T: Ord> TopN<T> {
    /// An empty top `n`.
    pub fn new(n: usize) -> TopN<T> {
        TopN {
            n,
            heap: BinaryHeap::with_capacity(n.saturating_add(1).min(1024)),
        }
    }

    /// Whether an item ranked `item` would enter now.
    pub fn would_enter(&self, item: &T) -> bool {
        self.n > 0 && (self.heap.len() < self.n || self.heap.peek().is_some_and(|w| item < w))
    }

    /// Offer an item; it stays if it is among the best `n` so far.
    pub fn offer(&mut self, item: T) {
        if !self.would_enter(&item) {
            return;
        }
        if self.heap.len() == self.n {
            self.heap.pop();
        }
        self.heap.push(item);
    }

    /// Offer every item of another top (for merging workers' tops).
    pub fn merge(mut self, other: TopN<T>) -> TopN<T> {
        for item in other.heap {
            self.offer(item);
        }
        self
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The items, best first.
    pub fn into_sorted(self) -> Vec<T> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keeps_the_n_smallest_in_any_split(xs in proptest::collection::vec(0u32..1000, 0..200), n in 0usize..12, cut in 0usize..200) {
            let mut sorted = xs.clone();
            sorted.sort();
            sorted.truncate(n);
            let cut = cut.min(xs.len());
            let mut a = TopN::new(n);
            let mut b = TopN::new(n);
            for &x in &xs[..cut] { a.offer(x); }
            for &x in &xs[cut..] { b.offer(x); }
            prop_assert_eq!(a.merge(b).into_sorted(), sorted);
        }
    }
}

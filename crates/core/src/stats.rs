//! Figures the store keeps about itself, for the server's `/metrics` (docs/metrics.md).
//!
//! The store must not depend on a metrics library or on the server, so it counts with plain
//! atomics here and the server reads a [`StoreStats`] snapshot at scrape time. The writer
//! thread records one batch with a handful of relaxed atomic adds: nothing that could slow the
//! group commit.

use std::sync::atomic::{AtomicU64, Ordering};

/// A histogram over whole numbers with fixed upper bounds, counted with atomics. Values are
/// kept in the unit they are observed in (a batch's commands, microseconds) and scaled to the
/// exported unit by the snapshot, so that observing is integer arithmetic only.
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds: &'static [u64],
    /// One counter per bound, then one for values above the last bound.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl AtomicHistogram {
    /// `bounds` must be increasing: the inclusive upper bound of each bucket.
    pub fn new(bounds: &'static [u64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: u64) {
        let i = self.bounds.partition_point(|b| *b < value);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The counts so far, with bounds and sum divided by `per_unit` (1e6 turns microseconds
    /// into seconds; a division, so that 25,000 µs is exactly the `0.025` a person writes).
    /// Read without a lock: under load the sum may be a batch ahead of the buckets, which a
    /// scrape cannot tell from a moment later.
    pub fn snapshot(&self, per_unit: f64) -> HistogramSnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot {
            bounds: self.bounds.iter().map(|b| *b as f64 / per_unit).collect(),
            count: counts.iter().sum(),
            counts,
            sum: self.sum.load(Ordering::Relaxed) as f64 / per_unit,
        }
    }
}

/// A histogram as read: `counts[i]` values fell in bucket `i` (not cumulative), whose upper
/// bound is `bounds[i]`; the last count is for values above every bound.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections the pool holds.
    pub size: u64,
    /// Of those, how many are serving a query now.
    pub in_use: u64,
}

/// The store's figures at one moment; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    /// Commands per group commit.
    pub batch_size: HistogramSnapshot,
    /// Seconds from a batch's BEGIN to its durable COMMIT, retries included.
    pub commit_seconds: HistogramSnapshot,
    /// Writes waiting for the writer thread, and how many may wait.
    pub queue_depth: u64,
    pub queue_capacity: u64,
    /// The reader connections, and the writer's one connection (in use while a batch runs).
    pub readers: PoolState,
    pub writer: PoolState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = AtomicHistogram::new(&[1, 4, 16]);
        for v in [0, 1, 2, 4, 5, 16, 17, 1000] {
            h.observe(v);
        }
        let s = h.snapshot(1.0);
        assert_eq!(s.counts, vec![2, 2, 2, 2]);
        assert_eq!(s.count, 8);
        assert_eq!(s.sum, 1045.0);
        assert_eq!(h.snapshot(2.0).bounds, vec![0.5, 2.0, 8.0]);
    }
}

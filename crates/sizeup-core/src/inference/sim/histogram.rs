//! A log-bucket histogram: percentiles of a sample stream in bounded memory.
//!
//! The inter-token latency has one sample per generated token, and output
//! lengths are not capped the way the request count is; keeping every sample
//! would let one run allocate without bound. The histogram keeps counts in
//! buckets of equal relative width instead, so its size depends on the range of
//! the values, never on their number.

use super::metrics::Percentiles;

/// Mantissa bits a bucket keeps: each power of two is split into `2^7 = 128`
/// buckets of equal width.
const MANTISSA_BITS: u32 = 7;

/// Low bits of an `f64` dropped from a value to give its bucket.
const DROPPED_BITS: u32 = f64::MANTISSA_DIGITS - 1 - MANTISSA_BITS;

/// The most a reported percentile differs from the exact nearest-rank
/// percentile, relative to it: `2^-(7+1) = 1/256 ≈ 0.39 %`.
///
/// # Formula
/// A value `v` in `[2^e, 2^(e+1))` falls in a bucket `[lo, lo·(1 + 2^-7))` with
/// `lo ≤ v`; the bucket reports its midpoint clamped to the smallest and largest
/// sample, at most `lo · 2^-8 ≤ v · 2^-8` from `v`.
///
/// # Assumptions / limits
/// Holds for normal floating-point values (above `2.2e-308`); the mean and the
/// largest sample are exact.
pub const RELATIVE_ERROR: f64 = 1.0 / (1u64 << (MANTISSA_BITS + 1)) as f64;

/// Counts of non-negative values in buckets of relative width `2^-7`.
///
/// A bucket's key is the value's bit pattern with its low mantissa bits
/// dropped, which orders like the value for non-negative floats; the counts
/// span only the keys seen, at most `2^11 · 2^7 = 262,144` buckets (2 MiB) for
/// values from zero to infinity, about 128 per power of two in practice.
#[derive(Debug, Clone, Default)]
pub(super) struct LogHistogram {
    /// Key of `counts[0]`.
    first: u64,
    counts: Vec<u64>,
    samples: u64,
    sum: f64,
    min: f64,
    max: f64,
}

fn key(v: f64) -> u64 {
    v.to_bits() >> DROPPED_BITS
}

impl LogHistogram {
    /// Record `value` seen `count` times. Latencies are never negative (the
    /// clock only moves forward); a negative or NaN value counts as zero so
    /// that it cannot reorder the buckets.
    pub(super) fn record(&mut self, value: f64, count: u64) {
        if count == 0 {
            return;
        }
        let v = value.max(0.0);
        let k = key(v);
        if self.counts.is_empty() {
            self.first = k;
            self.counts.push(0);
            self.min = v;
            self.max = v;
        } else if k < self.first {
            let extra = (self.first - k) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, extra));
            self.first = k;
        }
        let at = (k - self.first) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += count;
        self.samples += count;
        self.sum += v * count as f64;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// The value reported for bucket `at`: its midpoint, clamped to the samples' range
    /// (the bucket of +∞, whose upper edge is no number, reports the largest sample).
    fn value_of(&self, at: usize) -> f64 {
        let k = self.first + at as u64;
        let lo = f64::from_bits(k << DROPPED_BITS);
        let hi = f64::from_bits((k + 1) << DROPPED_BITS);
        let mid = lo + (hi - lo) / 2.0;
        if mid.is_nan() {
            return self.max;
        }
        mid.clamp(self.min, self.max)
    }

    /// The nearest-rank `p`-th percentile, within [`RELATIVE_ERROR`] of the exact one.
    fn percentile(&self, p: u64) -> f64 {
        let rank = (p * self.samples).div_ceil(100).max(1);
        let mut seen = 0;
        for (at, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return self.value_of(at);
            }
        }
        self.max
    }

    /// Percentiles of what was recorded: mean and maximum exact, the others
    /// within [`RELATIVE_ERROR`] of the nearest-rank percentile of the samples.
    pub(super) fn percentiles(&self) -> Percentiles {
        if self.samples == 0 {
            return Percentiles::default();
        }
        Percentiles {
            samples: self.samples,
            mean: self.sum / self.samples as f64,
            p50: self.percentile(50),
            p90: self.percentile(90),
            p95: self.percentile(95),
            p99: self.percentile(99),
            max: self.max,
        }
    }

    /// Buckets held.
    #[cfg(test)]
    fn buckets(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_stay_within_the_stated_error_of_the_exact_ones() {
        // 20,000 gaps spread over five powers of ten, some repeated (a step that
        // gives several requests their token at once), as a run's ITL is
        let mut rng = fastrand::Rng::with_seed(7);
        let mut h = LogHistogram::default();
        let mut exact = Vec::new();
        for _ in 0..20_000 {
            let v = 1e-4 * 10f64.powf(5.0 * rng.f64());
            let c = rng.u64(1..5);
            h.record(v, c);
            exact.push((v, c));
        }
        let want = Percentiles::of_weighted(&mut exact);
        let got = h.percentiles();
        assert_eq!(got.samples, want.samples);
        assert_eq!(got.max, want.max);
        assert!((got.mean / want.mean - 1.0).abs() < 1e-12);
        for (g, w) in [
            (got.p50, want.p50),
            (got.p90, want.p90),
            (got.p95, want.p95),
            (got.p99, want.p99),
        ] {
            assert!((g / w - 1.0).abs() <= RELATIVE_ERROR, "{g} vs {w}");
            assert_ne!(g, 0.0);
        }
        // five decades are 16.6 powers of two, 128 buckets each
        assert!(h.buckets() <= 17 * 128, "{}", h.buckets());
    }

    #[test]
    fn one_repeated_value_is_reported_exactly() {
        let mut h = LogHistogram::default();
        h.record(0.0123, 1_000_000);
        let p = h.percentiles();
        assert_eq!(
            (p.p50, p.p99, p.max, p.samples),
            (0.0123, 0.0123, 0.0123, 1_000_000)
        );
        assert_eq!(h.buckets(), 1);
    }

    #[test]
    fn memory_depends_on_the_range_not_the_count() {
        let mut h = LogHistogram::default();
        for i in 0..1_000_000u64 {
            h.record(0.010 + (i % 1000) as f64 * 1e-5, 1);
        }
        // 10 ms to 20 ms lie in one power of two: at most 129 buckets
        assert!(h.buckets() <= 129, "{}", h.buckets());
        // the widest range there is, zero to infinity, is still bounded
        h.record(0.0, 1);
        h.record(f64::INFINITY, 1);
        h.record(-1.0, 1);
        assert_eq!(h.buckets(), (key(f64::INFINITY) + 1) as usize);
        assert_eq!(h.percentiles().samples, 1_000_003);
        // a percentile that lands on the infinite sample reports it, not NaN
        let mut top = LogHistogram::default();
        top.record(0.01, 1);
        top.record(f64::INFINITY, 1);
        assert_eq!(top.percentiles().p99, f64::INFINITY);
    }
}

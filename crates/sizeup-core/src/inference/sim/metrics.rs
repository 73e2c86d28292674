//! Latency percentiles by nearest rank, and time averages over a run.

use serde::{Deserialize, Serialize};

/// The distribution of one latency, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Percentiles {
    /// Samples (requests, or tokens for the inter-token latency).
    pub samples: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// 50th percentile (median).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl Percentiles {
    /// Every figure but the sample count moved by `seconds`: the latencies of
    /// the same requests with a fixed time added to each.
    pub fn shifted(self, seconds: f64) -> Percentiles {
        Percentiles {
            samples: self.samples,
            mean: self.mean + seconds,
            p50: self.p50 + seconds,
            p90: self.p90 + seconds,
            p95: self.p95 + seconds,
            p99: self.p99 + seconds,
            max: self.max + seconds,
        }
    }

    /// Percentiles of `samples`, each `(value, count)`: a value seen `count` times.
    ///
    /// # Formula
    /// nearest rank: the `p`-th percentile of `N` samples sorted ascending is the
    /// sample of rank `⌈p/100 · N⌉` (1-based), so at least `p` % of the samples are
    /// at or below it and it is always one of them
    ///
    /// # Source
    /// NIST/SEMATECH e-Handbook §7.2.6.2 lists nearest rank among the percentile
    /// definitions; it is the one that never interpolates between samples.
    pub fn of_weighted(samples: &mut [(f64, u64)]) -> Percentiles {
        let n: u64 = samples.iter().map(|s| s.1).sum();
        if n == 0 {
            return Percentiles::default();
        }
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mean = samples.iter().map(|&(v, c)| v * c as f64).sum::<f64>() / n as f64;
        let at = |p: u64| {
            // ⌈p·N/100⌉ in integers, at least 1
            let rank = (p * n).div_ceil(100).max(1);
            let mut seen = 0;
            for &(v, c) in samples.iter() {
                seen += c;
                if seen >= rank {
                    return v;
                }
            }
            samples.last().map_or(0.0, |s| s.0)
        };
        Percentiles {
            samples: n,
            mean,
            p50: at(50),
            p90: at(90),
            p95: at(95),
            p99: at(99),
            max: samples.last().map_or(0.0, |s| s.0),
        }
    }

    /// Percentiles of `values`, each seen once.
    pub fn of(values: &[f64]) -> Percentiles {
        let mut weighted: Vec<(f64, u64)> = values.iter().map(|&v| (v, 1)).collect();
        Percentiles::of_weighted(&mut weighted)
    }
}

/// A quantity's time average and largest value over a run.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Level {
    /// Mean over simulated time, `∫ x dt / T`.
    pub mean: f64,
    /// Largest value held.
    pub max: f64,
}

/// Accumulates `∫ x dt` and the largest `x`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimeAverage {
    integral: f64,
    max: f64,
}

impl TimeAverage {
    /// `x` held for `dt` seconds.
    pub(super) fn hold(&mut self, x: f64, dt: f64) {
        self.integral += x * dt;
        if x > self.max {
            self.max = x;
        }
    }

    /// Add `area` (value × seconds) held before now by an arrival between steps,
    /// which brought the value to `x` (for a positive time only if `area > 0`).
    pub(super) fn add_area(&mut self, area: f64, x: f64) {
        self.integral += area;
        if area > 0.0 && x > self.max {
            self.max = x;
        }
    }

    pub(super) fn level(&self, seconds: f64) -> Level {
        Level {
            mean: if seconds > 0.0 {
                self.integral / seconds
            } else {
                0.0
            },
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_picks_a_sample() {
        // 1..=10: p50 is rank ⌈5⌉ = 5, p90 rank 9, p95 rank ⌈9.5⌉ = 10, p99 rank 10
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let p = Percentiles::of(&v);
        assert_eq!(
            (p.p50, p.p90, p.p95, p.p99, p.max),
            (5.0, 9.0, 10.0, 10.0, 10.0)
        );
        assert_eq!(p.mean, 5.5);
        // weights count as repeated samples: 99 × 1.0 and 1 × 2.0, p99 is rank 99
        let mut w = vec![(2.0, 1), (1.0, 99)];
        let p = Percentiles::of_weighted(&mut w);
        assert_eq!((p.p99, p.max, p.samples), (1.0, 2.0, 100));
    }
}

//! Axis ranges and ticks: where the ticks go and what they read.
//!
//! Ticks are chosen here rather than by plotters so that they fall on values a
//! reader expects for the unit: powers of two on log axes of tokens and bytes
//! (`4k 8k 16k`), multiples of 1024 on linear token axes, 1-2-5 steps in the
//! axis's display unit (GiB, ms) elsewhere.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use super::{Axis, AxisUnit};
use crate::humanize::{self, ByteUnits};

/// The most ticks an axis gets; fewer when the plot is narrow.
const MAX_TICKS: usize = 10;
/// The number of intervals a linear axis aims for.
const TARGET_INTERVALS: f64 = 6.0;

/// One axis as drawn: its range, scale, ticks and how ticks read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AxisRange {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
    labels: TickLabels,
}

/// How a tick value becomes text.
#[derive(Debug, Clone, PartialEq)]
enum TickLabels {
    /// Each tick carries its own unit or suffix (`4k`, `64 MiB`, `$0.5`).
    PerTick(AxisUnit),
    /// Ticks are numbers in one display unit named in the axis title (`GiB`).
    Scaled { per_unit: f64, unit: &'static str },
    /// Tick `i` reads `names[i]` (categories of bars).
    Names(Vec<String>),
}

/// How far a linear axis reaches beyond its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extent {
    /// From zero (or a negative minimum) to the tick at or above the maximum:
    /// value axes, so that heights compare as proportions.
    FromZero,
    /// From the tick at or below the minimum to the maximum: the x axis,
    /// with no empty stretch past the last point.
    Data,
}

impl AxisRange {
    /// An axis spanning `values` (data and reference lines), for `axis`.
    pub fn numeric(
        axis: &Axis,
        extent: Extent,
        values: impl IntoIterator<Item = f64>,
    ) -> AxisRange {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            min = min.min(v);
            max = max.max(v);
        }
        if min > max {
            (min, max) = (if axis.log_scale { 1.0 } else { 0.0 }, 1.0);
        }
        if axis.log_scale {
            log_axis(axis.unit, min, max)
        } else {
            linear_axis(axis.unit, extent, min, max)
        }
    }

    /// Categories at 0, 1, 2… with a label each; only every `stride`th is
    /// labelled, so that labels wider than a bar do not overlap.
    pub fn categories(names: &[String], stride: usize) -> AxisRange {
        let stride = stride.max(1);
        AxisRange {
            lo: -0.5,
            hi: names.len() as f64 - 0.5,
            log: false,
            ticks: (0..names.len()).step_by(stride).map(|i| i as f64).collect(),
            labels: TickLabels::Names(names.to_vec()),
        }
    }

    /// The axis title: its label, the unit, and the scale when logarithmic.
    pub fn title(&self, axis: &Axis) -> String {
        let unit = match &self.labels {
            TickLabels::Scaled { unit, .. } => Some(*unit),
            TickLabels::PerTick(u) => match u {
                AxisUnit::Tokens => Some("tokens"),
                AxisUnit::TokensPerSec => Some("tokens/s"),
                AxisUnit::Usd => Some("USD"),
                AxisUnit::Bytes(_) => Some("bytes"),
                AxisUnit::Seconds => Some("time"),
                AxisUnit::Count | AxisUnit::Ratio => None,
            },
            TickLabels::Names(_) => None,
        };
        match (unit, self.log) {
            (Some(u), true) => format!("{} ({u}, log scale)", axis.label),
            (Some(u), false) => format!("{} ({u})", axis.label),
            (None, true) => format!("{} (log scale)", axis.label),
            (None, false) => axis.label.clone(),
        }
    }

    /// The text of the tick at `v`.
    pub fn label(&self, v: f64) -> String {
        match &self.labels {
            TickLabels::Scaled { per_unit, .. } => humanize::compact(v / per_unit),
            TickLabels::Names(names) => {
                let i = v.round();
                if i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
            TickLabels::PerTick(unit) => value_text(*unit, v),
        }
    }

    /// The tick values (for tests and label sizing).
    pub fn ticks(&self) -> &[f64] {
        &self.ticks
    }

    /// The low and high ends.
    pub fn bounds(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// Where `v` falls between the ends, 0 at `lo` and 1 at `hi`.
    fn fraction(&self, v: f64) -> f64 {
        let f = if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        if f.is_finite() {
            f
        } else {
            0.0
        }
    }
}

impl Ranged for AxisRange {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = f64::from(limit.1) - f64::from(limit.0);
        (f64::from(limit.0) + self.fraction(*value) * span).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let max = hint.max_num_points();
        if max == 0 {
            return Vec::new();
        }
        let stride = self.ticks.len().div_ceil(max).max(1);
        self.ticks.iter().copied().step_by(stride).collect()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for AxisRange {
    fn format_ext(&self, value: &f64) -> String {
        self.label(*value)
    }
}

/// One value as text that carries its unit: `4k`, `17.3 GiB`, `12 ms`, `$0.5`.
pub(super) fn value_text(unit: AxisUnit, v: f64) -> String {
    match unit {
        AxisUnit::Tokens => humanize::tokens_short(v),
        AxisUnit::Bytes(units) => humanize::bytes_short(v, units),
        AxisUnit::Seconds => humanize::seconds_short(v),
        AxisUnit::Count | AxisUnit::TokensPerSec => humanize::count_short(v),
        AxisUnit::Usd => format!("${}", humanize::compact(v)),
        AxisUnit::Ratio => format!("{}%", humanize::compact(v * 100.0)),
    }
}

/// A linear axis over `min..=max`, reaching as far as `extent` says.
fn linear_axis(unit: AxisUnit, extent: Extent, min: f64, max: f64) -> AxisRange {
    let lo_data = match extent {
        Extent::FromZero => min.min(0.0),
        Extent::Data => min,
    };
    let hi_data = if max > lo_data {
        max
    } else {
        lo_data + lo_data.abs().max(1.0)
    };
    let (per_unit, labels) = match unit {
        AxisUnit::Bytes(units) => {
            let (per_unit, unit) = humanize::byte_scale(hi_data, units);
            (per_unit, TickLabels::Scaled { per_unit, unit })
        }
        AxisUnit::Seconds => {
            let (per_unit, unit) = humanize::seconds_scale(hi_data);
            (per_unit, TickLabels::Scaled { per_unit, unit })
        }
        // Multiples of 1024 read as `4k`, `8k` on token axes.
        AxisUnit::Tokens if hi_data - lo_data >= 4096.0 => (1024.0, TickLabels::PerTick(unit)),
        _ => (1.0, TickLabels::PerTick(unit)),
    };
    let raw = (hi_data - lo_data) / per_unit / TARGET_INTERVALS;
    let step = if per_unit == 1024.0 && matches!(unit, AxisUnit::Tokens) {
        // 8k, 16k, 24k: powers of two of 1024 tokens, as contexts are sized
        2f64.powf(raw.log2().ceil().max(0.0)) * per_unit
    } else {
        nice_step(raw) * per_unit
    };
    let lo = (lo_data / step).floor() * step;
    let hi = match extent {
        Extent::FromZero => (hi_data / step).ceil() * step,
        Extent::Data => hi_data,
    };
    let count = ((hi - lo) / step + 1e-9).floor() as usize;
    let ticks = (0..=count).map(|i| lo + i as f64 * step).collect();
    AxisRange {
        lo,
        hi,
        log: false,
        ticks,
        labels,
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// A log axis over `min..=max`. Base 2 for tokens, counts and binary bytes,
/// from a power of two at or below `min` to one at or above `max`, ticks at
/// powers of two. Base 10 otherwise, its ends on 1-2-5 values (`50..10,000`),
/// ticks at powers of ten, and at 2 and 5 too when it spans two decades or less.
fn log_axis(unit: AxisUnit, min: f64, max: f64) -> AxisRange {
    let binary = matches!(
        unit,
        AxisUnit::Tokens | AxisUnit::Count | AxisUnit::Bytes(ByteUnits::Binary)
    );
    let base: f64 = if binary { 2.0 } else { 10.0 };
    let lo_exp = (min.log(base) + 1e-9).floor() as i32;
    let hi_exp = ((max.log(base) - 1e-9).ceil() as i32).max(lo_exp + 1);
    let (lo, hi, mut ticks) = if binary {
        let steps = (hi_exp - lo_exp) as usize;
        let stride = steps.div_ceil(MAX_TICKS - 1).max(1);
        let ticks = (lo_exp..=hi_exp)
            .step_by(stride)
            .map(|e| base.powi(e))
            .collect();
        (base.powi(lo_exp), base.powi(hi_exp), ticks)
    } else {
        let nice: Vec<f64> = (lo_exp..=hi_exp)
            .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * base.powi(e)))
            .collect();
        let lo = nice
            .iter()
            .copied()
            .rfind(|v| *v <= min * (1.0 + 1e-9))
            .unwrap_or(base.powi(lo_exp));
        let mut hi = nice
            .iter()
            .copied()
            .find(|v| *v >= max * (1.0 - 1e-9))
            .unwrap_or(base.powi(hi_exp));
        if hi <= lo {
            hi = nice.iter().copied().find(|v| *v > lo).unwrap_or(lo * base);
        }
        let in_range = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
        let few_decades = hi / lo <= 100.0 * (1.0 + 1e-9);
        let mut ticks: Vec<f64> = nice
            .iter()
            .copied()
            .filter(in_range)
            .filter(|v| few_decades || (v.log10().fract().abs() < 1e-9))
            .collect();
        let stride = ticks.len().div_ceil(MAX_TICKS).max(1);
        ticks = ticks.into_iter().step_by(stride).collect();
        (lo, hi, ticks)
    };
    ticks.retain(|t| t.is_finite() && *t > 0.0);
    AxisRange {
        lo,
        hi,
        log: true,
        ticks,
        labels: TickLabels::PerTick(unit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(r: &AxisRange) -> Vec<String> {
        r.ticks().iter().map(|t| r.label(*t)).collect()
    }

    #[test]
    fn log_token_axis_ticks_at_powers_of_two() {
        // a sweep of seq_len=4k..128k, doubling
        let axis = Axis::log("Context length", AxisUnit::Tokens);
        let r = AxisRange::numeric(&axis, Extent::FromZero, [4096.0, 131_072.0]);
        assert_eq!(labels(&r), ["4k", "8k", "16k", "32k", "64k", "128k"]);
        assert_eq!(r.title(&axis), "Context length (tokens, log scale)");
    }

    #[test]
    fn linear_byte_axis_is_labelled_in_one_unit() {
        // 0 .. 17.3 GiB: ticks every 5 GiB, unit in the title
        let axis = Axis::linear("Memory", AxisUnit::Bytes(ByteUnits::Binary));
        let r = AxisRange::numeric(&axis, Extent::FromZero, [1.0e9, 17.3 * 1024f64.powi(3)]);
        assert_eq!(labels(&r), ["0", "5", "10", "15", "20"]);
        assert_eq!(r.title(&axis), "Memory (GiB)");
        assert_eq!(r.bounds(), (0.0, 20.0 * 1024f64.powi(3)));
    }

    #[test]
    fn linear_token_axis_uses_multiples_of_1024() {
        let axis = Axis::linear("Context", AxisUnit::Tokens);
        let r = AxisRange::numeric(&axis, Extent::FromZero, [4096.0, 32_768.0]);
        assert_eq!(labels(&r), ["0", "8k", "16k", "24k", "32k"]);
    }

    #[test]
    fn data_extent_stops_at_the_last_point() {
        // micro-batch 1..16: ticks from 0, no empty stretch after 16
        let axis = Axis::linear("Micro-batch", AxisUnit::Count);
        let r = AxisRange::numeric(&axis, Extent::Data, [1.0, 16.0]);
        assert_eq!(r.bounds(), (0.0, 16.0));
        assert_eq!(labels(&r), ["0", "5", "10", "15"]);
        // a single point still spans something
        let r = AxisRange::numeric(&axis, Extent::Data, [8.0, 8.0]);
        assert_eq!(r.bounds(), (8.0, 16.0));
    }

    #[test]
    fn seconds_axis_picks_ms() {
        let axis = Axis::linear("Time per output token", AxisUnit::Seconds);
        let r = AxisRange::numeric(&axis, Extent::FromZero, [0.012, 0.047]);
        assert_eq!(r.title(&axis), "Time per output token (ms)");
        assert_eq!(labels(&r), ["0", "10", "20", "30", "40", "50"]);
    }

    #[test]
    fn short_log_decimal_axis_adds_2_and_5() {
        let axis = Axis::log("Throughput", AxisUnit::TokensPerSec);
        let r = AxisRange::numeric(&axis, Extent::FromZero, [150.0, 9000.0]);
        assert_eq!(
            labels(&r),
            ["100", "200", "500", "1,000", "2,000", "5,000", "10,000"]
        );
    }

    #[test]
    fn long_log_decimal_axis_ends_on_1_2_5_values() {
        // throughput 83..8,333 tokens/s: from 50 to 10,000, ticks at powers of ten
        let axis = Axis::log("Throughput", AxisUnit::TokensPerSec);
        let r = AxisRange::numeric(&axis, Extent::FromZero, [83.0, 8333.0]);
        assert_eq!(r.bounds(), (50.0, 10_000.0));
        assert_eq!(labels(&r), ["100", "1,000", "10,000"]);
    }

    #[test]
    fn long_log_axes_thin_their_ticks() {
        let axis = Axis::log("Batch", AxisUnit::Count);
        let r = AxisRange::numeric(&axis, Extent::FromZero, [1.0, 1_048_576.0]);
        assert!(r.ticks().len() <= MAX_TICKS, "{:?}", labels(&r));
        assert_eq!(r.key_points(4usize).len(), 4);
    }

    #[test]
    fn mapping_is_monotonic_and_spans_the_limits() {
        let axis = Axis::log("Context length", AxisUnit::Tokens);
        let r = AxisRange::numeric(&axis, Extent::FromZero, [4096.0, 131_072.0]);
        assert_eq!(r.map(&4096.0, (100, 600)), 100);
        assert_eq!(r.map(&131_072.0, (100, 600)), 600);
        assert_eq!(r.map(&16_384.0, (100, 600)), 300);
        // y axes map bottom-up
        assert_eq!(r.map(&131_072.0, (600, 100)), 100);
    }

    #[test]
    fn values_carry_their_unit() {
        assert_eq!(value_text(AxisUnit::Usd, 0.5), "$0.5");
        assert_eq!(value_text(AxisUnit::Ratio, 0.42), "42%");
        assert_eq!(value_text(AxisUnit::Seconds, 0.0123), "12.3 ms");
        assert_eq!(value_text(AxisUnit::Count, 2_000_000.0), "2M");
    }

    #[test]
    fn categories_label_by_index() {
        let names: Vec<String> = ["4k", "8k", "16k"].map(String::from).to_vec();
        let r = AxisRange::categories(&names, 2);
        assert_eq!(labels(&r), ["4k", "16k"]);
        assert_eq!(r.bounds(), (-0.5, 2.5));
    }
}

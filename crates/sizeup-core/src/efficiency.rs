//! Utilization curves: how much of a chip's peak an operation of a given size reaches.
//!
//! One flat MFU misjudges small batches and small models: a tiny matrix product
//! cannot fill a GPU, a small memory pass never reaches full bandwidth. Following
//! Calculon (Isaev et al. 2023, "Calculon: a methodology and tool for high-level
//! co-design of systems and large language models", SC'23), efficiency is a
//! piecewise function of the operation's size. The steps are the ones DESIGN.md
//! quotes from Calculon's system files; they are assumptions, printed with every
//! estimate that uses them.

use serde::{Deserialize, Serialize};

/// A step function from an operation's size to the fraction of peak it reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// `(minimum size, efficiency)` pairs, largest size first.
    pub steps: Vec<(f64, f64)>,
    /// Efficiency below the smallest step.
    pub floor: f64,
}

impl Curve {
    /// Efficiency of an operation of `size` (FLOPs or bytes).
    ///
    /// # Formula
    /// the efficiency of the first step whose minimum is ≤ `size`, else `floor`
    pub fn at(&self, size: f64) -> f64 {
        step_at(&self.steps, self.floor, size)
    }
}

fn step_at(steps: &[(f64, f64)], floor: f64, size: f64) -> f64 {
    steps
        .iter()
        .find(|(min, _)| size >= *min)
        .map_or(floor, |(_, e)| *e)
}

const MATMUL_STEPS: [(f64, f64); 3] = [(128e9, 0.95), (16e9, 0.9), (1e9, 0.6)];
const MEMORY_STEPS: [(f64, f64); 3] = [(100e6, 0.9), (10e6, 0.75), (1e6, 0.6)];
const FLOOR: f64 = 0.3;

/// [`matmul_curve`]`().at(flops)` without building the curve (the time model
/// asks it for every product of every priced layout).
pub fn matmul_at(flops: f64) -> f64 {
    step_at(&MATMUL_STEPS, FLOOR, flops)
}

/// [`matmul_curve`]'s top step, the efficiency of the largest products.
pub fn matmul_top() -> f64 {
    MATMUL_STEPS[0].1
}

/// [`memory_curve`]`().at(bytes)` without building the curve.
pub fn memory_at(bytes: f64) -> f64 {
    step_at(&MEMORY_STEPS, FLOOR, bytes)
}

/// Matrix-multiply efficiency by FLOPs of one product.
///
/// # Source
/// Calculon system files (A100/H100): ≥128 GFLOP 0.95, ≥16 GFLOP 0.9, ≥1 GFLOP 0.6
/// (DESIGN.md "Utilization defaults"). Below 1 GFLOP we keep 0.3, the level small
/// launches reach in practice (Calculon's smallest step).
pub fn matmul_curve() -> Curve {
    Curve {
        steps: MATMUL_STEPS.to_vec(),
        floor: FLOOR,
    }
}

/// Memory-pass efficiency by bytes moved in one pass.
///
/// # Source
/// Calculon system files: ≥100 MB 0.9, ≥10 MB 0.75, ≥1 MB 0.6, else 0.3
/// (DESIGN.md "Utilization defaults").
pub fn memory_curve() -> Curve {
    Curve {
        steps: MEMORY_STEPS.to_vec(),
        floor: FLOOR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_calculon() {
        let m = matmul_curve();
        assert_eq!(m.at(200e9), 0.95);
        assert_eq!(m.at(16e9), 0.9);
        assert_eq!(m.at(2e9), 0.6);
        assert_eq!(m.at(1e6), 0.3);
        let b = memory_curve();
        assert_eq!(b.at(1e9), 0.9);
        assert_eq!(b.at(50e6), 0.75);
        assert_eq!(b.at(5e6), 0.6);
        assert_eq!(b.at(10.0), 0.3);
    }
}

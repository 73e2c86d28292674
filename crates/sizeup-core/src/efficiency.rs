//! Utilization curves: how much of a chip's peak an operation of a given size reaches.
//!
//! One flat MFU misjudges small batches and small models: a tiny matrix product
//! cannot fill a GPU, a small memory pass never reaches full bandwidth. Following
//! Calculon (Isaev et al. 2023, "Calculon: a methodology and tool for high-level
//! co-design of systems and large language models", SC'23), efficiency is a
//! piecewise function of the operation's size. The steps are the ones DESIGN.md
//! quotes from Calculon's system files; they are assumptions, printed with every
//! estimate that uses them. The device model ([`crate::device`]) reads them.

fn step_at(steps: &[(f64, f64)], floor: f64, size: f64) -> f64 {
    steps
        .iter()
        .find(|(min, _)| size >= *min)
        .map_or(floor, |(_, e)| *e)
}

/// Matrix-multiply steps: `(minimum FLOPs of one product, efficiency)`, largest first.
///
/// # Source
/// Calculon system files (A100/H100): ≥128 GFLOP 0.95, ≥16 GFLOP 0.9, ≥1 GFLOP 0.6
/// (DESIGN.md "Utilization defaults"). Below 1 GFLOP we keep 0.3, the level small
/// launches reach in practice (Calculon's smallest step).
const MATMUL_STEPS: [(f64, f64); 3] = [(128e9, 0.95), (16e9, 0.9), (1e9, 0.6)];
/// Memory-pass steps: `(minimum bytes moved in one pass, efficiency)`, largest first.
///
/// # Source
/// Calculon system files: ≥100 MB 0.9, ≥10 MB 0.75, ≥1 MB 0.6, else 0.3
/// (DESIGN.md "Utilization defaults").
const MEMORY_STEPS: [(f64, f64); 3] = [(100e6, 0.9), (10e6, 0.75), (1e6, 0.6)];
/// Efficiency below the smallest step, for both curves.
const FLOOR: f64 = 0.3;

/// Matrix-multiply efficiency of one product of `flops`.
///
/// # Formula
/// the efficiency of the first step whose minimum is ≤ `flops`, else 0.3
pub fn matmul_at(flops: f64) -> f64 {
    step_at(&MATMUL_STEPS, FLOOR, flops)
}

/// The matmul curve's top step, the efficiency of the largest products.
pub fn matmul_top() -> f64 {
    MATMUL_STEPS[0].1
}

/// Memory-pass efficiency of one pass moving `bytes`.
///
/// # Formula
/// the efficiency of the first step whose minimum is ≤ `bytes`, else 0.3
pub fn memory_at(bytes: f64) -> f64 {
    step_at(&MEMORY_STEPS, FLOOR, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_calculon() {
        assert_eq!(matmul_at(200e9), 0.95);
        assert_eq!(matmul_top(), 0.95);
        assert_eq!(matmul_at(16e9), 0.9);
        assert_eq!(matmul_at(2e9), 0.6);
        assert_eq!(matmul_at(1e6), 0.3);
        assert_eq!(memory_at(1e9), 0.9);
        assert_eq!(memory_at(50e6), 0.75);
        assert_eq!(memory_at(5e6), 0.6);
        assert_eq!(memory_at(10.0), 0.3);
    }
}

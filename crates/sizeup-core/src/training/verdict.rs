//! Whether a training run fits, and how sure the answer is.
//!
//! The memory model counts the tensors a step holds at its peak plus a fixed
//! [`super::FRAMEWORK_OVERHEAD_BYTES`]. What a GPU really shows is more: the
//! caching allocator's free blocks between live tensors, NCCL's buffers, a
//! framework's flat buffers. On the published Megatron-DeepSpeed layout grids
//! `nvidia-smi` read a median 1.27× the counted peak (53 layouts; `sizeup
//! validate`, the grids' "memory read / counted"), yet a run counted at 84% of
//! its GPU ran and two counted at 95% did not. So a verdict near the capacity
//! is stated as tight, not as a fit.

use serde::{Deserialize, Serialize};

/// The share of the accelerator's memory a counted peak must leave free to be
/// called a fit; a peak in the band below the capacity is [`FitVerdict::Tight`].
///
/// # Formula
/// ```text
/// fits   ⇔ counted ≤ (1 − m) · capacity
/// tight  ⇔ (1 − m) · capacity < counted ≤ capacity
/// ```
///
/// # Source
/// Fitted by `sizeup validate` (`sizeup_validation::grids::margin::fit_margin`): the
/// smallest margin, on a grid of 0.01, at which no out-of-memory run of the
/// published layout grids (bigscience-workshop/bigscience: the tr11 BLOOM
/// chronicles and the tr3m 1B3 V100 tables) is called a fit, with the margin
/// fitted on each document alone reported beside it.
pub const FIT_MARGIN: f64 = 0.09;

/// What a memory monitor shows of a training run over its counted peak: the
/// count leaves out the caching allocator's cached blocks and NCCL's and the
/// framework's buffers, which `nvidia-smi` sees.
///
/// # Source
/// The median, rounded to 0.01, of the 53 `nvidia-smi` readings the published
/// layout grids printed over sizeup's counted peak of the fullest stage
/// (`sizeup validate`, "memory read / counted": 1.18–1.32 per grid).
pub const READING_RATIO: f64 = 1.27;

/// The memory verdict of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FitVerdict {
    /// The counted peak leaves at least [`FIT_MARGIN`] of the memory free.
    Fits,
    /// The counted peak fits, inside the margin: the allocator's and runtime's
    /// uncounted memory may push it over.
    Tight,
    /// The counted peak is over the capacity.
    DoesNotFit,
}

impl FitVerdict {
    /// The verdict on a counted peak of `total` bytes on `capacity` bytes.
    pub fn of(total: u64, capacity: u64) -> Self {
        Self::with_margin(total, capacity, FIT_MARGIN)
    }

    /// The verdict under another margin `m` (the validator's fit tries each).
    pub fn with_margin(total: u64, capacity: u64, m: f64) -> Self {
        if total > capacity {
            FitVerdict::DoesNotFit
        } else if total as f64 > (1.0 - m) * capacity as f64 {
            FitVerdict::Tight
        } else {
            FitVerdict::Fits
        }
    }

    /// The counted peak is at most the capacity (a fit or a tight one).
    pub fn within_capacity(self) -> bool {
        self != FitVerdict::DoesNotFit
    }

    /// `yes`, `tight` or `no`, as the tables print it.
    pub fn word(self) -> &'static str {
        match self {
            FitVerdict::Fits => "yes",
            FitVerdict::Tight => "tight",
            FitVerdict::DoesNotFit => "no",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_sits_below_the_capacity() {
        let cap = 80u64 << 30;
        // 91% of the capacity is the edge of a fit
        let edge = (0.91 * cap as f64) as u64;
        assert_eq!(FitVerdict::of(edge, cap), FitVerdict::Fits);
        assert_eq!(FitVerdict::of(edge + (1 << 20), cap), FitVerdict::Tight);
        assert_eq!(FitVerdict::of(cap, cap), FitVerdict::Tight);
        assert_eq!(FitVerdict::of(cap + 1, cap), FitVerdict::DoesNotFit);
        assert!(FitVerdict::Tight.within_capacity());
        assert!(!FitVerdict::DoesNotFit.within_capacity());
    }
}

//! The longest sequence that fits: a search over `seq_len` on the training memory model.
//!
//! The search asks [`super::estimate`] (the same memory a `sizeup train` run
//! prints) whether a length fits, so it can never disagree with it.

use serde::{Deserialize, Serialize};

use super::verdict::FitVerdict;
use super::{estimate, MemoryPerGpu, TrainRequest};
use crate::arch::Architecture;
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;

/// The longest sequence the search tries, in tokens (4M): past any model's context.
pub const SEQ_LEN_LIMIT: u64 = 1 << 22;

/// The lengths the search may answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "of", content = "tokens")]
pub enum SeqLenStep {
    /// Multiples of this many tokens (256 by default: what training pipelines
    /// pack and pad to, a multiple of flash attention's tile; fine enough that
    /// the answer is within 256 tokens of the true limit).
    Multiple(u64),
    /// Powers of two only (coarse: the answer may be up to half the true limit).
    PowerOfTwo,
}

/// `256` or `pow2`, as `--seq-len-step` reads it.
impl std::fmt::Display for SeqLenStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeqLenStep::Multiple(n) => write!(f, "{n}"),
            SeqLenStep::PowerOfTwo => f.write_str("pow2"),
        }
    }
}

impl Default for SeqLenStep {
    fn default() -> Self {
        SeqLenStep::Multiple(256)
    }
}

impl SeqLenStep {
    /// The first candidate length.
    fn first(self) -> u64 {
        match self {
            SeqLenStep::Multiple(n) => n,
            SeqLenStep::PowerOfTwo => 1,
        }
    }

    /// The candidate after `len`.
    fn next(self, len: u64) -> Option<u64> {
        match self {
            SeqLenStep::Multiple(n) => len.checked_add(n),
            SeqLenStep::PowerOfTwo => len.checked_mul(2),
        }
    }
}

/// Memory at one sequence length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AtLength {
    /// Sequence length `s`, tokens.
    pub seq_len: u64,
    /// Memory on the busiest GPU, line by line.
    pub memory: MemoryPerGpu,
    /// Largest micro-batch that fits at this length.
    pub largest_micro_batch: Option<u64>,
}

/// The answer of [`longest_seq_len`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LongestFit {
    /// The lengths tried.
    pub step: SeqLenStep,
    /// The micro-batch the search holds fixed.
    pub micro_batch: u64,
    /// The longest length that fits; `None` when not even the first step does.
    pub longest: Option<AtLength>,
    /// The longest length that fits with [`super::verdict::FIT_MARGIN`] to spare
    /// (the same as `longest` where that one is not tight); `None` when not even
    /// the first step does.
    #[serde(default)]
    pub longest_with_margin: Option<AtLength>,
    /// The next step, which does not fit; `None` when the search reached [`SEQ_LEN_LIMIT`].
    pub next: Option<AtLength>,
    /// The model's own context (`max_position_embeddings`), for comparison.
    pub model_context: u64,
}

/// The longest `seq_len` (a multiple of the step, or a power of two) at which
/// `req` fits on `acc`, every other setting held, and the longest at which it fits
/// with the margin to spare.
///
/// # Formula
/// ```text
/// longest             = max { s ∈ steps, s ≤ 2^22 : memory(s) ≤ capacity }
/// longest_with_margin = max { s ∈ steps, s ≤ 2^22 : memory(s) ≤ (1 − FIT_MARGIN) · capacity }
/// ```
/// found by doubling the length until it does not fit, then bisecting between
/// the last length that fits and the first that does not.
///
/// # Assumptions / limits
/// Memory grows with `s` (every term of the training memory model does), so
/// the fitting lengths are a prefix of the steps. Lengths past the model's
/// context are reported as they are: the model's positions may not reach them.
///
/// # Errors
/// A step of 0 tokens; any error of [`estimate`] at a tried length.
pub fn longest_seq_len(
    arch: &Architecture,
    acc: &Accelerator,
    req: &TrainRequest,
    step: SeqLenStep,
) -> Result<LongestFit> {
    if step == SeqLenStep::Multiple(0) {
        return Err(CoreError::Invalid {
            field: "seq_len_step",
            value: "0".into(),
            expected: "a step of at least 1 token".into(),
        });
    }
    // context parallelism splits every length it is given: each candidate must divide
    let cp = req.layout.cp.max(1);
    let divides = match step {
        SeqLenStep::Multiple(n) => n % cp == 0,
        SeqLenStep::PowerOfTwo => cp.is_power_of_two(),
    };
    if !divides {
        return Err(CoreError::Invalid {
            field: "seq_len_step",
            value: match step {
                SeqLenStep::Multiple(n) => n.to_string(),
                SeqLenStep::PowerOfTwo => "pow2".into(),
            },
            expected: format!("lengths the context-parallel size {cp} divides"),
        });
    }
    let at = |seq_len: u64, with_margin: bool| -> Result<(bool, AtLength)> {
        let mut r = req.clone();
        r.seq_len = seq_len;
        let e = estimate(arch, acc, &r)?;
        Ok((
            if with_margin {
                e.verdict == FitVerdict::Fits
            } else {
                e.fits
            },
            AtLength {
                seq_len,
                memory: e.memory,
                largest_micro_batch: e.largest_micro_batch,
            },
        ))
    };
    // the first power of two cp divides is cp itself
    let first = step.first().max(match step {
        SeqLenStep::PowerOfTwo => cp,
        SeqLenStep::Multiple(_) => 1,
    });
    // candidates are `k · unit`: multiples of n, or powers of two doubled from `first`
    let (unit, bisect) = match step {
        SeqLenStep::Multiple(n) => (n, true),
        SeqLenStep::PowerOfTwo => (1, false),
    };
    let (first, limit) = (first / unit, SEQ_LEN_LIMIT / unit);
    let (longest, next) = double_then_bisect(first, limit, bisect, |k| at(k * unit, false))?;
    // the step after the answer is the first length that does not fit
    if let (Some(lo), Some(hi)) = (&longest, &next) {
        debug_assert_eq!(step.next(lo.seq_len), Some(hi.seq_len));
    }
    let longest_with_margin = match &longest {
        Some(a) if a.memory.verdict() == FitVerdict::Fits => Some(*a),
        Some(_) => double_then_bisect(first, limit, bisect, |k| at(k * unit, true))?.0,
        None => None,
    };
    Ok(LongestFit {
        step,
        micro_batch: req.micro_batch,
        longest,
        longest_with_margin,
        next,
        model_context: arch.max_context,
    })
}

/// The largest `k` in `first..=limit` whose `at(k)` fits, for a `fits` that holds on
/// a prefix of the integers: doubling from `first` until one does not fit (or `limit`
/// is passed), then, if `bisect`, bisecting between the last that fits and the first
/// that does not. Returns what `at` gave for that largest `k` (`None` when even
/// `first` does not fit) and for the first `k` tried that does not (`None` when
/// every doubling up to `limit` fits).
///
/// # Formula
/// ```text
/// k_{i+1} = 2·k_i until fits(k_i) fails;  then halve [lo, hi) until hi = lo + 1
/// ```
/// `O(log limit)` calls of `at`.
///
/// # Errors
/// The first error of `at`.
pub(crate) fn double_then_bisect<T>(
    first: u64,
    limit: u64,
    bisect: bool,
    mut at: impl FnMut(u64) -> Result<(bool, T)>,
) -> Result<(Option<T>, Option<T>)> {
    let (fits, a) = at(first)?;
    if !fits {
        return Ok((None, Some(a)));
    }
    let (mut lo_k, mut lo) = (first, a);
    let mut hi = None;
    while let Some(k) = lo_k.checked_mul(2).filter(|&k| k <= limit) {
        let (fits, a) = at(k)?;
        if fits {
            (lo_k, lo) = (k, a);
        } else {
            hi = Some((k, a));
            break;
        }
    }
    let Some((mut hi_k, mut hi)) = hi else {
        return Ok((Some(lo), None));
    };
    if bisect {
        while hi_k - lo_k > 1 {
            let mid = lo_k + (hi_k - lo_k) / 2;
            let (fits, a) = at(mid)?;
            if fits {
                (lo_k, lo) = (mid, a);
            } else {
                (hi_k, hi) = (mid, a);
            }
        }
    }
    Ok((Some(lo), Some(hi)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware;
    use crate::shape::Shape;
    use crate::training::activations::Recompute;

    fn llama_7b() -> Architecture {
        // LLaMA-7B shapes (Touvron et al. 2023 Table 2)
        Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap()
    }

    #[test]
    fn doubling_then_bisecting_finds_the_edge_in_few_calls() {
        let edge = |k: u64| -> Result<(bool, u64)> { Ok((k <= 37, k)) };
        assert_eq!(
            double_then_bisect(1, 1000, true, edge),
            Ok((Some(37), Some(38)))
        );
        assert_eq!(
            double_then_bisect(1, 1000, false, edge),
            Ok((Some(32), Some(64)))
        );
        assert_eq!(double_then_bisect(1, 16, true, edge), Ok((Some(16), None)));
        assert_eq!(
            double_then_bisect(40, 1000, true, edge),
            Ok((None, Some(40)))
        );
        let mut calls = 0;
        let _ = double_then_bisect(1, 1 << 20, true, |k| {
            calls += 1;
            Ok((k <= 700_001, ()))
        });
        assert!(calls <= 2 * 20 + 1, "{calls}");
    }

    /// LLaMA-7B under FSDP on 8 GPUs, one sequence each, recomputing every layer.
    fn fsdp_full_recompute() -> TrainRequest {
        let mut req = TrainRequest::new(8, 4096, 8, 1);
        req.layout.fsdp = true;
        req.recompute = Recompute::Full;
        req
    }

    #[test]
    fn the_answer_fits_and_the_next_step_does_not() {
        let arch = llama_7b();
        let acc = hardware::find("H100-SXM").unwrap();
        let req = fsdp_full_recompute();
        let f = longest_seq_len(&arch, acc, &req, SeqLenStep::default()).unwrap();
        let (lo, hi) = (f.longest.unwrap(), f.next.unwrap());
        assert_eq!(lo.seq_len % 256, 0);
        assert_eq!(hi.seq_len, lo.seq_len + 256);
        assert!(lo.memory.total_bytes <= lo.memory.capacity_bytes);
        assert!(hi.memory.total_bytes > hi.memory.capacity_bytes);
        // and the same memory the estimate prints at that length
        let mut at = req.clone();
        at.seq_len = lo.seq_len;
        assert_eq!(estimate(&arch, acc, &at).unwrap().memory, lo.memory);
    }

    #[test]
    fn the_answer_with_the_margin_is_the_last_fit_before_the_tight_ones() {
        let arch = llama_7b();
        let acc = hardware::find("H100-SXM").unwrap();
        let req = fsdp_full_recompute();
        let f = longest_seq_len(&arch, acc, &req, SeqLenStep::default()).unwrap();
        let (safe, longest) = (f.longest_with_margin.unwrap(), f.longest.unwrap());
        assert!(safe.seq_len < longest.seq_len);
        assert_eq!(safe.memory.verdict(), FitVerdict::Fits);
        assert_eq!(longest.memory.verdict(), FitVerdict::Tight);
        // the step after it is tight: its memory is over (1 − m) of the capacity
        let mut at = req.clone();
        at.seq_len = safe.seq_len + 256;
        assert_eq!(
            estimate(&arch, acc, &at).unwrap().verdict,
            FitVerdict::Tight
        );
        // in powers of two the longest, 131,072, fits with the margin: both answers agree
        let pow2 = longest_seq_len(&arch, acc, &req, SeqLenStep::PowerOfTwo).unwrap();
        let p = pow2.longest.unwrap();
        assert_eq!(p.memory.verdict(), FitVerdict::Fits);
        assert_eq!(pow2.longest_with_margin, pow2.longest);
    }

    #[test]
    fn powers_of_two_answer_a_power_of_two() {
        let arch = llama_7b();
        let acc = hardware::find("H100-SXM").unwrap();
        let mut req = TrainRequest::new(8, 4096, 8, 1);
        req.layout.fsdp = true;
        let f = longest_seq_len(&arch, acc, &req, SeqLenStep::PowerOfTwo).unwrap();
        let lo = f.longest.unwrap().seq_len;
        assert!(lo.is_power_of_two());
        assert_eq!(f.next.unwrap().seq_len, 2 * lo);
    }

    #[test]
    fn nothing_fits_when_the_states_alone_do_not() {
        let arch = llama_7b();
        let acc = hardware::find("RTX-4090").unwrap();
        // 18 bytes per parameter of a 6.7B model on 24 GiB
        let req = TrainRequest::new(1, 4096, 1, 1);
        let f = longest_seq_len(&arch, acc, &req, SeqLenStep::default()).unwrap();
        assert!(f.longest.is_none());
        assert_eq!(f.next.unwrap().seq_len, 256);
    }
}

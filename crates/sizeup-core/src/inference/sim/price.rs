//! The price of one engine step, from the same pass model `infer` uses.
//!
//! A continuous-batching step runs one forward pass over a mix of sequences:
//! decodes (one new token each, at their own context) and prefill chunks (many
//! new tokens each). The pass model prices passes of equal sequences; a step is
//! priced from such passes, and each distinct pass is priced once and kept, so
//! a run of a million steps calls the pass model a few thousand times.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::super::roofline::PassWeights;
use super::super::{Machine, Pass};
use crate::arch::Architecture;

/// Decode contexts are priced on a grid of this many tokens and interpolated
/// linearly between grid points (the pass time is piecewise linear in the
/// context: attention FLOPs and KV bytes grow linearly with it). Equal to vLLM's
/// KV block size, so a cache of whole blocks is priced exactly.
pub const CONTEXT_GRID: u64 = 16;

/// What one step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepShape {
    /// Sequences decoding one token.
    pub decodes: u64,
    /// Their cached tokens, summed.
    pub decode_context: u64,
    /// Sequences prefilling a chunk.
    pub prefills: u64,
    /// New tokens of those chunks, summed.
    pub prefill_tokens: u64,
    /// Cached tokens of those sequences before the chunk, summed.
    pub prefill_context: u64,
}

/// Prices steps on one replica, remembering every pass it has priced.
pub struct StepPricer<'a> {
    arch: &'a Architecture,
    weights: PassWeights<'a>,
    machine: Machine<'a>,
    /// Stages of a layer split (1 without): each pass adds their hidden-state hops.
    pp: u64,
    /// Decode passes by (sequences, cached-token grid index): a map, not a table
    /// indexed by the context, so a context of 2³¹ tokens costs one entry, not 2²⁷.
    decode: HashMap<(u64, u64), f64, BuildHasherDefault<Fx>>,
    /// Prefill passes by (sequences, new-token grid index, cached-token grid index).
    prefill: HashMap<(u64, u64, u64), f64, BuildHasherDefault<Fx>>,
    /// Passes priced by the pass model.
    pub passes_priced: u64,
}

impl<'a> StepPricer<'a> {
    pub(super) fn new(
        arch: &'a Architecture,
        weights: PassWeights<'a>,
        machine: Machine<'a>,
        pp: u64,
    ) -> StepPricer<'a> {
        StepPricer {
            arch,
            weights,
            machine,
            pp,
            decode: HashMap::default(),
            prefill: HashMap::default(),
            passes_priced: 0,
        }
    }

    /// Seconds of one pass of `sequences` × `new_tokens` at `cached_tokens` each
    /// through every stage of the replica.
    pub fn pass(&mut self, sequences: u64, new_tokens: u64, cached_tokens: u64) -> f64 {
        self.passes_priced += 1;
        super::super::stages::pass_over_stages(
            self.arch,
            &self.weights,
            &Pass {
                sequences,
                new_tokens,
                cached_tokens,
            },
            self.machine,
            self.pp,
        )
        .seconds
    }

    fn decode_at_grid(&mut self, n: u64, g: u64) -> f64 {
        if let Some(&t) = self.decode.get(&(n, g)) {
            return t;
        }
        let t = self.pass(n, 1, g * CONTEXT_GRID);
        self.decode.insert((n, g), t);
        t
    }

    /// Seconds of a decode pass of `n` sequences holding `context` cached tokens in all.
    ///
    /// # Formula
    /// ```text
    /// c̄ = context / n,  g = ⌊c̄ / G⌋
    /// t = t(n, g·G) + (c̄ − g·G)/G · (t(n, (g+1)·G) − t(n, g·G))
    /// ```
    /// where `t(n, c)` is the pass model's decode of `n` sequences at `c` cached
    /// tokens each and `G` is [`CONTEXT_GRID`]. The pass model's attention cost is
    /// linear in the summed context, so sequences at different contexts cost what
    /// they cost at their mean.
    pub fn decode(&mut self, n: u64, context: u64) -> f64 {
        if n == 0 {
            return 0.0;
        }
        let mean = context as f64 / n as f64;
        let g = context / n / CONTEXT_GRID;
        let lo = self.decode_at_grid(n, g);
        let frac = (mean - (g * CONTEXT_GRID) as f64) / CONTEXT_GRID as f64;
        if frac <= 0.0 {
            return lo;
        }
        let hi = self.decode_at_grid(n, g + 1);
        lo + frac * (hi - lo)
    }

    fn prefill_at_grid(&mut self, sequences: u64, new_g: u64, cached_g: u64) -> f64 {
        let key = (sequences, new_g, cached_g);
        if let Some(&t) = self.prefill.get(&key) {
            return t;
        }
        // the grid's first point is one new token, not none
        let new_tokens = (new_g * CONTEXT_GRID).max(1);
        let t = self.pass(sequences, new_tokens, cached_g * CONTEXT_GRID);
        self.prefill.insert(key, t);
        t
    }

    /// Seconds of a prefill pass of `k` sequences with `new` new tokens and
    /// `cached` cached tokens in all.
    ///
    /// # Formula
    /// bilinear interpolation of `t(k, n, c)` between the grid points around
    /// `n = new/k` and `c = cached/k` (multiples of [`CONTEXT_GRID`], the first new
    /// point 1 token); exact on the grid. Between grid points the pass is linear
    /// in the cached tokens and nearly so in the new ones: interpolating the
    /// attention's term quadratic in `n` errs by at most `(16/n)²/4` of that
    /// term, which is itself a part of the pass.
    pub fn prefill(&mut self, k: u64, new: u64, cached: u64) -> f64 {
        let grid = CONTEXT_GRID as f64;
        let n = new as f64 / k as f64;
        let c = cached as f64 / k as f64;
        let (ng, cg) = (new / k / CONTEXT_GRID, cached / k / CONTEXT_GRID);
        let n_lo = ((ng * CONTEXT_GRID).max(1)) as f64;
        let n_hi = ((ng + 1) * CONTEXT_GRID) as f64;
        let fn_ = ((n - n_lo) / (n_hi - n_lo)).max(0.0);
        let fc = (c - cg as f64 * grid) / grid;
        let at_c = |this: &mut Self, cg: u64| {
            let lo = this.prefill_at_grid(k, ng, cg);
            if fn_ <= 0.0 {
                lo
            } else {
                lo + fn_ * (this.prefill_at_grid(k, ng + 1, cg) - lo)
            }
        };
        let lo = at_c(self, cg);
        if fc <= 0.0 {
            lo
        } else {
            lo + fc * (at_c(self, cg + 1) - lo)
        }
    }

    /// Passes held in the tables.
    #[cfg(test)]
    pub(super) fn passes_held(&self) -> usize {
        self.decode.len() + self.prefill.len()
    }

    /// Seconds of one engine step of `shape`.
    ///
    /// # Formula
    /// ```text
    /// decodes only:   t = decode(n_d, C_d)
    /// prefills only:  t = prefill(k, P, C_p)
    /// both:           t = prefill(k, P + n_d, C_p) + decode(n_d, C_d) − decode(n_d, 0)
    /// ```
    ///
    /// # Symbols
    /// `n_d` decoding sequences with `C_d` cached tokens in all; `k` prefilling
    /// sequences with `P` new and `C_p` cached tokens in all.
    ///
    /// # Assumptions / limits
    /// One fused forward pass per step (vLLM V1): the weights are read once and
    /// the linear layers see all `P + n_d` tokens, priced as part of the chunks'
    /// pass; the decodes' attention over their own caches is the decode pass at
    /// their context less the decode pass at none. Several chunks are priced as
    /// `k` equal chunks of their mean length at their mean cached length. On the
    /// grid (prompts and contexts of whole 16-token blocks) the first two cases
    /// are exactly `infer`'s prefill and decode passes.
    pub fn step(&mut self, s: &StepShape) -> f64 {
        if s.prefills == 0 {
            return self.decode(s.decodes, s.decode_context);
        }
        let mut t = self.prefill(s.prefills, s.prefill_tokens + s.decodes, s.prefill_context);
        if s.decodes > 0 {
            t += self.decode(s.decodes, s.decode_context) - self.decode(s.decodes, 0);
        }
        t
    }
}

/// A small multiplicative hasher for the pass tables' integer keys (they are
/// looked up on every step; SipHash's resistance to chosen keys is
/// not needed for keys the simulation makes itself).
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

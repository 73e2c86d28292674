//! How many requests fit, how long a context fits, and what batching does to speed.

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::error::{CoreError, Result};
use crate::kv::{self, KvRequest};

/// How requests share the devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind", content = "requests")]
pub enum Load {
    /// A static batch: every request is prefilled together, then decoded in lockstep.
    Batch(u64),
    /// Continuous batching with this many requests in flight: prefills of new
    /// requests interleave with the decode steps of the others.
    Concurrency(u64),
}

impl Load {
    /// Requests held at once.
    pub fn requests(self) -> u64 {
        match self {
            Load::Batch(b) | Load::Concurrency(b) => b,
        }
    }
}

/// The largest batch whose KV cache fits in `budget` bytes per rank at `context` tokens.
///
/// # Formula
/// ⌊budget / KV bytes per sequence per rank⌋
///
/// # Errors
/// Those of [`kv::size`].
pub fn max_batch(arch: &Architecture, req: &KvRequest, budget: u64) -> Result<u64> {
    let one = kv::size(arch, &KvRequest { batch: 1, ..*req })?.bytes_per_gpu;
    Ok(budget.checked_div(one).unwrap_or(u64::MAX))
}

/// The KV pool as serving engines report it when they start: the bytes per rank
/// left for the cache once weights, workspace, runtime and reserve are placed, in
/// tokens, and how many requests of the context it holds at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KvPool {
    /// Bytes per rank the cache may take.
    pub bytes_per_gpu: u64,
    /// Tokens of one sequence the whole pool holds, in whole blocks (vLLM's "GPU KV
    /// cache size: N tokens", SGLang's `max_total_num_tokens`); with data-parallel
    /// attention, one group's pool.
    pub tokens: u64,
    /// Requests of the context the pool holds at once: the pool over one request's
    /// cache at the context (vLLM's "Maximum concurrency for C tokens per request");
    /// with data-parallel attention, all groups' pools.
    pub concurrency_at_context: f64,
}

/// The pool `budget` bytes per rank make for requests of `context` tokens.
///
/// # Formula
/// ```text
/// tokens      = the largest s with KV(s, 1) ≤ budget          (max_context at batch 1)
/// concurrency = budget / KV(context, 1)
/// ```
/// For full attention `concurrency = tokens / context` up to block rounding; with
/// windows or recurrent state a request's cache stops growing, so more fit.
///
/// # Source
/// vLLM `vllm/v1/core/kv_cache_utils.py` (the start-up log: "GPU KV cache size" and
/// "Maximum concurrency for {max_model_len} tokens per request"); SGLang's
/// `max_total_num_tokens` in its start-up log.
///
/// # Errors
/// Those of [`kv::size`].
pub fn kv_pool(arch: &Architecture, req: &KvRequest, budget: u64, context: u64) -> Result<KvPool> {
    let one = KvRequest { batch: 1, ..*req };
    let tokens = max_context(arch, &one, budget)?;
    let at_context = kv::size(
        arch,
        &KvRequest {
            seq_len: context,
            ..one
        },
    )?
    .bytes_per_gpu;
    Ok(KvPool {
        bytes_per_gpu: budget,
        tokens,
        concurrency_at_context: if at_context == 0 {
            f64::INFINITY
        } else {
            budget as f64 / at_context as f64
        },
    })
}

/// The longest context per sequence whose KV cache for `req.batch` sequences fits in `budget`.
///
/// # Formula
/// the largest `s` with KV(s, B) ≤ budget, by bisection (windows and paging make
/// KV(s) piecewise, but never decreasing); the search starts from the linear
/// guess `budget / (KV(2¹⁶, B) / 2¹⁶)` and gallops from it to a bracket, which
/// finds the same `s` in a few sizings instead of forty
///
/// # Errors
/// Those of [`kv::size`].
pub fn max_context(arch: &Architecture, req: &KvRequest, budget: u64) -> Result<u64> {
    let fits = |s: u64| -> Result<bool> {
        match kv::size(arch, &KvRequest { seq_len: s, ..*req }) {
            Ok(c) => Ok(c.bytes_per_gpu <= budget),
            // a cache too large to count does not fit either
            Err(CoreError::Overflow { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    };
    if !fits(1)? {
        return Ok(0);
    }
    let (mut lo, mut hi) = (1u64, 1u64 << 40);
    if fits(hi)? {
        return Ok(hi);
    }
    // `fits` never turns true again once false, so the answer is the one `s`
    // with fits(s) and not fits(s + 1), however the bracket narrows to it.
    // 1 ≤ lo < hi ≤ 2⁴⁰ throughout: no step, sum or difference below overflows.
    const PROBE: u64 = 1 << 16;
    if let Ok(c) = kv::size(
        arch,
        &KvRequest {
            seq_len: PROBE,
            ..*req
        },
    ) {
        let rate = c.bytes_per_gpu as f64 / PROBE as f64;
        let guess = (budget as f64 / rate) as u64;
        if guess > lo && guess < hi {
            if fits(guess)? {
                lo = guess;
                let mut step = 1;
                while step < hi - lo {
                    if !fits(lo + step)? {
                        hi = lo + step;
                        break;
                    }
                    lo += step;
                    step *= 2;
                }
            } else {
                hi = guess;
                let mut step = 1;
                while step < hi - lo {
                    if fits(hi - step)? {
                        lo = hi - step;
                        break;
                    }
                    hi -= step;
                    step *= 2;
                }
            }
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Latency and throughput of a load, from the time of its passes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Schedule {
    /// Time to first token, seconds.
    pub time_to_first_token_seconds: f64,
    /// Time per output token seen by one request, seconds (prefill interference included).
    pub time_per_output_token_seconds: f64,
    /// First token to last, one request, seconds.
    pub end_to_end_seconds: f64,
    /// Output tokens per second one request sees.
    pub tokens_per_sec_per_request: f64,
    /// Output tokens per second of one replica, prefill time included.
    pub output_tokens_per_sec: f64,
}

/// Combine prefill and decode times into a schedule of a replica that keeps
/// `w` batches in flight (a pipelined layer split; 1 otherwise).
///
/// # Formula
/// ```text
/// static batch B:   TTFT = prefill(B·p / w);  TPOT = step(B / w);  E2E = TTFT + o·TPOT
///                   throughput = B·o / E2E
/// continuous C:     TTFT = prefill(p);   TPOT = step(C/w) + (C/w)·prefill(p)/o
///                   E2E = TTFT + o·TPOT;  throughput = C·o / (o·step(C/w) + (C/w)·prefill(p))
/// ```
///
/// # Symbols
/// `p` prompt tokens, `o` output tokens, `step(B)` one decode step at batch `B`
/// averaged over the output (context `p + o/2`); `prefill_seconds` and
/// `step_seconds` are already those of one batch in flight
/// ([`Replica::decode`](super::Replica::decode)).
///
/// # Assumptions / limits
/// Continuous batching: each request's prefill is spread over the decode steps
/// of the requests of its batch; no queueing (arrivals keep exactly `C` in
/// flight); the `w` batches share the requests evenly.
pub fn schedule(
    load: Load,
    output: u64,
    prefill_seconds: f64,
    step_seconds: f64,
    batches_in_flight: u64,
) -> Schedule {
    let o = output as f64;
    let (ttft, tpot, throughput) = match load {
        Load::Batch(b) => {
            let e2e = prefill_seconds + o * step_seconds;
            (
                prefill_seconds,
                step_seconds,
                if e2e > 0.0 { b as f64 * o / e2e } else { 0.0 },
            )
        }
        Load::Concurrency(c) => {
            let c = c as f64;
            // requests of one batch in flight
            let per_batch = c / batches_in_flight.max(1) as f64;
            let share = if o > 0.0 {
                per_batch * prefill_seconds / o
            } else {
                0.0
            };
            let busy = o * step_seconds + per_batch * prefill_seconds;
            (
                prefill_seconds,
                step_seconds + share,
                if busy > 0.0 { c * o / busy } else { 0.0 },
            )
        }
    };
    let e2e = ttft + o * tpot;
    Schedule {
        time_to_first_token_seconds: ttft,
        time_per_output_token_seconds: tpot,
        end_to_end_seconds: e2e,
        tokens_per_sec_per_request: if tpot > 0.0 { 1.0 / tpot } else { 0.0 },
        output_tokens_per_sec: throughput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Span;
    use crate::{KvDtype, Shape};
    use proptest::prelude::*;

    #[test]
    fn batch_and_context_limits_invert_the_kv_size() {
        // llama-2-7b: 512 KiB per token in fp16 (shared/fixtures/models/llama-2-7b)
        let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let req = KvRequest {
            seq_len: 4096,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: Some(16),
        };
        // 2 GiB per 4k sequence: 20 GiB holds 10
        assert_eq!(max_batch(&arch, &req, 20 << 30).unwrap(), 10);
        // 20 GiB / (4 sequences × 512 KiB) = 10240 tokens, a multiple of 16
        let four = KvRequest { batch: 4, ..req };
        assert_eq!(max_context(&arch, &four, 20 << 30).unwrap(), 10240);
    }

    proptest! {
        #[test]
        fn longest_context_is_the_last_that_fits(
            layers in 1u64..100,
            local in 0u64..100,
            window in 1u64..70_000,
            kv_log in 0u32..4,
            batch in 1u64..300,
            block in prop::option::of(1u64..300),
            budget in 0u64..(1u64 << 42),
        ) {
            let mut arch = Shape::llama(layers, 4096, 32, 1 << kv_log, 11008, 32000)
                .build()
                .unwrap();
            if local > 0 {
                let global = arch.layers.blocks[0].clone();
                let mut sliding = global.clone();
                if let crate::arch::Mixer::Attention(a) = &mut sliding.mixer {
                    a.span = Span::Window(window);
                }
                arch.layers = crate::arch::Schedule::uniform(sliding, local.min(layers));
                arch.layers.push(global, layers.saturating_sub(local));
            }
            let req = KvRequest { seq_len: 1, batch, dtype: KvDtype::Bf16, tp: 1, block_tokens: block };
            let fits = |s: u64| kv::size(&arch, &KvRequest { seq_len: s, ..req })
                .is_ok_and(|c| c.bytes_per_gpu <= budget);
            let s = max_context(&arch, &req, budget).unwrap();
            if s == 0 {
                prop_assert!(!fits(1));
            } else if s < 1 << 40 {
                prop_assert!(fits(s) && !fits(s + 1), "{s}");
            } else {
                prop_assert!(fits(s));
            }
        }
    }

    #[test]
    fn static_batch_throughput_counts_the_prefill() {
        let s = schedule(Load::Batch(8), 100, 1.0, 0.01, 1);
        assert_eq!(s.end_to_end_seconds, 2.0);
        assert_eq!(s.output_tokens_per_sec, 400.0);
        let c = schedule(Load::Concurrency(8), 100, 0.1, 0.01, 1);
        // each request's 0.1 s prefill costs the others 8·0.1/100 per token
        assert!((c.time_per_output_token_seconds - 0.018).abs() < 1e-12);
        assert!((c.output_tokens_per_sec - 800.0 / 1.8).abs() < 1e-9);
    }

    #[test]
    fn the_kv_pool_holds_whole_blocks_and_counts_requests_at_the_context() {
        // Llama-3.1-8B in bf16: 32 layers · 2 · 8 KV heads · 128 · 2 bytes = 131,072
        // bytes per token; 100 blocks of 16 tokens and 5 bytes to spare
        let arch = crate::testing::llama31_8b();
        let req = KvRequest {
            seq_len: 800,
            batch: 3,
            dtype: crate::dtype::KvDtype::Bf16,
            tp: 1,
            block_tokens: Some(16),
        };
        let budget = 131_072 * 1600 + 5;
        let pool = kv_pool(&arch, &req, budget, 800).unwrap();
        assert_eq!(pool.tokens, 1600);
        assert_eq!(pool.bytes_per_gpu, budget);
        assert_eq!(
            pool.concurrency_at_context,
            budget as f64 / (131_072.0 * 800.0)
        );
    }
}

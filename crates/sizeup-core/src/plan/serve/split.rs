//! Disaggregated prefill and decode at steady state: `P` prefill replicas of
//! `t_p` ranks run the prompts, `D` decode replicas of `t_d` ranks run the
//! output, and each prompt's KV cache crosses from one pool to the other.
//!
//! # Formula
//! ```text
//! prefill pool (M/D/1 per replica, prompts back to back):
//!   S    = prefill(p) on a t_p replica          (Replica::prefill)
//!   ρ    = λ · S / P                            (< 1, else over capacity)
//!   W_q  = ρ · S / (2 · (1 − ρ))                (mean wait, Pollaczek–Khinchine)
//!   x    = base + α + KV(p) / β                 (Fabric::send, one rank's shard)
//!   TTFT = W_q + S + x
//! decode pool (decode steps only, no prefill chunk in them):
//!   C*   = min { C ≤ cap : C / step(C) ≥ λ · o / D }
//!   TPOT = step(C*)                             (Replica::decode)
//! capacity = min(P · ρ_max / S, D · C_ok / step(C_ok) / o)
//!   ρ_max = 2w / (S + 2w), w = TTFT target − S − x   (the ρ at which TTFT meets it)
//!   C_ok  = min(cap, the most requests in flight whose step meets the TPOT target)
//! ```
//! Under a closed loop of `U` users, `C* = ⌈U / D⌉` and the prompts arrive at
//! the decode pool's completion rate `λ = D · C* / step(C*) / o`; a prefill
//! capacity in users is its rate times one request's time without queueing
//! (Little's law).
//!
//! # Symbols
//! `p` prompt tokens, `o` output tokens, `λ` requests per second, `KV(p)` the
//! prompt's cache on the busier end of the transfer (a `t_p` rank sends its
//! shard, a `t_d` rank receives its own: the larger of the two), `α`, `β` the
//! link's latency and bandwidth, `base` NCCL's fixed cost.
//!
//! # Source
//! Zhong et al., DistServe (OSDI 2024, arXiv:2401.09670) §3.1: the prefill
//! instance as an M/D/1 queue, `TTFT = D + R·D²/(2(1 − R·D))`; Patel et al.,
//! Splitwise (ISCA 2024, arXiv:2311.18677): prompt and token phases on separate
//! machines, the KV cache sent layer by layer over the back-end network;
//! vLLM and SGLang ship the split (P/D disaggregation).
//!
//! # Assumptions / limits
//! The transfer is not overlapped with the prefill (Splitwise overlaps it layer
//! by layer: this is the slower bound); it runs over the GPU link when every
//! GPU of the setup fits one node (and the accelerator has a link), else over
//! the network between nodes. Steady-state means, not percentiles: the
//! simulation tier confirms these setups by running their two pools apart
//! ([`super::confirm`]).

use serde::{Deserialize, Serialize};

use super::steady::{operating_point, Cap, Outcome, Prices, Steady};
use super::{MissReason, ServeCandidate, ServeLoad, ServePlanRequest};
use crate::arch::Architecture;
use crate::device::collective::{Fabric, Network};
use crate::error::Result;
use crate::inference::{per_million, Replica};
use crate::kv::{self, KvRequest};

/// What a disaggregated setup adds to its steady-state figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SplitSteady {
    /// One prompt's prefill on a prefill replica, seconds.
    pub prefill_seconds: f64,
    /// Mean wait for a prefill replica at the load (M/D/1), seconds.
    pub queue_seconds: f64,
    /// Sending the prompt's KV cache to a decode replica, seconds.
    pub transfer_seconds: f64,
    /// Bytes of the prompt's KV cache on the busier end of the transfer (one rank).
    pub transfer_bytes: u64,
    /// Whether the transfer runs over the GPU link inside one node (else the network).
    pub transfer_in_node: bool,
    /// Share of time each prefill replica is busy at the load, `ρ`.
    pub prefill_utilization: f64,
    /// The load the prefill pool carries within the TTFT target (requests per
    /// second, or users).
    pub prefill_capacity: f64,
    /// The load the decode pool carries within the TPOT target.
    pub decode_capacity: f64,
}

/// A prefill replica size priced once: one prompt's prefill, whether a prompt
/// fits at each step budget, and the transfer of its KV cache.
pub(super) struct PrefillSide {
    /// Prefill pool's tensor-parallel size.
    pub tp: u64,
    seconds: f64,
    // per step budget of the space: (fits one prompt, bytes one prompt needs per GPU)
    fit: Vec<(bool, u64)>,
    transfer_bytes: u64,
    // (inside a node, across nodes)
    transfer_seconds: (f64, f64),
    gpus_per_node: u64,
}

impl PrefillSide {
    /// Price `replica` (a prefill replica) for `chunks`, with the transfer to
    /// decode replicas of `tp_d` ranks.
    ///
    /// # Errors
    /// Those of [`kv::size`] and [`Replica::memory`] (overflow).
    pub(super) fn price(
        arch: &Architecture,
        replica: &Replica<'_>,
        chunks: &[u64],
        tp_d: u64,
    ) -> Result<PrefillSide> {
        let req = replica.request();
        let shard = |tp: u64| -> Result<u64> {
            Ok(kv::size(
                arch,
                &KvRequest {
                    seq_len: req.prompt.max(1),
                    batch: 1,
                    dtype: req.kv_dtype,
                    tp,
                    block_tokens: req.profile.kv_block_tokens,
                },
            )?
            .bytes_per_gpu)
        };
        let transfer_bytes = shard(req.tp)?.max(shard(tp_d)?);
        let fabric = Fabric::of(&req.gpu, &Network::default());
        let bytes = transfer_bytes as f64;
        let in_node = if req.gpu.interconnect_bytes_per_sec.is_some() {
            fabric.send(bytes, 1)
        } else {
            f64::INFINITY
        };
        let across = fabric.send(bytes, fabric.gpus_per_node);
        let mut fit = Vec::with_capacity(chunks.len());
        for &chunk in chunks {
            let m = replica.memory(1, req.prompt, Some(chunk))?;
            fit.push((m.fits(), m.total_bytes.saturating_add(m.shortfall_bytes)));
        }
        Ok(PrefillSide {
            tp: req.tp,
            seconds: replica.prefill(1).seconds,
            fit,
            transfer_bytes,
            transfer_seconds: (in_node, across),
            gpus_per_node: fabric.gpus_per_node,
        })
    }

    /// The transfer for a setup of `gpus` GPUs in all, and whether it stays in a node.
    fn transfer(&self, gpus: u64) -> (f64, bool) {
        let (inside, across) = self.transfer_seconds;
        if gpus <= self.gpus_per_node && inside <= across {
            (inside, true)
        } else {
            (across, false)
        }
    }
}

/// Mean wait of an M/D/1 queue with utilization `rho` and service time `s`.
///
/// # Formula
/// `W_q = ρ · s / (2 · (1 − ρ))` (Pollaczek–Khinchine with a fixed service time)
///
/// # Source
/// The Pollaczek–Khinchine mean-value formula with zero service-time variance
/// (Kleinrock, *Queueing Systems* vol. 1, 1975, ch. 5, the M/G/1 queue); DistServe (Zhong et al.
/// 2024, arXiv:2401.09670) §3.1 models a prefill instance this way.
pub fn md1_wait(rho: f64, s: f64) -> f64 {
    rho * s / (2.0 * (1.0 - rho))
}

/// The largest utilization of an M/D/1 queue of service `s` whose mean wait is
/// at most `w`: `ρ_max = 2w / (s + 2w)` (the inverse of [`md1_wait`], solved
/// for `ρ`; same source).
pub fn md1_utilization_within(w: f64, s: f64) -> f64 {
    if w <= 0.0 {
        0.0
    } else {
        2.0 * w / (s + 2.0 * w)
    }
}

/// Decide one disaggregated setup `c` (its prefill pool in `c.prefill`): `d`
/// prices its decode replica without prefill ([`Prices::decode_only`]), `side`
/// its prefill replica, `chunk` is the step budget's place in the space, `cap`
/// the decode replica's.
pub(super) fn decide_split(
    d: &mut Prices<'_>,
    side: &PrefillSide,
    req: &ServePlanRequest,
    c: &ServeCandidate,
    chunk: usize,
    cap: Cap,
    price: Option<f64>,
) -> Outcome {
    let (fits, needed) = side.fit.get(chunk).copied().unwrap_or((false, 0));
    if !fits {
        return Outcome::Missed(MissReason::NoRoom {
            needed_bytes: needed,
            capacity_bytes: cap.capacity_bytes,
        });
    }
    if cap.requests == 0 {
        return Outcome::Missed(MissReason::NoRoom {
            needed_bytes: cap.needed_bytes,
            capacity_bytes: cap.capacity_bytes,
        });
    }
    let n_d = c.replicas.max(1);
    let prefill_replicas = c.prefill.map_or(1, |p| p.replicas).max(1);
    let n_p = prefill_replicas as f64;
    let o = req.workload.output as f64;
    let s = side.seconds;
    let concurrency = match operating_point(d, req.load, o, n_d, n_d as usize, cap) {
        Ok(c) => c,
        Err(miss) => return Outcome::Missed(miss),
    };
    let lambda = match req.load {
        ServeLoad::Rate { per_sec } => per_sec,
        ServeLoad::Users { .. } => n_d as f64 * d.schedule(concurrency).output_tokens_per_sec / o,
    };
    let rho = lambda * s / n_p;
    if rho >= 1.0 {
        return Outcome::Missed(MissReason::PrefillOverCapacity {
            offered_per_replica: lambda / n_p,
            carried_per_replica: 1.0 / s,
            prefill_replicas,
        });
    }
    let gpus = c.gpus();
    let (transfer, in_node) = side.transfer(gpus);
    let queue = md1_wait(rho, s);
    let ttft = queue + s + transfer;
    let at = d.schedule(concurrency);
    let tpot = at.time_per_output_token_seconds;
    let t = &req.targets;
    if let Some(miss) = t.miss(concurrency, ttft, tpot) {
        return Outcome::Missed(miss);
    }
    let lo = d
        .tpot_limit(t.tpot_seconds)
        .min(cap.requests)
        .max(concurrency);
    let at_capacity = d.schedule(lo);
    let decode_output = at_capacity.output_tokens_per_sec * n_d as f64;
    let prefill_rate = n_p * md1_utilization_within(t.ttft_seconds - s - transfer, s) / s;
    let (prefill_capacity, decode_capacity) = match req.load {
        ServeLoad::Rate { .. } => (prefill_rate, decode_output / o),
        ServeLoad::Users { .. } => (
            prefill_rate * (s + transfer + o * at_capacity.time_per_output_token_seconds),
            lo.saturating_mul(n_d) as f64,
        ),
    };
    let capacity_output = decode_output.min(prefill_rate * o);
    let served = lambda * o;
    Outcome::Kept(Steady {
        concurrency,
        ttft_seconds: ttft,
        tpot_seconds: tpot,
        replica_output_tokens_per_sec: at.output_tokens_per_sec,
        served_output_tokens_per_sec: served,
        capacity_concurrency: lo,
        capacity: prefill_capacity.min(decode_capacity),
        capacity_output_tokens_per_sec: capacity_output,
        capacity_output_tokens_per_sec_per_gpu: capacity_output / gpus.max(1) as f64,
        gpus,
        usd_per_hour: price.map(|p| p * gpus as f64),
        usd_per_million_output_tokens: price.map(|p| per_million(p, gpus, served)),
        split: Some(SplitSteady {
            prefill_seconds: s,
            queue_seconds: queue,
            transfer_seconds: transfer,
            transfer_bytes: side.transfer_bytes,
            transfer_in_node: in_node,
            prefill_utilization: rho,
            prefill_capacity,
            decode_capacity,
        }),
    })
}

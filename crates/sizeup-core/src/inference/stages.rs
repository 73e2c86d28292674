//! Layer split: a replica's layers spread over devices that run them in turn
//! (llama.cpp's default multi-GPU mode, `--split-mode layer`).
//!
//! Each device holds a contiguous slice of layers, their weights and their KV
//! cache. A token visits the devices one after another, so a pass takes the sum
//! of every slice's time plus one copy of the hidden state per boundary; no
//! device works while another does.

use std::borrow::Cow;

use super::roofline::{pass_time_in_stages, PassWeights};
use super::weights::{RankSplit, StoredTensor};
use super::{Engine, Machine, Pass, PassTime, StageSchedule};
use crate::arch::{Architecture, Schedule};
use crate::assumption::Assumption;
use crate::device::collective::Fabric;
use crate::error::Result;

/// Bytes per hidden value sent between the devices of a layer split: llama.cpp
/// sends the F32 hidden state, vLLM the 16-bit hidden state and the 16-bit
/// residual, 4 bytes either way.
///
/// # Source
/// llama.cpp builds its graphs on F32 activations (`ggml_get_rows` of the token
/// embedding returns F32; the residual stream stays F32 between layers); vLLM's
/// decoder models return `IntermediateTensors({"hidden_states", "residual"})` in the
/// model's dtype from every stage but the last (vllm/model_executor/models/llama.py).
pub const HIDDEN_STATE_BYTES: f64 = 4.0;

/// The layers each of `pp` devices holds: `(first layer, layers)` per device.
///
/// # Formula
/// ```text
/// device(i) = ⌊i · p / (L + 1)⌋      for layers i = 0 … L−1
/// first(s)  = ⌈s · (L + 1) / p⌉
/// ```
/// The output layer counts as layer `L` and lands on the last device.
///
/// # Symbols
/// `L` layers, `p` devices of the split, `s` a device.
///
/// # Source
/// llama.cpp `src/llama-model.cpp` `load_tensors`: with every layer offloaded it
/// counts `L + 1` layers (the output layer last) and places layer `i` on the
/// first device whose cumulative share of free memory exceeds `i / (L + 1)`;
/// devices of equal memory have equal shares.
///
/// # Assumptions / limits
/// Devices of equal free memory (llama.cpp's `--tensor-split` is not modelled).
pub fn stage_layers(layers: u64, pp: u64) -> Vec<(u64, u64)> {
    let pp = pp.max(1);
    // L ≤ MAX_LAYERS (2¹⁶) and p ≤ L: the products fit in u128 with room to spare
    let first = |s: u64| -> u64 {
        let n = u128::from(s) * (u128::from(layers) + 1);
        (n.div_ceil(u128::from(pp)) as u64).min(layers)
    };
    (0..pp)
        .map(|s| {
            let start = first(s);
            let end = if s + 1 == pp { layers } else { first(s + 1) };
            (start, end - start)
        })
        .collect()
}

/// The layers each of `pp` stages holds in a pipelined engine: `(first layer,
/// layers)` per stage.
///
/// # Formula
/// ```text
/// n(s) = ⌊L / p⌋ + 1   for the r = L mod p stages just before the last
/// n(s) = ⌊L / p⌋       otherwise
/// ```
///
/// # Source
/// vLLM `vllm/distributed/utils.py` `get_pp_indices`: equal partitions, the
/// remainder given to the stages before the last (which holds the LM head).
pub fn pipelined_stage_layers(layers: u64, pp: u64) -> Vec<(u64, u64)> {
    let pp = pp.max(1);
    let (base, extra) = (layers / pp, layers % pp);
    let mut first = 0;
    (0..pp)
        .map(|s| {
            // stages pp−1−extra … pp−2 take one more layer
            let n = base + u64::from(s + 1 < pp && s + 1 + extra >= pp);
            let out = (first, n);
            first += n;
            out
        })
        .collect()
}

/// The layers each of `pp` devices holds as `engine` places them: llama.cpp's
/// [`stage_layers`], a pipelined engine's [`pipelined_stage_layers`].
fn engine_stage_layers(layers: u64, pp: u64, engine: Engine) -> Vec<(u64, u64)> {
    match engine.stage_schedule() {
        Some(StageSchedule::InTurn) => stage_layers(layers, pp),
        _ => pipelined_stage_layers(layers, pp),
    }
}

/// One device of a layer split: its layers as an architecture of their own (for
/// their KV cache) and the weight bytes it holds.
#[derive(Debug, Clone)]
pub(super) struct Stage<'a> {
    /// The device's layers (the whole model without a split).
    pub arch: Cow<'a, Architecture>,
    /// Weight bytes on this device (per tensor-parallel rank).
    pub weights_bytes: Result<u64>,
}

/// The devices of a replica split `pp` ways by layers, each with the ranks of `ranks`, as
/// `engine` places them.
///
/// Tensors of a layer sit with that layer; tensors after the last layer (final
/// norm, LM head, towers) on the last device. llama.cpp ([`StageSchedule::InTurn`],
/// layers by [`stage_layers`]) keeps an untied model's token embedding in host
/// memory and a tied one, which is also the head, on the last device only; a
/// pipelined engine (layers by [`pipelined_stage_layers`]) keeps the token
/// embedding on the first stage and, tied, a second copy as the head on the last.
///
/// # Source
/// llama.cpp `src/llama-model.cpp` `load_tensors`: `dev_input` is the CPU ("there is
/// very little benefit to offloading the input layer"); a missing output weight is
/// the token embedding duplicated onto the output device. vLLM
/// `vllm/model_executor/models/llama.py`: `embed_tokens` on the first rank, and on
/// the last too where `tie_word_embeddings` ties the `lm_head` to it.
pub(super) fn stages<'a>(
    arch: &'a Architecture,
    stored: &[StoredTensor],
    pp: u64,
    ranks: RankSplit,
    engine: Engine,
) -> Vec<Stage<'a>> {
    let in_turn = engine.stage_schedule() == Some(StageSchedule::InTurn);
    // llama.cpp's input layer stays on the host, split or not
    let input_on_host = engine == Engine::LlamaCpp;
    let is_embedding =
        |s: &StoredTensor| s.tensor.role == crate::params::TensorRole::TokenEmbedding;
    let on_host = |s: &StoredTensor| input_on_host && !arch.embedding.tied && is_embedding(s);
    if pp <= 1 {
        let on_device: Vec<StoredTensor> = stored.iter().filter(|s| !on_host(s)).copied().collect();
        return vec![Stage {
            arch: Cow::Borrowed(arch),
            weights_bytes: super::weights::weights_bytes_per_gpu(&on_device, ranks),
        }];
    }
    let layers = arch.num_layers();
    let split = engine_stage_layers(layers, pp, engine);
    let last = split.len() - 1;
    // the stage holding layer `i`: the last whose first layer is at most `i`
    let stage_of = |layer: u64| {
        split
            .partition_point(|&(first, _)| first <= layer)
            .saturating_sub(1)
    };
    let mut per_device: Vec<Vec<StoredTensor>> = vec![Vec::new(); split.len()];
    let mut seen_layers = false;
    for s in stored.iter().filter(|s| !on_host(s)) {
        let device = match s.tensor.layer {
            Some(layer) => {
                seen_layers = true;
                stage_of(layer)
            }
            None if arch.embedding.tied && is_embedding(s) => {
                if !in_turn {
                    per_device[0].push(*s);
                }
                last
            }
            None if seen_layers => last,
            None => 0,
        };
        per_device[device].push(*s);
    }
    split
        .iter()
        .zip(per_device)
        .map(|(&(first, n), tensors)| {
            let mut sub = arch.clone();
            sub.layers = Schedule {
                blocks: arch.layers.blocks.clone(),
                runs: arch.layers.counted_in(first, n).into_iter().collect(),
            };
            Stage {
                arch: Cow::Owned(sub),
                weights_bytes: super::weights::weights_bytes_per_gpu(&tensors, ranks),
            }
        })
        .collect()
}

/// Seconds of the hidden-state copies of one pass of `tokens` tokens across a
/// `pp`-way layer split of `tp`-rank devices on `fabric` (the engine's view of the
/// links, [`super::roofline::Machine::fabric`]).
///
/// # Formula
/// `Σ_{s=1}^{p−1} send(T · h · 4 bytes / t)` over the network where stage `s`
/// starts a node the stage before it does not share (`⌊(s−1)·t/n⌋ ≠ ⌊s·t/n⌋`,
/// `n` GPUs per node), else over the accelerator's link; `send` the device
/// model's point-to-point copy (`α + bytes / β`, [`Fabric::send`]).
///
/// # Source
/// llama.cpp copies the hidden state to the next device at each boundary of the split
/// (`ggml_backend_sched` copies a split's inputs), vLLM sends its `IntermediateTensors`;
/// NCCL's α–β figures stand for the copy.
fn hop_seconds(fabric: &Fabric, tp: u64, pp: u64, tokens: f64, hidden: u64) -> f64 {
    if pp <= 1 {
        return 0.0;
    }
    let tp = tp.max(1);
    let bytes = tokens * hidden as f64 * HIDDEN_STATE_BYTES / tp as f64;
    let n = fabric.gpus_per_node.max(1);
    // stage s starts on node ⌊s·t/n⌋: every boundary crosses when a stage fills a
    // node or more, else the node index grows by at most one per stage
    let crossings = if tp >= n {
        pp - 1
    } else {
        (pp - 1).saturating_mul(tp) / n
    };
    // a send `n` ranks away leaves the node, one rank away stays in it
    let (inter, intra) = (fabric.send(bytes, n), fabric.send(bytes, 1));
    crossings as f64 * inter + (pp - 1 - crossings) as f64 * intra
}

/// One pass over every device of a `pp`-way split: the operations of all layers
/// in turn ([`pass_time_of`]) plus the hidden-state copies between the devices
/// ([`hop_seconds`]); a pipelined engine's decode step takes at least `pp` times
/// its slowest stage.
///
/// # Formula
/// ```text
/// t = Σ_s t_s + hops                     in turn (llama.cpp), and any pass with a prompt
/// t = max(Σ_s t_s + hops, p · max_s t_s)  a pipelined decode step: the p batches in
///                                          flight are decode steps alike, and the
///                                          slowest stage serves each in turn
/// ```
///
/// # Assumptions / limits
/// A pass with prompt tokens shares the stages with decode steps, far shorter than
/// it: no wait is added. At a light load the other batches may be empty, and the
/// decode wait overstates.
pub(super) fn pass_over_stages(
    arch: &Architecture,
    weights: &PassWeights<'_>,
    pass: &Pass,
    machine: Machine<'_>,
    pp: u64,
) -> PassTime {
    let engine = machine.profile.engine;
    let pipelined =
        pp > 1 && pass.new_tokens == 1 && engine.stage_schedule() == Some(StageSchedule::Pipelined);
    let starts: Vec<u64> = if pipelined {
        engine_stage_layers(arch.num_layers(), pp, engine)
            .iter()
            .map(|&(first, _)| first)
            .collect()
    } else {
        Vec::new()
    };
    let (mut t, slowest) = pass_time_in_stages(arch, weights, pass, machine, &starts);
    let tokens = pass.sequences as f64 * pass.new_tokens as f64;
    let hops = hop_seconds(&machine.fabric(), machine.tp, pp, tokens, arch.hidden_size);
    t.communication_seconds += hops;
    t.seconds += hops;
    if pipelined {
        t.stage_wait_seconds = (pp as f64 * slowest - t.seconds).max(0.0);
        t.seconds += t.stage_wait_seconds;
    }
    t
}

/// What a `pp`-way layer split assumes, for the estimate's list (nothing without one).
pub(super) fn assumptions(arch: &Architecture, pp: u64, engine: Engine) -> Vec<Assumption> {
    if pp <= 1 {
        return Vec::new();
    }
    let in_turn = engine.stage_schedule() == Some(StageSchedule::InTurn);
    let slices: Vec<String> = engine_stage_layers(arch.num_layers(), pp, engine)
        .iter()
        .map(|&(first, n)| match n {
            0 => "none".to_string(),
            _ => format!("{}–{}", first, first + n - 1),
        })
        .collect();
    let hop = Assumption::new(
        "hidden state between devices",
        format!(
            "{} hop(s) per pass, each {HIDDEN_STATE_BYTES} bytes per hidden value of the pass's tokens over the link (the network where a stage fills its node)",
            pp - 1
        ),
        if in_turn {
            "llama.cpp ggml_backend_sched copies a split's inputs in F32; priced as a point-to-point send at the engine's share of the link and its per-call latency"
        } else {
            "vLLM IntermediateTensors carry the hidden state and the residual, 16-bit each (vllm/model_executor/models/llama.py); priced as a point-to-point send at the engine's share of the link and its per-call latency"
        },
    );
    if !in_turn {
        return vec![
            Assumption::new(
                "multi-GPU split",
                format!(
                    "pipeline parallelism: layers split {pp} ways (layers {} per stage; the token embedding on the first, the LM head on the last); {pp} batches in flight, one per stage, each step of a batch a pass through every stage in turn, or, for a decode step, {pp} times the slowest stage's time where that is longer (the batches queue at it; at a light load, with batches empty, this overstates); the requests shared evenly by the batches; memory shown for the fullest stage",
                    slices.join(", ")
                ),
                "vLLM --pipeline-parallel-size: layers by get_pp_indices (vllm/distributed/utils.py); pp batches in flight (V1 step_with_batch_queue; V0 one scheduler per virtual engine with 1/pp of the KV blocks, vllm/core/scheduler.py)",
            ),
            hop,
        ];
    }
    vec![
        Assumption::new(
            "multi-GPU split",
            format!(
                "layers split {pp} ways (layers {} per device; the LM head on the last, the token embedding in host memory), run one after another: a pass takes the sum of the devices' times; memory shown for the fullest device",
                slices.join(", ")
            ),
            "llama.cpp docs/multi-gpu.md: `--split-mode layer` (default), each GPU holds a contiguous slice of layers and their KV cache; layer i on device ⌊i·p/(L+1)⌋ (src/llama-model.cpp load_tensors, equal free memory)",
        ),
        hop,
        Assumption::new(
            "prefill across the split",
            "not overlapped: llama.cpp pipelines prompt micro-batches (n_ubatch) across devices, which is not modelled, so prompts longer than one micro-batch are priced slower than they run",
            "llama.cpp pipeline parallelism (n_copies) for batches of several micro-batches",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::{WeightFormat, WeightOptions};
    use crate::inference::weights::{stored_tensors, weights_bytes_per_gpu};
    use crate::Shape;

    #[test]
    fn llama_cpp_counts_the_output_layer_in_the_split() {
        // 80 layers + output = 81 over 2 devices: layers 0–40 (41), then 41–79 (39) + output
        assert_eq!(stage_layers(80, 2), vec![(0, 41), (41, 39)]);
        // 32 layers over 3 devices: ⌈33/3⌉ = 11, ⌈66/3⌉ = 22
        assert_eq!(stage_layers(32, 3), vec![(0, 11), (11, 11), (22, 10)]);
        assert_eq!(stage_layers(32, 1), vec![(0, 32)]);
    }

    #[test]
    fn a_hop_leaves_the_node_only_where_a_stage_starts_a_new_one() {
        let fabric = Fabric {
            gpus_per_node: 8,
            intra_bytes_per_sec: 360e9,
            inter_bytes_per_sec: 40e9,
            intra_latency_seconds: 2.5e-6,
            inter_latency_seconds: 4e-6,
            base_seconds: 8e-6,
        };
        let bytes = 1024.0 * 8192.0 * HIDDEN_STATE_BYTES / 4.0;
        let (inter, intra) = (fabric.send(bytes, 8), fabric.send(bytes, 1));
        assert!(inter > 5.0 * intra);
        // tp 4 · pp 4 on 8-GPU nodes: stages on nodes 0, 0, 1, 1 — one crossing
        let t = hop_seconds(&fabric, 4, 4, 1024.0, 8192);
        assert!((t - (inter + 2.0 * intra)).abs() < 1e-15, "{t}");
        // tp 8 · pp 2: each stage fills a node
        let b8 = bytes / 2.0;
        let t = hop_seconds(&fabric, 8, 2, 1024.0, 8192);
        assert!((t - fabric.send(b8, 8)).abs() < 1e-15);
        // tp 1 · pp 8: one node, every hop on the link
        let b1 = bytes * 4.0;
        let t = hop_seconds(&fabric, 1, 8, 1024.0, 8192);
        assert!((t - 7.0 * fabric.send(b1, 1)).abs() < 1e-15);
        assert_eq!(hop_seconds(&fabric, 8, 1, 1024.0, 8192), 0.0);
    }

    #[test]
    fn vllm_gives_the_remainder_to_the_stages_before_the_last() {
        // get_pp_indices: 126 layers over 16 stages = 7 each, 14 left for stages 1–14
        let split = pipelined_stage_layers(126, 16);
        assert_eq!(split[0], (0, 7));
        assert_eq!(split[1], (7, 8));
        assert_eq!(split[14], (111, 8));
        assert_eq!(split[15], (119, 7));
        assert_eq!(pipelined_stage_layers(80, 2), vec![(0, 40), (40, 40)]);
        assert_eq!(
            pipelined_stage_layers(30, 4),
            vec![(0, 7), (7, 8), (15, 8), (23, 7)]
        );
        assert_eq!(pipelined_stage_layers(32, 1), vec![(0, 32)]);
    }

    #[test]
    fn stages_hold_every_device_weight_once() {
        // Llama-2-7B: 32 layers, untied; llama-3.2-1B-like tied model: 16 layers.
        // A layer of Llama-2-7B is 202_383_360 parameters = 404_766_720 bytes, its
        // final norm 8192 bytes, its embedding 262_144_000 bytes.
        let llama2 = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        let stored =
            stored_tensors(&llama2, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
        let whole = weights_bytes_per_gpu(&stored, RankSplit::tensor(1)).unwrap();
        let (layer, norm, embedding) = (404_766_720u64, 8192u64, 262_144_000u64);
        let bytes = |engine| -> Vec<u64> {
            stages(&llama2, &stored, 2, RankSplit::tensor(1), engine)
                .iter()
                .map(|s| *s.weights_bytes.as_ref().unwrap())
                .collect()
        };
        // llama.cpp: 17 layers, then 15 layers + norm + head; the embedding on the host
        assert_eq!(
            bytes(Engine::LlamaCpp),
            vec![17 * layer, 15 * layer + norm + embedding]
        );
        // vLLM: 16 and 16 layers, the embedding on the first stage
        let vllm = bytes(Engine::Vllm);
        assert_eq!(
            vllm,
            vec![16 * layer + embedding, 16 * layer + norm + embedding]
        );
        assert_eq!(vllm.iter().sum::<u64>(), whole);

        let mut tied = Shape::llama(16, 2048, 32, 8, 8192, 128256).build().unwrap();
        tied.embedding.tied = true;
        let stored = stored_tensors(&tied, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
        let whole = weights_bytes_per_gpu(&stored, RankSplit::tensor(1)).unwrap();
        let embedding = tied.vocab_size * tied.hidden_size * 2;
        // a layer: 10_485_760 attention + 50_331_648 MLP + 4096 norm parameters
        let (layer, norm) = (121_643_008u64, 4096u64);
        for (engine, expected) in [
            // llama.cpp: 9 then 7 layers; the shared embedding/head once, on the last
            (Engine::LlamaCpp, [9 * layer, 7 * layer + norm + embedding]),
            // vLLM: 8 and 8; the embedding on the first stage, again as the head on the last
            (
                Engine::Vllm,
                [8 * layer + embedding, 8 * layer + norm + embedding],
            ),
        ] {
            let split = stages(&tied, &stored, 2, RankSplit::tensor(1), engine);
            let bytes: Vec<u64> = split
                .iter()
                .map(|s| *s.weights_bytes.as_ref().unwrap())
                .collect();
            assert_eq!(bytes, expected, "{engine}");
            let layers: u64 = split.iter().map(|s| s.arch.num_layers()).sum();
            assert_eq!(layers, tied.num_layers());
        }
        assert_eq!(whole, 16 * layer + norm + embedding);
    }
}

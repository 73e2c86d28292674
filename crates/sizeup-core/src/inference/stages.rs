//! Layer split: a replica's layers spread over devices that run them in turn
//! (llama.cpp's default multi-GPU mode, `--split-mode layer`).
//!
//! Each device holds a contiguous slice of layers, their weights and their KV
//! cache. A token visits the devices one after another, so a pass takes the sum
//! of every slice's time plus one copy of the hidden state per boundary; no
//! device works while another does.

use std::borrow::Cow;

use super::weights::StoredTensor;
use crate::arch::{Architecture, Schedule};
use crate::assumption::Assumption;
use crate::device::collective::Fabric;
use crate::error::Result;

/// Bytes of one token's hidden state sent between devices: ggml keeps the
/// activations between layers in F32.
///
/// # Source
/// llama.cpp builds its graphs on F32 activations (`ggml_get_rows` of the token
/// embedding returns F32; the residual stream stays F32 between layers).
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

/// One device of a layer split: its layers as an architecture of their own (for
/// their KV cache) and the weight bytes it holds.
#[derive(Debug, Clone)]
pub(super) struct Stage<'a> {
    /// The device's layers (the whole model without a split).
    pub arch: Cow<'a, Architecture>,
    /// Weight bytes on this device (per tensor-parallel rank).
    pub weights_bytes: Result<u64>,
}

/// The device of layer `i` in a `pp`-way split of `layers` layers (the output
/// layer counts as layer `L`): `⌊i · p / (L + 1)⌋`, as [`stage_layers`] places them.
fn device_of(layer: u64, layers: u64, pp: u64) -> usize {
    // L ≤ MAX_LAYERS (2¹⁶) and p ≤ L: the product fits in u128 with room to spare
    let d = u128::from(layer.min(layers)) * u128::from(pp) / (u128::from(layers) + 1);
    (d as usize).min(pp.saturating_sub(1) as usize)
}

/// The devices of a replica split `pp` ways by layers, each with `tp` ranks.
///
/// Tensors of a layer sit with that layer; tensors after the last layer (final
/// norm, LM head, towers) on the last device; a tied embedding, which is also the
/// head, on the last device. The token embedding of an untied model sits in host
/// memory when `input_on_host` (llama.cpp), else on the first device.
///
/// # Source
/// llama.cpp `src/llama-model.cpp` `load_tensors`: `dev_input` is the CPU ("there is
/// very little benefit to offloading the input layer"); a missing output weight is
/// the token embedding duplicated onto the output device.
pub(super) fn stages<'a>(
    arch: &'a Architecture,
    stored: &[StoredTensor],
    pp: u64,
    tp: u64,
    input_on_host: bool,
) -> Vec<Stage<'a>> {
    let on_host = |s: &StoredTensor| {
        input_on_host
            && !arch.embedding.tied
            && s.tensor.role == crate::params::TensorRole::TokenEmbedding
    };
    if pp <= 1 {
        let on_device: Vec<StoredTensor> = stored.iter().filter(|s| !on_host(s)).copied().collect();
        return vec![Stage {
            arch: Cow::Borrowed(arch),
            weights_bytes: super::weights::weights_bytes_per_gpu(&on_device, tp),
        }];
    }
    let layers = arch.num_layers();
    let split = stage_layers(layers, pp);
    let last = split.len() - 1;
    let mut per_device: Vec<Vec<StoredTensor>> = vec![Vec::new(); split.len()];
    let mut seen_layers = false;
    for s in stored.iter().filter(|s| !on_host(s)) {
        let device = match s.tensor.layer {
            Some(layer) => {
                seen_layers = true;
                device_of(layer, layers, pp)
            }
            None if arch.embedding.tied
                && s.tensor.role == crate::params::TensorRole::TokenEmbedding =>
            {
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
                weights_bytes: super::weights::weights_bytes_per_gpu(&tensors, tp),
            }
        })
        .collect()
}

/// Seconds of the hidden-state copies of one pass of `tokens` tokens across a
/// `pp`-way layer split of `tp`-rank devices on `fabric` (the engine's view of the
/// links, [`super::roofline::Machine::fabric`]).
///
/// # Formula
/// `(p − 1) · send(T · h · 4 bytes / t)`, `send` the device model's point-to-point
/// copy over the accelerator's link (`α + bytes / β`, [`Fabric::send`]).
///
/// # Source
/// llama.cpp copies the hidden state to the next device at each boundary of the split
/// (`ggml_backend_sched` copies a split's inputs); NCCL's α–β figures stand for the copy.
pub(super) fn hop_seconds(fabric: &Fabric, tp: u64, pp: u64, tokens: f64, hidden: u64) -> f64 {
    if pp <= 1 {
        return 0.0;
    }
    let bytes = tokens * hidden as f64 * HIDDEN_STATE_BYTES / tp.max(1) as f64;
    (pp - 1) as f64 * fabric.send(bytes, tp.max(1))
}

/// What a `pp`-way layer split assumes, for the estimate's list (nothing without one).
pub(super) fn assumptions(arch: &Architecture, pp: u64) -> Vec<Assumption> {
    if pp <= 1 {
        return Vec::new();
    }
    let slices: Vec<String> = stage_layers(arch.num_layers(), pp)
        .iter()
        .map(|&(first, n)| match n {
            0 => "none".to_string(),
            _ => format!("{}–{}", first, first + n - 1),
        })
        .collect();
    vec![
        Assumption::new(
            "multi-GPU split",
            format!(
                "layers split {pp} ways (layers {} per device; the LM head on the last, the token embedding in host memory), run one after another: a pass takes the sum of the devices' times; memory shown for the fullest device",
                slices.join(", ")
            ),
            "llama.cpp docs/multi-gpu.md: `--split-mode layer` (default), each GPU holds a contiguous slice of layers and their KV cache; layer i on device ⌊i·p/(L+1)⌋ (src/llama-model.cpp load_tensors, equal free memory)",
        ),
        Assumption::new(
            "hidden state between devices",
            format!(
                "{} hop(s) per pass, each an F32 copy of the pass's hidden states ({HIDDEN_STATE_BYTES} bytes per value) over the link",
                pp - 1
            ),
            "llama.cpp ggml_backend_sched copies a split's inputs; priced as a point-to-point send at the engine's share of the link and its per-call latency (the all-reduce's figures stand for a ggml peer copy), every boundary on the accelerator's own link",
        ),
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
    fn stages_hold_every_device_weight_once() {
        // Llama-2-7B: 32 layers, untied; llama-3.2-1B-like tied model: 16 layers
        for (arch, tied) in [
            (
                Shape::llama(32, 4096, 32, 32, 11008, 32000)
                    .build()
                    .unwrap(),
                false,
            ),
            {
                let mut a = Shape::llama(16, 2048, 32, 8, 8192, 128256).build().unwrap();
                a.embedding.tied = true;
                (a, true)
            },
        ] {
            assert_eq!(arch.embedding.tied, tied);
            let stored =
                stored_tensors(&arch, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
            let whole = weights_bytes_per_gpu(&stored, 1).unwrap();
            let embedding = arch.vocab_size * arch.hidden_size * 2;
            for input_on_host in [false, true] {
                let split = stages(&arch, &stored, 2, 1, input_on_host);
                let bytes: Vec<u64> = split
                    .iter()
                    .map(|s| *s.weights_bytes.as_ref().unwrap())
                    .collect();
                // llama.cpp keeps an untied model's token embedding in host memory
                let host = if input_on_host && !tied { embedding } else { 0 };
                assert_eq!(bytes.iter().sum::<u64>() + host, whole);
                if tied {
                    // the shared embedding/head on the last device with the output
                    assert!(bytes[1] > bytes[0] + embedding / 2, "{bytes:?}");
                } else {
                    // Llama-2-7B: 17 layers (+ the embedding unless on the host), then 15
                    // layers + norm + head; a layer is 202_383_360 parameters =
                    // 404_766_720 bytes, a norm 8192 bytes, the embedding 262_144_000
                    let layer = 404_766_720u64;
                    assert_eq!(embedding, 262_144_000);
                    assert_eq!(bytes[0], 17 * layer + embedding - host);
                    assert_eq!(bytes[1], 15 * layer + 8192 + embedding);
                }
                let layers: u64 = split.iter().map(|s| s.arch.num_layers()).sum();
                assert_eq!(layers, arch.num_layers());
            }
        }
    }

    #[test]
    fn every_layer_lands_where_the_split_says() {
        for (layers, pp) in [(80, 2), (32, 3), (61, 8), (7, 7)] {
            for (d, &(first, n)) in stage_layers(layers, pp).iter().enumerate() {
                for i in first..first + n {
                    assert_eq!(
                        device_of(i, layers, pp),
                        d,
                        "layer {i} of {layers} over {pp}"
                    );
                }
            }
        }
    }
}

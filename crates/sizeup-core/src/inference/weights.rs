//! Bytes of weights: every tensor in the storage its format gives it.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::arch::{Architecture, AttentionKind};
use crate::dtype::{Storage, TensorContext, WeightFormat, WeightOptions};
use crate::error::{CoreError, Result};
use crate::params::{tensors, Tensor, TensorRole, TpSplit};
use crate::units::sum;

const Q: &str = "weight bytes";

/// One tensor with the storage its format gives it and its exact size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTensor {
    /// The tensor.
    pub tensor: Tensor,
    /// How it is stored.
    pub storage: Storage,
    /// Its bytes, all copies.
    pub bytes: u64,
}

impl StoredTensor {
    /// Whether tensor parallelism replicates this tensor on every rank instead of
    /// splitting it: vectors, routers and MLA's down-projections (vLLM `ReplicatedLinear`).
    pub fn replicated_under_tp(&self) -> bool {
        self.tensor.tp == TpSplit::Replicated
    }

    /// Whether this is a stack of routed experts (gate, up or down of all `E`),
    /// which expert parallelism spreads over its groups whole.
    pub fn is_routed_experts(&self) -> bool {
        matches!(
            self.tensor.role,
            TensorRole::ExpertGate | TensorRole::ExpertUp | TensorRole::ExpertDown
        )
    }
}

/// How the ranks of one replica's stage hold its weights: tensor parallelism
/// splits each matrix `tp` ways; data-parallel attention runs `dp` such groups side
/// by side, each with whole attention and dense layers, their routed experts
/// spread over all `tp · dp` ranks; expert parallelism over `ep` groups
/// (`ep | tp · dp`) gives each group `⌈E/ep⌉` whole routed experts, each split
/// over the group's `tp · dp / ep` ranks (vLLM `--enable-expert-parallel`:
/// `ep = tp · dp`; SGLang `--ep-size`, TensorRT-LLM `moe_expert_parallel_size`:
/// any divisor). With `shared_dense` (SGLang's data-parallel attention) the
/// dense MLPs, shared experts and LM head split over all `tp · dp` ranks too,
/// and the token embedding is whole on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankSplit {
    /// Tensor-parallel ranks of one attention group.
    pub tp: u64,
    /// Expert-parallel groups (1: the experts split like every other matrix).
    pub ep: u64,
    /// Attention data-parallel groups sharing the experts (1: none).
    pub dp: u64,
    /// The groups share the dense MLPs and LM head as well
    /// ([`super::engine::AttentionGroups::SharedDense`]).
    pub shared_dense: bool,
}

impl RankSplit {
    /// Tensor parallelism alone.
    pub fn tensor(tp: u64) -> RankSplit {
        RankSplit {
            tp,
            ep: 1,
            dp: 1,
            shared_dense: false,
        }
    }

    /// Whether several data-parallel attention groups share the dense MLPs and LM head.
    pub fn shares_dense(&self) -> bool {
        self.shared_dense && self.dp > 1
    }

    /// Whether `role` is split over every rank of the replica, not only the
    /// group's: the dense MLPs, shared experts and LM head of shared-dense groups.
    pub fn across_groups(&self, role: TensorRole) -> bool {
        self.shares_dense()
            && ((role.is_mlp() && !role.is_routed_expert()) || role == TensorRole::LmHead)
    }

    /// Ranks the routed experts spread over, `tp · dp`.
    pub fn expert_ranks(&self) -> u64 {
        self.tp.max(1).saturating_mul(self.dp.max(1))
    }

    /// Ranks each routed expert is split over, `tp · dp / ep`.
    pub fn expert_tp(&self) -> u64 {
        (self.expert_ranks() / self.ep.max(1)).max(1)
    }

    /// The ways one rank's share of `s` divides it: 1 for a replicated tensor
    /// (and shared-dense groups' token embedding), `tp · dp / ep` for routed
    /// experts, `tp · dp` for what [`RankSplit::across_groups`] names, else `tp`.
    pub fn ways(&self, s: &StoredTensor) -> u64 {
        let role = s.tensor.role;
        if s.replicated_under_tp() || (self.shares_dense() && role == TensorRole::TokenEmbedding) {
            1
        } else if s.is_routed_experts() {
            self.expert_tp()
        } else if self.across_groups(role) {
            self.expert_ranks()
        } else {
            self.tp.max(1)
        }
    }

    /// Bytes of `s` one rank holds.
    ///
    /// # Formula
    /// ```text
    /// replicated        b
    /// routed experts    ⌈E/ep⌉ · ⌈⌈b/E⌉ / (t·d/ep)⌉    (ep > 1)
    ///                   ⌈b / (t·d)⌉                   (ep = 1)
    /// shared dense      ⌈b / (t·d)⌉ (MLPs, LM head); b (token embedding)
    /// otherwise         ⌈b / t⌉
    /// ```
    pub fn bytes_on_rank(&self, s: &StoredTensor) -> u64 {
        let copies = s.tensor.copies.max(1);
        if s.is_routed_experts() && self.ep > 1 {
            let one = s.bytes.div_ceil(copies).div_ceil(self.expert_tp());
            // at most E·⌈b/E⌉ ≤ b + E: no overflow for a tensor whose bytes fit
            copies.div_ceil(self.ep).saturating_mul(one)
        } else {
            s.bytes.div_ceil(self.ways(s))
        }
    }
}

/// Weight bytes by group, and per tensor-parallel rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WeightBreakdown {
    /// The format.
    pub format: WeightFormat,
    /// All weights, bytes.
    pub total_bytes: u64,
    /// Parameters counted.
    pub params: u64,
    /// Average bits per parameter, scales included.
    pub bits_per_param: f64,
    /// Groups in the order of the model.
    pub groups: Vec<WeightGroup>,
}

/// Bytes of one group of tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WeightGroup {
    /// `embedding`, `attention`, `mlp`, `moe_experts`, `moe_shared_experts`,
    /// `moe_router`, `norms_and_biases`, `lm_head`, `other`.
    pub name: Cow<'static, str>,
    /// Parameters in the group.
    pub params: u64,
    /// Bytes in the group.
    pub bytes: u64,
    /// The storages used, most common first (`q4_K`, `q6_K`).
    pub storages: Vec<String>,
}

/// The groups' names, indexed by [`group_of`].
const GROUPS: [&str; 10] = [
    "embedding",
    "attention",
    "recurrent",
    "mlp",
    "moe_experts",
    "moe_shared_experts",
    "moe_router",
    "norms_and_biases",
    "lm_head",
    "other",
];

/// The index in [`GROUPS`] of the group of `role`.
fn group_of(role: TensorRole) -> usize {
    use TensorRole::*;
    match role {
        TokenEmbedding | PositionEmbedding => 0,
        AttnQ | AttnK | AttnV | AttnOutput | AttnQA | AttnQB | AttnKvA | AttnKvB | Sinks
        | Indexer => 1,
        RecurrentMatrix => 2,
        FfnGate | FfnUp | FfnDown => 3,
        ExpertGate | ExpertUp | ExpertDown => 4,
        SharedGate | SharedUp | SharedDown => 5,
        // the reference groups the shared-expert gate with the router (params::Breakdown)
        Router | SharedExpertGate => 6,
        Norm | Bias | Vector => 7,
        LmHead => 8,
        Extra | OtherMatrix => 9,
    }
}

/// Every tensor of `arch` with its storage and bytes under `format`.
///
/// # Source
/// [`crate::params::tensors`] for the shapes, [`WeightFormat::storage`] for the storage.
///
/// # Errors
/// [`crate::CoreError::Overflow`].
pub fn stored_tensors(
    arch: &Architecture,
    format: WeightFormat,
    opts: &WeightOptions,
) -> Result<Vec<StoredTensor>> {
    let list = tensors(arch)?;
    let ffn_down_tensors = list
        .iter()
        .filter(|t| {
            matches!(
                t.role,
                TensorRole::FfnDown | TensorRole::ExpertDown | TensorRole::SharedDown
            )
        })
        .count() as u64;
    let experts = arch.first_moe().map_or(0, |m| m.num_experts);
    // llama.cpp's `n_gqa`: MLA models keep `n_head_kv = n_head`, so 1
    let gqa = match arch.primary_attention().map(|a| a.kind) {
        Some(AttentionKind::Standard {
            heads, kv_heads, ..
        }) => heads / kv_heads.max(1),
        _ => 1,
    };
    // the blocks repeat each role's shape layer after layer: keep the last size
    // of each role and reuse it when the shape and storage match
    type Sized = (Storage, u64, u64, u64, u64);
    let mut last: [Option<Sized>; TensorRole::COUNT] = [None; TensorRole::COUNT];
    let mut out = Vec::with_capacity(list.len());
    for tensor in list {
        let ctx = TensorContext {
            role: tensor.role,
            layer: tensor.layer,
            cols: tensor.cols,
            layers: arch.num_layers(),
            ffn_down_tensors,
            experts,
            gqa,
            tied_embeddings: arch.embedding.tied,
        };
        let storage = format.storage(&ctx, opts);
        let key = (storage, tensor.rows, tensor.cols, tensor.copies);
        let slot = &mut last[tensor.role as usize];
        let bytes = match *slot {
            Some((st, r, c, n, b)) if (st, r, c, n) == key => b,
            _ => {
                let b = storage.bytes(tensor.rows, tensor.cols, tensor.copies)?;
                *slot = Some((storage, tensor.rows, tensor.cols, tensor.copies, b));
                b
            }
        };
        out.push(StoredTensor {
            tensor,
            storage,
            bytes,
        });
    }
    Ok(out)
}

/// Exact bytes of all weights of `arch` stored as `format`.
///
/// # Formula
/// Σ over tensors of the bytes of its storage (block scales, zeros, group
/// indices included); see [`Storage::bytes`].
///
/// # Source
/// DESIGN.md "Inference" (weights bytes); llama.cpp `llama_tensor_get_type` for GGUF mixtures.
///
/// # Example
/// ```
/// # use sizeup_core::{inference, Shape, WeightFormat};
/// let arch = Shape::llama(32, 4096, 32, 32, 11008, 32000).build().unwrap();
/// let q4_0 = "Q4_0".parse::<WeightFormat>().unwrap();
/// let bytes = inference::weights_bytes(&arch, q4_0, &Default::default()).unwrap();
/// // llama.cpp llama-bench prints 3.56 GiB for LLaMA-7B Q4_0 (PR #4766)
/// assert_eq!(format!("{:.2}", bytes as f64 / (1u64 << 30) as f64), "3.56");
/// ```
///
/// # Errors
/// [`crate::CoreError::Overflow`].
pub fn weights_bytes(
    arch: &Architecture,
    format: WeightFormat,
    opts: &WeightOptions,
) -> Result<u64> {
    Ok(weights_breakdown(arch, format, opts)?.total_bytes)
}

/// Weight bytes grouped by what the tensors do.
///
/// # Errors
/// [`crate::CoreError::Overflow`].
pub fn weights_breakdown(
    arch: &Architecture,
    format: WeightFormat,
    opts: &WeightOptions,
) -> Result<WeightBreakdown> {
    breakdown_of(&stored_tensors(arch, format, opts)?, format)
}

/// [`weights_breakdown`] of tensors already stored as `format`.
pub(super) fn breakdown_of(
    stored: &[StoredTensor],
    format: WeightFormat,
) -> Result<WeightBreakdown> {
    // storages are told apart by value and named once per group; two storages
    // of one name (none within one format) merge, the first one's place kept
    let overflow = || CoreError::Overflow { quantity: Q };
    let mut groups: Vec<(WeightGroup, Vec<(Storage, u64)>)> = Vec::new();
    // where each group of GROUPS sits in `groups` (the order of the model)
    let mut slots = [None; GROUPS.len()];
    for s in stored {
        let group = group_of(s.tensor.role);
        let idx = match slots[group] {
            Some(i) => i,
            None => {
                groups.push((
                    WeightGroup {
                        name: Cow::Borrowed(GROUPS[group]),
                        params: 0,
                        bytes: 0,
                        storages: Vec::new(),
                    },
                    Vec::new(),
                ));
                slots[group] = Some(groups.len() - 1);
                groups.len() - 1
            }
        };
        let (g, kinds) = &mut groups[idx];
        g.params = g
            .params
            .checked_add(s.tensor.elements()?)
            .ok_or_else(overflow)?;
        g.bytes = g.bytes.checked_add(s.bytes).ok_or_else(overflow)?;
        match kinds.iter_mut().find(|(k, _)| *k == s.storage) {
            // a part of `g.bytes`, whose sum is checked above: no overflow
            Some((_, b)) => *b += s.bytes,
            None => kinds.push((s.storage, s.bytes)),
        }
    }
    let groups: Vec<WeightGroup> = groups
        .into_iter()
        .map(|(mut g, storages)| {
            let mut kinds: Vec<(String, u64)> = Vec::with_capacity(storages.len());
            for (storage, bytes) in storages {
                let name = storage.name();
                match kinds.iter_mut().find(|(k, _)| *k == name) {
                    // a part of the group's checked `bytes`: no overflow
                    Some((_, b)) => *b += bytes,
                    None => kinds.push((name, bytes)),
                }
            }
            kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
            g.storages = kinds.into_iter().map(|(k, _)| k).collect();
            g
        })
        .collect();
    let total_bytes = sum(Q, &groups.iter().map(|g| g.bytes).collect::<Vec<_>>())?;
    let params = sum(Q, &groups.iter().map(|g| g.params).collect::<Vec<_>>())?;
    Ok(WeightBreakdown {
        format,
        total_bytes,
        params,
        bits_per_param: if params == 0 {
            0.0
        } else {
            total_bytes as f64 * 8.0 / params as f64
        },
        groups,
    })
}

/// Weight bytes one rank of `split` holds.
///
/// # Formula
/// Σ [`RankSplit::bytes_on_rank`]: replicated tensors whole, routed experts by
/// expert parallelism, everything else `⌈b / t⌉`.
///
/// # Assumptions / limits
/// Vectors, routers and MLA down-projections are replicated (vLLM layouts);
/// everything else, embedding and LM head included, is split `t` ways; under
/// expert parallelism the busiest group holds `⌈E/ep⌉` experts.
///
/// # Errors
/// [`crate::CoreError::Overflow`].
pub fn weights_bytes_per_gpu(stored: &[StoredTensor], split: RankSplit) -> Result<u64> {
    stored.iter().try_fold(0u64, |acc, s| {
        match acc.checked_add(split.bytes_on_rank(s)) {
            Some(total) => Ok(total),
            None => Err(CoreError::Overflow { quantity: Q }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shape;

    use crate::units::GIB;

    fn llama2_7b() -> Architecture {
        Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap()
    }

    fn gguf(name: &str) -> WeightFormat {
        name.parse().unwrap()
    }

    #[test]
    fn llama_bench_sizes_of_llama_7b() {
        // shared/validation/cases.json `llamacpp_gguf_sizes_7b`: llama-bench prints
        // F16 12.55 GiB, Q8_0 6.67 GiB, Q4_0 3.56 GiB
        let opts = WeightOptions::default();
        let gib = |f: &str| weights_bytes(&llama2_7b(), gguf(f), &opts).unwrap() as f64 / GIB;
        assert_eq!(format!("{:.2}", gib("F16")), "12.55");
        assert_eq!(format!("{:.2}", gib("Q8_0")), "6.67");
        assert_eq!(format!("{:.2}", gib("Q4_0")), "3.56");
    }

    #[test]
    fn q4_k_m_mixture_of_llama_2_7b() {
        // TheBloke/Llama-2-7B-GGUF model card: llama-2-7b.Q4_K_M.gguf 4.08 GB,
        // Q5_K_M 4.78 GB, Q6_K 5.53 GB (file sizes, metadata included: ~1 MB)
        let opts = WeightOptions::default();
        let gb = |f: &str| weights_bytes(&llama2_7b(), gguf(f), &opts).unwrap() as f64 / 1e9;
        assert!((gb("Q4_K_M") - 4.08).abs() < 0.01, "{}", gb("Q4_K_M"));
        assert!((gb("Q5_K_M") - 4.78).abs() < 0.01, "{}", gb("Q5_K_M"));
        assert!((gb("Q6_K") - 5.53).abs() < 0.01, "{}", gb("Q6_K"));
        // Q4_K_M: half the attn_v and ffn_down in Q6_K, output Q6_K
        let b = weights_breakdown(&llama2_7b(), gguf("Q4_K_M"), &opts).unwrap();
        let attn = b.groups.iter().find(|g| g.name == "attention").unwrap();
        assert_eq!(attn.storages, vec!["q4_K", "q6_K"]);
        let head = b.groups.iter().find(|g| g.name == "lm_head").unwrap();
        assert_eq!(head.storages, vec!["q6_K"]);
    }

    #[test]
    fn keep_embeddings_in_16_bits() {
        let keep = WeightOptions {
            keep_embeddings_16bit: true,
        };
        let b = weights_breakdown(&llama2_7b(), gguf("Q4_K_M"), &keep).unwrap();
        for name in ["embedding", "lm_head"] {
            let g = b.groups.iter().find(|g| g.name == name).unwrap();
            assert_eq!(g.bytes, 32000 * 4096 * 2);
        }
    }

    #[test]
    fn sixteen_bit_formats_are_two_bytes_a_parameter() {
        let arch = llama2_7b();
        let b = weights_bytes(&arch, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
        assert_eq!(b, 2 * 6_738_415_616);
        let gptq = weights_breakdown(
            &arch,
            WeightFormat::Gptq { group: 128 },
            &Default::default(),
        )
        .unwrap();
        // 4 bits + 16/128 scale + 4/128 zero ≈ 4.16 bits in the blocks; 16-bit embeddings lift the average
        assert!(
            gptq.bits_per_param > 4.3 && gptq.bits_per_param < 4.8,
            "{}",
            gptq.bits_per_param
        );
    }

    #[test]
    fn tensor_parallel_split_keeps_vectors_whole() {
        let arch = llama2_7b();
        let stored = stored_tensors(&arch, WeightFormat::Bf16, &WeightOptions::default()).unwrap();
        let one = weights_bytes_per_gpu(&stored, RankSplit::tensor(1)).unwrap();
        let two = weights_bytes_per_gpu(&stored, RankSplit::tensor(2)).unwrap();
        let norms = 2 * 266_240; // (32·2 + 1)·4096 RMSNorm weights in bf16
        assert_eq!(two, (one - norms) / 2 + norms);
    }
}

//! `deepseek_v2` and `deepseek_v3`: multi-head latent attention and DeepSeekMoE.
//!
//! Source: transformers `modeling_deepseek_v2.py`, `modeling_deepseek_v3.py` and
//! their configuration classes. Attention: `q_a_proj` (`h×r_q`), `q_a_layernorm`,
//! `q_b_proj` (`r_q×a·(d_n+d_r)`), or one `q_proj` when `q_lora_rank` is null;
//! `kv_a_proj_with_mqa` (`h×(r_kv+d_r)`), `kv_a_layernorm`, `kv_b_proj`
//! (`r_kv×a·(d_n+d_v)`), `o_proj` (`a·d_v×h`). Layers `i ≥ first_k_dense_replace`
//! are MoE layers (transformers does not read `moe_layer_freq`): a router `h×E`
//! (DeepSeek-V3's `e_score_correction_bias` is a buffer, not a parameter),
//! `n_routed_experts` gated experts of `moe_intermediate_size` and one shared MLP of
//! `n_shared_experts · moe_intermediate_size`.
//!
//! # Assumptions / limits
//! The multi-token-prediction layers (`num_nextn_predict_layers`) shipped in
//! DeepSeek-V3 checkpoints are not built by transformers and are not counted.

use super::draft::{Draft, Moe};
use sizeup_core::arch::{
    Architecture, AttentionBias, AttentionKind, Group, Indexer, Mlp, MlpKind, Mtp, NamedTensor,
    SharedExperts,
};

use super::config::Config;
use super::{llama_like, Dims};
use crate::error::FormatError;

/// Class defaults that differ between DeepSeek-V2 and V3.
struct Defaults {
    context: u64,
    routed_experts: Option<u64>,
    experts_per_token: Option<u64>,
    shared_experts: Option<u64>,
    moe_intermediate: u64,
    first_dense: u64,
}

/// `deepseek_v2` (DeepSeek-V2, V2-Lite, Coder-V2): DeepseekV2Config leaves the
/// expert counts without defaults.
pub(super) fn read_v2(cfg: &mut Config) -> Result<Draft, FormatError> {
    read(
        cfg,
        &Defaults {
            context: 2048,
            routed_experts: None,
            experts_per_token: None,
            shared_experts: None,
            moe_intermediate: 1407,
            first_dense: 0,
        },
    )
}

/// `deepseek_v3` (DeepSeek-V3, R1): DeepseekV3Config defaults are V3's own sizes.
pub(super) fn read_v3(cfg: &mut Config) -> Result<Draft, FormatError> {
    read(
        cfg,
        &Defaults {
            context: 4096,
            routed_experts: Some(256),
            experts_per_token: Some(8),
            shared_experts: Some(1),
            moe_intermediate: 2048,
            first_dense: 3,
        },
    )
}

fn size_with(
    cfg: &mut Config,
    key: &'static str,
    default: Option<u64>,
) -> Result<u64, FormatError> {
    match default {
        Some(d) => cfg.size_or(key, d, &format!("`{key}` defaults to {d}")),
        None => cfg.size(&[key]),
    }
}

fn read(cfg: &mut Config, defaults: &Defaults) -> Result<Draft, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let ffn = cfg.size(&["intermediate_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], defaults.context)?;
    let q_lora_rank = cfg.opt_size(&["q_lora_rank"])?;
    let kv_lora_rank = cfg.size_or("kv_lora_rank", 512, "`kv_lora_rank` defaults to 512")?;
    let qk_nope_head_dim = cfg.size_or(
        "qk_nope_head_dim",
        128,
        "`qk_nope_head_dim` defaults to 128",
    )?;
    let qk_rope_head_dim =
        cfg.size_or("qk_rope_head_dim", 64, "`qk_rope_head_dim` defaults to 64")?;
    let v_head_dim = cfg.size_or("v_head_dim", 128, "`v_head_dim` defaults to 128")?;
    if cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )? {
        return Err(cfg.invalid(
            "attention_bias",
            true,
            "false: biases on the MLA projections are not modelled",
        ));
    }

    let mut arch = llama_like(
        cfg.model_type(),
        Dims {
            hidden,
            layers,
            vocab,
            max_context,
            heads,
            kv_heads: heads,
            head_dim: qk_nope_head_dim,
            ffn,
        },
    );
    arch.attention.kind = AttentionKind::Mla {
        heads,
        q_lora_rank,
        kv_lora_rank,
        qk_nope_head_dim,
        qk_rope_head_dim,
        v_head_dim,
    };
    arch.attention.bias = AttentionBias::default();
    arch.embedding.tied = cfg.tied(false)?;

    let first_dense = cfg.count_or(
        "first_k_dense_replace",
        defaults.first_dense,
        &format!(
            "`first_k_dense_replace` defaults to {}",
            defaults.first_dense
        ),
    )?;
    let moe_layers = layers - first_dense.min(layers);
    if cfg.opt_count("moe_layer_freq")?.is_some_and(|f| f != 1) {
        cfg.assume(
            "moe_layer_freq",
            "1 (ignored)",
            "transformers makes every layer from first_k_dense_replace on an MoE layer",
        );
    }
    if moe_layers > 0 {
        let num_experts = size_with(cfg, "n_routed_experts", defaults.routed_experts)?;
        let experts_per_token = size_with(cfg, "num_experts_per_tok", defaults.experts_per_token)?;
        let expert_f = cfg.size_or(
            "moe_intermediate_size",
            defaults.moe_intermediate,
            &format!(
                "`moe_intermediate_size` defaults to {}",
                defaults.moe_intermediate
            ),
        )?;
        let shared = match cfg.opt_count("n_shared_experts")? {
            Some(n) => Some(n),
            None => {
                if let Some(n) = defaults.shared_experts {
                    cfg.assume(
                        "n_shared_experts",
                        n,
                        &format!("`n_shared_experts` defaults to {n}"),
                    );
                }
                defaults.shared_experts
            }
        };
        let shared = match shared {
            Some(n) if n > 0 => Some(SharedExperts {
                mlp: gated(expert_f.checked_mul(n).ok_or_else(|| {
                    cfg.invalid("n_shared_experts", n, "a count whose width fits in 64 bits")
                })?),
                gate: false,
            }),
            _ => None,
        };
        arch.ffn.moe = Some(Moe {
            num_experts,
            experts_per_token,
            expert: gated(expert_f),
            shared,
            moe_layers,
            router_bias: false,
        });
    }
    if cfg
        .opt_count("num_nextn_predict_layers")?
        .is_some_and(|n| n > 0)
    {
        cfg.assume(
            "num_nextn_predict_layers",
            "0 counted",
            "transformers does not build the multi-token-prediction layers",
        );
    }
    Ok(arch)
}

/// A bias-free gated MLP of width `f`.
fn gated(f: u64) -> Mlp {
    Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    }
}

/// `deepseek_v32` (DeepSeek-V3.2): V3's layout with the DeepSeek sparse-attention
/// lightning indexer on every layer (`index_n_heads`, `index_head_dim`, `index_topk`).
///
/// # Source
/// transformers `models/deepseek_v32/modeling_deepseek_v32.py` (`DeepseekV32Indexer`:
/// `wq_b`, `wk`, `k_norm` LayerNorm with bias, `weights_proj`).
pub(super) fn read_v32(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let draft = read_v3(cfg)?;
    let indexer = Indexer {
        heads: cfg.size_or("index_n_heads", 64, "`index_n_heads` defaults to 64")?,
        head_dim: cfg.size_or("index_head_dim", 128, "`index_head_dim` defaults to 128")?,
        top_k: cfg.size_or("index_topk", 2048, "`index_topk` defaults to 2048")?,
    };
    let mut arch = draft.build();
    arch.map_attention(|a| a.indexer = Some(indexer));
    with_mtp(cfg, &mut arch)?;
    Ok(arch)
}

/// `deepseek_v3` with its multi-token-prediction layers (shown apart from the count).
pub(super) fn read_v3_with_mtp(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let mut arch = read_v3(cfg)?.build();
    with_mtp(cfg, &mut arch)?;
    Ok(arch)
}

/// Multi-token-prediction layers (`num_nextn_predict_layers`): each a copy of the last
/// block with `enorm`, `hnorm` (`h`), `eh_proj` (`2h → h`) and `shared_head.norm` (`h`).
///
/// # Source
/// vLLM `DeepSeekMultiTokenPredictorLayer`; DeepSeek-V3 technical report §2.2.
pub(super) fn with_mtp(cfg: &mut Config, arch: &mut Architecture) -> Result<(), FormatError> {
    let layers = cfg.count_or(
        "num_nextn_predict_layers",
        0,
        "`num_nextn_predict_layers` defaults to 0",
    )?;
    let last = arch.layer(arch.num_layers().saturating_sub(1)).cloned();
    if let (true, Some(block)) = (layers > 0, last) {
        let h = arch.hidden_size;
        arch.mtp = Some(Mtp {
            layers,
            block,
            extra: vec![
                NamedTensor::matrix("eh_proj", h, h.saturating_mul(2), Group::Other),
                NamedTensor::vector("enorm", h, Group::Norm),
                NamedTensor::vector("hnorm", h, Group::Norm),
                NamedTensor::vector("shared_head.norm", h, Group::Norm),
            ],
        });
    }
    Ok(())
}

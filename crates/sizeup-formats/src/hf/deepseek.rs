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

use super::config::{Config, Field};
use super::{llama_like, window, Dims};
use crate::error::FormatError;

/// Class defaults that differ between DeepSeek-V2, V3 and the GLM classes built on them.
pub(super) struct Defaults {
    pub context: u64,
    pub routed_experts: Option<u64>,
    pub experts_per_token: Option<u64>,
    pub shared_experts: Option<u64>,
    pub moe_intermediate: u64,
    /// Which layers are MoE layers when the config does not list them.
    pub layering: Layering,
    /// `q_lora_rank` when absent (`None`: absent means uncompressed queries).
    pub q_lora_rank: Option<u64>,
    pub qk_nope_head_dim: u64,
    pub v_head_dim: u64,
}

/// How a class decides which layers carry experts.
#[derive(Clone, Copy)]
pub(super) enum Layering {
    /// Layers `i ≥ first_k_dense_replace` (with this default); DeepSeek-V2/V3.
    FirstDense(u64),
    /// `mlp_layer_types` (`dense`/`sparse` per layer) when listed, else the first
    /// `first_k_dense_replace` layers dense (GLM-5: default 3) or, when the class does
    /// not read that key (`None`), only the first layer (GLM-4.7-Flash).
    MlpLayerTypes(Option<u64>),
}

const DEEPSEEK_MLA: (u64, u64) = (128, 128);

/// `deepseek_v2` (DeepSeek-V2, V2-Lite, Coder-V2): DeepseekV2Config leaves the
/// expert counts without defaults.
pub(super) fn read_v2(cfg: &mut Config) -> Result<Draft, FormatError> {
    let defaults = Defaults {
        context: 2048,
        routed_experts: None,
        experts_per_token: None,
        shared_experts: None,
        moe_intermediate: 1407,
        layering: Layering::FirstDense(0),
        q_lora_rank: None,
        qk_nope_head_dim: DEEPSEEK_MLA.0,
        v_head_dim: DEEPSEEK_MLA.1,
    };
    read(cfg, &defaults).map(|(draft, _)| draft)
}

/// `deepseek_v3` (DeepSeek-V3, R1): DeepseekV3Config defaults are V3's own sizes.
pub(super) fn read_v3(cfg: &mut Config) -> Result<Draft, FormatError> {
    let defaults = Defaults {
        context: 4096,
        routed_experts: Some(256),
        experts_per_token: Some(8),
        shared_experts: Some(1),
        moe_intermediate: 2048,
        layering: Layering::FirstDense(3),
        q_lora_rank: None,
        qk_nope_head_dim: DEEPSEEK_MLA.0,
        v_head_dim: DEEPSEEK_MLA.1,
    };
    read(cfg, &defaults).map(|(draft, _)| draft)
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

/// Which of `layers` carry experts, as `layering` decides.
fn sparse_layers(
    cfg: &mut Config,
    layers: u64,
    layering: Layering,
) -> Result<Vec<bool>, FormatError> {
    let first_dense = |cfg: &mut Config, d: u64| {
        cfg.count_or(
            "first_k_dense_replace",
            d,
            &format!("`first_k_dense_replace` defaults to {d}"),
        )
    };
    let dense = match layering {
        Layering::FirstDense(d) => first_dense(cfg, d)?,
        Layering::MlpLayerTypes(by_key) => {
            if let Some(types) = cfg.per_layer("mlp_layer_types", layers, &["dense", "sparse"])? {
                return Ok(types.iter().map(|t| *t == "sparse").collect());
            }
            match by_key {
                Some(d) => first_dense(cfg, d)?,
                None => {
                    if cfg
                        .opt_count("first_k_dense_replace")?
                        .is_some_and(|k| k != 1)
                    {
                        cfg.assume(
                            "first_k_dense_replace",
                            "1 (ignored)",
                            "the class reads mlp_layer_types only: without it layer 0 is dense",
                        );
                    } else {
                        cfg.assume(
                            "mlp_layer_types",
                            "dense, then sparse",
                            "`mlp_layer_types` absent means layer 0 dense and the rest MoE",
                        );
                    }
                    1
                }
            }
        }
    };
    Ok(window::where_(layers, |i| i >= dense))
}

/// Read a DeepSeek-style MLA + MoE decoder; also which layers carry experts.
pub(super) fn read(
    cfg: &mut Config,
    defaults: &Defaults,
) -> Result<(Draft, Vec<bool>), FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let ffn = cfg.size(&["intermediate_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], defaults.context)?;
    let q_lora_rank = match (defaults.q_lora_rank, cfg.field("q_lora_rank")) {
        (Some(r), Field::Absent) => {
            cfg.assume("q_lora_rank", r, &format!("`q_lora_rank` defaults to {r}"));
            Some(r)
        }
        _ => cfg.opt_size(&["q_lora_rank"])?,
    };
    let kv_lora_rank = cfg.size_or("kv_lora_rank", 512, "`kv_lora_rank` defaults to 512")?;
    let nope = defaults.qk_nope_head_dim;
    let qk_nope_head_dim = cfg.size_or(
        "qk_nope_head_dim",
        nope,
        &format!("`qk_nope_head_dim` defaults to {nope}"),
    )?;
    let qk_rope_head_dim =
        cfg.size_or("qk_rope_head_dim", 64, "`qk_rope_head_dim` defaults to 64")?;
    let v = defaults.v_head_dim;
    let v_head_dim = cfg.size_or("v_head_dim", v, &format!("`v_head_dim` defaults to {v}"))?;
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

    let sparse = sparse_layers(cfg, layers, defaults.layering)?;
    let moe_layers = sparse.iter().filter(|&&s| s).count() as u64;
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
    Ok((arch, sparse))
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

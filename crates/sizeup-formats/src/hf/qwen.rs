//! The Qwen lineage: qwen2 (also Qwen1.5 and Qwen2.5), qwen2_moe, qwen3, qwen3_moe.
//!
//! Sources: transformers `modeling_qwen2.py` (bias on q, k, v only),
//! `modeling_qwen2_moe.py` (shared expert with a sigmoid gate `h×1`),
//! `modeling_qwen3.py` and `modeling_qwen3_moe.py` (per-head q/k RMSNorm of width
//! `d`, no biases), and their configuration classes, which also decide the
//! sliding-window layers.

use super::draft::{Draft, Moe};
use sizeup_core::arch::{Mlp, MlpKind, QkNorm, SharedExperts};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

/// Qwen2/Qwen3 windows: with `use_sliding_window` (default false), layers
/// `i ≥ max_window_layers` (default 28) slide; without it none do.
fn windows_from_max_window_layers(cfg: &mut Config, arch: &mut Draft) -> Result<(), FormatError> {
    // `sliding_window` is read only when windows are on: transformers 5 writes 0
    // or null there when they are off
    let enabled = cfg.flag_or(
        "use_sliding_window",
        false,
        "`use_sliding_window` defaults to false",
    )?;
    if !enabled {
        return Ok(());
    }
    let size = window::size(cfg, Some(4096))?;
    let from = cfg.count_or(
        "max_window_layers",
        28,
        "`max_window_layers` defaults to 28",
    )?;
    let layers = arch.num_layers;
    let local = window::local_layers(
        cfg,
        layers,
        "layers i >= max_window_layers slide",
        window::where_(layers, |i| i >= from),
    )?;
    arch.attention.window = window::on(size, local);
    Ok(())
}

/// `qwen2`: bias on q, k and v (not o), `num_key_value_heads` defaults to 32.
pub(super) fn read_qwen2(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(32), HeadDim::Divide, 32_768)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv = true;
    arch.embedding.tied = cfg.tied(false)?;
    windows_from_max_window_layers(cfg, &mut arch)?;
    Ok(arch)
}

/// `qwen3`: q/k RMSNorm per head, no biases (`attention_bias` default false),
/// `head_dim` defaults to 128 and `num_key_value_heads` to 32.
pub(super) fn read_qwen3(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(32), HeadDim::Fixed(128), 32_768)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias.qkv = bias;
    arch.attention.bias.output = bias;
    arch.attention.qk_norm = QkNorm::PerHeadShared;
    arch.embedding.tied = cfg.tied(false)?;
    windows_from_max_window_layers(cfg, &mut arch)?;
    Ok(arch)
}

/// Which of `layers` are MoE layers: `i ∉ mlp_only_layers` and
/// `(i + 1) % decoder_sparse_step == 0`, as Qwen2-MoE, Qwen3-MoE and Qwen3-Next decide.
///
/// # Errors
/// [`FormatError::InvalidField`] for a zero `decoder_sparse_step`.
pub(super) fn moe_layer_flags(cfg: &mut Config, layers: u64) -> Result<Vec<bool>, FormatError> {
    let step = cfg.count_or(
        "decoder_sparse_step",
        1,
        "`decoder_sparse_step` defaults to 1",
    )?;
    if step == 0 {
        return Err(cfg.invalid("decoder_sparse_step", 0, "a positive integer"));
    }
    let mut flags: Vec<bool> = (0..layers).map(|i| (i + 1) % step == 0).collect();
    for i in cfg.opt_counts("mlp_only_layers")?.unwrap_or_default() {
        if let Some(f) = usize::try_from(i).ok().and_then(|i| flags.get_mut(i)) {
            *f = false;
        }
    }
    Ok(flags)
}

/// How many of `layers` are MoE layers ([`moe_layer_flags`]); the uniform reader
/// lays them after the dense ones.
fn moe_layer_count(cfg: &mut Config, layers: u64) -> Result<u64, FormatError> {
    Ok(moe_layer_flags(cfg, layers)?.iter().filter(|&&m| m).count() as u64)
}

/// `qwen2_moe` (Qwen1.5-MoE, Qwen2-57B-A14B): routed experts of
/// `moe_intermediate_size`, one shared expert of `shared_expert_intermediate_size`
/// with its scalar gate, bias on q, k and v (`qkv_bias`, default true).
///
/// # Assumptions / limits
/// Windows follow `Qwen2MoeConfig`: with `use_sliding_window`, even layers below
/// `max_window_layers` slide.
pub(super) fn read_qwen2_moe(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(16), HeadDim::Divide, 32_768)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv = cfg.flag_or("qkv_bias", true, "`qkv_bias` defaults to true")?;
    arch.embedding.tied = cfg.tied(false)?;

    if cfg.flag_or(
        "use_sliding_window",
        false,
        "`use_sliding_window` defaults to false",
    )? {
        let size = window::size(cfg, Some(4096))?;
        let below = cfg
            .count_or(
                "max_window_layers",
                28,
                "`max_window_layers` defaults to 28",
            )?
            .min(dims.layers);
        let local = window::local_layers(
            cfg,
            dims.layers,
            "even layers below max_window_layers slide",
            window::where_(dims.layers, |i| i < below && i % 2 == 0),
        )?;
        arch.attention.window = window::on(size, local);
    }

    let num_experts = cfg.count_or("num_experts", 60, "`num_experts` defaults to 60")?;
    let moe_layers = moe_layer_count(cfg, dims.layers)?;
    if num_experts > 0 && moe_layers > 0 {
        let expert_f = cfg.size_or(
            "moe_intermediate_size",
            1408,
            "`moe_intermediate_size` defaults to 1408",
        )?;
        let shared_f = cfg.count_or(
            "shared_expert_intermediate_size",
            5632,
            "`shared_expert_intermediate_size` defaults to 5632",
        )?;
        arch.ffn.moe = Some(Moe {
            num_experts,
            experts_per_token: cfg.size_or(
                "num_experts_per_tok",
                4,
                "`num_experts_per_tok` defaults to 4",
            )?,
            expert: gated(expert_f),
            shared: Some(SharedExperts {
                mlp: gated(shared_f),
                gate: true,
            }),
            moe_layers,
            router_bias: false,
        });
    }
    Ok(arch)
}

/// `qwen3_moe`: Qwen3 attention (`head_dim` absent means `h/a` here, since the
/// class has no default for it), routed experts only; `sliding_window` applies to
/// every layer when `use_sliding_window` is set.
pub(super) fn read_qwen3_moe(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(4), HeadDim::Divide, 32_768)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias.qkv = bias;
    arch.attention.bias.output = bias;
    arch.attention.qk_norm = QkNorm::PerHeadShared;
    arch.embedding.tied = cfg.tied(false)?;
    if cfg.flag_or(
        "use_sliding_window",
        false,
        "`use_sliding_window` defaults to false",
    )? {
        let size = window::size(cfg, Some(4096))?;
        arch.attention.window = window::on(size, window::all(dims.layers));
    }

    let num_experts = match cfg.opt_count("num_experts")? {
        Some(n) => n,
        None => cfg.count_or("num_local_experts", 128, "`num_experts` defaults to 128")?,
    };
    let moe_layers = moe_layer_count(cfg, dims.layers)?;
    if num_experts > 0 && moe_layers > 0 {
        let expert_f = cfg.size_or(
            "moe_intermediate_size",
            768,
            "`moe_intermediate_size` defaults to 768",
        )?;
        arch.ffn.moe = Some(Moe {
            num_experts,
            experts_per_token: cfg.size_or(
                "num_experts_per_tok",
                8,
                "`num_experts_per_tok` defaults to 8",
            )?,
            expert: gated(expert_f),
            shared: None,
            moe_layers,
            router_bias: false,
        });
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

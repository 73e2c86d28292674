//! The Llama lineage: llama, mistral, mixtral, granite, glm, phi3.
//!
//! All share the Llama block (RMSNorm, rotary, gated MLP); they differ in which
//! projections carry biases, their defaults, sliding windows and experts.
//! Sources: transformers `modeling_llama.py`, `modeling_mistral.py`,
//! `modeling_mixtral.py`, `modeling_granite.py`, `modeling_glm.py`, `modeling_phi3.py`
//! and their configuration classes.

use super::draft::{Draft, Moe};
use sizeup_core::arch::AttentionBias;

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

/// `attention_bias` (q, k, v and o together) and `mlp_bias`, as Llama and Granite read them.
fn llama_biases(cfg: &mut Config, arch: &mut Draft) -> Result<(), FormatError> {
    let attn = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias = AttentionBias {
        qkv: attn,
        output: attn,
    };
    arch.ffn.dense.bias = cfg.flag_or("mlp_bias", false, "`mlp_bias` defaults to false")?;
    Ok(())
}

/// `llama` (also Code Llama, Yi, DeepSeek-LLM) and `granite` (the Llama block with
/// scalar multipliers, which carry no parameters): LlamaConfig / GraniteConfig
/// defaults, which agree on every key read here.
pub(super) fn read_llama(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 2048)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    llama_biases(cfg, &mut arch)?;
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}

/// `mistral`: no biases; `sliding_window` on every layer (class default 4096; null
/// turns it off, as Mistral 7B v0.2+ configs do).
pub(super) fn read_mistral(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Divide, 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.embedding.tied = cfg.tied(false)?;
    let size = window::size(cfg, Some(4096))?;
    arch.attention.window = window::on(size, window::all(dims.layers));
    Ok(arch)
}

/// `mixtral`: Mistral attention with a mixture of gated experts in every layer.
///
/// # Source
/// transformers `MixtralSparseMoeBlock`: router `h×E` without bias, `E` experts of
/// `3·h·f`; `num_local_experts` defaults to 8, `num_experts_per_tok` to 2, and
/// `sliding_window` to none.
pub(super) fn read_mixtral(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Divide, 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.embedding.tied = cfg.tied(false)?;
    let size = window::size(cfg, None)?;
    arch.attention.window = window::on(size, window::all(dims.layers));
    let num_experts = cfg.size_or("num_local_experts", 8, "`num_local_experts` defaults to 8")?;
    let experts_per_token = cfg.size_or(
        "num_experts_per_tok",
        2,
        "`num_experts_per_tok` defaults to 2",
    )?;
    arch.ffn.moe = Some(Moe {
        num_experts,
        experts_per_token,
        expert: arch.ffn.dense,
        shared: None,
        moe_layers: dims.layers,
        router_bias: false,
    });
    Ok(arch)
}

/// `glm` (GLM-4 in transformers): biases on q, k and v only (`attention_bias`,
/// default true), a fused gate/up projection (same count as gated), partial rotary.
pub(super) fn read_glm(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(2), HeadDim::Fixed(128), 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv =
        cfg.flag_or("attention_bias", true, "`attention_bias` defaults to true")?;
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}

/// `phi3` (Phi-3, Phi-3.5, Phi-4-mini): fused `qkv_proj` and `gate_up_proj` without
/// biases, `sliding_window` (default none) on every layer.
pub(super) fn read_phi3(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 4096)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.embedding.tied = cfg.tied(false)?;
    let size = window::size(cfg, None)?;
    arch.attention.window = window::on(size, window::all(dims.layers));
    Ok(arch)
}

/// `granitemoe`: Granite attention and multipliers (no parameters) with every MLP a
/// mixture of `num_local_experts` experts of `intermediate_size` (fused `input_linear`
/// gate and up, `output_linear` down), `num_experts_per_tok` per token.
///
/// # Source
/// transformers `models/granitemoe/modeling_granitemoe.py` (`GraniteMoeMoE`).
pub(super) fn read_granitemoe(cfg: &mut Config) -> Result<Draft, FormatError> {
    let mut arch = read_llama(cfg)?;
    arch.ffn.moe = Some(Moe {
        num_experts: cfg.size(&["num_local_experts"])?,
        experts_per_token: cfg.size(&["num_experts_per_tok"])?,
        expert: arch.ffn.dense,
        shared: None,
        moe_layers: arch.num_layers,
        router_bias: false,
    });
    Ok(arch)
}

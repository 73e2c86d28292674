//! `gpt_oss`: OpenAI gpt-oss.
//!
//! Source: transformers `modeling_gpt_oss.py` and `GptOssConfig`: q, k, v, o with
//! biases (`attention_bias`, default true) and one learned sink per head; a router
//! `h×E` with bias; `num_local_experts` gated experts with biases (`gate_up_proj`
//! `h×2f` + `2f`, `down_proj` `f×h` + `h`); RMSNorm; sliding windows (default 128)
//! on even layers unless `layer_types` says otherwise; untied head by default.
//!
//! # Assumptions / limits
//! Counts are for the unquantized layout; the MXFP4 `quantization_config` of the
//! released checkpoints is ignored.

use super::draft::{Draft, Moe};
use sizeup_core::arch::{AttentionBias, Mlp, MlpKind};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

/// Read a `gpt_oss` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Fixed(64), 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or("attention_bias", true, "`attention_bias` defaults to true")?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.attention.sinks = true;
    arch.embedding.tied = cfg.tied(false)?;
    let size = window::size(cfg, Some(128))?;
    let local = window::local_layers(
        cfg,
        dims.layers,
        "layers with (i + 1) % 2 != 0 slide",
        window::all_but_every_nth(dims.layers, 2),
    )?;
    arch.attention.window = window::on(size, local);

    let num_experts = match cfg.opt_size(&["num_local_experts", "num_experts"])? {
        Some(n) => n,
        None => cfg.size_or(
            "num_local_experts",
            128,
            "`num_local_experts` defaults to 128",
        )?,
    };
    let experts_per_token = match cfg.opt_size(&["num_experts_per_tok", "experts_per_token"])? {
        Some(n) => n,
        None => cfg.size_or(
            "num_experts_per_tok",
            4,
            "`num_experts_per_tok` defaults to 4",
        )?,
    };
    arch.ffn.moe = Some(Moe {
        num_experts,
        experts_per_token,
        expert: Mlp {
            kind: MlpKind::Gated,
            intermediate_size: dims.ffn,
            bias: true,
        },
        shared: None,
        moe_layers: dims.layers,
        router_bias: true,
    });
    Ok(arch)
}

//! The Gemma lineage: gemma, gemma2, gemma3_text and the image-text gemma3.
//!
//! Sources: transformers `modeling_gemma.py` (GeGLU MLP, RMSNorm scaled by `1 + w`,
//! still `h` weights), `modeling_gemma2.py` (four norms per block: before and after
//! attention and MLP), `modeling_gemma3.py` (Gemma 2's block plus per-head q/k
//! RMSNorm; `Gemma3MultiModalProjector`) and their configuration classes. Every
//! Gemma config class ties the LM head to the embedding by default.

use super::draft::Draft;
use sizeup_core::arch::{QkNorm, Tower};
use sizeup_core::units::{product, sum};

use super::config::{Config, HeadDim, KvHeads, Section};
use super::{llama_dims, llama_like, siglip, window};
use crate::error::FormatError;

/// `gemma`: the Llama block with `head_dim` 256 and `num_key_value_heads` 16 by
/// default, tied head.
pub(super) fn read_gemma(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(16), HeadDim::Fixed(256), 8192)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias.qkv = bias;
    arch.attention.bias.output = bias;
    arch.embedding.tied = cfg.tied(true)?;
    Ok(arch)
}

/// `gemma2`: four norms per block; every other layer (even indices) slides over
/// `sliding_window` (default 4096) unless `layer_types` says otherwise.
pub(super) fn read_gemma2(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(4), HeadDim::Fixed(256), 8192)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias.qkv = bias;
    arch.attention.bias.output = bias;
    arch.norm.per_layer = 4;
    arch.embedding.tied = cfg.tied(true)?;
    let size = window::size(cfg, Some(4096))?;
    let local = window::local_layers(
        cfg,
        dims.layers,
        "layers with (i + 1) % 2 != 0 slide",
        window::all_but_every_nth(dims.layers, 2),
    )?;
    arch.attention.window = window::on(size, local);
    Ok(arch)
}

/// `gemma3_text`: Gemma 2's block with per-head q/k norms; five of every six layers
/// slide (`sliding_window_pattern`, default 6) unless `layer_types` says otherwise.
pub(super) fn read_gemma3_text(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(4), HeadDim::Fixed(256), 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias.qkv = bias;
    arch.attention.bias.output = bias;
    arch.attention.qk_norm = QkNorm::PerHeadShared;
    arch.norm.per_layer = 4;
    arch.embedding.tied = cfg.tied(true)?;
    let size = window::size(cfg, Some(4096))?;
    let pattern = match cfg.opt_count("sliding_window_pattern")? {
        Some(p) => p,
        None => cfg.count_or(
            "_sliding_window_pattern",
            6,
            "`sliding_window_pattern` defaults to 6",
        )?,
    };
    if pattern == 0 {
        return Err(cfg.invalid("sliding_window_pattern", 0, "a positive integer"));
    }
    let local = window::local_layers(
        cfg,
        dims.layers,
        "layers with (i + 1) % sliding_window_pattern != 0 slide",
        window::all_but_every_nth(dims.layers, pattern),
    )?;
    arch.attention.window = window::on(size, local);
    Ok(arch)
}

/// `gemma3` (image-text, `Gemma3ForConditionalGeneration`): the `text_config`
/// language model plus the SigLIP vision tower and the projector, counted together
/// as the extra group `vision_and_projector`.
///
/// # Formula
/// ```text
/// projector = h_v·h (mm_input_projection_weight) + h_v (mm_soft_emb_norm)
/// ```
///
/// # Symbols
/// `h_v` vision hidden size, `h` text hidden size.
///
/// # Source
/// transformers `Gemma3MultiModalProjector`; the tied head follows the top-level
/// `tie_word_embeddings` (Gemma3Config default true).
pub(super) fn read_gemma3(cfg: &mut Config) -> Result<Draft, FormatError> {
    let mut arch = cfg.section(Section::Text, "Gemma3TextConfig", read_gemma3_text)?;
    if let Some(tied) = cfg.opt_flag("tie_word_embeddings")? {
        arch.embedding.tied = tied;
    }

    let tower = cfg.section(Section::Vision, "SiglipVisionConfig", siglip::tower)?;
    const Q: &str = "vision projector parameter count";
    let projector = sum(
        Q,
        &[product(Q, &[tower.hidden, arch.hidden_size])?, tower.hidden],
    )?;
    arch.extra
        .push(Tower::vision(sum(Q, &[tower.params, projector])?));
    Ok(arch)
}

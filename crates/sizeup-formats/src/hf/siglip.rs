//! The SigLIP vision tower that image-text models (Gemma 3) carry beside the
//! language model.

use sizeup_core::units::{product, sum};

use super::config::Config;
use crate::error::FormatError;

const Q: &str = "vision tower parameter count";

/// A counted vision tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tower {
    /// Width of the tower's residual stream `h_v`.
    pub hidden: u64,
    /// All its parameters.
    pub params: u64,
}

/// Count a `SiglipVisionModel` from its config.
///
/// # Formula
/// ```text
/// patches  = c·p²·h_v + h_v                         (Conv2d patch embedding with bias)
/// position = (⌊image / p⌋)²·h_v
/// layer    = 2·2h_v + 4·(h_v² + h_v) + 2·h_v·f + f + h_v   (two LayerNorms, q/k/v/o with bias, fc1/fc2)
/// post     = 2h_v                                   (post_layernorm)
/// head     = h_v + 4·(h_v² + h_v) + 2h_v + 2·h_v·f + f + h_v   (probe, MultiheadAttention, LayerNorm, MLP)
/// tower    = patches + position + L_v·layer + post (+ head if vision_use_head)
/// ```
///
/// # Symbols
/// `h_v` hidden size, `f` intermediate size, `L_v` layers, `c` channels, `p` patch
/// size, `image` image size.
///
/// # Source
/// transformers `SiglipVisionTransformer`, `SiglipVisionEmbeddings`,
/// `SiglipEncoderLayer`, `SiglipMultiheadAttentionPoolingHead`; defaults of
/// `SiglipVisionConfig` (768, 3072, 12 layers, 3 channels, 224 px, 16 px patches).
/// The pooling head is built unless `vision_use_head` is false (Gemma 3 sets false).
/// Check: gemma-3-27b-it's tower (1152, 4304, 27 layers, 896 px, 14 px, no head) is
/// 416_866_032 and its projector 6_194_304, together the fixture's
/// `vision_and_projector` 423_060_336 (shared/fixtures/models/gemma-3-27b-it).
pub(crate) fn tower(cfg: &mut Config) -> Result<Tower, FormatError> {
    let h = cfg.size_or("hidden_size", 768, "`hidden_size` defaults to 768")?;
    let f = cfg.size_or(
        "intermediate_size",
        3072,
        "`intermediate_size` defaults to 3072",
    )?;
    let layers = cfg.size_or(
        "num_hidden_layers",
        12,
        "`num_hidden_layers` defaults to 12",
    )?;
    let channels = cfg.size_or("num_channels", 3, "`num_channels` defaults to 3")?;
    let image = cfg.size_or("image_size", 224, "`image_size` defaults to 224")?;
    let patch = cfg.size_or("patch_size", 16, "`patch_size` defaults to 16")?;
    let use_head = cfg.flag_or(
        "vision_use_head",
        true,
        "`vision_use_head` absent means the pooling head is built",
    )?;

    let patches_per_side = image / patch;
    let patch_embedding = sum(Q, &[product(Q, &[channels, patch, patch, h])?, h])?;
    let position = product(Q, &[patches_per_side, patches_per_side, h])?;
    let layer_norm = product(Q, &[2, h])?;
    let attention = product(Q, &[4, sum(Q, &[product(Q, &[h, h])?, h])?])?;
    let mlp = sum(Q, &[product(Q, &[2, h, f])?, f, h])?;
    let layer = sum(Q, &[layer_norm, layer_norm, attention, mlp])?;
    let head = if use_head {
        sum(Q, &[h, attention, layer_norm, mlp])?
    } else {
        0
    };
    let params = sum(
        Q,
        &[
            patch_embedding,
            position,
            product(Q, &[layers, layer])?,
            layer_norm,
            head,
        ],
    )?;
    Ok(Tower { hidden: h, params })
}

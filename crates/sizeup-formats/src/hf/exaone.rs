//! EXAONE 4.0 (`exaone4`).
//!
//! # Formula
//! Llama projections without biases; per-head q/k RMSNorms (`head_dim` each); two
//! RMSNorms per block, after attention and after the MLP (no input norm); sliding
//! windows on the layers `layer_types` marks `sliding_attention`, else three of every
//! four (`sliding_window_pattern` "LLLG").
//!
//! # Source
//! transformers `models/exaone4/modeling_exaone4.py`, `configuration_exaone4.py`.

use sizeup_core::arch::QkNorm;

use super::config::{Config, HeadDim, KvHeads};
use super::draft::Draft;
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

/// `exaone4`.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Divide, 2048)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.qk_norm = QkNorm::PerHeadShared;
    arch.embedding.tied = cfg.tied(false)?;
    let size = window::size(cfg, Some(4096))?;
    let local = window::local_layers(
        cfg,
        dims.layers,
        "three sliding layers then one global (`sliding_window_pattern` LLLG)",
        window::all_but_every_nth(dims.layers, 4),
    )?;
    arch.attention.window = window::on(size, local);
    Ok(arch)
}

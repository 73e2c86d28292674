//! `cohere` (Command-R) and `cohere2` (Command R7B, Command A).
//!
//! Source: transformers `modeling_cohere.py` and `CohereConfig`: one
//! `CohereLayerNorm` (a scale, no bias) feeding attention and MLP in parallel, and a
//! final one; q, k, v, o with biases when `attention_bias` (default false); with
//! `use_qk_norm` (default false) scale-only norms of shape `(a, d)` on queries and
//! `(k, d)` on keys; gated MLP without bias; LM head tied by default.

use super::draft::Draft;
use sizeup_core::arch::{AttentionBias, NormKind, QkNorm};

use super::config::{Config, HeadDim, KvHeads};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;

/// Read a `cohere` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 8192)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    if cfg.flag_or("use_qk_norm", false, "`use_qk_norm` defaults to false")? {
        arch.attention.qk_norm = QkNorm::Full;
    }
    arch.norm.kind = NormKind::LayerNormNoBias;
    arch.norm.per_layer = 1;
    arch.parallel_block = true;
    arch.embedding.tied = cfg.tied(true)?;
    Ok(arch)
}

/// `cohere2` (Command R7B, Command A): Cohere's parallel block without q/k norms,
/// three sliding-window layers in four.
///
/// # Source
/// transformers `models/cohere2/configuration_cohere2.py` and `modeling_cohere2.py`:
/// `head_dim` is always `hidden_size // num_attention_heads` (a `head_dim` key is
/// overwritten); without `layer_types`, layer `i` slides unless
/// `(i + 1) % sliding_window_pattern == 0` (pattern default 4); `sliding_window`
/// defaults to 4096; q, k, v and o carry biases when `attention_bias`.
pub(super) fn read_cohere2(cfg: &mut Config) -> Result<Draft, FormatError> {
    let mut dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 8192)?;
    let derived = cfg.divide_heads(dims.hidden, dims.heads, "num_attention_heads")?;
    if dims.head_dim != derived {
        cfg.assume(
            "head_dim",
            format!(
                "{derived} (= hidden_size / num_attention_heads; {} ignored)",
                dims.head_dim
            ),
            "Cohere2Config always sets head_dim = hidden_size // num_attention_heads",
        );
    }
    dims.head_dim = derived;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.norm.kind = NormKind::LayerNormNoBias;
    arch.norm.per_layer = 1;
    arch.parallel_block = true;
    arch.embedding.tied = cfg.tied(true)?;
    let size = window::size(cfg, Some(4096))?;
    let pattern = cfg.count_or(
        "sliding_window_pattern",
        4,
        "`sliding_window_pattern` defaults to 4",
    )?;
    if pattern == 0 && cfg.opt_strings("layer_types")?.is_none() {
        return Err(cfg.invalid(
            "sliding_window_pattern",
            0,
            "a positive integer (every n-th layer attends globally)",
        ));
    }
    let local = window::local_layers(
        cfg,
        dims.layers,
        "layer i slides unless (i + 1) % sliding_window_pattern == 0",
        window::all_but_every_nth(dims.layers, pattern),
    )?;
    arch.attention.window = window::on(size, local);
    Ok(arch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refusal, refused};

    #[test]
    fn cohere2_caches_a_window_on_three_layers_in_four() {
        let c = local_2026_config("command-r7b-12-2024-abliterated");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        // 2·k·d = 2·8·128 per token; 24 sliding layers keep 4096 tokens at 32k
        let kv = kv_layers(&arch, 32_768);
        assert_eq!(kv.get(&("GQA window 4096".into(), 2048, 4096)), Some(&24));
        assert_eq!(kv.get(&("GQA".into(), 2048, 32_768)), Some(&8));
    }

    #[test]
    fn cohere2_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("command-r7b-12-2024-abliterated");
        let expected = refused(&base, "num_attention_heads", json!(0));
        assert!(expected.contains("positive"), "{expected}");
        let mut c = base.clone();
        c["layer_types"] = json!(["sliding_attention", "full_attention"]);
        let (field, value, expected) = refusal(&c);
        assert_eq!(field, "layer_types");
        assert!(value.contains("2 entries"), "{value}");
        assert!(expected.contains("(32)"), "{expected}");
        let mut c = base;
        c["sliding_window_pattern"] = json!(0);
        assert_eq!(refusal(&c).0, "sliding_window_pattern");
    }
}

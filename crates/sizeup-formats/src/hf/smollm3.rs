//! `smollm3`: SmolLM3.
//!
//! # Formula
//! ```text
//! the Llama block (RMSNorm, gated MLP), q/k/v/o biases with `attention_bias`, MLP
//! biases with `mlp_bias`, head tied by default; `no_rope_layers[i] == 0` marks a
//! layer without rotary embedding (NoPE: no parameters, the same cache)
//! ```
//!
//! # Source
//! transformers `models/smollm3/configuration_smollm3.py` and `modeling_smollm3.py`:
//! `no_rope_layers` defaults to `(i + 1) % no_rope_layer_interval != 0` (interval 4);
//! without `layer_types`, a layer slides when `use_sliding_window`, `sliding_window`
//! is set and the layer has no RoPE; a layer uses the window only when
//! `use_sliding_window` and its `layer_types` entry is `sliding_attention`.
//! `num_key_value_heads` defaults to 4; the attention reads `head_dim` when the config
//! has it, else `hidden_size / heads`.

use super::config::{Config, HeadDim, KvHeads};
use super::draft::Draft;
use super::window::{FULL, SLIDING};
use super::{llama_dims, llama_like, window};
use crate::error::FormatError;
use sizeup_core::arch::AttentionBias;

/// Read a `smollm3` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(4), HeadDim::Divide, 32_768)?;
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
    arch.ffn.dense.bias = cfg.flag_or("mlp_bias", false, "`mlp_bias` defaults to false")?;
    arch.embedding.tied = cfg.tied(true)?;

    let rope = rope_layers(cfg, dims.layers)?;
    let size = window::size(cfg, None)?;
    let enabled = cfg.flag_or(
        "use_sliding_window",
        false,
        "`use_sliding_window` defaults to false",
    )?;
    let local = match cfg.layer_types(dims.layers, &[SLIDING, FULL])? {
        Some(types) => types.iter().map(|t| *t == SLIDING).collect(),
        None => window::where_(dims.layers, |i| {
            size.is_some() && !rope.get(i as usize).copied().unwrap_or(true)
        }),
    };
    if enabled {
        arch.attention.window = window::on(size, local);
    }
    Ok(arch)
}

/// Which layers apply rotary embeddings (`no_rope_layers[i] == 1`).
fn rope_layers(cfg: &mut Config, layers: u64) -> Result<Vec<bool>, FormatError> {
    if let Some(list) = cfg.opt_counts("no_rope_layers")? {
        if list.len() as u64 != layers || list.iter().any(|&v| v > 1) {
            return Err(cfg.invalid(
                "no_rope_layers",
                format!("a list of {} entries", list.len()),
                format!("one 0 (no RoPE) or 1 (RoPE) per layer ({layers})"),
            ));
        }
        return Ok(list.iter().map(|&v| v == 1).collect());
    }
    let interval = cfg.count_or(
        "no_rope_layer_interval",
        4,
        "`no_rope_layer_interval` defaults to 4",
    )?;
    if interval == 0 {
        return Err(cfg.invalid(
            "no_rope_layer_interval",
            0,
            "a positive integer (every n-th layer has no RoPE)",
        ));
    }
    Ok(window::all_but_every_nth(layers, interval))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refusal, refused};

    #[test]
    fn smollm3_nope_layers_slide_only_when_the_window_is_on() {
        let mut c = local_2026_config("smollm3-3b");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        // 2·4·128 per token on all 36 layers, full context
        assert_eq!(
            kv_layers(&arch, 100).get(&("GQA".into(), 1024, 100)),
            Some(&36)
        );
        c.as_object_mut().unwrap().remove("layer_types");
        c["use_sliding_window"] = json!(true);
        c["sliding_window"] = json!(4096);
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        // the nine NoPE layers (3, 7, …, 35) slide
        let kv = kv_layers(&arch, 10_000);
        assert_eq!(kv.get(&("GQA window 4096".into(), 1024, 4096)), Some(&9));
        assert_eq!(kv.get(&("GQA".into(), 1024, 10_000)), Some(&27));
    }

    #[test]
    fn smollm3_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("smollm3-3b");
        let mut c = base.clone();
        c["no_rope_layers"] = json!([1, 1, 0]);
        let (field, value, expected) = refusal(&c);
        assert_eq!(field, "no_rope_layers");
        assert!(
            value.contains("3 entries") && expected.contains("(36)"),
            "{value} {expected}"
        );
        let mut c = base.clone();
        c["layer_types"] = json!(["full_attention"]);
        let (field, _, expected) = refusal(&c);
        assert_eq!(field, "layer_types");
        assert!(expected.contains("(36)"), "{expected}");
        refused(&base, "num_attention_heads", json!(0));
    }
}

//! `seed_oss`: ByteDance Seed-OSS.
//!
//! # Formula
//! ```text
//! the Llama block with biases on q, k and v (`attention_bias`, default true), on o
//! only with `attention_out_bias` (default false), on the MLP with `mlp_bias`
//! (default false)
//! ```
//!
//! # Source
//! transformers `models/seed_oss/modeling_seed_oss.py` and `SeedOssConfig`
//! (`num_key_value_heads` defaults to 8, `head_dim` to 128, null meaning
//! `hidden_size / num_attention_heads`).

use super::config::{Config, HeadDim, KvHeads};
use super::draft::Draft;
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// Read a `seed_oss` config.
pub(super) fn read(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Fixed(128), 524_288)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv =
        cfg.flag_or("attention_bias", true, "`attention_bias` defaults to true")?;
    arch.attention.bias.output = cfg.flag_or(
        "attention_out_bias",
        false,
        "`attention_out_bias` defaults to false",
    )?;
    arch.ffn.dense.bias = cfg.flag_or("mlp_bias", false, "`mlp_bias` defaults to false")?;
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refused};

    #[test]
    fn seed_oss_caches_every_layer_in_full() {
        let c = local_2026_config("seed-oss-36b-ft");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!(
            kv_layers(&arch, 1000).get(&("GQA".into(), 2048, 1000)),
            Some(&64)
        );
    }

    #[test]
    fn seed_oss_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("seed-oss-36b-ft");
        refused(&base, "num_attention_heads", json!(0));
        let expected = refused(&base, "num_key_value_heads", json!(7));
        assert!(expected.contains("divisor of the 80"), "{expected}");
    }
}

//! Baidu ERNIE 4.5 (`ernie4_5`).
//!
//! # Formula
//! ```text
//! ernie4_5: the Llama block; `use_bias` (default false) puts a bias on q, k, v, o
//!           and on the MLP projections; head tied by default
//! ```
//!
//! # Source
//! transformers `models/ernie4_5/modeling_ernie4_5.py` and `Ernie4_5Config`
//! (`num_key_value_heads` defaults to 2, `head_dim` to 128).

use sizeup_core::arch::AttentionBias;

use super::config::{Config, HeadDim, KvHeads};
use super::draft::Draft;
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// `ernie4_5`: ERNIE-4.5-0.3B.
pub(super) fn read_ernie4_5(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(2), HeadDim::Fixed(128), 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or("use_bias", false, "`use_bias` defaults to false")?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.ffn.dense.bias = bias;
    arch.embedding.tied = cfg.tied(true)?;
    Ok(arch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{from_config_str, refusal};

    fn small() -> serde_json::Value {
        json!({"model_type": "ernie4_5", "hidden_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
               "intermediate_size": 96, "vocab_size": 50})
    }

    #[test]
    fn ernie4_5_use_bias_covers_attention_and_mlp() {
        // biases: q 64 + k 32 + v 32 + o 64 + gate 96 + up 96 + down 64 = 448 per layer
        let total = |c: serde_json::Value| {
            let arch = from_config_str(&c.to_string()).unwrap().arch;
            sizeup_core::params::count(&arch).unwrap().total
        };
        let mut c = small();
        let plain = total(c.clone());
        c["use_bias"] = json!(true);
        assert_eq!(total(c) - plain, 2 * 448);
    }

    #[test]
    fn ernie4_5_zero_heads_is_refused() {
        let mut c = small();
        c["num_attention_heads"] = json!(0);
        let (field, value, expected) = refusal(&c);
        assert_eq!(
            (field.as_str(), value.as_str()),
            ("num_attention_heads", "0")
        );
        assert!(expected.contains("positive"), "{expected}");
    }
}

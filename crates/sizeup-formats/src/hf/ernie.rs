//! Baidu ERNIE 4.5 (`ernie4_5`, `ernie4_5_moe`).
//!
//! # Formula
//! ```text
//! ernie4_5:     the Llama block; `use_bias` (default false) puts a bias on q, k, v, o
//!               and on the MLP projections; head tied by default
//! ernie4_5_moe: the same attention; layer i is an MoE layer when
//!               (i + 1) % moe_layer_interval == 0 and
//!               moe_layer_start_index ≤ i ≤ moe_layer_end_index (−1: the last layer);
//!               a router h×E, E bias-free gated experts of moe_intermediate_size,
//!               one shared MLP of moe_num_shared_experts · moe_intermediate_size, and
//!               the router's `moe_statics.e_score_correction_bias` (E values, a
//!               parameter here, not a buffer); the LM head has a bias with `use_bias`
//! ```
//!
//! # Source
//! transformers `models/ernie4_5/modeling_ernie4_5.py`, `Ernie4_5Config`
//! (`num_key_value_heads` defaults to 2, `head_dim` to 128);
//! `models/ernie4_5_moe/modeling_ernie4_5_moe.py` (`Ernie4_5_MoeStatics`,
//! `Ernie4_5_MoeSparseMoeBlock`, `Ernie4_5_MoeDecoderLayer`) and `Ernie4_5_MoeConfig`
//! (`num_experts`/`num_experts_per_tok` alias `moe_num_experts`/`moe_k`; the
//! attention reads `head_dim` when the config has it, else `hidden_size / heads`).
//! The MTP layer (`num_nextn_predict_layers`) is not built by transformers.

use serde_json::Value;
use sizeup_core::arch::{
    Architecture, AttentionBias, Group, Mlp, MlpKind, NamedTensor, SharedExperts,
};

use super::config::{Config, Field, HeadDim, KvHeads};
use super::draft::{Draft, Moe};
use super::{llama_dims, llama_like, window};
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

/// A count under `key` or its alias, with the class default when both are absent.
fn size_aliased(cfg: &mut Config, keys: &[&'static str], default: u64) -> Result<u64, FormatError> {
    match cfg.opt_size(keys)? {
        Some(v) => Ok(v),
        None => {
            let key = keys[0];
            cfg.assume(key, default, &format!("`{key}` defaults to {default}"));
            Ok(default)
        }
    }
}

/// `ernie4_5_moe`: ERNIE-4.5-21B-A3B, ERNIE-4.5-300B-A47B.
pub(super) fn read_ernie4_5_moe(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(4), HeadDim::Divide, 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    let bias = cfg.flag_or("use_bias", false, "`use_bias` defaults to false")?;
    arch.attention.bias = AttentionBias {
        qkv: bias,
        output: bias,
    };
    arch.ffn.dense.bias = bias;
    arch.embedding.tied = cfg.tied(true)?;
    arch.embedding.lm_head_bias = bias;

    let layers = dims.layers;
    let start = cfg.count_or(
        "moe_layer_start_index",
        1,
        "`moe_layer_start_index` defaults to 1",
    )?;
    let end = match cfg.field("moe_layer_end_index") {
        Field::Value(Value::Number(n)) if n.as_i64() == Some(-1) => layers - 1,
        Field::Value(_) => cfg.opt_count("moe_layer_end_index")?.unwrap_or(layers - 1),
        Field::Null => {
            return Err(cfg.invalid(
                "moe_layer_end_index",
                "null",
                "the last MoE layer's index, or -1 for the last layer",
            ))
        }
        Field::Absent => {
            cfg.assume(
                "moe_layer_end_index",
                format!("{} (-1: the last layer)", layers - 1),
                "`moe_layer_end_index` defaults to -1",
            );
            layers - 1
        }
    };
    let interval = cfg.count_or(
        "moe_layer_interval",
        1,
        "`moe_layer_interval` defaults to 1",
    )?;
    if interval == 0 {
        return Err(cfg.invalid(
            "moe_layer_interval",
            0,
            "a positive integer (every n-th layer is an MoE layer)",
        ));
    }
    let sparse = window::where_(layers, |i| {
        (i + 1) % interval == 0 && i >= start && i <= end
    });
    let num_experts = size_aliased(cfg, &["moe_num_experts", "num_experts"], 64)?;
    let experts_per_token = size_aliased(cfg, &["moe_k", "num_experts_per_tok"], 6)?;
    if experts_per_token > num_experts {
        return Err(cfg.invalid(
            "moe_k",
            experts_per_token,
            format!("at most the {num_experts} routed experts (moe_num_experts)"),
        ));
    }
    let expert_f = cfg.size_or(
        "moe_intermediate_size",
        1536,
        "`moe_intermediate_size` defaults to 1536",
    )?;
    let shared = cfg.count_or(
        "moe_num_shared_experts",
        2,
        "`moe_num_shared_experts` defaults to 2",
    )?;
    let gated = |f, bias| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias,
    };
    arch.ffn.moe = Some(Moe {
        num_experts,
        experts_per_token,
        expert: gated(expert_f, false),
        shared: (shared > 0).then(|| SharedExperts {
            mlp: gated(shared.saturating_mul(expert_f), bias),
            gate: false,
        }),
        moe_layers: sparse.iter().filter(|&&s| s).count() as u64,
        router_bias: false,
    });
    if cfg
        .opt_count("num_nextn_predict_layers")?
        .is_some_and(|n| n > 0)
    {
        cfg.assume(
            "num_nextn_predict_layers",
            "0 counted",
            "transformers does not build the multi-token-prediction layer",
        );
    }
    let mut arch = arch.build_with_moe_on(&sparse);
    // The reference groups the statics by name with the MLP, not the router.
    let statics = NamedTensor::vector(
        "mlp.gate.moe_statics.e_score_correction_bias",
        num_experts,
        Group::Mlp,
    );
    arch.map_blocks(|b| {
        if b.moe().is_some() {
            b.extra.push(statics.clone());
        }
    });
    Ok(arch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refusal, refused};

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

    #[test]
    fn ernie4_5_moe_layers_follow_start_end_and_interval() {
        let mut c = local_2026_config("ernie-4.5-21b-a3b-pt");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!((arch.dense_layers(), arch.moe_layers()), (1, 27));
        assert_eq!(kv_layers(&arch, 8).get(&("GQA".into(), 1024, 8)), Some(&28));
        c["moe_layer_interval"] = json!(2);
        c["moe_layer_end_index"] = json!(-1);
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        // odd layers 1, 3, …, 27
        assert_eq!(arch.moe_layers(), 14);
    }

    #[test]
    fn ernie4_5_moe_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("ernie-4.5-21b-a3b-pt");
        let mut c = base.clone();
        c["moe_k"] = json!(65);
        let (field, value, expected) = refusal(&c);
        assert_eq!((field.as_str(), value.as_str()), ("moe_k", "65"));
        assert!(expected.contains("64"), "{expected}");
        let mut c = base.clone();
        c["num_attention_heads"] = json!(0);
        assert_eq!(refusal(&c).0, "num_attention_heads");
        let expected = refused(&base, "moe_layer_interval", json!(0));
        assert!(expected.contains("positive"), "{expected}");
    }
}

//! GLM-4 (0414), GLM-4.5/4.6/4.7 (`glm4`, `glm4_moe`), GLM-4.7-Flash
//! (`glm4_moe_lite`) and GLM-5 (`glm_moe_dsa`).
//!
//! # Formula
//! ```text
//! glm4:     q/k/v with biases, o without; fused gate_up 2f×h, down h×f;
//!           four RMSNorms per block (input, post-attention, post-self-attn, post-MLP)
//! glm4_moe: q/k/v biases (`attention_bias`), per-head q/k norms (`use_qk_norm`);
//!           `first_k_dense_replace` dense layers, then routed experts
//!           (`n_routed_experts`, `moe_intermediate_size`) and `n_shared_experts`
//!           shared experts; multi-token-prediction layers (`num_nextn_predict_layers`)
//! glm4_moe_lite: DeepSeek-V3's MLA and MoE with GLM's defaults (d_n 192, d_v 256);
//!           `mlp_layer_types` (default: layer 0 dense) decides the MoE layers
//! glm_moe_dsa: glm4_moe_lite plus DeepSeek sparse attention's indexer on the layers
//!           `indexer_types` marks `full` (the others reuse the last full layer's pick)
//! ```
//!
//! # Source
//! transformers `models/glm4/modeling_glm4.py`, `models/glm4_moe/modeling_glm4_moe.py`,
//! `models/glm4_moe_lite/`, `models/glm_moe_dsa/` (modeling and configuration);
//! the routers' `e_score_correction_bias` is a buffer, not a parameter.

use sizeup_core::arch::{
    Architecture, Indexer, Mixer, Mlp, MlpKind, QkNorm, Schedule, SharedExperts,
};

use serde_json::Value;

use super::config::{Config, Field, HeadDim, KvHeads};
use super::deepseek::{self, with_mtp, Defaults, Layering};
use super::draft::{Draft, Moe};
use super::{llama_dims, llama_like};
use crate::error::FormatError;

/// `glm4`: GLM-4-0414 dense.
pub(super) fn read_glm4(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Heads, HeadDim::Divide, 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv =
        cfg.flag_or("attention_bias", true, "`attention_bias` defaults to true")?;
    arch.norm.per_layer = 4;
    arch.embedding.tied = cfg.tied(false)?;
    Ok(arch)
}

/// `glm4_moe`: GLM-4.5 to 4.7.
pub(super) fn read_glm4_moe(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Fixed(128), 131_072)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.attention.bias.qkv = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    if cfg.flag_or("use_qk_norm", false, "`use_qk_norm` defaults to false")? {
        arch.attention.qk_norm = QkNorm::PerHeadShared;
    }
    arch.embedding.tied = cfg.tied(false)?;
    let gated = |f| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    let expert_f = cfg.size_or(
        "moe_intermediate_size",
        1408,
        "`moe_intermediate_size` defaults to 1408",
    )?;
    let dense = cfg.count_or(
        "first_k_dense_replace",
        1,
        "`first_k_dense_replace` defaults to 1",
    )?;
    let shared = cfg.count_or("n_shared_experts", 1, "`n_shared_experts` defaults to 1")?;
    arch.ffn.moe = Some(Moe {
        num_experts: cfg.size_or(
            "n_routed_experts",
            128,
            "`n_routed_experts` defaults to 128",
        )?,
        experts_per_token: cfg.size_or(
            "num_experts_per_tok",
            8,
            "`num_experts_per_tok` defaults to 8",
        )?,
        expert: gated(expert_f),
        shared: (shared > 0).then(|| SharedExperts {
            mlp: gated(shared.saturating_mul(expert_f)),
            gate: false,
        }),
        moe_layers: dims.layers.saturating_sub(dense),
        router_bias: false,
    });
    let mut arch = arch.build();
    with_mtp(cfg, &mut arch)?;
    Ok(arch)
}

/// `glm4_moe_lite`: GLM-4.7-Flash.
pub(super) fn read_glm4_moe_lite(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let (draft, sparse) = deepseek::read(
        cfg,
        &Defaults {
            context: 202_752,
            routed_experts: Some(64),
            experts_per_token: Some(4),
            shared_experts: Some(1),
            moe_intermediate: 1536,
            layering: Layering::MlpLayerTypes(None),
            q_lora_rank: Some(768),
            qk_nope_head_dim: 192,
            v_head_dim: 256,
        },
    )?;
    let mut arch = draft.build_with_moe_on(&sparse);
    with_mtp(cfg, &mut arch)?;
    Ok(arch)
}

/// `glm_moe_dsa`: GLM-5.
///
/// # Source
/// `GlmMoeDsaConfig.__post_init__`: `indexer_types` (`full`/`shared` per layer), else
/// `index_topk_pattern` (`F`/`S` per layer), else layer `i` is full when
/// `max(i − index_skip_topk_offset + 1, 0) % index_topk_freq == 0` (offset 2, freq 1:
/// every layer); `GlmMoeDsaAttention` builds a `GlmMoeDsaIndexer` on full layers only,
/// and only they cache indexer keys. `num_experts` overrides `n_routed_experts`.
pub(super) fn read_glm_moe_dsa(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let (mut draft, sparse) = deepseek::read(
        cfg,
        &Defaults {
            context: 202_752,
            routed_experts: Some(256),
            experts_per_token: Some(8),
            shared_experts: Some(1),
            moe_intermediate: 2048,
            layering: Layering::MlpLayerTypes(Some(3)),
            q_lora_rank: Some(2048),
            qk_nope_head_dim: 192,
            v_head_dim: 256,
        },
    )?;
    if let (Some(n), Some(moe)) = (cfg.opt_size(&["num_experts"])?, draft.ffn.moe.as_mut()) {
        moe.num_experts = n;
    }
    let indexer = Indexer {
        heads: cfg.size_or("index_n_heads", 32, "`index_n_heads` defaults to 32")?,
        head_dim: cfg.size_or("index_head_dim", 128, "`index_head_dim` defaults to 128")?,
        top_k: cfg.size_or("index_topk", 2048, "`index_topk` defaults to 2048")?,
    };
    let full = indexed_layers(cfg, draft.num_layers)?;
    let arch = draft.build_with_moe_on(&sparse);
    let layers = (0..arch.num_layers()).filter_map(|i| {
        let mut block = arch.layer(i)?.clone();
        if let Mixer::Attention(a) = &mut block.mixer {
            if full.get(i as usize).copied().unwrap_or(false) {
                a.indexer = Some(indexer);
            }
        }
        Some(block)
    });
    let schedule = Schedule::from_layers(layers);
    let mut arch = Architecture {
        layers: schedule,
        ..arch
    };
    with_mtp(cfg, &mut arch)?;
    Ok(arch)
}

/// Which layers run their own DSA indexer (`full`), as `GlmMoeDsaConfig` decides.
fn indexed_layers(cfg: &mut Config, layers: u64) -> Result<Vec<bool>, FormatError> {
    if let Some(types) = cfg.per_layer("indexer_types", layers, &["full", "shared"])? {
        return Ok(types.iter().map(|t| *t == "full").collect());
    }
    let pattern: Option<Vec<String>> = match cfg.field("index_topk_pattern") {
        Field::Value(Value::String(p)) => Some(p.chars().map(String::from).collect()),
        Field::Value(Value::Array(_)) => cfg
            .opt_strings("index_topk_pattern")?
            .map(|v| v.into_iter().map(String::from).collect()),
        Field::Value(v) => {
            return Err(cfg.invalid("index_topk_pattern", v, "a string of `F` and `S`"))
        }
        Field::Absent | Field::Null => None,
    };
    if let Some(pattern) = pattern {
        let ok = |p: &String| matches!(p.as_str(), "F" | "S" | "full" | "shared");
        if pattern.len() as u64 != layers || !pattern.iter().all(ok) {
            return Err(cfg.invalid(
                "index_topk_pattern",
                format!("`{}` ({} entries)", pattern.concat(), pattern.len()),
                format!("one `F` (full) or `S` (shared) per layer ({layers})"),
            ));
        }
        return Ok(pattern.iter().map(|p| p == "F" || p == "full").collect());
    }
    let freq = cfg
        .count_or("index_topk_freq", 1, "`index_topk_freq` defaults to 1")?
        .max(1);
    let offset = cfg.count_or(
        "index_skip_topk_offset",
        2,
        "`index_skip_topk_offset` defaults to 2",
    )?;
    Ok(super::window::where_(layers, |i| {
        (i + 1).saturating_sub(offset) % freq == 0
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{from_config_str, kv_layers, local_2026_config, refusal, refused};

    #[test]
    fn glm5_caches_the_mla_latent_and_an_indexer_key_per_layer() {
        let c = local_2026_config("glm-5");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        // r_kv + d_r = 512 + 64, plus index_head_dim 128, on all 78 layers
        let kv = kv_layers(&arch, 1000);
        assert_eq!(kv.get(&("MLA+DSA".into(), 512 + 64 + 128, 1000)), Some(&78));
        assert_eq!(arch.mtp.as_ref().map(|m| m.layers), Some(1));
    }

    #[test]
    fn glm5_shared_indexer_layers_have_no_indexer_and_cache_only_the_latent() {
        let mut c = local_2026_config("glm-5");
        c["index_topk_freq"] = json!(4);
        let parsed = from_config_str(&c.to_string()).unwrap();
        // max(i − 1, 0) % 4 == 0: layers 0, 1, 5, 9, …, 77 run their own indexer
        let kv = kv_layers(&parsed.arch, 10);
        let full = 21;
        assert_eq!(kv.get(&("MLA+DSA".into(), 704, 10)), Some(&full));
        assert_eq!(kv.get(&("MLA".into(), 576, 10)), Some(&(78 - full)));
        let base = sizeup_core::params::count(
            &from_config_str(&local_2026_config("glm-5").to_string())
                .unwrap()
                .arch,
        )
        .unwrap()
        .total;
        let fewer = sizeup_core::params::count(&parsed.arch).unwrap().total;
        // one indexer: wq_b 2048·32·128 + wk 6144·128 + k_norm 2·128 + weights_proj 6144·32
        let one = 2048 * 32 * 128 + 6144 * 128 + 256 + 6144 * 32;
        assert_eq!(base - fewer, (78 - full) * one);
    }

    #[test]
    fn glm_mla_bad_configs_name_field_value_and_fix() {
        let base = local_2026_config("glm-5");
        let expected = refused(&base, "num_experts_per_tok", json!(257));
        assert!(expected.contains("256"), "{expected}");
        refused(&base, "num_attention_heads", json!(0));
        let mut c = base.clone();
        c["indexer_types"] = json!(["full", "shared"]);
        let (field, value, expected) = refusal(&c);
        assert_eq!(field, "indexer_types");
        assert!(
            value.contains("2 entries") && expected.contains("(78)"),
            "{value} {expected}"
        );
        let mut c = local_2026_config("glm-4.7-flash");
        c["num_experts_per_tok"] = json!(65);
        let (field, value, expected) = refusal(&c);
        assert_eq!(
            (field.as_str(), value.as_str()),
            ("num_experts_per_tok", "65")
        );
        assert!(expected.contains("64"), "{expected}");
        let mut c = local_2026_config("glm-4.7-flash");
        c["mlp_layer_types"] = json!(["dense", "moe"]);
        let (field, _, expected) = refusal(&c);
        assert_eq!(field, "mlp_layer_types");
        assert!(expected.contains("(47)"), "{expected}");
    }

    #[test]
    fn glm4_moe_lite_reads_mlp_layer_types_and_caches_the_latent() {
        let mut c = local_2026_config("glm-4.7-flash");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!((arch.dense_layers(), arch.moe_layers()), (1, 46));
        assert_eq!(
            kv_layers(&arch, 10).get(&("MLA".into(), 576, 10)),
            Some(&47)
        );
        let mut types = vec![json!("sparse"); 47];
        types[0] = json!("dense");
        types[1] = json!("dense");
        c["mlp_layer_types"] = json!(types);
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!((arch.dense_layers(), arch.moe_layers()), (2, 45));
    }
}

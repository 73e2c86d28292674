//! kimi_linear (Moonshot Kimi Linear): Kimi Delta Attention (KDA) in most layers,
//! multi-head latent attention (MLA) in the others, a mixture of experts with a
//! shared expert after the first dense layers.
//!
//! # Formula
//! ```text
//! P = Kh·Kd
//! KDA layer: q, k, v P×h; conv1d 3P·ck (no bias); forget gate f_a Kd×h, f_b P×Kd,
//!            dt_bias P, A_log Kh; b_proj Kh×h; g_a Kd×h, g_b P×Kd;
//!            o_norm Kd (norm group); o_proj h×P — all in the attention group
//! MLA layer: q h→a·(dn+dr) (or q_a h→r_q, q_a_norm r_q, q_b r_q→a·(dn+dr)),
//!            kv_a h→r_kv+dr, kv_a_norm r_kv, kv_b r_kv→a·(dn+dv), o a·dv→h
//! FFN: dense gated MLP of f where mlp_layer_types says dense (absent: i <
//!      first_k_dense_replace, default 1), else router E×h, E gated experts of f_e and
//!      one shared gated MLP of f_e·S (the router's e_score_correction_bias is a buffer)
//! every layer: input_layernorm, post_attention_layernorm h; final norm h
//! state per sequence per KDA layer: Kh·Kd·Kd, conv 3P·ck
//! ```
//!
//! # Symbols
//! `h` hidden size, `Kh`/`Kd`/`ck` `linear_attn_config.num_heads`/`head_dim`/
//! `short_conv_kernel_size`, `a` heads, `dn`/`dr`/`dv` `qk_nope_head_dim`/
//! `qk_rope_head_dim`/`v_head_dim`, `r_q`/`r_kv` `q_lora_rank`/`kv_lora_rank`, `f`
//! `intermediate_size`, `E` experts, `f_e` `moe_intermediate_size`, `S` shared experts.
//!
//! # Source
//! transformers 5.x `models/kimi_linear/{configuration,modeling}_kimi_linear.py`
//! (`KimiLinearConfig` maps `linear_attn_config`'s 1-based `kda_layers` and
//! `full_attn_layers` onto `layer_types`; `KimiLinearDeltaAttention`,
//! `KimiLinearForgetGate`, `KimiLinearAttention`, `KimiLinearMoE`). The KDA state is
//! what transformers' `DynamicCache` allocates: `LinearAttentionLayer`
//! `recurrent_states[0]` `(batch, Kh, Kd, Kd)` and `conv_states[0]` `(batch, 3P, ck)`.

use sizeup_core::arch::{
    Architecture, Attention, AttentionKind, Block, BlockFfn, Group, Mixer, Mlp, MlpKind, Moe,
    NamedTensor, Recurrent, RecurrentKind, Schedule, SharedExperts,
};
use sizeup_core::units::product;

use super::config::{Config, Section};
use super::window;
use super::Decoder;
use crate::error::FormatError;

const Q: &str = "Kimi Delta Attention tensor size";

/// The `layer_types` entry of a KDA layer.
const LINEAR: &str = "linear_attention";

/// The KDA sizes under `linear_attn_config`, and which layers use MLA.
struct Linear {
    heads: u64,
    head_dim: u64,
    conv_kernel: u64,
    /// `full_attn_layers` and `kda_layers` (1-based), when both are given.
    lists: Option<(Vec<u64>, Vec<u64>)>,
}

/// `true` for each MLA layer: `layer_types` when given, else `linear_attn_config`'s
/// 1-based `full_attn_layers` and `kda_layers` when both are there (every layer must be
/// in one), else layer `i` is MLA iff `i > 0` and `i % 4 == 0`.
fn full_layers(
    cfg: &mut Config,
    layers: u64,
    lists: Option<(Vec<u64>, Vec<u64>)>,
) -> Result<Vec<bool>, FormatError> {
    if let Some(types) = cfg.layer_types(layers, &[window::FULL, LINEAR])? {
        return Ok(types.iter().map(|t| *t == window::FULL).collect());
    }
    let Some((full, kda)) = lists else {
        cfg.assume(
            "layer_types",
            "MLA at every 4th layer from layer 4",
            "`layer_types` and `linear_attn_config.full_attn_layers`/`kda_layers` absent \
             mean layer i is MLA iff i > 0 and i % 4 == 0",
        );
        return Ok((0..layers).map(|i| i > 0 && i % 4 == 0).collect());
    };
    let mut kinds: Vec<Option<bool>> = vec![None; layers as usize];
    for (key, list, is_full) in [
        ("linear_attn_config.full_attn_layers", &full, true),
        ("linear_attn_config.kda_layers", &kda, false),
    ] {
        for &n in list {
            let slot = n
                .checked_sub(1)
                .and_then(|i| kinds.get_mut(i as usize))
                .ok_or_else(|| {
                    cfg.invalid(
                        key,
                        format!("a layer {n}"),
                        format!("1-based layer numbers from 1 to num_hidden_layers ({layers})"),
                    )
                })?;
            *slot = Some(is_full);
        }
    }
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            k.ok_or_else(|| {
                cfg.invalid(
                    "linear_attn_config.kda_layers",
                    format!("no entry for layer {}", i + 1),
                    "every 1-based layer in kda_layers or full_attn_layers",
                )
            })
        })
        .collect()
}

/// The KDA mixer of the linear layers.
fn kda(h: u64, l: &Linear) -> Result<Recurrent, FormatError> {
    let (kh, kd, ck) = (l.heads, l.head_dim, l.conv_kernel);
    let p = product(Q, &[kh, kd])?;
    let g = Group::Attention;
    let tensors = vec![
        NamedTensor::matrix("q_proj", p, h, g),
        NamedTensor::matrix("k_proj", p, h, g),
        NamedTensor::matrix("v_proj", p, h, g),
        NamedTensor::vector("conv1d", product(Q, &[3, p, ck])?, g),
        NamedTensor::matrix("forget_gate.f_a_proj", kd, h, g),
        NamedTensor::matrix("forget_gate.f_b_proj", p, kd, g),
        NamedTensor::vector("forget_gate.dt_bias", p, g),
        NamedTensor::vector("forget_gate.A_log", kh, g),
        NamedTensor::matrix("b_proj", kh, h, g),
        NamedTensor::matrix("g_a_proj", kd, h, g),
        NamedTensor::matrix("g_b_proj", p, kd, g),
        NamedTensor::vector("o_norm", kd, Group::Norm),
        NamedTensor::matrix("o_proj", h, p, g),
    ];
    Ok(Recurrent {
        kind: RecurrentKind::KimiDelta,
        tensors,
        state_elements: product(Q, &[kh, kd, kd])?,
        conv_elements: product(Q, &[3, p, ck])?,
    })
}

/// `true` for each MoE layer: `mlp_layer_types` (`dense`/`sparse`) when given, else
/// layer `i` is MoE iff `i ≥ first_k_dense_replace` (default 1).
fn moe_layers(cfg: &mut Config, layers: u64) -> Result<Vec<bool>, FormatError> {
    if let Some(types) = cfg.opt_strings("mlp_layer_types")? {
        if types.len() as u64 != layers {
            return Err(cfg.invalid(
                "mlp_layer_types",
                format!("a list of {} entries", types.len()),
                format!("one entry per layer ({layers})"),
            ));
        }
        return types
            .iter()
            .map(|t| match *t {
                "dense" => Ok(false),
                "sparse" => Ok(true),
                bad => Err(cfg.invalid(
                    "mlp_layer_types",
                    format!("an entry `{bad}`"),
                    "entries among dense, sparse",
                )),
            })
            .collect();
    }
    let first = cfg.count_or(
        "first_k_dense_replace",
        1,
        "`first_k_dense_replace` defaults to 1",
    )?;
    Ok((0..layers).map(|i| i >= first).collect())
}

/// `kimi_linear`.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let max_context = cfg.context_or(&["model_max_length", "max_position_embeddings"], 1 << 20)?;
    let heads = cfg.size_or(
        "num_attention_heads",
        32,
        "`num_attention_heads` defaults to 32",
    )?;
    let q_lora_rank = cfg.opt_size(&["q_lora_rank"])?;
    let kv_lora_rank = cfg.size_or("kv_lora_rank", 512, "`kv_lora_rank` defaults to 512")?;
    let qk_nope_head_dim = cfg.size_or(
        "qk_nope_head_dim",
        128,
        "`qk_nope_head_dim` defaults to 128",
    )?;
    let qk_rope_head_dim =
        cfg.size_or("qk_rope_head_dim", 64, "`qk_rope_head_dim` defaults to 64")?;
    let v_head_dim = cfg.size_or("v_head_dim", 128, "`v_head_dim` defaults to 128")?;
    if cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )? {
        return Err(cfg.invalid(
            "attention_bias",
            true,
            "false: biases on the MLA projections are not modelled",
        ));
    }
    let mut linear = cfg.section(
        Section::Linear,
        "KimiLinearConfig.linear_attn_config",
        |c| {
            Ok(Linear {
                heads: c.size_or("num_heads", 32, "`num_heads` defaults to 32")?,
                head_dim: c.size_or("head_dim", 128, "`head_dim` defaults to 128")?,
                conv_kernel: c.size_or(
                    "short_conv_kernel_size",
                    4,
                    "`short_conv_kernel_size` defaults to 4",
                )?,
                lists: match (
                    c.opt_counts("full_attn_layers")?,
                    c.opt_counts("kda_layers")?,
                ) {
                    (Some(full), Some(kda)) => Some((full, kda)),
                    _ => None,
                },
            })
        },
    )?;
    let full = full_layers(cfg, layers, linear.lists.take())?;
    let sparse = moe_layers(cfg, layers)?;
    let gated = |f: u64| Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    };
    let dense = if sparse.iter().any(|s| !s) {
        gated(cfg.size_or(
            "intermediate_size",
            9216,
            "`intermediate_size` defaults to 9216",
        )?)
    } else {
        gated(0)
    };
    let moe = if sparse.iter().any(|s| *s) {
        let experts = match cfg.opt_size(&["num_experts"])? {
            Some(e) => e,
            None => cfg.size_or(
                "num_local_experts",
                256,
                "`num_local_experts` defaults to 256",
            )?,
        };
        let per_token = match cfg.opt_size(&["num_experts_per_token"])? {
            Some(k) => k,
            None => cfg.size_or(
                "num_experts_per_tok",
                8,
                "`num_experts_per_tok` defaults to 8",
            )?,
        };
        let f_e = cfg.size_or(
            "moe_intermediate_size",
            1024,
            "`moe_intermediate_size` defaults to 1024",
        )?;
        let shared = match cfg.opt_count("num_shared_experts")? {
            Some(s) => s,
            None => cfg.count_or("n_shared_experts", 1, "`n_shared_experts` defaults to 1")?,
        };
        Some(Moe {
            num_experts: experts,
            experts_per_token: per_token,
            expert: gated(f_e),
            shared: (shared > 0)
                .then(|| product(Q, &[f_e, shared]))
                .transpose()?
                .map(|f| SharedExperts {
                    mlp: gated(f),
                    gate: false,
                }),
            router_bias: false,
        })
    } else {
        None
    };
    let tied = cfg.tied(false)?;

    let mla = Attention::plain(AttentionKind::Mla {
        heads,
        q_lora_rank,
        kv_lora_rank,
        qk_nope_head_dim,
        qk_rope_head_dim,
        v_head_dim,
    });
    let kda = kda(hidden, &linear)?;
    let block = |(full, sparse): (&bool, &bool)| Block {
        mixer: if *full {
            Mixer::Attention(mla.clone())
        } else {
            Mixer::Recurrent(kda.clone())
        },
        ffn: match (&moe, sparse) {
            (Some(m), true) => BlockFfn::Moe(*m),
            _ => BlockFfn::Dense(dense),
        },
        norms: 2,
        parallel: false,
        extra: Vec::new(),
    };
    let model_type = cfg.model_type().to_string();
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied,
    }
    .around(
        &model_type,
        Schedule::from_layers(full.iter().zip(sparse.iter()).map(block)),
    ))
}

#[cfg(test)]
mod tests {
    use crate::hf::from_config_str;
    use serde_json::json;

    fn small(extra: serde_json::Value) -> String {
        let mut c = json!({"model_type": "kimi_linear", "hidden_size": 64, "vocab_size": 100,
            "num_hidden_layers": 4, "num_attention_heads": 4, "kv_lora_rank": 16,
            "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 8,
            "intermediate_size": 96, "moe_intermediate_size": 16, "num_experts": 4,
            "num_experts_per_token": 2,
            "linear_attn_config": {"num_heads": 2, "head_dim": 8, "short_conv_kernel_size": 4,
                "full_attn_layers": [4], "kda_layers": [1, 2, 3]}});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    }

    #[test]
    fn one_based_layer_lists_place_mla() {
        let parsed = from_config_str(&small(json!({}))).unwrap();
        assert_eq!(parsed.arch.attention_layers(), 1);
        assert!(parsed.arch.layer(3).unwrap().attention().is_some());
        assert_eq!(parsed.arch.moe_layers(), 3);
        let r = parsed.arch.layer(0).unwrap().recurrent().unwrap();
        // Kh·Kd·Kd = 2·8·8; conv 3·P·ck = 3·16·4
        assert_eq!((r.state_elements, r.conv_elements), (128, 192));
    }

    #[test]
    fn a_bad_layer_pattern_is_refused_by_name() {
        for (key, extra) in [
            (
                "linear_attn_config.full_attn_layers",
                json!({"linear_attn_config": {"full_attn_layers": [5], "kda_layers": [1, 2, 3]}}),
            ),
            (
                "linear_attn_config.kda_layers",
                json!({"linear_attn_config": {"full_attn_layers": [4], "kda_layers": [1, 2]}}),
            ),
            (
                "linear_attn_config.num_heads",
                json!({"linear_attn_config": {"num_heads": 0}}),
            ),
            (
                "layer_types",
                json!({"layer_types": ["linear_attention", "mla", "linear_attention",
                    "full_attention"]}),
            ),
            ("mlp_layer_types", json!({"mlp_layer_types": ["dense"]})),
            ("num_attention_heads", json!({"num_attention_heads": 0})),
        ] {
            let (field, value, expected) = crate::hf::refusal(&small(extra).parse().unwrap());
            assert_eq!(field, key);
            assert!(!value.is_empty() && !expected.is_empty());
        }
    }
}

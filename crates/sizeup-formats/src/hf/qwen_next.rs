//! The hybrid Qwen lineage: qwen3_next (Qwen3-Next), qwen3_5 (dense Qwen3.5) and
//! qwen3_5_moe (Qwen3.5 MoE): Gated DeltaNet linear attention in most layers,
//! output-gated full attention in the others (`layer_types`, else every
//! `full_attention_interval`-th layer).
//!
//! # Formula
//! ```text
//! key_dim  = Kh·Kd      value_dim = Vh·Vd      conv_dim = 2·key_dim + value_dim
//! linear layer (qwen3_next): in_proj_qkvz (2·key_dim + 2·value_dim)×h, in_proj_ba 2·Vh×h
//! linear layer (qwen3_5*):   in_proj_qkv conv_dim×h, in_proj_z value_dim×h,
//!                            in_proj_b Vh×h, in_proj_a Vh×h
//!   + conv1d conv_dim·ck + dt_bias Vh + A_log Vh + out_proj h×value_dim
//!   + gated RMSNorm Vd (norm group)
//! full layer: q 2·a·d×h (query and output gate), k, v k·d×h, o h×a·d, q/k norm d each
//! every layer: 2 RMSNorms h, then a MoE with shared expert and its h×1 gate
//!   (qwen3_next: only where i ∉ mlp_only_layers and (i+1) % decoder_sparse_step == 0,
//!   else a dense MLP of intermediate_size; qwen3_5_moe: every layer) or a dense MLP
//!   (qwen3_5)
//! state per sequence per linear layer: Vh·Kd·Vd, conv state conv_dim·ck (transformers keeps the whole kernel window: `conv_states` of width `conv_kernel_size`)
//! ```
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` KV heads, `d` head_dim, `Kh`/`Kd`
//! `linear_num_key_heads`/`linear_key_head_dim`, `Vh`/`Vd` `linear_num_value_heads`/
//! `linear_value_head_dim`, `ck` `linear_conv_kernel_dim`.
//!
//! # Source
//! transformers `models/qwen3_next/{configuration,modeling}_qwen3_next.py`,
//! `models/qwen3_5/…_qwen3_5.py`, `models/qwen3_5_moe/…_qwen3_5_moe.py` (5.x; the
//! q projection is always gated there, whatever `attn_output_gate` says). For the
//! Qwen3.5 image-text configs `AutoModelForCausalLM` builds the text model of
//! `text_config` only, so the vision tower is not counted; the head follows the
//! top-level `tie_word_embeddings`. Multi-token prediction is not built by
//! transformers (`^mtp.*` ignored); it is described from vLLM `qwen3_next_mtp.py` /
//! `qwen3_5_mtp.py`: `fc` `2h → h`, `pre_fc_norm_embedding`, `pre_fc_norm_hidden`,
//! `norm` (`h` each) and one full-attention decoder block per MTP layer.

use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Group, Mixer, Mlp,
    MlpKind, Moe, Mtp, NamedTensor, QkNorm, Recurrent, RecurrentKind, Schedule, SharedExperts,
};
use sizeup_core::units::{product, sum};

use super::config::{Config, HeadDim, KvHeads, Section};
use super::window;
use super::Decoder;
use crate::error::FormatError;

const Q: &str = "Gated DeltaNet tensor size";

/// The `layer_types` entry of a Gated DeltaNet layer.
const LINEAR: &str = "linear_attention";

/// How the Gated DeltaNet input projection is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InProj {
    /// `in_proj_qkvz` and `in_proj_ba` (Qwen3-Next).
    Fused,
    /// `in_proj_qkv`, `in_proj_z`, `in_proj_b`, `in_proj_a` (Qwen3.5).
    Split,
}

/// The class defaults that differ between the three config classes.
struct Defaults {
    kv_heads: u64,
    in_proj: InProj,
}

/// What the text model of every member shares.
struct Text {
    hidden: u64,
    layers: u64,
    vocab: u64,
    max_context: u64,
    /// `true` for each full-attention layer.
    full: Vec<bool>,
    attention: Attention,
    linear: Recurrent,
    tied: bool,
}

/// Read the keys every member's text config has.
fn read_text(cfg: &mut Config, d: Defaults) -> Result<Text, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 32_768)?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(d.kv_heads))?;
    let head_dim = cfg.head_dim(hidden, heads, HeadDim::Fixed(256))?;
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    let attention = Attention {
        bias: AttentionBias {
            qkv: bias,
            output: bias,
        },
        qk_norm: QkNorm::PerHeadShared,
        output_gate: true,
        ..Attention::plain(AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        })
    };

    let full = layer_kinds(cfg, layers)?;
    let linear = gated_delta_net(cfg, hidden, d.in_proj)?;
    let tied = cfg.tied(false)?;
    Ok(Text {
        hidden,
        layers,
        vocab,
        max_context,
        full,
        attention,
        linear,
        tied,
    })
}

/// Which layers use full attention: `layer_types` when given (one entry per layer,
/// each `full_attention` or `linear_attention`), else layer `i` is full iff
/// `(i + 1) % full_attention_interval == 0` (default 4).
fn layer_kinds(cfg: &mut Config, layers: u64) -> Result<Vec<bool>, FormatError> {
    if let Some(types) = cfg.layer_types(layers, &[window::FULL, LINEAR])? {
        return Ok(types.iter().map(|t| *t == window::FULL).collect());
    }
    let interval = cfg.count_or(
        "full_attention_interval",
        4,
        "`full_attention_interval` defaults to 4 (layer i is full attention iff (i+1) % 4 == 0)",
    )?;
    if interval == 0 {
        return Err(cfg.invalid("full_attention_interval", 0, "a positive integer"));
    }
    Ok((0..layers).map(|i| (i + 1) % interval == 0).collect())
}

/// The Gated DeltaNet mixer of the linear-attention layers.
fn gated_delta_net(cfg: &mut Config, h: u64, in_proj: InProj) -> Result<Recurrent, FormatError> {
    let ck = cfg.size_or(
        "linear_conv_kernel_dim",
        4,
        "`linear_conv_kernel_dim` defaults to 4",
    )?;
    let kd = cfg.size_or(
        "linear_key_head_dim",
        128,
        "`linear_key_head_dim` defaults to 128",
    )?;
    let vd = cfg.size_or(
        "linear_value_head_dim",
        128,
        "`linear_value_head_dim` defaults to 128",
    )?;
    let kh = cfg.size_or(
        "linear_num_key_heads",
        16,
        "`linear_num_key_heads` defaults to 16",
    )?;
    let vh = cfg.size_or(
        "linear_num_value_heads",
        32,
        "`linear_num_value_heads` defaults to 32",
    )?;
    let key_dim = product(Q, &[kh, kd])?;
    let value_dim = product(Q, &[vh, vd])?;
    let conv_dim = sum(Q, &[key_dim, key_dim, value_dim])?;
    let g = Group::Recurrent;
    let mut tensors = match in_proj {
        InProj::Fused => vec![
            NamedTensor::matrix("in_proj_qkvz", sum(Q, &[conv_dim, value_dim])?, h, g),
            NamedTensor::matrix("in_proj_ba", product(Q, &[vh, 2])?, h, g),
        ],
        InProj::Split => vec![
            NamedTensor::matrix("in_proj_qkv", conv_dim, h, g),
            NamedTensor::matrix("in_proj_z", value_dim, h, g),
            NamedTensor::matrix("in_proj_b", vh, h, g),
            NamedTensor::matrix("in_proj_a", vh, h, g),
        ],
    };
    tensors.extend([
        NamedTensor::vector("conv1d", product(Q, &[conv_dim, ck])?, g),
        NamedTensor::vector("dt_bias", vh, g),
        NamedTensor::vector("A_log", vh, g),
        NamedTensor::vector("norm", vd, Group::Norm),
        NamedTensor::matrix("out_proj", h, value_dim, g),
    ]);
    Ok(Recurrent {
        kind: RecurrentKind::GatedDeltaNet,
        tensors,
        state_elements: product(Q, &[vh, kd, vd])?,
        conv_elements: product(Q, &[conv_dim, ck])?,
    })
}

/// A bias-free gated MLP of width `f`.
fn gated(f: u64) -> Mlp {
    Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    }
}

/// The routed experts, the shared expert and its gate (`qwen3_next`, `qwen3_5_moe`).
fn moe(cfg: &mut Config, num_experts: u64, per_token: u64) -> Result<Moe, FormatError> {
    let experts_per_token = cfg.size_or(
        "num_experts_per_tok",
        per_token,
        &format!("`num_experts_per_tok` defaults to {per_token}"),
    )?;
    let expert_f = cfg.size_or(
        "moe_intermediate_size",
        512,
        "`moe_intermediate_size` defaults to 512",
    )?;
    let shared_f = cfg.size_or(
        "shared_expert_intermediate_size",
        512,
        "`shared_expert_intermediate_size` defaults to 512",
    )?;
    Ok(Moe {
        num_experts,
        experts_per_token,
        expert: gated(expert_f),
        shared: Some(SharedExperts {
            mlp: gated(shared_f),
            gate: true,
        }),
        router_bias: false,
    })
}

/// Build the architecture from the text keys and each layer's FFN.
fn build(
    model_type: &str,
    t: Text,
    ffn: impl Fn(u64) -> BlockFfn,
    mtp_layers: u64,
) -> Architecture {
    let block = |full: bool, i: u64| Block {
        mixer: if full {
            Mixer::Attention(t.attention.clone())
        } else {
            Mixer::Recurrent(t.linear.clone())
        },
        ffn: ffn(i),
        norms: 2,
        parallel: false,
        extra: Vec::new(),
    };
    let layers = Schedule::from_layers(t.full.iter().zip(0u64..).map(|(&full, i)| block(full, i)));
    let h = t.hidden;
    let mtp = (mtp_layers > 0).then(|| Mtp {
        layers: mtp_layers,
        block: block(true, t.layers.saturating_sub(1)),
        extra: vec![
            NamedTensor::matrix("fc", h, h.saturating_mul(2), Group::Other),
            NamedTensor::vector("pre_fc_norm_embedding", h, Group::Norm),
            NamedTensor::vector("pre_fc_norm_hidden", h, Group::Norm),
            NamedTensor::vector("norm", h, Group::Norm),
        ],
    });
    let mut arch = Decoder {
        hidden: h,
        vocab: t.vocab,
        max_context: t.max_context,
        tied: t.tied,
    }
    .around(model_type, layers);
    arch.mtp = mtp;
    arch
}

/// `qwen3_next`: fused GDN input projections; MoE where
/// `i ∉ mlp_only_layers`, `num_experts > 0` and `(i + 1) % decoder_sparse_step == 0`,
/// else a dense MLP of `intermediate_size`. One MTP layer
/// (`num_nextn_predict_layers`, vLLM default 1).
pub(super) fn read_qwen3_next(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let t = read_text(
        cfg,
        Defaults {
            kv_heads: 2,
            in_proj: InProj::Fused,
        },
    )?;
    let num_experts = cfg.count_or("num_experts", 512, "`num_experts` defaults to 512")?;
    let flags = super::qwen::moe_layer_flags(cfg, t.layers)?;
    let is_moe = |i: u64| num_experts > 0 && flags.get(i as usize).copied().unwrap_or(false);
    let any_moe = (0..t.layers).any(is_moe);
    let any_dense = (0..t.layers).any(|i| !is_moe(i));
    let moe = if any_moe {
        Some(moe(cfg, num_experts, 10)?)
    } else {
        None
    };
    let dense = if any_dense {
        gated(cfg.size_or(
            "intermediate_size",
            5632,
            "`intermediate_size` defaults to 5632",
        )?)
    } else {
        gated(0)
    };
    let mtp = cfg.count_or(
        "num_nextn_predict_layers",
        1,
        "`num_nextn_predict_layers` absent means 1 MTP layer (vLLM qwen3_next_mtp)",
    )?;
    let model_type = cfg.model_type().to_string();
    let ffn = |i: u64| match (&moe, is_moe(i)) {
        (Some(m), true) => BlockFfn::Moe(*m),
        _ => BlockFfn::Dense(dense),
    };
    Ok(build(&model_type, t, ffn, mtp))
}

/// The MTP layer count of a Qwen3.5 text config (`mtp_num_hidden_layers`, default 0).
fn qwen3_5_mtp(cfg: &mut Config) -> Result<u64, FormatError> {
    cfg.count_or(
        "mtp_num_hidden_layers",
        0,
        "`mtp_num_hidden_layers` absent means no MTP layer",
    )
}

/// `qwen3_5` (dense Qwen3.5): split GDN input projections, a dense MLP of
/// `intermediate_size` in every layer; text model of `text_config` only.
pub(super) fn read_qwen3_5(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let model_type = cfg.model_type().to_string();
    let (mut t, dense, mtp) = cfg.section(Section::Text, "Qwen3_5TextConfig", |c| {
        let t = read_text(
            c,
            Defaults {
                kv_heads: 4,
                in_proj: InProj::Split,
            },
        )?;
        let f = c.size_or(
            "intermediate_size",
            12_288,
            "`intermediate_size` defaults to 12288",
        )?;
        let mtp = qwen3_5_mtp(c)?;
        Ok((t, gated(f), mtp))
    })?;
    // the head follows the top-level `tie_word_embeddings`
    if let Some(tied) = cfg.opt_flag("tie_word_embeddings")? {
        t.tied = tied;
    }
    Ok(build(&model_type, t, |_| BlockFfn::Dense(dense), mtp))
}

/// `qwen3_5_moe` (Qwen3.5 MoE): split GDN input projections, the MoE block with a
/// shared expert in every layer; text model of `text_config` only.
pub(super) fn read_qwen3_5_moe(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let model_type = cfg.model_type().to_string();
    let (mut t, moe, mtp) = cfg.section(Section::Text, "Qwen3_5MoeTextConfig", |c| {
        let t = read_text(
            c,
            Defaults {
                kv_heads: 2,
                in_proj: InProj::Split,
            },
        )?;
        let experts = c.size_or("num_experts", 256, "`num_experts` defaults to 256")?;
        let moe = moe(c, experts, 8)?;
        let mtp = qwen3_5_mtp(c)?;
        Ok((t, moe, mtp))
    })?;
    // the head follows the top-level `tie_word_embeddings`
    if let Some(tied) = cfg.opt_flag("tie_word_embeddings")? {
        t.tied = tied;
    }
    Ok(build(&model_type, t, |_| BlockFfn::Moe(moe), mtp))
}

#[cfg(test)]
mod tests {
    use crate::error::FormatError;
    use crate::hf::from_config_str;
    use serde_json::json;

    fn next(extra: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"model_type": "qwen3_next", "hidden_size": 64,
            "num_hidden_layers": 8, "num_attention_heads": 4, "vocab_size": 100});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn interval_decides_full_layers_when_layer_types_absent() {
        let parsed = from_config_str(&next(json!({})).to_string()).unwrap();
        assert_eq!(parsed.arch.attention_layers(), 2);
        let names: Vec<&str> = parsed.assumptions.iter().map(|a| a.name.as_str()).collect();
        assert!(names.contains(&"full_attention_interval"), "{names:?}");
        assert!(parsed.arch.mtp.is_some());
    }

    #[test]
    fn layer_types_of_the_wrong_length_names_the_field() {
        let c = next(json!({"layer_types": ["full_attention"]}));
        match from_config_str(&c.to_string()) {
            Err(FormatError::InvalidField { field, .. }) => assert_eq!(field, "layer_types"),
            other => panic!("{other:?}"),
        }
        let c = json!({"model_type": "qwen3_5", "text_config": {"hidden_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100,
            "layer_types": ["full_attention", "sliding_attention"]}});
        match from_config_str(&c.to_string()) {
            Err(FormatError::InvalidField { field, .. }) => {
                assert_eq!(field, "text_config.layer_types")
            }
            other => panic!("{other:?}"),
        }
    }

    /// MTP totals from vLLM's `qwen3_next_mtp.py` / `qwen3_5_mtp.py` shapes applied to
    /// the fixtures' configs (worked out by hand from those files, not built by
    /// transformers, which has no MTP module for these types).
    #[test]
    fn mtp_matches_the_checkpoint_shapes() {
        for (dir, mtp) in [
            ("qwen3-next-80b-a3b-thinking", 1_650_471_424u64),
            ("qwen3.5-397b-a17b", 6_595_568_128),
        ] {
            let config = crate::hf::shared_2026_config(dir).to_string();
            let parsed = from_config_str(&config).unwrap();
            let count = sizeup_core::params::count(&parsed.arch).unwrap();
            assert_eq!(count.mtp, mtp, "{dir}");
        }
    }
}

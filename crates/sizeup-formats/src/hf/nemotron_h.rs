//! nemotron_h (NVIDIA Nemotron-H, Nemotron Nano 2, Nemotron 3): a stack of
//! single-mixer layers, each a Mamba-2 mixer (`M`), attention (`*`), a plain MLP (`-`)
//! or a mixture of experts (`E`), as `hybrid_override_pattern` (or the list
//! `layers_block_type`) says.
//!
//! # Formula
//! ```text
//! M: Mamba-2 (mamba.rs) with I = mamba_num_heads·mamba_head_dim, gated norm I,
//!    in/out bias use_bias, conv bias use_conv_bias
//! *: q a·d×h, k, v k·d×h, o h×a·d, no bias, no q/k norm (d = head_dim, default 128)
//! -: up f×h, down h×f (ReLU², not gated), bias with mlp_bias
//! E: router E×h (its e_score_correction_bias is a buffer, not a parameter),
//!    E experts up f_e×h, down h×f_e (no bias), one shared MLP of f_s (mlp_bias)
//! every layer: one RMSNorm h; final RMSNorm h; head untied by default
//! ```
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` KV heads, `d` head width, `f` `intermediate_size`,
//! `E` `n_routed_experts`, `f_e` `moe_intermediate_size`, `f_s`
//! `moe_shared_expert_intermediate_size`.
//!
//! # Source
//! transformers 5.x `models/nemotron_h/{configuration,modeling}_nemotron_h.py`
//! (`NemotronHConfig._pattern_to_list`, `NemotronHBlock`, `NemotronHMamba2Mixer`,
//! `NemotronHAttention`, `NemotronHMLP`, `NemotronHMoE`, `NemotronHTopkRouter`). State
//! as transformers' `DynamicCache` allocates it for the `M` layers:
//! `LinearAttentionLayer` `recurrent_states[0]` `(batch, H, P, N)`, `conv_states[0]`
//! `(batch, I + 2·G·N, ck)`.
//!
//! # Assumptions / limits
//! sizeup's blocks are a token mixer plus an FFN, so each `-` or `E` layer joins the
//! mixer layer right before it as one block with two norms (the same tensors and the
//! same computation, two residual steps): Nemotron-3-Nano's 52 layers are 29 blocks.
//! A pattern whose MLP or MoE layer follows no mixer layer is refused. A pattern whose
//! length contradicts `num_hidden_layers` is refused too (transformers warns and goes
//! by the pattern). Latent MoE projections (`moe_latent_size`, Nemotron 3 Super and
//! Ultra) are not modelled yet and refused; multi-token-prediction layers
//! (`num_nextn_predict_layers`) are not built by transformers and not counted.

use sizeup_core::arch::{
    Architecture, Attention, AttentionKind, Block, BlockFfn, Mixer, Mlp, MlpKind, Moe, Schedule,
    SharedExperts, MAX_LAYERS,
};

use super::config::{Config, Field, HeadDim, KvHeads};
use super::mamba::Mamba2;
use super::Decoder;
use crate::error::FormatError;

/// What one Nemotron-H layer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `M`, `linear_attention`.
    Mamba,
    /// `*`, `full_attention`.
    Attention,
    /// `-`, `mlp`.
    Mlp,
    /// `E`, `moe`.
    Moe,
}

/// The layer kinds: `layers_block_type` (or its alias `layer_types`) when given, else
/// `hybrid_override_pattern`, else the class default `M E * -`; checked against
/// `num_hidden_layers` when the config states it.
fn kinds(cfg: &mut Config) -> Result<(Vec<Kind>, &'static str), FormatError> {
    let (kinds, key) = if let Some((key, list)) = [
        ("layers_block_type", cfg.opt_strings("layers_block_type")?),
        ("layer_types", cfg.opt_strings("layer_types")?),
    ]
    .into_iter()
    .find_map(|(k, l)| l.map(|l| (k, l)))
    {
        let kinds = list
            .iter()
            .map(|t| match *t {
                "linear_attention" | "mamba" => Ok(Kind::Mamba),
                "full_attention" | "attention" => Ok(Kind::Attention),
                "mlp" => Ok(Kind::Mlp),
                "moe" => Ok(Kind::Moe),
                bad => Err(cfg.invalid(
                    key,
                    format!("an entry `{bad}`"),
                    "entries among linear_attention, full_attention, mlp, moe",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        (kinds, key)
    } else if let Field::Value(v) = cfg.field("hybrid_override_pattern") {
        let key = "hybrid_override_pattern";
        let Some(pattern) = v.as_str() else {
            return Err(cfg.invalid(key, v, "a string of M, *, - and E, one per layer"));
        };
        let kinds = pattern
            .chars()
            .map(|c| match c {
                'M' => Ok(Kind::Mamba),
                '*' => Ok(Kind::Attention),
                '-' => Ok(Kind::Mlp),
                'E' => Ok(Kind::Moe),
                bad => Err(cfg.invalid(
                    key,
                    format!("a layer `{bad}`"),
                    "one character per layer: M (Mamba-2), * (attention), - (MLP), E (MoE)",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        (kinds, key)
    } else {
        cfg.assume(
            "hybrid_override_pattern",
            "M E * -",
            "`hybrid_override_pattern` and `layers_block_type` absent mean four layers: \
             Mamba-2, MoE, attention, MLP",
        );
        (
            vec![Kind::Mamba, Kind::Moe, Kind::Attention, Kind::Mlp],
            "hybrid_override_pattern",
        )
    };
    let n = kinds.len() as u64;
    if n == 0 || n > MAX_LAYERS {
        return Err(cfg.invalid(
            key,
            format!("{n} layers"),
            format!("between 1 and {MAX_LAYERS} layers"),
        ));
    }
    if let Some(layers) = cfg.opt_count("num_hidden_layers")? {
        if layers != n {
            return Err(cfg.invalid(
                key,
                format!("{n} layers"),
                format!("one entry per layer: num_hidden_layers is {layers}"),
            ));
        }
    }
    Ok((kinds, key))
}

/// `nemotron_h`.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 4096)?;
    let (kinds, key) = kinds(cfg)?;
    let uses = |k: Kind| kinds.contains(&k);

    let attention = if uses(Kind::Attention) {
        let heads = cfg.size_or(
            "num_attention_heads",
            32,
            "`num_attention_heads` defaults to 32",
        )?;
        let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(8))?;
        let head_dim = cfg.head_dim(hidden, heads, HeadDim::Fixed(128))?;
        Some(Attention::plain(AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        }))
    } else {
        None
    };
    let mamba = if uses(Kind::Mamba) {
        let heads = cfg.size_or("mamba_num_heads", 128, "`mamba_num_heads` defaults to 128")?;
        let head_dim = cfg.size_or("mamba_head_dim", 64, "`mamba_head_dim` defaults to 64")?;
        // the config class reads the mamba_-prefixed spellings first
        let groups = match cfg.opt_size(&["mamba_n_groups"])? {
            Some(g) => g,
            None => cfg.size_or("n_groups", 8, "`n_groups` defaults to 8")?,
        };
        let conv_kernel = match cfg.opt_size(&["mamba_d_conv"])? {
            Some(k) => k,
            None => cfg.size_or("conv_kernel", 4, "`conv_kernel` defaults to 4")?,
        };
        let conv_bias = match cfg.opt_flag("mamba_conv_bias")? {
            Some(b) => b,
            None => cfg.flag_or("use_conv_bias", true, "`use_conv_bias` defaults to true")?,
        };
        // in_proj and out_proj share `use_bias`
        let bias = cfg.flag_or("use_bias", false, "`use_bias` defaults to false")?;
        let m = Mamba2 {
            hidden,
            inner: heads.checked_mul(head_dim).ok_or_else(|| {
                cfg.invalid(
                    "mamba_head_dim",
                    head_dim,
                    "heads × head width within 64 bits",
                )
            })?,
            heads,
            head_dim,
            groups,
            state: cfg.size_or("ssm_state_size", 128, "`ssm_state_size` defaults to 128")?,
            conv_kernel,
            conv_bias,
            in_bias: bias,
            out_bias: bias,
            gated_norm: true,
        };
        Some(m.mixer()?)
    } else {
        None
    };
    let mlp_bias = cfg.flag_or("mlp_bias", false, "`mlp_bias` defaults to false")?;
    let plain = |f: u64, bias: bool| Mlp {
        kind: MlpKind::Plain,
        intermediate_size: f,
        bias,
    };
    let mlp = if uses(Kind::Mlp) {
        let f = cfg.size_or(
            "intermediate_size",
            21_504,
            "`intermediate_size` defaults to 21504",
        )?;
        Some(plain(f, mlp_bias))
    } else {
        None
    };
    let moe = if uses(Kind::Moe) {
        if let Field::Value(v) = cfg.field("moe_latent_size") {
            return Err(cfg.invalid(
                "moe_latent_size",
                v,
                "null: latent MoE projections are not modelled yet",
            ));
        }
        let experts = match cfg.opt_size(&["n_routed_experts"])? {
            Some(e) => e,
            None => cfg.size_or("num_local_experts", 8, "`n_routed_experts` defaults to 8")?,
        };
        let per_token = cfg.size_or(
            "num_experts_per_tok",
            2,
            "`num_experts_per_tok` defaults to 2",
        )?;
        let f_e = cfg.size_or(
            "moe_intermediate_size",
            7688,
            "`moe_intermediate_size` defaults to 7688",
        )?;
        let f_s = cfg.size_or(
            "moe_shared_expert_intermediate_size",
            7688,
            "`moe_shared_expert_intermediate_size` defaults to 7688",
        )?;
        Some(Moe {
            num_experts: experts,
            experts_per_token: per_token,
            expert: plain(f_e, false),
            shared: Some(SharedExperts {
                mlp: plain(f_s, mlp_bias),
                gate: false,
            }),
            router_bias: false,
        })
    } else {
        None
    };
    let tied = cfg.tied(false)?;

    // pair each MLP/MoE layer with the mixer layer before it
    let mut schedule = Schedule::from_layers([]);
    let mut pending: Option<Mixer> = None;
    for (i, kind) in kinds.iter().enumerate() {
        let mixer = match kind {
            Kind::Mamba => mamba.clone().map(Mixer::Recurrent),
            Kind::Attention => attention.clone().map(Mixer::Attention),
            Kind::Mlp | Kind::Moe => None,
        };
        if let Some(mixer) = mixer {
            if let Some(before) = pending.replace(mixer) {
                schedule.push(alone(before), 1);
            }
            continue;
        }
        let ffn = match (kind, &mlp, &moe) {
            (Kind::Mlp, Some(m), _) => BlockFfn::Dense(*m),
            (Kind::Moe, _, Some(m)) => BlockFfn::Moe(*m),
            _ => BlockFfn::None,
        };
        let Some(mixer) = pending.take() else {
            return Err(cfg.invalid(
                key,
                format!("an MLP or MoE layer {i} after no mixer layer"),
                "every - or E layer right after an M or * layer (sizeup pairs them into one block)",
            ));
        };
        schedule.push(
            Block {
                mixer,
                ffn,
                norms: 2,
                parallel: false,
                extra: Vec::new(),
            },
            1,
        );
    }
    if let Some(last) = pending {
        schedule.push(alone(last), 1);
    }
    let model_type = cfg.model_type().to_string();
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied,
    }
    .around(&model_type, schedule))
}

/// A mixer layer with no MLP or MoE layer after it: one norm, no FFN.
fn alone(mixer: Mixer) -> Block {
    Block {
        mixer,
        ffn: BlockFfn::None,
        norms: 1,
        parallel: false,
        extra: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::error::FormatError;
    use crate::hf::from_config_str;
    use serde_json::json;

    fn small(extra: serde_json::Value) -> String {
        let mut c = json!({"model_type": "nemotron_h", "hidden_size": 64, "vocab_size": 100,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
            "mamba_num_heads": 4, "mamba_head_dim": 16, "n_groups": 2, "ssm_state_size": 8,
            "intermediate_size": 96, "n_routed_experts": 4, "num_experts_per_tok": 2,
            "moe_intermediate_size": 32, "moe_shared_expert_intermediate_size": 48,
            "hybrid_override_pattern": "M-M*EM"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    }

    #[test]
    fn ffn_layers_join_the_mixer_before_them() {
        let parsed = from_config_str(&small(json!({}))).unwrap();
        // M- | M | *E | M: four blocks for six layers
        assert_eq!(parsed.arch.num_layers(), 4);
        assert_eq!(parsed.arch.attention_layers(), 1);
        assert_eq!(parsed.arch.moe_layers(), 1);
        let r = parsed.arch.layer(0).unwrap().recurrent().unwrap();
        // H·P·N = 4·16·8; conv (I + 2·G·N)·ck = (64 + 32)·4
        assert_eq!((r.state_elements, r.conv_elements), (512, 96 * 4));
    }

    #[test]
    fn a_bad_pattern_is_refused_by_name() {
        for (key, extra) in [
            (
                "hybrid_override_pattern",
                json!({"hybrid_override_pattern": "M-X"}),
            ),
            (
                "hybrid_override_pattern",
                json!({"hybrid_override_pattern": "M-", "num_hidden_layers": 3}),
            ),
            (
                "hybrid_override_pattern",
                json!({"hybrid_override_pattern": "-M"}),
            ),
            (
                "hybrid_override_pattern",
                json!({"hybrid_override_pattern": ""}),
            ),
            (
                "layers_block_type",
                json!({"layers_block_type": ["mamba", "dense"]}),
            ),
            ("mamba_num_heads", json!({"mamba_num_heads": 0})),
            ("num_attention_heads", json!({"num_attention_heads": 0})),
            ("moe_latent_size", json!({"moe_latent_size": 1024})),
        ] {
            let (field, value, expected) = crate::hf::refusal(&small(extra).parse().unwrap());
            assert_eq!(field, key);
            assert!(!value.is_empty() && !expected.is_empty());
        }
    }

    #[test]
    fn a_bare_infinity_in_an_unused_field_is_read() {
        let mut c = small(json!({}));
        c = c.replacen('{', r#"{"time_step_limit": [0.0, Infinity], "#, 1);
        let parsed = from_config_str(&c).unwrap();
        assert!(parsed
            .assumptions
            .iter()
            .any(|a| a.name == "non-finite numbers"));
        // in a field sizeup reads, it is refused by name
        let c = small(json!({})).replace(r#""ssm_state_size":8"#, r#""ssm_state_size":Infinity"#);
        match from_config_str(&c) {
            Err(FormatError::InvalidField { field, value, .. }) => {
                assert_eq!(field, "ssm_state_size");
                assert!(value.contains("Infinity"), "{value}");
            }
            other => panic!("{other:?}"),
        }
    }
}

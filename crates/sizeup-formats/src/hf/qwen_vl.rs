//! The Qwen vision-language models: `qwen2_5_vl` (Qwen2.5-VL), `qwen3_vl` and
//! `qwen3_vl_moe` (Qwen3-VL): a Qwen2/Qwen3 language model beside a ViT whose
//! patch merger projects into the text width; Qwen3-VL adds learned positions and
//! DeepStack mergers that feed features of middle ViT blocks to early text layers.
//!
//! The language model is counted as a decoder; the ViT (`visual.*` up to its
//! blocks) and each merger are towers of their own, all in `vision_and_projector`.
//!
//! # Formula
//! ```text
//! Qwen2.5-VL text: q h→a·d (+bias), k/v h→k·d (+bias), o a·d→h, MLP 3·h·f, 2h norms
//! Qwen2.5-VL ViT:  patch c·t·p²·h_v (no bias)
//!                  block 2h_v (RMSNorm) + 3h_v² + 3h_v (qkv) + h_v² + h_v (proj)
//!                        + 2(h_v·f_v + f_v) + f_v·h_v + h_v (gated MLP with biases)
//!         merger:  h_v (RMSNorm) + m²h_v·m²h_v + m²h_v + o·m²h_v + o
//! Qwen3-VL text:   q h→a·d, k/v h→k·d, o a·d→h (biases with attention_bias),
//!                  q/k norms 2d, MLP 3·h·f or MoE (router h→E, E experts 3·h·f_e), 2h norms
//! Qwen3-VL ViT:    patch c·t·p²·h_v + h_v, positions P·h_v
//!                  block 4h_v (LayerNorms) + 3h_v² + 3h_v + h_v² + h_v + 2·h_v·f_v + f_v + h_v
//!         merger:  2h_v (LayerNorm) + m²h_v·m²h_v + m²h_v + o·m²h_v + o
//!      deepstack:  D · (2m²h_v + m²h_v·m²h_v + m²h_v + o·m²h_v + o)
//! ```
//!
//! # Symbols
//! `h` text hidden size, `a` heads, `k` key/value heads, `d` head width (`h/a` for
//! Qwen2.5-VL, which ignores `head_dim`), `f` `intermediate_size`, `E`
//! `num_experts`, `f_e` `moe_intermediate_size`; `h_v` vision `hidden_size`, `f_v`
//! its `intermediate_size`, `c` `in_channels`, `t` `temporal_patch_size`, `p`
//! `patch_size`, `m` `spatial_merge_size`, `o` `out_hidden_size`, `P`
//! `num_position_embeddings`, `D` the length of `deepstack_visual_indexes`.
//!
//! # Source
//! transformers 5.25 `modeling_qwen2_5_vl.py` (`Qwen2_5_VisionPatchEmbed`,
//! `Qwen2_5_VLVisionBlock`, `Qwen2_5_VLPatchMerger`, `Qwen2_5_VLAttention`) and
//! `configuration_qwen2_5_vl.py` (without `text_config` the text keys are read from
//! the top level; the head is tied when the top level or the text config says so);
//! `modeling_qwen3_vl.py`, `modeling_qwen3_vl_moe.py` (`Qwen3VLVisionPatchMerger`
//! with `use_postshuffle_norm` for the DeepStack mergers) and their configuration
//! classes (the top-level `tie_word_embeddings`, default false, decides the head).
//! Checks: qwen2.5-vl-7b-instruct 8_292_166_656 (shared/fixtures/models-2026 and
//! tests/fixtures-2026/qwen2.5-vl-7b-instruct-tt), qwen3-vl-8b-instruct 8_767_123_696
//! and qwen3-vl-30b-a3b-instruct 31_070_754_032 (tests/fixtures-2026).

use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Mixer, Mlp, MlpKind,
    Moe, QkNorm, Schedule, Span, Tower,
};
use sizeup_core::units::{product, sum};

use super::config::{Config, KvHeads, Section};
use super::{tower_part, window, Decoder};
use crate::error::FormatError;

const Q: &str = "Qwen-VL vision tower parameter count";

/// What a text config reader hands back: the decoder and its own `tie_word_embeddings`.
struct Text {
    arch: Architecture,
    tied: Option<bool>,
}

/// One decoder layer of a Qwen-VL language model.
fn block(attention: &Attention, ffn: BlockFfn) -> Block {
    Block {
        mixer: Mixer::Attention(attention.clone()),
        ffn,
        norms: 2,
        parallel: false,
        extra: Vec::new(),
    }
}

/// A bias-free gated MLP of width `f`.
fn gated(f: u64) -> Mlp {
    Mlp {
        kind: MlpKind::Gated,
        intermediate_size: f,
        bias: false,
    }
}

/// Read a `qwen2_5_vl` config: the text model from `text_config`, or from the top
/// level as transformers does when `text_config` is absent; the ViT and its merger.
pub(super) fn read_qwen2_5_vl(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let text = if cfg.opt_object("text_config")?.is_some() {
        cfg.section(Section::Text, "Qwen2_5_VLTextConfig", qwen2_5_text)?
    } else {
        qwen2_5_text(cfg)?
    };
    let mut arch = text.arch;
    let top = cfg.opt_flag("tie_word_embeddings")?.unwrap_or(false);
    // Qwen2_5_VLConfig.__post_init__: the text config's tying wins over a false top level
    arch.embedding.tied = top || text.tied.unwrap_or(false);
    if !top && text.tied.is_none() {
        cfg.assume(
            "tie_word_embeddings",
            false,
            "`tie_word_embeddings` defaults to false",
        );
    }
    let towers = cfg.section(Section::Vision, "Qwen2_5_VLVisionConfig", qwen2_5_vision)?;
    arch.towers.extend(towers);
    Ok(arch)
}

/// The Qwen2.5-VL language model (`Qwen2_5_VLTextConfig`).
fn qwen2_5_text(cfg: &mut Config) -> Result<Text, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(8))?;
    // Qwen2_5_VLAttention takes hidden_size / num_attention_heads whatever `head_dim` says
    let head_dim = cfg.divide_heads(hidden, heads, "num_attention_heads")?;
    let ffn = cfg.size(&["intermediate_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 32_768)?;
    let mut local = vec![false; layers as usize];
    let mut size = None;
    if cfg.flag_or(
        "use_sliding_window",
        false,
        "`use_sliding_window` defaults to false",
    )? {
        size = window::size(cfg, Some(4096))?;
        let from = cfg.count_or(
            "max_window_layers",
            80,
            "`max_window_layers` defaults to 80",
        )?;
        local = window::local_layers(
            cfg,
            layers,
            "layers i >= max_window_layers slide",
            window::where_(layers, |i| i >= from),
        )?;
    }
    let attention = Attention {
        bias: AttentionBias {
            qkv: true,
            output: false,
        },
        ..Attention::plain(AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        })
    };
    let blocks = local.iter().map(|&l| {
        let span = match size {
            Some(w) if l => Span::Window(w),
            _ => Span::Full,
        };
        block(
            &Attention {
                span,
                ..attention.clone()
            },
            BlockFfn::Dense(gated(ffn)),
        )
    });
    let tied = cfg.opt_flag("tie_word_embeddings")?;
    let arch = Decoder {
        hidden,
        vocab,
        max_context,
        tied: false,
    }
    .around(
        cfg.model_type(),
        Schedule::from_layers(blocks.collect::<Vec<_>>()),
    );
    Ok(Text { arch, tied })
}

/// A vision size with its class default.
fn vision_size(cfg: &mut Config, key: &'static str, default: u64) -> Result<u64, FormatError> {
    cfg.size_or(key, default, &format!("`{key}` defaults to {default}"))
}

/// The ViT's blocks: `depth` (or its alias `num_hidden_layers`), with the class default.
fn vision_depth(cfg: &mut Config, default: u64) -> Result<u64, FormatError> {
    match cfg.opt_size(&["depth", "num_hidden_layers"])? {
        Some(d) if d > sizeup_core::arch::MAX_LAYERS => Err(cfg.invalid(
            "depth",
            d,
            format!("at most {} blocks", sizeup_core::arch::MAX_LAYERS),
        )),
        Some(d) => Ok(d),
        None => vision_size(cfg, "depth", default),
    }
}

/// The Qwen2.5-VL ViT (`visual`) and its patch merger (`visual.merger`).
fn qwen2_5_vision(cfg: &mut Config) -> Result<Vec<Tower>, FormatError> {
    let h = vision_size(cfg, "hidden_size", 3584)?;
    let f = vision_size(cfg, "intermediate_size", 3420)?;
    let depth = vision_depth(cfg, 32)?;
    let c = vision_size(cfg, "in_channels", 3)?;
    let p = vision_size(cfg, "patch_size", 14)?;
    let t = vision_size(cfg, "temporal_patch_size", 2)?;
    let m = vision_size(cfg, "spatial_merge_size", 2)?;
    let out = vision_size(cfg, "out_hidden_size", 3584)?;
    let block = sum(
        Q,
        &[
            product(Q, &[2, h])?,
            product(Q, &[4, h, h])?,
            product(Q, &[4, h])?,
            product(Q, &[3, h, f])?,
            product(Q, &[2, f])?,
            h,
        ],
    )?;
    let encoder = sum(
        Q,
        &[product(Q, &[c, t, p, p, h])?, product(Q, &[depth, block])?],
    )?;
    let merged = product(Q, &[m, m, h])?;
    let merger = sum(Q, &[h, mlp_projector(merged, out)?])?;
    Ok(vec![
        tower_part("visual", encoder),
        tower_part("visual.merger", merger),
    ])
}

/// The two-layer projector of a merger: `w·w + w` then `o·w + o`.
fn mlp_projector(w: u64, out: u64) -> Result<u64, FormatError> {
    Ok(sum(
        Q,
        &[product(Q, &[w, w])?, w, product(Q, &[out, w])?, out],
    )?)
}

/// Read a `qwen3_vl` config: a dense Qwen3 language model in `text_config`, the ViT,
/// its merger and the DeepStack mergers.
pub(super) fn read_qwen3_vl(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let arch = cfg.required_section(
        Section::Text,
        "Qwen3VLTextConfig",
        "the language model's keys (hidden_size, num_hidden_layers…)",
        |t| qwen3_text(t, false),
    )?;
    qwen3_outside(cfg, arch, "Qwen3VLVisionConfig")
}

/// Read a `qwen3_vl_moe` config: a Qwen3-MoE language model in `text_config` and the
/// same vision side as `qwen3_vl`.
pub(super) fn read_qwen3_vl_moe(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let arch = cfg.required_section(
        Section::Text,
        "Qwen3VLMoeTextConfig",
        "the language model's keys (hidden_size, num_hidden_layers…)",
        |t| qwen3_text(t, true),
    )?;
    qwen3_outside(cfg, arch, "Qwen3VLMoeVisionConfig")
}

/// The head (tied by the top-level `tie_word_embeddings` only) and the vision towers.
fn qwen3_outside(
    cfg: &mut Config,
    mut arch: Architecture,
    vision_class: &'static str,
) -> Result<Architecture, FormatError> {
    arch.embedding.tied = cfg.tied(false)?;
    let towers = cfg.section(Section::Vision, vision_class, qwen3_vision)?;
    arch.towers.extend(towers);
    Ok(arch)
}

/// A Qwen3-VL language model: dense (`Qwen3VLTextConfig`) or with experts where
/// `i ∉ mlp_only_layers` and `(i + 1) % decoder_sparse_step == 0` (`Qwen3VLMoeTextConfig`).
fn qwen3_text(cfg: &mut Config, moe: bool) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let (kv_default, head_dim_default) = if moe {
        (KvHeads::Fixed(16), super::config::HeadDim::Divide)
    } else {
        (KvHeads::Fixed(32), super::config::HeadDim::Fixed(128))
    };
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, kv_default)?;
    let head_dim = cfg.head_dim(hidden, heads, head_dim_default)?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 128_000)?;
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
        ..Attention::plain(AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        })
    };
    let num_experts = if moe {
        match cfg.opt_count("num_experts")? {
            Some(n) => n,
            None => cfg.count_or("num_local_experts", 60, "`num_experts` defaults to 60")?,
        }
    } else {
        0
    };
    let flags = if num_experts > 0 {
        super::qwen::moe_layer_flags(cfg, layers)?
    } else {
        vec![false; layers as usize]
    };
    let experts = if flags.iter().any(|&m| m) {
        Some(Moe {
            num_experts,
            experts_per_token: cfg.size_or(
                "num_experts_per_tok",
                4,
                "`num_experts_per_tok` defaults to 4",
            )?,
            expert: gated(cfg.size_or(
                "moe_intermediate_size",
                1408,
                "`moe_intermediate_size` defaults to 1408",
            )?),
            shared: None,
            router_bias: false,
        })
    } else {
        None
    };
    let dense = if flags.iter().any(|&m| !m) {
        let default = if moe { 5632 } else { 22016 };
        Some(gated(cfg.size_or(
            "intermediate_size",
            default,
            &format!("`intermediate_size` defaults to {default}"),
        )?))
    } else {
        None
    };
    let blocks = flags.iter().map(|&m| {
        let ffn = match (m, experts, dense) {
            (true, Some(e), _) => BlockFfn::Moe(e),
            (_, _, Some(d)) => BlockFfn::Dense(d),
            _ => BlockFfn::None,
        };
        block(&attention, ffn)
    });
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied: false,
    }
    .around(
        cfg.model_type(),
        Schedule::from_layers(blocks.collect::<Vec<_>>()),
    ))
}

/// The Qwen3-VL ViT (`visual`), its merger (`visual.merger`) and the DeepStack
/// mergers (`visual.deepstack_merger_list`).
fn qwen3_vision(cfg: &mut Config) -> Result<Vec<Tower>, FormatError> {
    let h = vision_size(cfg, "hidden_size", 1152)?;
    let f = vision_size(cfg, "intermediate_size", 4304)?;
    let depth = vision_depth(cfg, 27)?;
    let c = vision_size(cfg, "in_channels", 3)?;
    let p = vision_size(cfg, "patch_size", 16)?;
    let t = vision_size(cfg, "temporal_patch_size", 2)?;
    let m = vision_size(cfg, "spatial_merge_size", 2)?;
    let out = vision_size(cfg, "out_hidden_size", 3584)?;
    let positions = vision_size(cfg, "num_position_embeddings", 2304)?;
    let deepstack = match cfg.opt_counts("deepstack_visual_indexes")? {
        Some(list) => list.len() as u64,
        None => {
            cfg.assume(
                "deepstack_visual_indexes",
                "[8, 16, 24]",
                "`deepstack_visual_indexes` defaults to [8, 16, 24]",
            );
            3
        }
    };
    let block = sum(
        Q,
        &[
            product(Q, &[4, h])?,
            product(Q, &[4, h, h])?,
            product(Q, &[4, h])?,
            product(Q, &[2, h, f])?,
            f,
            h,
        ],
    )?;
    let encoder = sum(
        Q,
        &[
            product(Q, &[c, t, p, p, h])?,
            h,
            product(Q, &[positions, h])?,
            product(Q, &[depth, block])?,
        ],
    )?;
    let merged = product(Q, &[m, m, h])?;
    let merger = sum(Q, &[product(Q, &[2, h])?, mlp_projector(merged, out)?])?;
    let one_deepstack = sum(Q, &[product(Q, &[2, merged])?, mlp_projector(merged, out)?])?;
    let mut towers = vec![
        tower_part("visual", encoder),
        tower_part("visual.merger", merger),
    ];
    if deepstack > 0 {
        towers.push(tower_part(
            "visual.deepstack_merger_list",
            product(Q, &[deepstack, one_deepstack])?,
        ));
    }
    Ok(towers)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::error::FormatError;
    use crate::hf::{assert_counts, from_config_str, local_2026_config, shared_2026_config};

    fn refused(config: &Value) -> (String, String, String) {
        match from_config_str(&config.to_string()).unwrap_err() {
            FormatError::InvalidField {
                field,
                value,
                expected,
                ..
            } => (field, value, expected),
            other => panic!("{other:?}"),
        }
    }

    // Reference numbers: transformers 5.25 on the meta device
    // (AutoModelForImageTextToText), grouped by make_expected.py's classify().

    #[test]
    fn qwen2_5_vl_7b_text_and_each_tower() {
        // visual = patch 1280·3·2·14² + 32 blocks of 19_702_200; merger = ln_q 1280
        // + 5120² + 5120 + 3584·5120 + 3584
        assert_counts(
            &shared_2026_config("qwen2.5-vl-7b-instruct"),
            &[
                ("embedding", 544_997_376),
                ("attention", 822_212_608),
                ("mlp", 5_703_204_864),
                ("norm", 204_288),
                ("lm_head", 544_997_376),
                ("vision_and_projector", 676_550_144),
            ],
            8_292_166_656,
            &[("visual", 631_975_680), ("visual.merger", 44_574_464)],
        );
    }

    #[test]
    fn qwen3_vl_8b_text_and_each_tower() {
        // visual = patch 1152·3·2·16² + 1152, positions 2304·1152, 27 blocks of
        // 15_239_504; each DeepStack merger 40_125_952
        assert_counts(
            &local_2026_config("qwen3-vl-8b-instruct"),
            &[
                ("embedding", 622_329_856),
                ("attention", 1_509_949_440),
                ("mlp", 5_435_817_984),
                ("norm", 308_224),
                ("lm_head", 622_329_856),
                ("vision_and_projector", 576_388_336),
            ],
            8_767_123_696,
            &[
                ("visual", 415_891_440),
                ("visual.merger", 40_119_040),
                ("visual.deepstack_merger_list", 120_377_856),
            ],
        );
    }

    #[test]
    fn qwen3_vl_30b_a3b_text_and_each_tower() {
        // active = 31_070_754_032 − 28_991_029_248·120/128 (8 of 128 experts)
        assert_counts(
            &local_2026_config("qwen3-vl-30b-a3b-instruct"),
            &[
                ("embedding", 311_164_928),
                ("attention", 905_969_664),
                ("moe_routed_experts", 28_991_029_248),
                ("moe_router", 12_582_912),
                ("norm", 210_944),
                ("lm_head", 311_164_928),
                ("vision_and_projector", 538_631_408),
            ],
            3_891_664_112,
            &[
                ("visual", 415_891_440),
                ("visual.merger", 30_679_808),
                ("visual.deepstack_merger_list", 92_060_160),
            ],
        );
    }

    #[test]
    fn qwen3_vl_without_text_config_is_refused_with_the_fix() {
        let mut c = local_2026_config("qwen3-vl-8b-instruct");
        c.as_object_mut().unwrap().remove("text_config");
        let (field, value, expected) = refused(&c);
        assert_eq!((field.as_str(), value.as_str()), ("text_config", "absent"));
        assert!(expected.contains("hidden_size"), "{expected}");
    }

    #[test]
    fn zero_heads_are_refused_naming_the_field() {
        let mut c = local_2026_config("qwen3-vl-30b-a3b-instruct");
        c["text_config"]["num_attention_heads"] = json!(0);
        let (field, value, expected) = refused(&c);
        assert_eq!(
            (field.as_str(), value.as_str()),
            ("text_config.num_attention_heads", "0")
        );
        assert_eq!(expected, "a positive integer");
        let mut c = shared_2026_config("qwen2.5-vl-7b-instruct");
        c["num_attention_heads"] = json!(0);
        assert_eq!(refused(&c).0, "num_attention_heads");
    }

    #[test]
    fn qwen2_5_vl_ties_the_head_when_the_text_config_says_so() {
        let mut c = shared_2026_config("qwen2.5-vl-7b-instruct");
        c["tie_word_embeddings"] = json!(false);
        let mut text = c.as_object().unwrap().clone();
        text.remove("vision_config");
        text.insert("tie_word_embeddings".into(), json!(true));
        c["text_config"] = Value::Object(text);
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert!(arch.embedding.tied);
    }

    #[test]
    fn qwen3_vl_mlp_only_layers_stay_dense() {
        let mut c = local_2026_config("qwen3-vl-30b-a3b-instruct");
        c["text_config"]["mlp_only_layers"] = json!([0, 47]);
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!(arch.moe_layers(), 46);
        assert_eq!(
            arch.layer(0).unwrap().dense().unwrap().intermediate_size,
            6144
        );
        assert!(arch.layer(1).unwrap().moe().is_some());
    }
}

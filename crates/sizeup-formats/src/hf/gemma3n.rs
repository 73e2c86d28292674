//! `gemma3n` (Gemma 3n, `Gemma3nForConditionalGeneration`): the `text_config`
//! language model with per-layer embeddings, AltUp, LAuReL and KV sharing, the
//! MobileNet-V5 vision tower, the USM-style audio encoder and their embedders.
//!
//! # Formula
//! ```text
//! layer:      q h→a·d, k/v h→k·d (none in the last S layers, which reuse the keys and
//!             values of the last earlier layer of their kind), o a·d→h, q/k norms d
//!             (no k norm when shared), gated MLP 3·h·f_i, 4 norms h
//!             AltUp: h + n² + n³ + n·h, router norm h
//!             LAuReL: 2·h·r, norm h; per-layer input: 2·h·p, norm h
//! outside:    embedding V·h (tied head), per-layer embedding V_p·L·p,
//!             per-layer projection h·L·p + norm p, AltUp projections 2·(n−1)·h²
//! vision:     timm `mobilenetv5_300m_enc` (294_126_912) + embedder m·h_v + 2h_v + h·h_v
//! audio:      subsample convs c₀·k₀ + c₀ + c₁·c₀·k₁ + c₁ + h_a·c₁·F
//!             + L_a·(24·h_a² + 9·h_a + K·h_a + h_a/heads) + embedder m·h_a + 2h_a + h·h_a
//! ```
//! AltUp per layer: `correct_output_scale` h, `correction_coefs` n×n,
//! `prediction_coefs` n²×n, `modality_router` n×h, `router_norm` h.
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` KV heads, `d` `head_dim`, `f_i` the layer's
//! `intermediate_size`, `L` layers, `S` `num_kv_shared_layers`, `n` `altup_num_inputs`,
//! `r` `laurel_rank`, `p` `hidden_size_per_layer_input`, `V`/`V_p` `vocab_size` and
//! `vocab_size_per_layer_input`; `h_v` the vision `hidden_size`, `m` an embedder's
//! `vocab_size`; `h_a`, `L_a`, `K` the audio `hidden_size`, `conf_num_hidden_layers`,
//! `conf_conv_kernel_size`; `c₀, c₁` `sscp_conv_channel_size`, `k₀, k₁` the kernel
//! areas, `F` the frequency bins left after the two strided convolutions (padding 1
//! on each side).
//!
//! # Source
//! transformers 5.25 `modeling_gemma3n.py` (`Gemma3nTextAttention`: KV-shared layers
//! build no k/v projections or norms, `v_norm` has no scale; `Gemma3nTextAltUp`,
//! `Gemma3nTextLaurelBlock`, `Gemma3nTextDecoderLayer`, `Gemma3nTextModel`,
//! `Gemma3nAudioEncoder`, `Gemma3nAudioSubSampleConvProjection`,
//! `Gemma3nMultimodalEmbedder`; the vision tower is timm's model through
//! `TimmWrapperModel`) and `configuration_gemma3n.py` (`kv_sharing_modes`, the layer
//! pattern of one full layer in five). The audio encoder and the embedders count in
//! `vision_and_projector` with the vision tower: they are encoders beside the text
//! model, although the reference's name rules scatter the audio encoder over
//! `attention`, `norm` and `other`. Check: transformers' `Gemma3nConfig()` defaults
//! (documented as gemma-3n-E4B) build 7_818_517_072 parameters.

use serde_json::Value;
use sizeup_core::arch::{
    Architecture, Attention, AttentionKind, Block, BlockFfn, Group, Mixer, Mlp, MlpKind,
    NamedTensor, QkNorm, Schedule, Span, Tower,
};
use sizeup_core::units::{product, sum};

use super::config::{Config, Field, KvHeads, Section};
use super::{tower_part, window, Decoder};
use crate::error::FormatError;

const Q: &str = "Gemma 3n parameter count";

/// The one vision tower Gemma 3n ships, and its parameters in timm 1.0.31
/// (`timm.create_model("mobilenetv5_300m_enc", num_classes=0)`).
const MOBILENET_V5: (&str, u64) = ("mobilenetv5_300m_enc", 294_126_912);

/// Read a `gemma3n` config.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let mut arch = cfg.required_section(
        Section::Text,
        "Gemma3nTextConfig",
        "the language model's keys (hidden_size, num_hidden_layers, num_kv_shared_layers…)",
        read_text,
    )?;
    arch.embedding.tied = cfg.tied(true)?;
    let h = arch.hidden_size;
    let vision = cfg.required_section(
        Section::Vision,
        "Gemma3nVisionConfig",
        "the vision tower's keys (architecture, hidden_size…)",
        |v| vision(v, h),
    )?;
    let audio = cfg.required_section(
        Section::Audio,
        "Gemma3nAudioConfig",
        "the audio encoder's keys (hidden_size, conf_num_hidden_layers…)",
        |a| audio(a, h),
    )?;
    arch.towers.extend(vision);
    arch.towers.extend(audio);
    Ok(arch)
}

/// A positive size with its class default.
fn size(cfg: &mut Config, key: &'static str, default: u64) -> Result<u64, FormatError> {
    cfg.size_or(key, default, &format!("`{key}` defaults to {default}"))
}

/// The Gemma 3n language model from `text_config`.
fn read_text(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(2))?;
    let head_dim = size(cfg, "head_dim", 256)?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 32_768)?;
    let window_size = size(cfg, "sliding_window", 512)?;
    let ffn = intermediate_sizes(cfg, layers)?;
    let shared = cfg.count_or(
        "num_kv_shared_layers",
        15,
        "`num_kv_shared_layers` defaults to 15",
    )?;
    if shared >= layers {
        return Err(cfg.invalid(
            "num_kv_shared_layers",
            shared,
            format!("fewer than the {layers} layers (the first layers must produce the cache the others reuse)"),
        ));
    }
    let n = size(cfg, "altup_num_inputs", 4)?;
    let r = size(cfg, "laurel_rank", 64)?;
    let p = size(cfg, "hidden_size_per_layer_input", 256)?;
    let vp = size(cfg, "vocab_size_per_layer_input", 262_144)?;
    let local = window::local_layers(
        cfg,
        layers,
        "every fifth layer attends to everything, the others slide",
        window::all_but_every_nth(layers, 5),
    )?;
    let first_shared = layers - shared;
    // transformers refuses a shared layer whose kind no earlier layer produces
    for kind in [true, false] {
        let consumes = local[first_shared as usize..].contains(&kind);
        let produces = local[..first_shared as usize].contains(&kind);
        if consumes && !produces {
            return Err(cfg.invalid(
                "num_kv_shared_layers",
                shared,
                "a count that leaves a sliding and a full layer before the shared ones",
            ));
        }
    }
    let extra = vec![
        NamedTensor::vector("altup.correct_output_scale", hidden, Group::Other),
        NamedTensor::matrix("altup.correction_coefs", n, n, Group::Other),
        NamedTensor::matrix(
            "altup.prediction_coefs",
            product(Q, &[n, n])?,
            n,
            Group::Other,
        ),
        NamedTensor::matrix("altup.modality_router", n, hidden, Group::Other),
        NamedTensor::vector("altup.router_norm", hidden, Group::Norm),
        NamedTensor::matrix("laurel.linear_left", r, hidden, Group::Other),
        NamedTensor::matrix("laurel.linear_right", hidden, r, Group::Other),
        NamedTensor::vector("laurel.post_laurel_norm", hidden, Group::Norm),
        NamedTensor::matrix("per_layer_input_gate", p, hidden, Group::Other),
        NamedTensor::matrix("per_layer_projection", hidden, p, Group::Other),
        NamedTensor::vector("post_per_layer_input_norm", hidden, Group::Norm),
    ];
    let blocks = (0..layers).map(|i| {
        let span = if local[i as usize] {
            Span::Window(window_size)
        } else {
            Span::Full
        };
        Block {
            mixer: Mixer::Attention(Attention {
                qk_norm: QkNorm::PerHeadShared,
                span,
                kv_shared: i >= first_shared,
                ..Attention::plain(AttentionKind::Standard {
                    heads,
                    kv_heads,
                    head_dim,
                })
            }),
            ffn: BlockFfn::Dense(Mlp {
                kind: MlpKind::Gated,
                intermediate_size: ffn[i as usize],
                bias: false,
            }),
            norms: 4,
            parallel: false,
            extra: extra.clone(),
        }
    });
    let mut arch = Decoder {
        hidden,
        vocab,
        max_context,
        tied: true,
    }
    .around(
        cfg.model_type(),
        Schedule::from_layers(blocks.collect::<Vec<_>>()),
    );
    // tensors of the language model outside its layers that no other field describes:
    // counted with the text (their groups are not `vision_and_projector`)
    let per_layer = product(Q, &[layers, p])?;
    let altup = product(Q, &[2, n - 1, hidden, hidden])?;
    for (name, params, group) in [
        (
            "language_model.embed_tokens_per_layer",
            product(Q, &[vp, per_layer])?,
            Group::Other,
        ),
        (
            "language_model.per_layer_model_projection",
            product(Q, &[per_layer, hidden])?,
            Group::Other,
        ),
        ("language_model.per_layer_projection_norm", p, Group::Norm),
        ("language_model.altup_projections", altup, Group::Other),
    ] {
        arch.towers.push(Tower {
            name: name.into(),
            params,
            group,
        });
    }
    Ok(arch)
}

/// `intermediate_size`: one width for every layer or a list of one per layer.
fn intermediate_sizes(cfg: &mut Config, layers: u64) -> Result<Vec<u64>, FormatError> {
    match cfg.field("intermediate_size") {
        Field::Value(Value::Array(list)) => {
            if list.len() as u64 != layers {
                return Err(cfg.invalid(
                    "intermediate_size",
                    format!("a list of {} entries", list.len()),
                    format!("one width for every layer or one per layer ({layers})"),
                ));
            }
            list.iter()
                .map(|v| match v.as_u64() {
                    Some(f) if f > 0 => Ok(f),
                    _ => Err(cfg.invalid("intermediate_size", v, "positive integers")),
                })
                .collect()
        }
        _ => Ok(vec![cfg.size(&["intermediate_size"])?; layers as usize]),
    }
}

/// The vision tower (timm's MobileNet-V5) and the embedder into the text width `h`.
fn vision(cfg: &mut Config, h: u64) -> Result<Vec<Tower>, FormatError> {
    let architecture = match cfg.field("architecture") {
        Field::Value(Value::String(s)) => s.clone(),
        Field::Value(v) => return Err(cfg.invalid("architecture", v, "a timm model name")),
        _ => {
            cfg.assume(
                "architecture",
                MOBILENET_V5.0,
                "`architecture` defaults to mobilenetv5_300m_enc",
            );
            MOBILENET_V5.0.to_string()
        }
    };
    if architecture != MOBILENET_V5.0 {
        return Err(cfg.invalid(
            "architecture",
            &architecture,
            format!("`{}` (the only vision tower counted)", MOBILENET_V5.0),
        ));
    }
    let hv = size(cfg, "hidden_size", 2048)?;
    let m = size(cfg, "vocab_size", 128)?;
    Ok(vec![
        tower_part("vision_tower", MOBILENET_V5.1),
        tower_part("embed_vision", embedder(m, hv, h)?),
    ])
}

/// A `Gemma3nMultimodalEmbedder`: `m` hard tokens of width `w`, two norms of `w`, and
/// the projection into the text width `h` (its post-projection norm has no scale).
fn embedder(m: u64, w: u64, h: u64) -> Result<u64, FormatError> {
    Ok(sum(
        Q,
        &[
            product(Q, &[m, w])?,
            product(Q, &[2, w])?,
            product(Q, &[h, w])?,
        ],
    )?)
}

/// A pair of positive integers under `key` (`[[3, 3], [3, 3]]` entries).
fn pairs(
    cfg: &mut Config,
    key: &'static str,
    default: [[u64; 2]; 2],
) -> Result<[[u64; 2]; 2], FormatError> {
    match cfg.field(key) {
        Field::Absent | Field::Null => {
            cfg.assume(
                key,
                format!("{default:?}"),
                &format!("`{key}` defaults to {default:?}"),
            );
            Ok(default)
        }
        Field::Value(v) => {
            let parsed: Option<Vec<Vec<u64>>> = v.as_array().and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_array()
                            .and_then(|c| c.iter().map(Value::as_u64).collect())
                    })
                    .collect()
            });
            match parsed.as_deref() {
                Some([a, b])
                    if a.len() == 2
                        && b.len() == 2
                        && [a[0], a[1], b[0], b[1]].iter().all(|&x| x > 0) =>
                {
                    Ok([[a[0], a[1]], [b[0], b[1]]])
                }
                _ => Err(cfg.invalid(key, v, "two [height, width] pairs of positive integers")),
            }
        }
    }
}

/// The audio encoder and its embedder into the text width `h`.
fn audio(cfg: &mut Config, h: u64) -> Result<Vec<Tower>, FormatError> {
    let ha = size(cfg, "hidden_size", 1536)?;
    let feat = size(cfg, "input_feat_size", 128)?;
    let layers = size(cfg, "conf_num_hidden_layers", 12)?;
    if layers > sizeup_core::arch::MAX_LAYERS {
        return Err(cfg.invalid(
            "conf_num_hidden_layers",
            layers,
            format!("at most {} layers", sizeup_core::arch::MAX_LAYERS),
        ));
    }
    let heads = size(cfg, "conf_num_attention_heads", 8)?;
    let kernel = size(cfg, "conf_conv_kernel_size", 5)?;
    let m = size(cfg, "vocab_size", 128)?;
    let channels = match cfg.opt_counts("sscp_conv_channel_size")? {
        Some(c) if c.len() == 2 && c.iter().all(|&x| x > 0) => [c[0], c[1]],
        Some(c) => {
            return Err(cfg.invalid(
                "sscp_conv_channel_size",
                format!("{c:?}"),
                "two positive channel counts",
            ))
        }
        None => {
            cfg.assume(
                "sscp_conv_channel_size",
                "[128, 32]",
                "`sscp_conv_channel_size` defaults to [128, 32]",
            );
            [128, 32]
        }
    };
    let kernels = pairs(cfg, "sscp_conv_kernel_size", [[3, 3], [3, 3]])?;
    let strides = pairs(cfg, "sscp_conv_stride_size", [[2, 2], [2, 2]])?;
    // frequency bins after each convolution, padded by one on each side
    let mut f = feat;
    for i in 0..2 {
        let [_, kw] = kernels[i];
        let [_, sw] = strides[i];
        f = (f + 2).checked_sub(kw).map(|x| x / sw + 1).ok_or_else(|| {
            cfg.invalid(
                "sscp_conv_kernel_size",
                kw,
                format!("at most the {} frequency bins it convolves (+2 padding)", f),
            )
        })?;
    }
    if ha % heads != 0 {
        return Err(cfg.invalid(
            "conf_num_attention_heads",
            heads,
            format!("a divisor of the audio hidden size {ha}"),
        ));
    }
    let conv0 = product(Q, &[channels[0], kernels[0][0], kernels[0][1]])?;
    let conv1 = product(Q, &[channels[1], channels[0], kernels[1][0], kernels[1][1]])?;
    let subsample = sum(
        Q,
        &[
            conv0,
            channels[0],
            conv1,
            channels[1],
            product(Q, &[ha, channels[1], f])?,
        ],
    )?;
    let layer = sum(
        Q,
        &[
            product(Q, &[24, ha, ha])?,
            product(Q, &[9, ha])?,
            product(Q, &[kernel, ha])?,
            ha / heads,
        ],
    )?;
    let encoder = sum(Q, &[subsample, product(Q, &[layers, layer])?])?;
    Ok(vec![
        tower_part("audio_tower", encoder),
        tower_part("embed_audio", embedder(m, ha, h)?),
    ])
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use sizeup_core::{kv, params, KvDtype};

    use crate::error::FormatError;
    use crate::hf::{assert_counts, from_config_str};

    /// The shape keys of transformers' `Gemma3nConfig()` defaults (documented as
    /// gemma-3n-E4B); no verbatim published config.json was at hand.
    fn e4b() -> Value {
        json!({"model_type": "gemma3n", "tie_word_embeddings": true,
            "text_config": {"model_type": "gemma3n_text", "vocab_size": 262400,
                "hidden_size": 2048, "intermediate_size": 16384, "num_hidden_layers": 35,
                "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 256,
                "max_position_embeddings": 32768, "sliding_window": 512,
                "vocab_size_per_layer_input": 262144, "hidden_size_per_layer_input": 256,
                "altup_num_inputs": 4, "laurel_rank": 64, "num_kv_shared_layers": 15},
            "vision_config": {"model_type": "gemma3n_vision",
                "architecture": "mobilenetv5_300m_enc", "hidden_size": 2048, "vocab_size": 128},
            "audio_config": {"model_type": "gemma3n_audio", "hidden_size": 1536,
                "input_feat_size": 128, "conf_num_hidden_layers": 12,
                "conf_num_attention_heads": 8, "conf_conv_kernel_size": 5, "vocab_size": 128,
                "sscp_conv_channel_size": [128, 32], "sscp_conv_kernel_size": [[3, 3], [3, 3]],
                "sscp_conv_stride_size": [[2, 2], [2, 2]]}})
    }

    // Reference: transformers 5.25 Gemma3nForConditionalGeneration on the meta device
    // (timm 1.0.31 for the vision tower), the language model grouped by
    // make_expected.py's classify(); the audio encoder and embedders counted whole.

    #[test]
    fn e4b_text_and_each_tower() {
        // language model 6_835_235_568: per-layer embedding 262144·35·256 and the
        // AltUp/LAuReL/per-layer tensors are `other`; 15 shared layers lack k/v
        assert_counts(
            &e4b(),
            &[
                ("embedding", 537_395_200),
                ("attention", 335_544_320),
                ("norm", 518_144),
                ("mlp", 3_523_215_360),
                ("other", 2_438_562_544),
                ("vision_and_projector", 983_281_504),
            ],
            7_818_517_072,
            &[
                ("vision_tower", 294_126_912),
                ("embed_vision", 4_460_544),
                ("audio_tower", 681_348_640),
                ("embed_audio", 3_345_408),
            ],
        );
    }

    #[test]
    fn per_layer_widths_fewer_inputs_and_a_smaller_audio_encoder() {
        let mut c = e4b();
        let mut widths = vec![8192; 10];
        widths.extend(vec![6144; 20]);
        c["text_config"]["num_hidden_layers"] = json!(30);
        c["text_config"]["intermediate_size"] = json!(widths);
        c["text_config"]["num_kv_shared_layers"] = json!(10);
        c["text_config"]["altup_num_inputs"] = json!(3);
        c["text_config"]["laurel_rank"] = json!(32);
        c["text_config"]["hidden_size_per_layer_input"] = json!(128);
        c["text_config"]["num_key_value_heads"] = json!(1);
        c["audio_config"]["conf_num_hidden_layers"] = json!(6);
        c["audio_config"]["conf_num_attention_heads"] = json!(4);
        c["audio_config"]["sscp_conv_channel_size"] = json!([64, 16]);
        c["audio_config"]["input_feat_size"] = json!(80);
        c["audio_config"]["conf_conv_kernel_size"] = json!(3);
        assert_counts(
            &c,
            &[
                ("embedding", 537_395_200),
                ("attention", 272_629_760),
                ("norm", 445_056),
                ("mlp", 1_258_291_200),
                ("other", 1_051_182_136),
                ("vision_and_projector", 642_285_776),
            ],
            3_762_229_128,
            &[
                ("vision_tower", 294_126_912),
                ("embed_vision", 4_460_544),
                ("audio_tower", 340_352_912),
                ("embed_audio", 3_345_408),
            ],
        );
    }

    #[test]
    fn the_last_layers_reuse_the_cache_of_the_first() {
        // 20 layers cache 2·2·256 values per token (4 of them full, 16 within 512
        // tokens); the 15 sharing layers hold nothing of their own
        let arch = from_config_str(&e4b().to_string()).unwrap().arch;
        let req = |seq_len| kv::KvRequest {
            seq_len,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        let c = kv::size(&arch, &req(4096)).unwrap();
        assert_eq!(c.bytes_per_token, 20 * 2048);
        assert_eq!(c.bytes_per_sequence, (4 * 4096 + 16 * 512) * 2048);
        assert!(arch
            .layer(19)
            .and_then(|b| b.attention())
            .is_some_and(|a| !a.kv_shared));
        assert!(arch
            .layer(20)
            .and_then(|b| b.attention())
            .is_some_and(|a| a.kv_shared));
        assert_eq!(params::count(&arch).unwrap().active, 7_818_517_072);
    }

    #[test]
    fn bad_configs_are_refused_naming_the_field() {
        let refused = |c: &Value| match from_config_str(&c.to_string()).unwrap_err() {
            FormatError::InvalidField {
                field,
                value,
                expected,
                ..
            } => (field, value, expected),
            other => panic!("{other:?}"),
        };
        let mut c = e4b();
        c.as_object_mut().unwrap().remove("text_config");
        let (field, value, expected) = refused(&c);
        assert_eq!((field.as_str(), value.as_str()), ("text_config", "absent"));
        assert!(expected.contains("num_kv_shared_layers"), "{expected}");
        let mut c = e4b();
        c["text_config"]["num_attention_heads"] = json!(0);
        assert_eq!(refused(&c).0, "text_config.num_attention_heads");
        let mut c = e4b();
        c["text_config"]["num_kv_shared_layers"] = json!(35);
        assert_eq!(refused(&c).0, "text_config.num_kv_shared_layers");
        let mut c = e4b();
        c["vision_config"]["architecture"] = json!("mobilenetv5_base");
        let (field, _, expected) = refused(&c);
        assert_eq!(field, "vision_config.architecture");
        assert!(expected.contains("mobilenetv5_300m_enc"), "{expected}");
        let mut c = e4b();
        c["text_config"]["intermediate_size"] = json!([16384, 16384]);
        assert_eq!(refused(&c).0, "text_config.intermediate_size");
    }
}

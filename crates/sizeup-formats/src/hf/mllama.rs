//! `mllama` (Llama 3.2 Vision, `MllamaForConditionalGeneration`): a Llama 3.1 text
//! model in `text_config` with gated cross-attention layers at
//! `cross_attention_layers`, the tiled ViT and the projector into the text width.
//!
//! A cross-attention layer attends to one image's `T·N` vision states instead of the
//! context: its attention has [`Span::Encoder`], so the KV cache holds one image's
//! keys and values per sequence in those layers and a text token adds nothing there.
//!
//! # Formula
//! ```text
//! embedding:    (V + 8)·h   (8 extra rows for the image tokens); LM head V·h, never tied
//! self layer:   q h→a·d, k/v h→k·d, o a·d→h, MLP 3·h·f, 2h norms
//! cross layer:  the same projections (k/v read the projected vision states), q/k norms
//!               2d, 2 scalar gates, MLP 3·h·f, 2h norms
//! vision model: patch c·p²·h_v + class h_v + positions N·h_v + 1
//!               + tile positions (R+1)·T·N·h_v + 2 aspect-ratio tables (R+1)·T·h_v + 1
//!               + 2 LayerNorms 2h_v·2
//!               + (L_v + G_v)·(4h_v (LayerNorms) + 4h_v² + 2·h_v·f_v + f_v + h_v) + 2G_v
//! projector:    o·h + h
//! ```
//!
//! # Symbols
//! `h` text hidden size, `a` heads, `k` key/value heads, `d = h/a`, `f`
//! `intermediate_size`, `V` `vocab_size`; `h_v`, `f_v`, `L_v`, `G_v` the vision
//! `hidden_size`, `intermediate_size`, `num_hidden_layers`, `num_global_layers`; `c`
//! `num_channels`, `p` `patch_size`, `N = (image_size/p)² + 1` patches and the class
//! token, `T` `max_num_tiles`, `R` the number of `supported_aspect_ratios`, `o`
//! `vision_output_dim`.
//!
//! # Source
//! transformers 5.25 `modeling_mllama.py` (`MllamaTextModel` embeds `vocab_size + 8`
//! rows; `MllamaCrossAttentionDecoderLayer`, `MllamaTextCrossAttention`,
//! `MllamaVisionModel`, `MllamaPrecomputedPositionEmbedding`,
//! `MllamaPrecomputedAspectRatioEmbedding`; the head is never tied) and
//! `configuration_mllama.py`. `AutoModelForCausalLM` builds `MllamaForCausalLM`, the
//! language model alone: that is the count's `text`, the towers come beside it.
//! Check: llama-3.2-90b-vision-instruct's language model is 87_666_865_192 and the
//! whole `MllamaForConditionalGeneration` 88_593_355_323 (tests/fixtures-2026).

use serde_json::Value;
use sizeup_core::arch::{
    Architecture, Attention, AttentionKind, Block, BlockFfn, Group, Mixer, Mlp, MlpKind,
    NamedTensor, QkNorm, Schedule, Span, Tower,
};
use sizeup_core::units::{product, sum};

use super::config::{Config, Field, KvHeads, Section};
use super::{tower_part, Decoder};
use crate::error::FormatError;

const Q: &str = "Llama 3.2 Vision parameter count";

/// Rows `MllamaTextModel` adds to the token embedding beyond `vocab_size`.
const EXTRA_EMBEDDING_ROWS: u64 = 8;

/// Read an `mllama` config.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let (vision, image_tokens, out) = cfg.required_section(
        Section::Vision,
        "MllamaVisionConfig",
        "the vision encoder's keys (hidden_size, num_hidden_layers, image_size…)",
        vision_model,
    )?;
    let mut arch = cfg.required_section(
        Section::Text,
        "MllamaTextConfig",
        "the language model's keys (hidden_size, num_hidden_layers, cross_attention_layers…)",
        |t| text_model(t, image_tokens),
    )?;
    let h = arch.hidden_size;
    arch.towers.push(tower_part("vision_model", vision));
    arch.towers.push(tower_part(
        "multi_modal_projector",
        sum(Q, &[product(Q, &[out, h])?, h])?,
    ));
    Ok(arch)
}

/// The language model: Llama self-attention layers and, at `cross_attention_layers`,
/// gated cross-attention layers over `image_tokens` vision states.
fn text_model(cfg: &mut Config, image_tokens: u64) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(8))?;
    // MllamaTextSelfAttention and MllamaTextCrossAttention take hidden_size / heads
    let head_dim = cfg.divide_heads(hidden, heads, "num_attention_heads")?;
    let ffn = cfg.size(&["intermediate_size"])?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 131_072)?;
    let cross = match cfg.opt_counts("cross_attention_layers")? {
        Some(list) => {
            if let Some(&bad) = list.iter().find(|&&i| i >= layers) {
                return Err(cfg.invalid(
                    "cross_attention_layers",
                    bad,
                    format!("layer indices below num_hidden_layers ({layers})"),
                ));
            }
            list
        }
        None => {
            cfg.assume(
                "cross_attention_layers",
                "[3, 8, 13, 18, 23, 28, 33, 38]",
                "`cross_attention_layers` defaults to [3, 8, 13, 18, 23, 28, 33, 38]",
            );
            vec![3, 8, 13, 18, 23, 28, 33, 38]
        }
    };
    let kind = AttentionKind::Standard {
        heads,
        kv_heads,
        head_dim,
    };
    let mlp = BlockFfn::Dense(Mlp {
        kind: MlpKind::Gated,
        intermediate_size: ffn,
        bias: false,
    });
    let self_layer = Block {
        mixer: Mixer::Attention(Attention::plain(kind)),
        ffn: mlp.clone(),
        norms: 2,
        parallel: false,
        extra: Vec::new(),
    };
    let cross_layer = Block {
        mixer: Mixer::Attention(Attention {
            qk_norm: QkNorm::PerHeadShared,
            span: Span::Encoder(image_tokens),
            ..Attention::plain(kind)
        }),
        ffn: mlp,
        norms: 2,
        parallel: false,
        extra: vec![
            NamedTensor::vector("cross_attn_attn_gate", 1, Group::Other),
            NamedTensor::vector("cross_attn_mlp_gate", 1, Group::Other),
        ],
    };
    let blocks = (0..layers).map(|i| {
        if cross.contains(&i) {
            cross_layer.clone()
        } else {
            self_layer.clone()
        }
    });
    let mut arch = Decoder {
        hidden,
        vocab,
        max_context,
        tied: false,
    }
    .around(
        cfg.model_type(),
        Schedule::from_layers(blocks.collect::<Vec<_>>()),
    );
    if cfg.opt_flag("tie_word_embeddings")? == Some(true) {
        cfg.assume(
            "tie_word_embeddings",
            false,
            "Mllama never ties its head: the embedding has 8 more rows than the head",
        );
    }
    // part of the language model's embed_tokens, so counted as text, not as a tower
    arch.towers.push(Tower {
        name: "language_model.embed_tokens (image-token rows)".into(),
        params: product(Q, &[EXTRA_EMBEDDING_ROWS, hidden])?,
        group: Group::Embedding,
    });
    Ok(arch)
}

/// The tiled ViT: its parameters, the vision states one image gives
/// (`max_num_tiles · ((image_size / patch_size)² + 1)`) and `vision_output_dim`.
fn vision_model(cfg: &mut Config) -> Result<(u64, u64, u64), FormatError> {
    let h = cfg.size_or("hidden_size", 1280, "`hidden_size` defaults to 1280")?;
    let f = cfg.size_or(
        "intermediate_size",
        5120,
        "`intermediate_size` defaults to 5120",
    )?;
    let layers = count_layers(cfg, "num_hidden_layers", 32)?;
    let global = count_layers(cfg, "num_global_layers", 8)?;
    let c = cfg.size_or("num_channels", 3, "`num_channels` defaults to 3")?;
    let image = cfg.size_or("image_size", 448, "`image_size` defaults to 448")?;
    let p = cfg.size_or("patch_size", 14, "`patch_size` defaults to 14")?;
    let tiles = cfg.size_or("max_num_tiles", 4, "`max_num_tiles` defaults to 4")?;
    let ratios = match cfg.field("supported_aspect_ratios") {
        Field::Value(Value::Array(list)) if !list.is_empty() => list.len() as u64,
        Field::Value(v) => {
            return Err(cfg.invalid(
                "supported_aspect_ratios",
                v,
                "a non-empty list of [rows, columns] tile layouts",
            ))
        }
        _ => {
            cfg.assume(
                "supported_aspect_ratios",
                "8 layouts",
                "`supported_aspect_ratios` defaults to the 8 layouts of up to 4 tiles",
            );
            8
        }
    };
    let side = image / p;
    let patches = sum(Q, &[product(Q, &[side, side])?, 1])?;
    let layer = sum(
        Q,
        &[
            product(Q, &[4, h])?,
            product(Q, &[4, h, h])?,
            product(Q, &[2, h, f])?,
            f,
            h,
        ],
    )?;
    let table_rows = ratios + 1;
    let params = sum(
        Q,
        &[
            product(Q, &[c, p, p, h])?,
            h,
            product(Q, &[patches, h])?,
            1,
            product(Q, &[table_rows, tiles, patches, h])?,
            product(Q, &[2, sum(Q, &[product(Q, &[table_rows, tiles, h])?, 1])?])?,
            product(Q, &[4, h])?,
            product(Q, &[sum(Q, &[layers, global])?, layer])?,
            product(Q, &[2, global])?,
        ],
    )?;
    let out = cfg.size_or(
        "vision_output_dim",
        7680,
        "`vision_output_dim` defaults to 7680",
    )?;
    Ok((params, product(Q, &[tiles, patches])?, out))
}

/// A vision layer count with its default, bounded like the text layers.
fn count_layers(cfg: &mut Config, key: &'static str, default: u64) -> Result<u64, FormatError> {
    match cfg.field(key) {
        Field::Absent | Field::Null => {
            cfg.assume(key, default, &format!("`{key}` defaults to {default}"));
            Ok(default)
        }
        Field::Value(_) => cfg.layers(&[key]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sizeup_core::{kv, KvDtype};

    use crate::hf::{assert_counts, from_config_str, local_2026_config};

    fn fixture() -> serde_json::Value {
        local_2026_config("llama-3.2-90b-vision-instruct")
    }

    #[test]
    fn llama_3_2_90b_vision_text_and_each_tower() {
        // transformers 5.25, MllamaForConditionalGeneration on the meta device, grouped
        // by make_expected.py's classify(): the language model is 87_666_865_192
        // (expected.json, MllamaForCausalLM); vision_model = 32 layers of 19_672_320,
        // 8 gated global layers of 19_672_322, tile positions 9·4·1601·1280, …;
        // projector 7680·8192 + 8192. Cross-attention projections and gates are `other`.
        assert_counts(
            &fixture(),
            &[
                ("embedding", 1_050_738_688),
                ("attention", 12_079_595_520),
                ("mlp", 70_464_307_200),
                ("norm", 1_651_712),
                ("other", 3_019_898_920),
                ("lm_head", 1_050_673_152),
                ("vision_and_projector", 926_490_131),
            ],
            88_593_355_323,
            &[
                ("vision_model", 863_567_379),
                ("multi_modal_projector", 62_922_752),
            ],
        );
    }

    #[test]
    fn cross_attention_caches_one_image_not_each_token() {
        // 80 self-attention layers add 2·8·128 values per token (327_680 bytes in 16
        // bits); the 20 cross-attention layers hold one image's 4·1601 vision states
        // whatever the text length: 20·6404·4096 = 524_615_680 bytes per sequence
        let arch = from_config_str(&fixture().to_string()).unwrap().arch;
        assert_eq!(arch.attention_layout(), "GQA+cross");
        let req = |seq_len| kv::KvRequest {
            seq_len,
            batch: 1,
            dtype: KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        let short = kv::size(&arch, &req(10)).unwrap();
        assert_eq!(short.bytes_per_token, 327_680);
        assert_eq!(short.bytes_per_sequence, 10 * 327_680 + 524_615_680);
        let long = kv::size(&arch, &req(100_000)).unwrap();
        assert_eq!(long.bytes_per_sequence, 100_000 * 327_680 + 524_615_680);
        assert!(kv::assumptions(&arch)
            .iter()
            .any(|a| a.value.contains("6404 encoder tokens")));
    }

    #[test]
    fn without_text_config_the_config_is_refused_with_the_fix() {
        let mut c = fixture();
        c.as_object_mut().unwrap().remove("text_config");
        let (field, value, expected) = crate::hf::refusal(&c);
        assert_eq!((field.as_str(), value.as_str()), ("text_config", "absent"));
        assert!(expected.contains("cross_attention_layers"), "{expected}");
    }

    #[test]
    fn zero_heads_and_stray_cross_layers_are_refused_naming_the_field() {
        let mut c = fixture();
        c["text_config"]["num_attention_heads"] = json!(0);
        let err = from_config_str(&c.to_string()).unwrap_err().to_string();
        assert!(
            err.contains("`text_config.num_attention_heads` = `0`"),
            "{err}"
        );
        let mut c = fixture();
        c["text_config"]["cross_attention_layers"] = json!([3, 100]);
        let err = from_config_str(&c.to_string()).unwrap_err().to_string();
        assert!(
            err.contains("`text_config.cross_attention_layers` = `100`"),
            "{err}"
        );
    }
}

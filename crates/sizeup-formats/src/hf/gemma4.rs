//! `gemma4` (image-text, `Gemma4ForConditionalGeneration`): the `text_config`
//! language model, its own vision tower and the vision embedder.
//!
//! # Formula
//! ```text
//! sliding layer: q h→a·d, k/v h→k·d, o a·d→h, q/k norms 2d, MLP 3·h·f, 4 norms h
//! full layer:    q h→a·d_g, k h→k_g·d_g, v h→k_g·d_g (none if attention_k_eq_v),
//!                o a·d_g→h, q/k norms 2·d_g, MLP and norms as above
//! vision layer:  4·h_v·(a_v·d_v) (q/k/v/o), 2·d_v (q/k norms), 3·h_v·f_v, 4·h_v
//! vision tower:  L_v·layer + h_v·3p² (patch input_proj) + 2·P·h_v (position table)
//! other:         h·h_v (embed_vision.embedding_projection)
//! ```
//!
//! # Symbols
//! `h` text hidden size, `a` heads, `d` `head_dim`, `k` `num_key_value_heads`,
//! `d_g` `global_head_dim` (default 512), `k_g` `num_global_key_value_heads` (only
//! when `attention_k_eq_v`; otherwise full layers keep `k`), or a layer's own
//! `per_layer_config` entry where transformers 5.25 wrote them so; `f` `intermediate_size`;
//! `h_v`, `a_v`, `d_v`, `f_v`, `L_v` the same for `vision_config`, `p` its
//! `patch_size`, `P` its `position_embedding_size`.
//!
//! # Source
//! transformers 5.25 `modeling_gemma4.py` (`Gemma4TextAttention`: `v_norm` has no
//! scale; `layer_scalar` is a buffer; `Gemma4VisionPatchEmbedder`,
//! `Gemma4ClippableLinear`, whose clip bounds are buffers) and
//! `configuration_gemma4.py` (`Gemma4TextConfig.__post_init__` gives full layers
//! `global_head_dim` and, with `attention_k_eq_v`, `num_global_key_value_heads`).
//! The reference names `model.embed_vision.embedding_projection` neither vision
//! tower nor projector, so it is a tower piece of its own in the `other` group. Per-layer
//! inputs (`hidden_size_per_layer_input`), the MoE block, double-wide MLPs and the
//! audio tower are refused. Check: gemma-4-31b-it is 31_273_086_512
//! (shared/fixtures/models-2026/gemma-4-31b-it).

use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Group, Mixer, Mlp,
    MlpKind, QkNorm, Schedule, Span, Tower,
};
use sizeup_core::units::{product, sum};

use super::config::{Config, Section};
use super::window;
use super::Decoder;
use crate::error::FormatError;

const Q: &str = "Gemma 4 vision tower parameter count";

/// Read a `gemma4` config.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let mut arch = cfg.section(Section::Text, "Gemma4TextConfig", read_text)?;
    if let Some(tied) = cfg.opt_flag("tie_word_embeddings")? {
        arch.embedding.tied = tied;
    }
    if let Some(audio) = cfg.opt_object("audio_config")? {
        if !audio.is_empty() {
            return Err(cfg.invalid(
                "audio_config",
                "an audio tower",
                "null (the Gemma 4 audio tower is not modelled)",
            ));
        }
    }
    if cfg
        .opt_object("vision_config")?
        .is_none_or(|m| m.is_empty())
    {
        cfg.assume(
            "vision_config",
            "none",
            "`vision_config` absent: no vision tower is counted",
        );
        return Ok(arch);
    }
    let (hv, tower) = cfg.section(Section::Vision, "Gemma4VisionConfig", vision_tower)?;
    arch.towers.push(Tower::vision(tower));
    // the reference names this projection neither tower nor projector: `other`
    arch.towers.push(Tower {
        name: "embed_vision.embedding_projection".into(),
        params: product(Q, &[arch.hidden_size, hv])?,
        group: Group::Other,
    });
    Ok(arch)
}

/// The Gemma 4 language model from `text_config`.
fn read_text(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, super::config::KvHeads::Heads)?;
    let head_dim = cfg.size(&["head_dim"])?;
    let ffn = cfg.size(&["intermediate_size"])?;
    let max_context = cfg.size(&["max_position_embeddings"])?;
    let window = cfg.size(&["sliding_window"])?;
    let k_eq_v = cfg.flag_or(
        "attention_k_eq_v",
        false,
        "`attention_k_eq_v` defaults to false",
    )?;
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    // transformers 5.25 turns `global_head_dim` and `num_global_key_value_heads`
    // into a `per_layer_config` entry for each full layer, and writes that back
    let overrides = cfg.per_layer_overrides(layers, &["head_dim", "num_key_value_heads"])?;
    let (global_head_dim, global_kv_heads) = if overrides.iter().any(Option::is_some) {
        // the layers named carry their own shapes; the others keep the base ones
        (head_dim, kv_heads)
    } else {
        let d = cfg.size_or(
            "global_head_dim",
            512,
            "`global_head_dim` defaults to 512 (Gemma4TextConfig)",
        )?;
        let k = match cfg.opt_size(&["num_global_key_value_heads"])? {
            Some(k) if k_eq_v => k,
            _ => kv_heads,
        };
        (d, k)
    };
    for (key, what) in [
        ("enable_moe_block", "the Gemma 4 MoE block is not modelled"),
        ("use_double_wide_mlp", "double-wide MLPs are not modelled"),
    ] {
        if cfg.opt_flag(key)? == Some(true) {
            return Err(cfg.invalid(key, true, format!("false ({what})")));
        }
    }
    if let Some(n) = cfg.opt_count("hidden_size_per_layer_input")? {
        if n > 0 {
            return Err(cfg.invalid(
                "hidden_size_per_layer_input",
                n,
                "0 (per-layer input embeddings are not modelled)",
            ));
        }
    }
    let types = cfg
        .layer_types(layers, &[window::SLIDING, window::FULL])?
        .ok_or_else(|| cfg.missing("layer_types"))?;
    let mut blocks = Vec::with_capacity(types.len());
    for (i, (t, o)) in types.iter().zip(&overrides).enumerate() {
        let sliding = *t == window::SLIDING;
        let (kv, d, span, no_v) = if sliding {
            (kv_heads, head_dim, Span::Window(window), false)
        } else {
            (global_kv_heads, global_head_dim, Span::Full, k_eq_v)
        };
        let d = cfg.override_size(i, *o, "head_dim")?.unwrap_or(d);
        let kv = cfg
            .override_size(i, *o, "num_key_value_heads")?
            .unwrap_or(kv);
        if heads % kv != 0 {
            return Err(cfg.invalid(
                "num_key_value_heads",
                kv,
                format!("a divisor of the {heads} attention heads (layer {i})"),
            ));
        }
        blocks.push(Block {
            mixer: Mixer::Attention(Attention {
                bias: AttentionBias {
                    qkv: bias,
                    output: bias,
                },
                qk_norm: QkNorm::PerHeadShared,
                span,
                k_eq_v: no_v,
                ..Attention::plain(AttentionKind::Standard {
                    heads,
                    kv_heads: kv,
                    head_dim: d,
                })
            }),
            ffn: BlockFfn::Dense(Mlp {
                kind: MlpKind::Gated,
                intermediate_size: ffn,
                bias: false,
            }),
            norms: 4,
            parallel: false,
            extra: Vec::new(),
        });
    }
    let tied = cfg.tied(true)?;
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied,
    }
    .around(cfg.model_type(), Schedule::from_layers(blocks)))
}

/// The Gemma 4 vision tower: its width `h_v` and its parameters.
fn vision_tower(cfg: &mut Config) -> Result<(u64, u64), FormatError> {
    let h = cfg.size(&["hidden_size"])?;
    let f = cfg.size(&["intermediate_size"])?;
    let layers = cfg.size(&["num_hidden_layers"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let head_dim = cfg.size(&["head_dim"])?;
    let patch = cfg.size(&["patch_size"])?;
    let positions = cfg.size(&["position_embedding_size"])?;
    let inner = product(Q, &[heads, head_dim])?;
    let layer = sum(
        Q,
        &[
            product(Q, &[4, h, inner])?,
            product(Q, &[2, head_dim])?,
            product(Q, &[3, h, f])?,
            product(Q, &[4, h])?,
        ],
    )?;
    let params = sum(
        Q,
        &[
            product(Q, &[layers, layer])?,
            product(Q, &[h, 3, patch, patch])?,
            product(Q, &[2, positions, h])?,
        ],
    )?;
    Ok((h, params))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn fixture() -> Value {
        crate::hf::shared_2026_config("gemma-4-31b-it")
    }

    #[test]
    fn layer_types_of_the_wrong_length_name_the_field() {
        let mut c = fixture();
        c["text_config"]["layer_types"]
            .as_array_mut()
            .unwrap()
            .pop();
        let err = crate::hf::from_config_str(&c.to_string()).unwrap_err();
        assert!(err.to_string().contains("text_config.layer_types"), "{err}");
    }

    #[test]
    fn the_cache_holds_keys_and_values_on_every_layer() {
        // transformers' DynamicCache for gemma-4-31b-it on the meta device: sliding
        // layers K and V [16 heads × 256], full layers K and V [4 heads × 512] although
        // V = K; 50·2·16·256 + 10·2·4·512 = 450,560 values, 901,120 bytes in 16 bits
        let arch = crate::hf::from_config_str(&fixture().to_string())
            .unwrap()
            .arch;
        let req = sizeup_core::kv::KvRequest {
            seq_len: 1,
            batch: 1,
            dtype: sizeup_core::KvDtype::Fp16,
            tp: 1,
            block_tokens: None,
        };
        let c = sizeup_core::kv::size(&arch, &req).unwrap();
        assert_eq!(c.bytes_per_token, 901_120);
    }

    #[test]
    fn without_k_eq_v_full_layers_keep_v_and_the_sliding_kv_heads() {
        let mut c = fixture();
        c["text_config"]["attention_k_eq_v"] = Value::Bool(false);
        let arch = crate::hf::from_config_str(&c.to_string()).unwrap().arch;
        let full = arch.layer(5).and_then(|b| b.attention()).unwrap();
        assert!(!full.k_eq_v);
        assert_eq!(full.kind.kv_heads(), 16);
        assert_eq!(full.kind.qk_head_dim(), 512);
    }
}

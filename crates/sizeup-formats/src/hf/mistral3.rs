//! `mistral3` (Mistral Small 3.1+, Devstral Small 2, Ministral 3 with vision,
//! `Mistral3ForConditionalGeneration`): a Mistral or Ministral 3 language model in
//! `text_config`, the Pixtral vision encoder and the multimodal projector.
//!
//! # Formula
//! ```text
//! text:      the Llama block (q h→a·d, k/v h→k·d, o a·d→h, MLP 3·h·f, 2h norms)
//! Pixtral:   patch c·p²·h_v (no bias) + ln_pre h_v
//!            + L_v · (2h_v (RMSNorms) + 4h_v² (q/k/v/o) + 3·h_v·f_v (gated MLP))
//! projector: norm h_v + patch merger m²h_v·h_v + linear_1 n·h_v·h (+h)
//!            + linear_2 h·h (+h)   (biases with multimodal_projector_bias)
//! ```
//!
//! # Symbols
//! `h` text hidden size, `a` heads, `k` key/value heads, `d` `head_dim`, `f`
//! `intermediate_size`; `h_v`, `f_v`, `L_v`, `c`, `p` the vision `hidden_size`,
//! `intermediate_size`, `num_hidden_layers`, `num_channels`, `patch_size`; `m`
//! `spatial_merge_size`; `n` the number of `vision_feature_layer`s (1 for an integer).
//!
//! # Source
//! transformers 5.25 `modeling_mistral3.py` (`Mistral3MultiModalProjector`,
//! `Mistral3PatchMerger`), `modeling_pixtral.py` (`PixtralVisionModel`,
//! `PixtralAttentionLayer`), `modeling_ministral3.py`, and `configuration_mistral3.py`:
//! the text class follows `text_config.model_type` (`mistral` when absent), and the
//! top-level `tie_word_embeddings` (default true) decides the head. Check:
//! devstral-small-2-24b-instruct is 24_011_361_280 (shared/fixtures/models-2026).

use serde_json::Value;
use sizeup_core::arch::{Architecture, Tower};
use sizeup_core::units::{product, sum};

use super::config::{Config, Field, HeadDim, KvHeads, Section};
use super::draft::Draft;
use super::{llama, llama_dims, llama_like, tower_part, window};
use crate::error::FormatError;

const Q: &str = "Mistral 3 vision tower parameter count";

const TEXT: &str = "the language model's keys (model_type, hidden_size, num_hidden_layers…)";

/// Read a `mistral3` config.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let text_type = match cfg.opt_object("text_config")?.map(|m| m.get("model_type")) {
        Some(Some(v)) => v
            .as_str()
            .ok_or_else(|| cfg.invalid("text_config.model_type", v, "a string"))?,
        _ => "mistral",
    };
    let draft = match text_type {
        "ministral3" => {
            cfg.required_section(Section::Text, "Ministral3Config", TEXT, read_ministral3)?
        }
        "mistral" => {
            cfg.required_section(Section::Text, "MistralConfig", TEXT, llama::read_mistral)?
        }
        other => {
            return Err(cfg.invalid(
                "text_config.model_type",
                other,
                "`mistral` or `ministral3` (the language models Mistral 3 checkpoints carry)",
            ))
        }
    };
    let mut arch = draft.build();
    arch.embedding.tied = cfg.tied(true)?;
    let text_hidden = arch.hidden_size;
    let (hv, encoder) = cfg.required_section(
        Section::Vision,
        "PixtralVisionConfig",
        "the Pixtral encoder's keys (hidden_size, num_hidden_layers…)",
        pixtral,
    )?;
    let projector = projector(cfg, hv, text_hidden)?;
    arch.towers.push(tower_part("vision_tower", encoder));
    arch.towers.push(projector);
    Ok(arch)
}

/// `ministral3` (Ministral 3, Devstral Small 2 text): the Llama block, no biases,
/// `head_dim` 128 and 8 KV heads by default, a window on every layer only when
/// `sliding_window` is set.
pub(super) fn read_ministral3(cfg: &mut Config) -> Result<Draft, FormatError> {
    let dims = llama_dims(cfg, KvHeads::Fixed(8), HeadDim::Fixed(128), 262_144)?;
    let mut arch = llama_like(cfg.model_type(), dims);
    arch.embedding.tied = cfg.tied(false)?;
    let size = window::size(cfg, None)?;
    arch.attention.window = window::on(size, window::all(dims.layers));
    Ok(arch)
}

/// The Pixtral encoder: its width `h_v` and its parameters.
fn pixtral(cfg: &mut Config) -> Result<(u64, u64), FormatError> {
    let h = cfg.size_or("hidden_size", 1024, "`hidden_size` defaults to 1024")?;
    let f = cfg.size_or(
        "intermediate_size",
        4096,
        "`intermediate_size` defaults to 4096",
    )?;
    let layers = if matches!(cfg.field("num_hidden_layers"), Field::Absent) {
        cfg.assume(
            "num_hidden_layers",
            24,
            "`num_hidden_layers` defaults to 24",
        );
        24
    } else {
        cfg.layers(&["num_hidden_layers"])?
    };
    let c = cfg.size_or("num_channels", 3, "`num_channels` defaults to 3")?;
    let p = cfg.size_or("patch_size", 16, "`patch_size` defaults to 16")?;
    let layer = sum(
        Q,
        &[
            product(Q, &[2, h])?,
            product(Q, &[4, h, h])?,
            product(Q, &[3, h, f])?,
        ],
    )?;
    let params = sum(
        Q,
        &[product(Q, &[c, p, p, h])?, h, product(Q, &[layers, layer])?],
    )?;
    Ok((h, params))
}

/// `multi_modal_projector`: norm, patch merger and the two-layer MLP into the text width.
fn projector(cfg: &mut Config, hv: u64, h: u64) -> Result<Tower, FormatError> {
    let m = cfg.size_or(
        "spatial_merge_size",
        2,
        "`spatial_merge_size` defaults to 2",
    )?;
    let bias = cfg.flag_or(
        "multimodal_projector_bias",
        false,
        "`multimodal_projector_bias` defaults to false",
    )?;
    // an index (usually -1) or a list of them: only how many matters
    let layers = match cfg.field("vision_feature_layer") {
        Field::Value(Value::Array(list)) => list.len() as u64,
        _ => 1,
    };
    if layers == 0 {
        return Err(cfg.invalid(
            "vision_feature_layer",
            "[]",
            "a layer index or a non-empty list of them",
        ));
    }
    let b = u64::from(bias);
    let params = sum(
        Q,
        &[
            hv,
            product(Q, &[m, m, hv, hv])?,
            product(Q, &[layers, hv, h])?,
            product(Q, &[b, h])?,
            product(Q, &[h, h])?,
            product(Q, &[b, h])?,
        ],
    )?;
    Ok(tower_part("multi_modal_projector", params))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{assert_counts, from_config_str, shared_2026_config};

    #[test]
    fn devstral_small_2_text_and_each_tower() {
        // transformers 5.25, AutoModelForImageTextToText on the meta device:
        // vision_tower = patch 3·14²·1024 + ln_pre 1024 + 24 layers of 16_779_264;
        // projector = norm 1024 + merger 4·1024·1024 + 1024·5120 + 5120²
        assert_counts(
            &shared_2026_config("devstral-small-2-24b-instruct"),
            &[
                ("embedding", 671_088_640),
                ("attention", 2_097_152_000),
                ("mlp", 20_132_659_200),
                ("norm", 414_720),
                ("lm_head", 671_088_640),
                ("vision_and_projector", 438_958_080),
            ],
            24_011_361_280,
            &[
                ("vision_tower", 403_305_472),
                ("multi_modal_projector", 35_652_608),
            ],
        );
    }

    #[test]
    fn without_text_config_the_config_is_refused_with_the_fix() {
        let mut c = shared_2026_config("devstral-small-2-24b-instruct");
        c.as_object_mut().unwrap().remove("text_config");
        let (field, value, expected) = crate::hf::refusal(&c);
        assert_eq!((field.as_str(), value.as_str()), ("text_config", "absent"));
        assert!(expected.contains("MistralConfig defaults"), "{expected}");
    }

    #[test]
    fn zero_heads_are_refused_naming_the_field() {
        let mut c = shared_2026_config("devstral-small-2-24b-instruct");
        c["text_config"]["num_attention_heads"] = json!(0);
        let err = from_config_str(&c.to_string()).unwrap_err().to_string();
        assert!(
            err.contains("`text_config.num_attention_heads` = `0`"),
            "{err}"
        );
        assert!(err.contains("a positive integer"), "{err}");
    }

    #[test]
    fn an_unknown_text_model_is_refused() {
        let mut c = shared_2026_config("devstral-small-2-24b-instruct");
        c["text_config"]["model_type"] = json!("llama");
        let err = from_config_str(&c.to_string()).unwrap_err().to_string();
        assert!(err.contains("text_config.model_type"), "{err}");
    }

    #[test]
    fn two_feature_layers_widen_the_projector_and_the_head_ties_by_default() {
        let mut c = shared_2026_config("devstral-small-2-24b-instruct");
        c["vision_feature_layer"] = json!([-1, -2]);
        c.as_object_mut().unwrap().remove("tie_word_embeddings");
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert!(arch.embedding.tied);
        assert_eq!(arch.towers[1].params, 35_652_608 + 1024 * 5120);
    }
}

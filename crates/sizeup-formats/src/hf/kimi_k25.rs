//! `kimi_k25` (Kimi K2.5, `Kimi_K25ForConditionalGeneration`): the Kimi K2 language
//! model (the DeepSeek-V3 layout) in `text_config`, the MoonViT encoder and its
//! patch-merger projector.
//!
//! # Formula
//! ```text
//! text:      DeepSeek-V3 (see `deepseek`): MLA, first-k dense layers, routed and
//!            shared experts
//! MoonViT:   patch c·p²·h_v + h_v (Conv2d with bias) + positions P_h·P_w·h_v
//!            + L_v · (4h_v (LayerNorms) + 3h_v² + 3h_v (qkv) + h_v² + h_v (o)
//!                     + 2·h_v·f_v + f_v + h_v (MLP with biases))
//!            + 2h_v (final LayerNorm)
//! projector: 2n (LayerNorm) + w² + w (in) + h·w + h (out),  w = h_v·k_h·k_w
//! ```
//!
//! # Symbols
//! `h` text hidden size; `h_v`, `f_v`, `L_v` the vision hidden size, MLP width and
//! layers; `p` `patch_size`, `c` = 3 channels, `P_h × P_w` the learned position grid,
//! `k_h × k_w` `merge_kernel_size`, `n` the projector norm width.
//!
//! # Source
//! transformers 5.25 `modeling_kimi_k25.py` (`Kimi_K25VisionPatchEmbed`,
//! `Kimi_K25VisionPositionEmbeddings`, `Kimi_K25VisionEncoderLayer`,
//! `Kimi_K25MultimodalProjection`; the time position table is a fixed buffer) and
//! `configuration_kimi_k25.py` (`text_config` of `model_type` `kimi_k2` is read as
//! `DeepseekV3Config`; the top-level `tie_word_embeddings`, default true, decides the
//! head). The checkpoint's own remote code (MoonViT3d, `PatchMergerMLP`) names the
//! vision keys `vt_hidden_size`, `vt_num_hidden_layers`, `vt_intermediate_size`,
//! `init_pos_emb_height`/`_width` and `mm_hidden_size`; transformers 5.25 reads its
//! own names and would ignore these. Both are read here, transformers' names first:
//! for Kimi K2.5 the checkpoint's values equal transformers' defaults, so the counts
//! agree. Check: kimi-k2.5 is 1_026_879_353_328 (tests/fixtures-2026/kimi-k2.5).

use serde_json::Value;
use sizeup_core::arch::Architecture;
use sizeup_core::units::{product, sum};

use super::config::{Config, Field, Section};
use super::{deepseek, tower_part};
use crate::error::FormatError;

const Q: &str = "Kimi K2.5 vision tower parameter count";

/// Read a `kimi_k25` config.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    if let Some(Some(v)) = cfg.opt_object("text_config")?.map(|m| m.get("model_type")) {
        match v.as_str() {
            Some("kimi_k2" | "deepseek_v3") => {}
            _ => {
                return Err(cfg.invalid(
                    "text_config.model_type",
                    v,
                    "`kimi_k2` or `deepseek_v3` (the DeepSeek-V3 layout Kimi K2.5 carries)",
                ))
            }
        }
    }
    let mut arch = cfg.required_section(
        Section::Text,
        "DeepseekV3Config",
        "the language model's keys (hidden_size, num_hidden_layers, kv_lora_rank…)",
        deepseek::read_v3_with_mtp,
    )?;
    arch.embedding.tied = cfg.tied(true)?;
    let text_hidden = arch.hidden_size;
    let projection_default = cfg.opt_size(&["projection_hidden_size"])?.unwrap_or(1152);
    let (encoder, projector) = cfg.section(Section::Vision, "Kimi_K25VisionConfig", |v| {
        moonvit(v, text_hidden, projection_default)
    })?;
    arch.towers.push(tower_part("vision_tower", encoder));
    arch.towers.push(tower_part("mm_projector", projector));
    Ok(arch)
}

/// A vision size under transformers' name or the remote code's, else the default.
fn size(cfg: &mut Config, keys: &[&'static str], default: u64) -> Result<u64, FormatError> {
    match cfg.opt_size(keys)? {
        Some(n) => Ok(n),
        None => {
            let key = keys.first().copied().unwrap_or("?");
            cfg.assume(key, default, &format!("`{key}` defaults to {default}"));
            Ok(default)
        }
    }
}

/// The MoonViT encoder and the patch-merger projector into the text width `h`.
fn moonvit(cfg: &mut Config, h: u64, projection_default: u64) -> Result<(u64, u64), FormatError> {
    let hv = size(cfg, &["hidden_size", "vt_hidden_size"], 1152)?;
    let f = size(cfg, &["intermediate_size", "vt_intermediate_size"], 4304)?;
    let layers = size(cfg, &["num_hidden_layers", "vt_num_hidden_layers"], 27)?;
    if layers > sizeup_core::arch::MAX_LAYERS {
        return Err(cfg.invalid(
            "num_hidden_layers",
            layers,
            format!("at most {} layers", sizeup_core::arch::MAX_LAYERS),
        ));
    }
    let p = size(cfg, &["patch_size"], 14)?;
    let ph = size(cfg, &["pos_emb_height", "init_pos_emb_height"], 64)?;
    let pw = size(cfg, &["pos_emb_width", "init_pos_emb_width"], 64)?;
    let (kh, kw) = match cfg.field("merge_kernel_size") {
        Field::Value(Value::Array(k)) if k.len() == 2 => match (k[0].as_u64(), k[1].as_u64()) {
            (Some(a), Some(b)) if a > 0 && b > 0 => (a, b),
            _ => {
                return Err(cfg.invalid(
                    "merge_kernel_size",
                    Value::Array(k.clone()),
                    "two positive integers ([2, 2])",
                ))
            }
        },
        Field::Value(v) => {
            return Err(cfg.invalid("merge_kernel_size", v, "two positive integers ([2, 2])"))
        }
        _ => {
            cfg.assume(
                "merge_kernel_size",
                "[2, 2]",
                "`merge_kernel_size` defaults to [2, 2]",
            );
            (2, 2)
        }
    };
    let norm = match cfg.opt_size(&["mm_hidden_size"])? {
        Some(n) => n,
        None => projection_default,
    };
    let layer = sum(
        Q,
        &[
            product(Q, &[4, hv])?,
            product(Q, &[4, hv, hv])?,
            product(Q, &[4, hv])?,
            product(Q, &[2, hv, f])?,
            f,
            hv,
        ],
    )?;
    let encoder = sum(
        Q,
        &[
            product(Q, &[3, p, p, hv])?,
            hv,
            product(Q, &[ph, pw, hv])?,
            product(Q, &[layers, layer])?,
            product(Q, &[2, hv])?,
        ],
    )?;
    let w = product(Q, &[hv, kh, kw])?;
    let projector = sum(
        Q,
        &[
            product(Q, &[2, norm])?,
            product(Q, &[w, w])?,
            w,
            product(Q, &[h, w])?,
            h,
        ],
    )?;
    Ok((encoder, projector))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::hf::{assert_counts, from_config_str, local_2026_config};

    #[test]
    fn kimi_k2_5_text_and_each_tower() {
        // transformers 5.25 on the meta device (Kimi_K25ForConditionalGeneration, the
        // config's auto_map dropped so the native class is built), grouped by
        // make_expected.py's classify(): the text model is kimi-k2-instruct's
        // 1_026_408_209_408; vision_tower = patch 1152·3·14² + 1152, positions
        // 64·64·1152, 27 layers of 15_239_504, final norm 2·1152; mm_projector =
        // 2·1152 + 4608² + 4608 + 7168·4608 + 7168. Active: 8 of 384 experts.
        assert_counts(
            &local_2026_config("kimi-k2.5"),
            &[
                ("embedding", 1_174_405_120),
                ("attention", 6_168_444_928),
                ("norm", 1_006_592),
                ("mlp", 396_361_728),
                ("moe_routed_experts", 1_014_686_023_680),
                ("moe_router", 165_150_720),
                ("moe_shared_experts", 2_642_411_520),
                ("lm_head", 1_174_405_120),
                ("vision_and_projector", 471_143_920),
            ],
            33_332_621_808,
            &[("vision_tower", 416_866_032), ("mm_projector", 54_277_888)],
        );
    }

    #[test]
    fn without_text_config_the_config_is_refused_with_the_fix() {
        let mut c = local_2026_config("kimi-k2.5");
        c.as_object_mut().unwrap().remove("text_config");
        let (field, value, expected) = crate::hf::refusal(&c);
        assert_eq!((field.as_str(), value.as_str()), ("text_config", "absent"));
        assert!(expected.contains("kv_lora_rank"), "{expected}");
    }

    #[test]
    fn zero_heads_are_refused_naming_the_field() {
        let mut c = local_2026_config("kimi-k2.5");
        c["text_config"]["num_attention_heads"] = json!(0);
        let err = from_config_str(&c.to_string()).unwrap_err().to_string();
        assert!(
            err.contains("`text_config.num_attention_heads` = `0`"),
            "{err}"
        );
    }

    #[test]
    fn the_checkpoints_own_vision_keys_are_read() {
        // the remote code builds MoonViT from vt_*; a narrower tower shrinks the count
        let mut c = local_2026_config("kimi-k2.5");
        c["vision_config"]["vt_num_hidden_layers"] = json!(26);
        let arch = from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!(arch.towers[0].params, 416_866_032 - 15_239_504);
    }
}

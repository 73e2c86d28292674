//! `quantization_config` → [`WeightFormat`]: how a checkpoint stores its weights.
//!
//! A quantized checkpoint's `config.json` names its quantizer in
//! `quantization_config.quant_method` (at the top, or inside `text_config` for an
//! image-text model) with that quantizer's own keys. Each is read as the class
//! that writes it spells them:
//!
//! | `quant_method` | keys read | format |
//! | --- | --- | --- |
//! | `fp8` (transformers `FineGrainedFP8Config`, DeepSeek-V3) | `weight_block_size` | `[b, b]`: fp8-block`b`; absent or `null`: fp8-e4m3 |
//! | `fbgemm_fp8` (Llama 3.1 405B FP8) | | fp8-e4m3 (per-row scales) |
//! | `mxfp4` (gpt-oss) | | mxfp4-experts (transformers converts the experts only) |
//! | `compressed-tensors` (llm-compressor) | `format`, `config_groups.*.weights`, `targets` | nvfp4 (4-bit float, groups of 16), nvfp4-experts (targets only experts), fp8 by `strategy` |
//! | `modelopt` (NVIDIA ModelOpt) | `quant_algo` | `NVFP4`: nvfp4; `FP8`: fp8-e4m3 |
//! | `awq`, `gptq` | `bits`, `group_size` | 4 bits, group `g`: awq-int4-g`g`, gptq-int4-g`g` |
//! | `bitsandbytes` | `load_in_4bit`, `bnb_4bit_quant_type`, `bnb_4bit_use_double_quant`, `load_in_8bit` | bnb-nf4[-dq], bnb-int8 |
//!
//! The modules a checkpoint leaves unquantized (`modules_to_not_convert`,
//! `ignored_layers`, `ignore`, `exclude_modules`) matter when they hold the
//! attention projections: an FP8 checkpoint with per-tensor scales is then
//! fp8-mlp. The embedding, LM head, routers, norms and vision or audio towers stay
//! 16-bit in every format already; any other module a list keeps is named in
//! [`Quantization::Format::read_from`] as counted in the format. Whatever no
//! format describes is [`Quantization::Unmapped`], with the reason.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sizeup_core::WeightFormat;

/// What a checkpoint's `quantization_config` says about how its weights are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Quantization {
    /// A format sizeup prices.
    Format {
        /// The format.
        format: WeightFormat,
        /// The keys it was read from (`quant_method fp8, weight_block_size [128, 128]`),
        /// and what of the checkpoint the format does not describe.
        read_from: String,
    },
    /// A quantization that no [`WeightFormat`] describes.
    Unmapped {
        /// The `quant_method` (empty when the config names none).
        method: String,
        /// Why, with the nearest formats where there are some.
        reason: String,
    },
}

/// The `quantization_config` of a config (at the top, else in `text_config`) read as
/// a weight format; `None` when there is none.
///
/// # Source
/// transformers `FineGrainedFP8Config`, `FbgemmFp8Config`, `Mxfp4Config`, `AwqConfig`,
/// `GPTQConfig`, `BitsAndBytesConfig`; compressed-tensors `QuantizationConfig`
/// (`config_groups`, `QuantizationArgs`); NVIDIA ModelOpt's `quant_algo`.
pub fn read(config: &Map<String, Value>) -> Option<Quantization> {
    let q = config
        .get("quantization_config")
        .or_else(|| config.get("text_config")?.get("quantization_config"))?
        .as_object()?;
    let method = q
        .get("quant_method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let unmapped = |reason: String| Quantization::Unmapped {
        method: method.clone(),
        reason,
    };
    let kept = Kept::of(q);
    let read = match method.as_str() {
        "fp8" => fp8(q, &kept),
        "fbgemm_fp8" => Ok(fp8_per_tensor(
            &kept,
            "quant_method fbgemm_fp8 (an fp32 scale per row, counted as one per tensor)",
        )),
        "mxfp4" => Ok((
            WeightFormat::Mxfp4 { experts_only: true },
            "quant_method mxfp4 (transformers converts the experts only)".to_string(),
        )),
        "compressed-tensors" => compressed_tensors(q, &kept),
        "modelopt" => modelopt(q, &kept),
        "awq" | "gptq" => int4(q, &method),
        "bitsandbytes" => bitsandbytes(q),
        "" => Err("no `quant_method`".to_string()),
        other => Err(format!(
            "quant_method `{other}` has no sizeup weight format"
        )),
    };
    Some(match read {
        Ok((format, read_from)) => Quantization::Format {
            format,
            read_from: kept.note(read_from),
        },
        Err(reason) => unmapped(reason),
    })
}

type Read = Result<(WeightFormat, String), String>;

/// What the lists of unquantized modules keep in 16 bits.
struct Kept {
    /// Some entry names the attention or its projections.
    attention: bool,
    /// Entries that every format would quantize (counted in the format).
    other: Vec<String>,
}

/// The keys quantizers list their unquantized modules under.
const KEEP_LISTS: [&str; 4] = [
    "modules_to_not_convert",
    "ignored_layers",
    "ignore",
    "exclude_modules",
];

impl Kept {
    fn of(q: &Map<String, Value>) -> Kept {
        let mut kept = Kept {
            attention: false,
            other: Vec::new(),
        };
        let entries = KEEP_LISTS
            .iter()
            .filter_map(|k| q.get(*k)?.as_array())
            .flatten()
            .filter_map(Value::as_str);
        for entry in entries {
            let e = entry.to_ascii_lowercase();
            let e = e.trim_end_matches(['$', '*', '.']);
            if [
                "attn",
                "attention",
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "qkv",
            ]
            .iter()
            .any(|a| e.contains(a))
            {
                kept.attention = true;
            } else if ![
                "lm_head",
                "embed",
                "wte",
                "vision",
                "visual",
                "projector",
                "audio",
                "router",
                "norm",
                "mtp",
            ]
            .iter()
            .any(|a| e.contains(a))
                && !e.ends_with("gate")
            {
                kept.other.push(entry.to_string());
            }
        }
        kept
    }

    /// `read_from`, with the kept modules the format counts as quantized.
    fn note(&self, read_from: String) -> String {
        match self.other.as_slice() {
            [] => read_from,
            others => format!(
                "{read_from}; {} module(s) the checkpoint keeps in 16 bits are counted in the \
                 format: {}",
                others.len(),
                others.join(", ")
            ),
        }
    }
}

/// Per-tensor FP8: everything, or the MLP only when attention is kept.
fn fp8_per_tensor(kept: &Kept, read_from: &str) -> (WeightFormat, String) {
    if kept.attention {
        (
            WeightFormat::Fp8Mlp,
            format!("{read_from}, attention kept in 16 bits"),
        )
    } else {
        (WeightFormat::Fp8E4m3, read_from.to_string())
    }
}

/// FP8 tiles of `block`, refused when attention is kept (no format has both).
fn fp8_tiles(block: u64, kept: &Kept, read_from: String) -> Read {
    if kept.attention {
        return Err(format!(
            "{read_from} with attention kept in 16 bits: no single format; nearest fp8-mlp \
             (per-tensor scales) or fp8-block{block} (attention in fp8 too)"
        ));
    }
    Ok((WeightFormat::Fp8Block { block }, read_from))
}

/// transformers' FP8 quantizer: `weight_block_size` tiles, or one scale per tensor.
fn fp8(q: &Map<String, Value>, kept: &Kept) -> Read {
    match q.get("weight_block_size") {
        None | Some(Value::Null) => Ok(fp8_per_tensor(kept, "quant_method fp8")),
        Some(b) => {
            let block = square(b)
                .ok_or_else(|| format!("weight_block_size `{b}` is not two equal sizes"))?;
            fp8_tiles(
                block,
                kept,
                format!("quant_method fp8, weight_block_size [{block}, {block}]"),
            )
        }
    }
}

/// `[b, b]` with `b > 0`.
fn square(v: &Value) -> Option<u64> {
    match v.as_array()?.as_slice() {
        [a, b] => Some(a.as_u64()?).filter(|a| *a > 0 && Some(*a) == b.as_u64()),
        _ => None,
    }
}

/// One `config_groups` entry of compressed-tensors.
struct Group<'a> {
    name: &'a str,
    weights: &'a Map<String, Value>,
    targets: Vec<&'a str>,
    format: Option<&'a str>,
}

/// compressed-tensors: every group must store its weights in the same format.
fn compressed_tensors(q: &Map<String, Value>, kept: &Kept) -> Read {
    let top_format = q.get("format").and_then(Value::as_str);
    let groups: Vec<Group> = q
        .get("config_groups")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, g)| {
            Some(Group {
                name,
                weights: g.get("weights")?.as_object()?,
                targets: g
                    .get("targets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect(),
                format: g.get("format").and_then(Value::as_str).or(top_format),
            })
        })
        .collect();
    let mut read: Option<(WeightFormat, String)> = None;
    for g in &groups {
        let this = ct_group(g, kept)?;
        match &read {
            Some((f, _)) if *f != this.0 => {
                return Err(format!(
                    "config_groups store weights in different formats ({f}, {}): no single format",
                    this.0
                ))
            }
            Some(_) => {}
            None => read = Some(this),
        }
    }
    read.ok_or_else(|| "no config_groups with `weights`".to_string())
}

fn ct_group(g: &Group, kept: &Kept) -> Read {
    let w = g.weights;
    let bits = w.get("num_bits").and_then(Value::as_u64);
    let kind = w.get("type").and_then(Value::as_str).unwrap_or("int");
    let group_size = w.get("group_size").and_then(Value::as_u64);
    let strategy = w.get("strategy").and_then(Value::as_str).unwrap_or("");
    let experts_only = !g.targets.is_empty()
        && g.targets.iter().all(|t| {
            let t = t.to_ascii_lowercase();
            (t.contains("expert") && !t.contains("shared")) || t == "fusedmoe"
        });
    let from = format!("quant_method compressed-tensors, config_groups.{}", g.name);
    let nvfp4 = g.format == Some("nvfp4-pack-quantized")
        || (bits == Some(4) && kind == "float" && group_size == Some(16));
    if nvfp4 {
        if kept.attention && !experts_only {
            return Err(format!(
                "{from}: NVFP4 with attention kept in 16 bits: no single format; nearest \
                 nvfp4-experts or nvfp4"
            ));
        }
        let scope = if experts_only { " on the experts" } else { "" };
        return Ok((
            WeightFormat::Nvfp4 { experts_only },
            format!("{from} (4-bit float, groups of 16){scope}"),
        ));
    }
    if experts_only {
        return Err(format!(
            "{from}: {} bits on the experts only have no sizeup format (only NVFP4 and MXFP4 \
             come as experts-only formats)",
            bits.map_or("unknown".to_string(), |b| b.to_string())
        ));
    }
    match (bits, kind, strategy) {
        (Some(8), "float", "block") => {
            let b = w.get("block_structure").unwrap_or(&Value::Null);
            let block =
                square(b).ok_or_else(|| format!("{from}: block_structure `{b}` is not two equal sizes"))?;
            fp8_tiles(block, kept, format!("{from} (fp8, {block}×{block} blocks)"))
        }
        (Some(8), "float", "tensor") => Ok(fp8_per_tensor(kept, &format!("{from} (fp8 per tensor)"))),
        (Some(8), "float", "channel") => Ok(fp8_per_tensor(
            kept,
            &format!("{from} (fp8, a scale per channel counted as one per tensor)"),
        )),
        _ => Err(format!(
            "{from}: weights of {} bits, type {kind}, strategy `{strategy}` have no sizeup format{}",
            bits.map_or("unknown".to_string(), |b| b.to_string()),
            if bits == Some(4) && kind == "int" {
                " (nearest awq-int4-g128)"
            } else {
                ""
            }
        )),
    }
}

/// NVIDIA ModelOpt: `quant_algo`.
fn modelopt(q: &Map<String, Value>, kept: &Kept) -> Read {
    let algo = q.get("quant_algo").and_then(Value::as_str).unwrap_or("");
    match algo.to_ascii_uppercase().as_str() {
        "FP8" => Ok(fp8_per_tensor(
            kept,
            "quant_method modelopt, quant_algo FP8",
        )),
        "NVFP4" if kept.attention => Err(
            "quant_algo NVFP4 with attention kept in 16 bits: no single format; nearest \
             nvfp4-experts or nvfp4"
                .to_string(),
        ),
        "NVFP4" => Ok((
            WeightFormat::Nvfp4 {
                experts_only: false,
            },
            "quant_method modelopt, quant_algo NVFP4".to_string(),
        )),
        _ => Err(format!("quant_algo `{algo}` has no sizeup weight format")),
    }
}

/// AutoAWQ and AutoGPTQ: `bits` 4 with a `group_size`.
fn int4(q: &Map<String, Value>, method: &str) -> Read {
    let int = |keys: &[&str]| keys.iter().find_map(|k| q.get(*k)?.as_i64());
    let bits = int(&["bits", "w_bit"]);
    let group = int(&["group_size", "q_group_size"]);
    match (bits, group) {
        (Some(4), Some(g)) if g > 0 => {
            let group = g as u64;
            let format = if method == "gptq" {
                WeightFormat::Gptq { group }
            } else {
                WeightFormat::Awq { group }
            };
            Ok((
                format,
                format!("quant_method {method}, bits 4, group_size {group}"),
            ))
        }
        (Some(4), g) => Err(format!(
            "group_size {} (one group per row or none given) has no sizeup format; nearest \
             {method}-int4-g128",
            g.map_or("absent".to_string(), |g| g.to_string())
        )),
        (b, _) => Err(format!(
            "bits {}: sizeup prices 4-bit {method} only",
            b.map_or("absent".to_string(), |b| b.to_string())
        )),
    }
}

/// bitsandbytes: NF4 (with or without double quantization) or LLM.int8().
fn bitsandbytes(q: &Map<String, Value>) -> Read {
    let flag = |k: &str| q.get(k).and_then(Value::as_bool).unwrap_or(false);
    if flag("load_in_8bit") {
        return Ok((
            WeightFormat::BnbInt8,
            "quant_method bitsandbytes, load_in_8bit".to_string(),
        ));
    }
    if !flag("load_in_4bit") {
        return Err("neither load_in_4bit nor load_in_8bit".to_string());
    }
    // BitsAndBytesConfig's default quant type is fp4
    let kind = q
        .get("bnb_4bit_quant_type")
        .and_then(Value::as_str)
        .unwrap_or("fp4");
    if kind != "nf4" {
        return Err(format!(
            "bnb_4bit_quant_type `{kind}` has no sizeup format; nearest bnb-nf4"
        ));
    }
    let double_quant = flag("bnb_4bit_use_double_quant");
    Ok((
        WeightFormat::BnbNf4 { double_quant },
        format!(
            "quant_method bitsandbytes, load_in_4bit, nf4{}",
            if double_quant {
                ", bnb_4bit_use_double_quant"
            } else {
                ""
            }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `shared/fixtures/<set>/<folder>/config.json`, read in place.
    fn fixture(set: &str, folder: &str) -> Map<String, Value> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures")
            .join(set)
            .join(folder)
            .join("config.json");
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn format_of(config: &Map<String, Value>) -> (String, String) {
        match read(config) {
            Some(Quantization::Format { format, read_from }) => (format.to_string(), read_from),
            other => panic!("expected a format, got {other:?}"),
        }
    }

    fn quantized(q: Value) -> Map<String, Value> {
        let config = json!({"model_type": "llama", "quantization_config": q});
        config.as_object().unwrap().clone()
    }

    fn reason(q: Value) -> String {
        match read(&quantized(q)) {
            Some(Quantization::Unmapped { reason, .. }) => reason,
            other => panic!("expected unmapped, got {other:?}"),
        }
    }

    #[test]
    fn deepseek_and_kimi_checkpoints_are_fp8_in_128_tiles() {
        for (set, folder) in [
            ("models", "deepseek-v3"),
            ("models", "deepseek-r1"),
            ("models-2026", "kimi-k2-instruct"),
            ("models-2026", "deepseek-v3.2"),
        ] {
            let (format, from) = format_of(&fixture(set, folder));
            assert_eq!(format, "fp8-block128", "{folder}");
            assert_eq!(from, "quant_method fp8, weight_block_size [128, 128]");
        }
    }

    #[test]
    fn gpt_oss_is_mxfp4_on_the_experts() {
        let (format, from) = format_of(&fixture("models", "gpt-oss-20b"));
        assert_eq!(format, "mxfp4-experts");
        // self_attn, router, embed_tokens and lm_head: nothing beyond the format's own
        assert_eq!(
            from,
            "quant_method mxfp4 (transformers converts the experts only)"
        );
    }

    #[test]
    fn fp8_without_tiles_is_per_tensor() {
        // ignored_layers: [lm_head]; devstral keeps its vision tower, projector and head
        for (set, folder) in [
            ("models", "glm-4-9b-chat-hf"),
            ("models-2026", "devstral-small-2-24b-instruct"),
        ] {
            assert_eq!(
                format_of(&fixture(set, folder)),
                ("fp8-e4m3".to_string(), "quant_method fp8".to_string()),
                "{folder}"
            );
        }
    }

    #[test]
    fn unquantized_configs_say_nothing() {
        assert_eq!(read(&fixture("models", "llama-2-7b")), None);
    }

    #[test]
    fn fp8_keeping_attention_is_fp8_on_the_mlp() {
        let q = json!({"quant_method": "fbgemm_fp8", "activation_scale_ub": 1200.0,
            "modules_to_not_convert": ["model.layers.0.self_attn.q_proj",
                "model.layers.0.mlp.down_proj", "lm_head"]});
        let (format, from) = format_of(&quantized(q));
        assert_eq!(format, "fp8-mlp");
        assert!(from.ends_with(
            "attention kept in 16 bits; 1 module(s) the checkpoint keeps in 16 bits are \
             counted in the format: model.layers.0.mlp.down_proj"
        ));
        let q = json!({"quant_method": "fp8", "ignored_layers": ["re:.*self_attn.*"]});
        assert_eq!(format_of(&quantized(q)).0, "fp8-mlp");
        let q = json!({"quant_method": "fp8", "weight_block_size": [128, 128],
            "modules_to_not_convert": ["model.layers.3.self_attn"]});
        assert!(reason(q).contains("nearest fp8-mlp"));
        let q = json!({"quant_method": "fp8", "weight_block_size": [128, 64]});
        assert_eq!(
            reason(q),
            "weight_block_size `[128,64]` is not two equal sizes"
        );
    }

    #[test]
    fn compressed_tensors_nvfp4_whole_or_experts_only() {
        // as in Qwen3-Next NVFP4 checkpoints: one group over every Linear
        let weights = json!({"dynamic": false, "num_bits": 4, "type": "float",
            "group_size": 16, "strategy": "tensor_group", "symmetric": true});
        let q = json!({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
            "config_groups": {"group_0": {"weights": weights, "targets": ["Linear"]}},
            "ignore": ["lm_head", "re:.*mlp.gate$", "re:.*shared_expert_gate$"]});
        assert_eq!(format_of(&quantized(q)).0, "nvfp4");
        let q = json!({"quant_method": "compressed-tensors",
            "config_groups": {"group_0": {"weights": weights,
                "targets": ["re:.*mlp.experts.*"]}}});
        assert_eq!(format_of(&quantized(q)).0, "nvfp4-experts");
        // FP8 blocks on attention beside NVFP4 experts: two formats
        let q = json!({"quant_method": "compressed-tensors", "format": "mixed-precision",
            "config_groups": {
                "group_0": {"weights": {"num_bits": 8, "type": "float", "strategy": "block",
                    "block_structure": [128, 128]}, "targets": ["re:.*self_attn.*"]},
                "group_1": {"weights": weights, "targets": ["re:.*mlp.experts.*"]}}});
        assert_eq!(
            reason(q),
            "config_groups store weights in different formats (fp8-block128, nvfp4-experts): \
             no single format"
        );
    }

    #[test]
    fn compressed_tensors_fp8_by_strategy() {
        let ct = |weights: Value| {
            json!({"quant_method": "compressed-tensors", "format": "float-quantized",
                "config_groups": {"group_0": {"weights": weights, "targets": ["Linear"]}}})
        };
        let block = ct(json!({"num_bits": 8, "type": "float", "strategy": "block",
            "block_structure": [128, 128]}));
        assert_eq!(format_of(&quantized(block)).0, "fp8-block128");
        let channel = ct(json!({"num_bits": 8, "type": "float", "strategy": "channel"}));
        assert_eq!(format_of(&quantized(channel)).0, "fp8-e4m3");
        let int4 = ct(json!({"num_bits": 4, "type": "int", "strategy": "group",
            "group_size": 128}));
        assert!(reason(int4).ends_with("(nearest awq-int4-g128)"));
    }

    #[test]
    fn awq_gptq_bitsandbytes_and_modelopt() {
        let cases = [
            (
                json!({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm",
                "zero_point": true}),
                "awq-int4-g128",
            ),
            (
                json!({"quant_method": "gptq", "bits": 4, "group_size": 64, "desc_act": false}),
                "gptq-int4-g64",
            ),
            (
                json!({"quant_method": "bitsandbytes", "load_in_4bit": true,
                "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true}),
                "bnb-nf4-dq",
            ),
            (
                json!({"quant_method": "bitsandbytes", "load_in_8bit": true}),
                "bnb-int8",
            ),
            (
                json!({"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16,
                "exclude_modules": ["lm_head"]}),
                "nvfp4",
            ),
            (
                json!({"quant_method": "modelopt", "quant_algo": "FP8"}),
                "fp8-e4m3",
            ),
        ];
        for (q, want) in cases {
            assert_eq!(format_of(&quantized(q.clone())).0, want, "{q}");
        }
        assert_eq!(
            reason(json!({"quant_method": "gptq", "bits": 8, "group_size": 128})),
            "bits 8: sizeup prices 4-bit gptq only"
        );
        assert_eq!(
            reason(json!({"quant_method": "bitsandbytes", "load_in_4bit": true})),
            "bnb_4bit_quant_type `fp4` has no sizeup format; nearest bnb-nf4"
        );
        assert_eq!(
            reason(json!({"quant_method": "hqq", "nbits": 4})),
            "quant_method `hqq` has no sizeup weight format"
        );
    }

    #[test]
    fn an_image_text_model_may_hold_it_in_text_config() {
        let config = json!({"model_type": "mistral3", "text_config":
            {"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}});
        assert_eq!(format_of(config.as_object().unwrap()).0, "fp8-block128");
    }
}

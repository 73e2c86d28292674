//! `quantization_config` → [`WeightFormat`]: how a checkpoint stores its weights.
//!
//! A quantized checkpoint's `config.json` names its quantizer in
//! `quantization_config.quant_method` (at the top, or inside `text_config` for an
//! image-text model) with that quantizer's own keys. Each is read as the class
//! that writes it spells them:
//!
//! | `quant_method` | keys read | format |
//! | --- | --- | --- |
//! | `fp8` (transformers `FineGrainedFP8Config`, DeepSeek-V3) | `weight_block_size`; the config's `expert_dtype` (DeepSeek-V4) | `[b, b]`: fp8-block`b`; absent or `null`: fp8-e4m3; `expert_dtype` `fp4`: no single format |
//! | `fbgemm_fp8` (Llama 3.1 405B FP8) | | fp8-e4m3 (per-row scales) |
//! | `mxfp4` (gpt-oss) | | mxfp4-experts (transformers converts the experts only) |
//! | `compressed-tensors` (llm-compressor) | `format`, `config_groups.*.weights`, `targets` | nvfp4 (4-bit float, groups of 16), nvfp4-experts (targets only experts), fp8 by `strategy` |
//! | `modelopt` (NVIDIA ModelOpt) | `quant_algo` | `NVFP4`: nvfp4, nvfp4-experts (attention and shared experts kept); `FP8`: fp8-e4m3 |
//! | `awq`, `gptq` | `bits`, `group_size` | 4 bits, group `g`: awq-int4-g`g`, gptq-int4-g`g` |
//! | `bitsandbytes` | `load_in_4bit`, `bnb_4bit_quant_type`, `bnb_4bit_use_double_quant`, `load_in_8bit` | bnb-nf4[-dq], bnb-int8 |
//!
//! # Modules kept in 16 bits
//! The lists of unquantized modules (`modules_to_not_convert`, `ignored_layers`,
//! `ignore`, `exclude_modules`, bitsandbytes' `llm_int8_skip_modules`) name
//! modules plainly, as regular expressions (`re:.*self_attn.*`) or as globs
//! (`layers.0*`). Each entry is stripped of that syntax and classified like a
//! tensor name by [`classify`]; the format then decides what it stores in 16 bits
//! ([`WeightFormat::storage`]):
//! - attention kept: per-tensor FP8 is fp8-mlp; FP8 tiles and NVFP4 over every
//!   layer have no format that keeps it ([`Quantization::Unmapped`], with the
//!   nearest); AWQ, GPTQ and bitsandbytes count it in their format and say so;
//! - attention and shared experts both kept: only the routed experts are left to
//!   quantize, and NVFP4 is nvfp4-experts (Kimi K2.6, which also keeps its dense
//!   layer 0);
//! - a module the format stores in 16 bits anyway (LM head, embeddings, norms,
//!   routers, vision towers and projectors, buffers; everything but the routed
//!   experts in an experts-only format) says nothing;
//! - any other kept module is named in `read_from` as counted in the format.
//!
//! Whatever no format describes is [`Quantization::Unmapped`], with the reason.

use serde_json::{Map, Value};
use sizeup_core::dtype::{Storage, TensorContext, WeightOptions};
use sizeup_core::params::TensorRole;
use sizeup_core::WeightFormat;

use crate::tensors::{classify, Role};

/// What a checkpoint's `quantization_config` says about how its weights are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// (`config_groups`, `QuantizationArgs`); NVIDIA ModelOpt's `quant_algo`; vLLM
/// `DeepseekV4FP8Config` for `expert_dtype`.
pub fn read(config: &Map<String, Value>) -> Option<Quantization> {
    // `expert_dtype` sits beside `quantization_config`, wherever that is
    let holder = if config.contains_key("quantization_config") {
        config
    } else {
        config.get("text_config")?.as_object()?
    };
    let q = holder.get("quantization_config")?.as_object()?;
    let method = q
        .get("quant_method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
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
    }
    .and_then(|read| with_expert_dtype(holder, read));
    Some(match read {
        Ok((format, read_from)) => Quantization::Format {
            format,
            read_from: kept.note(format, read_from),
        },
        Err(reason) => Quantization::Unmapped { method, reason },
    })
}

type Read = Result<(WeightFormat, String), String>;

/// The reason for a checkpoint that stores its weights in two formats sizeup
/// prices apart: `what: no single format; nearest …`.
fn no_single_format(what: &str, nearest: &str) -> String {
    format!("{what}: no single format; nearest {nearest}")
}

/// [`no_single_format`] for a format that would quantize the attention a checkpoint
/// keeps in 16 bits.
fn attention_kept(read_from: &str, nearest: &str) -> String {
    no_single_format(
        &format!("{read_from} with attention kept in 16 bits"),
        nearest,
    )
}

/// What the lists of unquantized modules keep in 16 bits.
struct Kept {
    /// Some entry names attention ([`Role::Attention`]).
    attention: bool,
    /// Some entry names shared experts (their gate alone does not count).
    shared_experts: bool,
    /// Every entry but attention, as written, with the role formats price it as.
    modules: Vec<(String, TensorRole)>,
}

/// The keys quantizers list their unquantized modules under.
const KEEP_LISTS: [&str; 5] = [
    "modules_to_not_convert",
    "ignored_layers",
    "ignore",
    "exclude_modules",
    // bitsandbytes' `BitsAndBytesConfig`
    "llm_int8_skip_modules",
];

/// Kept modules named in `read_from` before "… and N more" (Kimi's lists run to
/// 125 entries).
const KEPT_SHOWN: usize = 3;

impl Kept {
    fn of(q: &Map<String, Value>) -> Kept {
        let mut kept = Kept {
            attention: false,
            shared_experts: false,
            modules: Vec::new(),
        };
        let entries = KEEP_LISTS
            .iter()
            .filter_map(|k| q.get(*k)?.as_array())
            .flatten()
            .filter_map(Value::as_str);
        for entry in entries {
            match weight_role(&module_name(entry)) {
                Some(TensorRole::AttnQ) => kept.attention = true,
                Some(role) => {
                    kept.shared_experts |= role == TensorRole::SharedUp;
                    kept.modules.push((entry.to_string(), role));
                }
                None => {}
            }
        }
        kept
    }

    /// Attention and shared experts are both kept: only the routed experts are
    /// quantized (a dense layer the lists do not name would be too, and is counted
    /// in 16 bits).
    fn experts_only(&self) -> bool {
        self.attention && self.shared_experts
    }

    /// `read_from`, with the kept modules that `format` counts as quantized.
    fn note(&self, format: WeightFormat, read_from: String) -> String {
        let mut note = read_from;
        if self.attention && quantizes(format, TensorRole::AttnQ) {
            note.push_str(&format!(
                "; attention, which the checkpoint keeps in 16 bits, is counted in {format}"
            ));
        }
        let counted: Vec<&str> = self
            .modules
            .iter()
            .filter(|(_, role)| quantizes(format, *role))
            .map(|(entry, _)| entry.as_str())
            .collect();
        if !counted.is_empty() {
            let shown = counted[..counted.len().min(KEPT_SHOWN)].join(", ");
            let more = match counted.len().saturating_sub(KEPT_SHOWN) {
                0 => String::new(),
                n => format!(" … and {n} more"),
            };
            note.push_str(&format!(
                "; {} module(s) the checkpoint keeps in 16 bits are counted in the format: \
                 {shown}{more}",
                counted.len()
            ));
        }
        note
    }
}

/// A keep-list entry as a module name: without `re:` and the regular-expression or
/// glob syntax around the names (`re:.*mlp\.gate$` → `mlp.gate`,
/// `model.layers.*.self_attn` → `model.layers.self_attn`, `layers.0*` → `layers.0`).
fn module_name(entry: &str) -> String {
    let name = entry.strip_prefix("re:").unwrap_or(entry).replace(".*", "");
    name.replace(['*', '$', '^', '\\'], "")
        .trim_matches('.')
        .to_string()
}

/// The role a weight format prices a module of this name as, by the tensor
/// classifier; `None` for buffers and quantization side tensors (not weights).
fn weight_role(name: &str) -> Option<TensorRole> {
    Some(match classify(name) {
        Role::Embedding => TensorRole::TokenEmbedding,
        Role::PositionEmbedding => TensorRole::PositionEmbedding,
        Role::Attention => TensorRole::AttnQ,
        Role::Mlp => TensorRole::FfnUp,
        Role::MoeRoutedExperts => TensorRole::ExpertUp,
        // the classifier groups the `h×1` gate on the shared experts' output with
        // them; quantizers leave it alone (Qwen's `shared_expert_gate`)
        Role::MoeSharedExperts if name.ends_with("shared_expert_gate") => {
            TensorRole::SharedExpertGate
        }
        Role::MoeSharedExperts => TensorRole::SharedUp,
        Role::MoeRouter => TensorRole::Router,
        Role::Norm => TensorRole::Norm,
        Role::LmHead => TensorRole::LmHead,
        Role::VisionAndProjector => TensorRole::Extra,
        Role::Other => TensorRole::OtherMatrix,
        Role::QuantScales | Role::Buffer => return None,
    })
}

/// Whether `format` stores a weight of `role` in fewer than 16 bits.
fn quantizes(format: WeightFormat, role: TensorRole) -> bool {
    // only GGUF recipes read the shape and the layer, and no quantization_config
    // names a GGUF type
    let ctx = TensorContext {
        role,
        layer: None,
        cols: 0,
        layers: 1,
        ffn_down_tensors: 1,
        experts: 0,
        gqa: 1,
        tied_embeddings: false,
    };
    !matches!(
        format.storage(&ctx, &WeightOptions::default()),
        Storage::Float(_)
    )
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
        return Err(attention_kept(
            &read_from,
            &format!("fp8-mlp (per-tensor scales) or fp8-block{block} (attention in fp8 too)"),
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

/// DeepSeek-V4's `expert_dtype`, beside an FP8 `quantization_config`: the routed
/// experts' own type. `fp8` is the FP8 of the rest; `fp4` (DeepSeek-V4-Flash and
/// -Pro) is MXFP4 experts beside FP8 tiles, which no single format describes.
///
/// # Source
/// vLLM `DeepseekV4FP8Config` (`vllm/model_executor/models/deepseek_v4.py`):
/// `expert_dtype="fp4"`: MXFP4 experts with ue8m0 scales; `"fp8"`: FP8 block experts.
fn with_expert_dtype(holder: &Map<String, Value>, read: (WeightFormat, String)) -> Read {
    let (format, from) = read;
    let Some(v) = holder.get("expert_dtype") else {
        return Ok((format, from));
    };
    let fp8 = matches!(
        format,
        WeightFormat::Fp8Block { .. } | WeightFormat::Fp8E4m3 | WeightFormat::Fp8Mlp
    );
    match v.as_str() {
        Some("fp8") if fp8 => Ok((format, format!("{from}, expert_dtype fp8"))),
        Some("fp4") if fp8 => Err(no_single_format(
            &format!(
                "{from} with expert_dtype `fp4` (the routed experts in MXFP4, the rest in fp8)"
            ),
            &format!(
                "mxfp4-experts (the rest counted in 16 bits instead of 8) or {format} (the \
                 experts counted in 8 bits instead of 4)"
            ),
        )),
        _ => Err(no_single_format(
            &format!(
                "{from} with expert_dtype `{}`",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ),
            &format!("{format} (the experts counted as the rest)"),
        )),
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
    // a target is a module name (pattern) or a layer class (`Linear`, vLLM's `FusedMoE`)
    let targets_experts = !g.targets.is_empty()
        && g.targets.iter().all(|t| {
            t.eq_ignore_ascii_case("FusedMoE")
                || classify(&module_name(t)) == Role::MoeRoutedExperts
        });
    let from = format!("quant_method compressed-tensors, config_groups.{}", g.name);
    let nvfp4_group = g.format == Some("nvfp4-pack-quantized")
        || (bits == Some(4) && kind == "float" && group_size == Some(16));
    if nvfp4_group {
        return nvfp4(&from, targets_experts, kept);
    }
    if targets_experts || kept.experts_only() {
        return Err(format!(
            "{from}: {} bits on the routed experts only have no sizeup format (only NVFP4 and \
             MXFP4 come as experts-only formats)",
            bits.map_or("unknown".to_string(), |b| b.to_string())
        ));
    }
    match (bits, kind, strategy) {
        (Some(8), "float", "block") => {
            let b = w.get("block_structure").unwrap_or(&Value::Null);
            let block = square(b)
                .ok_or_else(|| format!("{from}: block_structure `{b}` is not two equal sizes"))?;
            fp8_tiles(block, kept, format!("{from} (fp8, {block}×{block} blocks)"))
        }
        (Some(8), "float", "tensor") => Ok(fp8_per_tensor(
            kept,
            &format!("{from} (fp8 per tensor)"),
        )),
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

/// NVFP4 (4-bit float, groups of 16): on the routed experts only when the targets
/// name only them (`targets_experts`) or the keep lists leave nothing else
/// ([`Kept::experts_only`]); on every linear layer otherwise, refused when attention
/// is kept.
fn nvfp4(from: &str, targets_experts: bool, kept: &Kept) -> Read {
    let from = format!("{from} (4-bit float, groups of 16)");
    let experts = WeightFormat::Nvfp4 { experts_only: true };
    if targets_experts {
        Ok((experts, format!("{from} on the experts")))
    } else if kept.experts_only() {
        Ok((
            experts,
            format!(
                "{from}, attention and shared experts kept in 16 bits: the routed experts only"
            ),
        ))
    } else if kept.attention {
        Err(attention_kept(&from, "nvfp4-experts or nvfp4"))
    } else {
        Ok((
            WeightFormat::Nvfp4 {
                experts_only: false,
            },
            from,
        ))
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
        "NVFP4" => nvfp4("quant_method modelopt, quant_algo NVFP4", false, kept),
        _ => Err(format!("quant_algo `{algo}` has no sizeup weight format")),
    }
}

/// The first of `keys` the config gives (not `null`), as an integer: `4` or `4.0`.
fn integer(q: &Map<String, Value>, keys: &[&str]) -> Result<Option<i64>, String> {
    let Some((key, v)) = keys
        .iter()
        .find_map(|k| Some((*k, q.get(*k).filter(|v| !v.is_null())?)))
    else {
        return Ok(None);
    };
    // below 2^53 every integral f64 is an exact integer
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match (v.as_i64(), v.as_f64()) {
        (Some(i), _) => Ok(Some(i)),
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < EXACT => Ok(Some(f as i64)),
        _ => Err(format!(
            "`{key}` is `{v}`, not an integer; give a whole number such as 4"
        )),
    }
}

/// AutoAWQ and AutoGPTQ: `bits` 4 with a `group_size`.
fn int4(q: &Map<String, Value>, method: &str) -> Read {
    let bits = integer(q, &["bits", "w_bit"])?;
    let group = integer(q, &["group_size", "q_group_size"])?;
    match (bits, group) {
        (Some(4), Some(g)) if g > 0 => {
            let group = g.unsigned_abs();
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
        // the head, the routers and the shared experts' scalar gate: 16 bits in nvfp4 too
        assert_eq!(
            format_of(&quantized(q)),
            (
                "nvfp4".to_string(),
                "quant_method compressed-tensors, config_groups.group_0 (4-bit float, groups \
                 of 16)"
                    .to_string()
            )
        );
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

    /// `crates/sizeup-formats/<dir>/<folder>/config.json` as a map (Python's
    /// `Infinity` read as text, as the config reader does).
    fn repo_config(dir: &str, folder: &str) -> Map<String, Value> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(dir)
            .join(folder)
            .join("config.json");
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text)
            .or_else(|_| {
                serde_json::from_str(&super::super::json::non_finite_as_strings(&text).unwrap())
            })
            .unwrap()
    }

    #[test]
    fn kept_modules_take_their_role_from_the_tensor_classifier() {
        // a vision tower's attention is the tower's: the language model's attention is fp8
        let q = json!({"quant_method": "fbgemm_fp8",
            "modules_to_not_convert": ["model.visual.blocks.0.attn.qkv", "lm_head"]});
        assert_eq!(
            format_of(&quantized(q)),
            (
                "fp8-e4m3".to_string(),
                "quant_method fbgemm_fp8 (an fp32 scale per row, counted as one per tensor)"
                    .to_string()
            )
        );
        // Qwen3-Next FP8 keeps a linear-attention projection, the routers and the
        // shared experts' gates: the tiles stand, and the projection is counted in them
        let q = json!({"quant_method": "fp8", "weight_block_size": [128, 128],
            "modules_to_not_convert": ["lm_head", "model.layers.0.linear_attn.in_proj_ba",
                "model.layers.0.mlp.gate", "model.layers.0.mlp.shared_expert_gate"]});
        assert_eq!(
            format_of(&quantized(q)),
            (
                "fp8-block128".to_string(),
                "quant_method fp8, weight_block_size [128, 128]; 1 module(s) the checkpoint \
                 keeps in 16 bits are counted in the format: model.layers.0.linear_attn.in_proj_ba"
                    .to_string()
            )
        );
        // MiniMax-M2: its routers (`gate`), a buffer and the head are not weights the
        // format would quantize
        let q = json!({"quant_method": "fp8", "weight_block_size": [128, 128],
            "modules_to_not_convert": ["gate", "e_score_correction_bias", "lm_head"]});
        assert_eq!(
            format_of(&quantized(q)).1,
            "quant_method fp8, weight_block_size [128, 128]"
        );
    }

    #[test]
    fn deepseek_v4_fp4_experts_have_no_single_format() {
        // both cards: "FP4 + FP8 Mixed: MoE expert parameters use FP4 precision; most
        // other parameters use FP8"; both configs say `expert_dtype: fp4` beside
        // `quant_method: fp8`, `weight_block_size: [128, 128]`
        for (dir, folder) in [
            ("tests/fixtures-2026", "deepseek-v4-flash"),
            ("catalog/configs", "deepseek-v4-pro"),
        ] {
            match read(&repo_config(dir, folder)) {
                Some(Quantization::Unmapped { method, reason }) => {
                    assert_eq!(method, "fp8", "{folder}");
                    assert_eq!(
                        reason,
                        "quant_method fp8, weight_block_size [128, 128] with expert_dtype `fp4` \
                         (the routed experts in MXFP4, the rest in fp8): no single format; \
                         nearest mxfp4-experts (the rest counted in 16 bits instead of 8) or \
                         fp8-block128 (the experts counted in 8 bits instead of 4)",
                        "{folder}"
                    );
                }
                other => panic!("{folder}: expected unmapped, got {other:?}"),
            }
        }
        // DeepSeek-V4-Flash-Base's FP8 experts are the tiles of the rest
        let config = json!({"model_type": "deepseek_v4", "expert_dtype": "fp8",
            "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}});
        assert_eq!(
            format_of(config.as_object().unwrap()),
            (
                "fp8-block128".to_string(),
                "quant_method fp8, weight_block_size [128, 128], expert_dtype fp8".to_string()
            )
        );
    }

    #[test]
    fn kimi_k2_6_nvfp4_on_the_routed_experts_only() {
        // `ignore` keeps lm_head, the whole dense layer 0 (first_k_dense_replace 1), the
        // shared experts and self_attn of layers 1-60, the projector and the vision tower:
        // NVFP4 is left on the 384 routed experts only
        for folder in ["kimi-k2.6", "kimi-k2.7-code"] {
            assert_eq!(
                format_of(&repo_config("catalog/configs", folder)),
                (
                    "nvfp4-experts".to_string(),
                    "quant_method modelopt, quant_algo NVFP4 (4-bit float, groups of 16), \
                     attention and shared experts kept in 16 bits: the routed experts only"
                        .to_string()
                ),
                "{folder}"
            );
        }
        // attention alone kept says nothing about the MLP: no single format
        let q = json!({"quant_method": "modelopt", "quant_algo": "NVFP4",
            "ignore": ["lm_head", "model.layers.*.self_attn*"]});
        assert_eq!(
            reason(q),
            "quant_method modelopt, quant_algo NVFP4 (4-bit float, groups of 16) with attention \
             kept in 16 bits: no single format; nearest nvfp4-experts or nvfp4"
        );
    }

    #[test]
    fn int4_formats_say_that_kept_attention_is_counted_in_them() {
        let q = json!({"quant_method": "awq", "bits": 4, "group_size": 128,
            "modules_to_not_convert": ["model.layers.0.self_attn", "model.layers.0.mlp.down_proj"]});
        assert_eq!(
            format_of(&quantized(q)).1,
            "quant_method awq, bits 4, group_size 128; attention, which the checkpoint keeps in \
             16 bits, is counted in awq-int4-g128; 1 module(s) the checkpoint keeps in 16 bits \
             are counted in the format: model.layers.0.mlp.down_proj"
        );
        let q = json!({"quant_method": "bitsandbytes", "load_in_4bit": true,
            "bnb_4bit_quant_type": "nf4",
            "llm_int8_skip_modules": ["model.layers.0.self_attn.o_proj", "lm_head"]});
        assert_eq!(
            format_of(&quantized(q)),
            (
                "bnb-nf4".to_string(),
                "quant_method bitsandbytes, load_in_4bit, nf4; attention, which the checkpoint \
                 keeps in 16 bits, is counted in bnb-nf4"
                    .to_string()
            )
        );
    }

    #[test]
    fn bits_may_be_written_as_whole_floats() {
        let q = json!({"quant_method": "gptq", "bits": 4.0, "group_size": 128.0});
        assert_eq!(format_of(&quantized(q)).0, "gptq-int4-g128");
        assert_eq!(
            reason(json!({"quant_method": "gptq", "bits": 4.5, "group_size": 128})),
            "`bits` is `4.5`, not an integer; give a whole number such as 4"
        );
        assert_eq!(
            reason(json!({"quant_method": "awq", "group_size": 128})),
            "bits absent: sizeup prices 4-bit awq only"
        );
        // AutoGPTQ's `group_size: -1` is one group per row
        assert_eq!(
            reason(json!({"quant_method": "gptq", "bits": 4, "group_size": -1})),
            "group_size -1 (one group per row or none given) has no sizeup format; nearest \
             gptq-int4-g128"
        );
    }

    #[test]
    fn long_keep_lists_name_three_and_count_the_rest() {
        let downs: Vec<String> = (0..5)
            .map(|i| format!("model.layers.{i}.mlp.down_proj"))
            .collect();
        let q = json!({"quant_method": "fp8", "modules_to_not_convert": downs});
        assert_eq!(
            format_of(&quantized(q)).1,
            "quant_method fp8; 5 module(s) the checkpoint keeps in 16 bits are counted in the \
             format: model.layers.0.mlp.down_proj, model.layers.1.mlp.down_proj, \
             model.layers.2.mlp.down_proj … and 2 more"
        );
    }

    /// Every config in the repository with a `quantization_config`, and what its own
    /// fields make of it.
    #[test]
    fn every_quantized_config_in_the_repository() {
        // (directory, folder, format or `None` for unmapped, a phrase of the reason)
        let table: [(&str, &str, Option<&str>, &str); 10] = [
            // fp8, weight_block_size [128, 128], expert_dtype fp4: MXFP4 experts
            // beside FP8 tiles (card: "FP4 + FP8 Mixed")
            (
                "tests/fixtures-2026",
                "deepseek-v4-flash",
                None,
                "expert_dtype `fp4`",
            ),
            (
                "catalog/configs",
                "deepseek-v4-pro",
                None,
                "expert_dtype `fp4`",
            ),
            // fp8, weight_block_size null: one scale per tensor; keeps the vision tower,
            // the projector and the head, 16 bits in every format
            (
                "tests/fixtures-2026",
                "devstral-2-123b-instruct",
                Some("fp8-e4m3"),
                "",
            ),
            // compressed-tensors int4 (num_bits 4, type int, group_size 32) over Linear,
            // ignoring self_attn, shared_experts, the dense mlp and the head: int4 on
            // the routed experts only, which no format describes
            (
                "tests/fixtures-2026",
                "kimi-k2.5",
                None,
                "4 bits on the routed experts only",
            ),
            // fp8, weight_block_size [128, 128]; keeps `gate` (the routers),
            // e_score_correction_bias (a buffer) and lm_head
            (
                "tests/fixtures-2026",
                "minimax-m2.5",
                Some("fp8-block128"),
                "",
            ),
            ("catalog/configs", "minimax-m2.7", Some("fp8-block128"), ""),
            // mxfp4: transformers converts the experts; the list keeps self_attn,
            // the routers, embed_tokens and lm_head
            ("catalog/configs", "gpt-oss-120b", Some("mxfp4-experts"), ""),
            // modelopt NVFP4 ignoring attention, shared experts, layer 0, head, towers
            ("catalog/configs", "kimi-k2.6", Some("nvfp4-experts"), ""),
            (
                "catalog/configs",
                "kimi-k2.7-code",
                Some("nvfp4-experts"),
                "",
            ),
            // modelopt MIXED_PRECISION: FP8 attention and linear attention, W4A16 NVFP4
            // MLP and head (quantized_layers)
            (
                "catalog/configs",
                "qwen3.6-27b",
                None,
                "quant_algo `MIXED_PRECISION`",
            ),
        ];
        let mut problems = Vec::new();
        for (dir, folder, want, phrase) in table {
            match (read(&repo_config(dir, folder)), want) {
                (Some(Quantization::Format { format, read_from }), Some(want)) => {
                    if format.to_string() != want || read_from.contains("counted in") {
                        problems.push(format!("{folder}: {format} ({read_from}), want {want}"));
                    }
                }
                (Some(Quantization::Unmapped { reason, .. }), None) => {
                    if !reason.contains(phrase) {
                        problems.push(format!("{folder}: reason `{reason}` lacks `{phrase}`"));
                    }
                }
                (got, want) => problems.push(format!("{folder}: {got:?}, want {want:?}")),
            }
        }
        // the table covers them all: a quantized config added later needs a row
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["tests/fixtures-2026", "catalog/configs"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let folder = entry.unwrap().file_name().to_string_lossy().to_string();
                let quantized = root.join(dir).join(&folder).join("config.json").exists()
                    && read(&repo_config(dir, &folder)).is_some();
                if quantized && !table.iter().any(|(d, f, ..)| *d == dir && *f == folder) {
                    problems.push(format!("{dir}/{folder}: quantized, not in the table"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

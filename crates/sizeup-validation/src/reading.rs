//! One reader for every kind of case: what a case states, read once, the same way.
//!
//! A case is free-form JSON; the models want typed inputs. Everything a
//! prediction takes from a case goes through this module: the numbers and texts
//! of `model` and `setup`, the architecture, the accelerator, and the reported
//! figure with the unit and the scope its key names. A reader demands only what
//! the prediction it feeds needs ([`Needs`]): a KV-cache size needs no vocabulary.
//!
//! # The reported figure
//! Each kind lists the keys it can predict in a fixed order of preference (the
//! most direct measurement first: a latency before a throughput derived from it);
//! the first the case reports is compared. A case reporting none of them is not
//! predicted, and its note lists what it does report. The unit and the scope come
//! from the key alone ([`Metric::parse`]): `_per_gpu` means per GPU, any other
//! key a total over the case's GPUs.

use serde_json::{Map, Value};

use sizeup_core::arch::{
    AttentionKind, BlockFfn, Mixer, Mlp, MlpKind, Moe, Schedule, SharedExperts,
};
use sizeup_core::device::collective::Network;
use sizeup_core::hardware::{self, Accelerator};
use sizeup_core::shape::{BlockStyle, Shape};
use sizeup_core::units::GIB;
use sizeup_core::Architecture;

use crate::Case;

/// A number of `map`, if the key holds one.
pub fn num(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key).and_then(Value::as_f64)
}

/// A text of `map`, if the key holds one.
pub fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// A whole number of `map` (the door, [`Case::check`], has made every number whole
/// and bounded, but for the shares it names).
pub fn count(map: &Map<String, Value>, key: &str) -> Option<u64> {
    num(map, key).map(|v| v as u64)
}

/// What a reported figure is measured in, read from its key's name: the units
/// a prediction converts from; any other figure is compared in the key's own unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// Bytes, times this many (`_bytes` 1, `_MB` 10⁶, `_MiB` 2²⁰, `_GB` 10⁹, `_GiB` 2³⁰,
    /// `_TB` 10¹²).
    Bytes(f64),
    /// Milliseconds (`_ms`).
    Milliseconds,
    /// Any other unit (tokens per second, TFLOP/s, seconds, days, GPU-hours…):
    /// the prediction is made in the unit the key names.
    Other,
}

/// Whether a figure is a total over the case's GPUs or per GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Summed over every GPU of the run (any key without `_per_gpu`).
    Total,
    /// One GPU's share (`_per_gpu` in the key).
    PerGpu,
}

/// A reported figure: its key, its value, and the unit and scope the key names.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The key as the case spells it (`output_tokens_per_sec_per_gpu`).
    pub key: String,
    /// The reported value, in the key's unit.
    pub value: f64,
    /// The unit the key names.
    pub unit: Unit,
    /// Total or per GPU, from the key.
    pub scope: Scope,
}

impl Metric {
    /// Read unit and scope from `key`.
    ///
    /// # Rule
    /// Scope: `per_gpu` anywhere in the key → per GPU, else total. Unit: a byte
    /// suffix (`_bytes`, `_MB`, `_MiB`, `_GB`, `_GiB`, `_TB`, optionally followed by
    /// a `_du`/`_calc` qualifier); else milliseconds where the key ends in `_ms` or
    /// holds `_ms_` and names no other unit (`tokens_per_sec`, `flops`,
    /// `gpu_hours`, `days`); else another unit.
    pub fn parse(key: &str, value: f64) -> Metric {
        let scope = if key.contains("per_gpu") {
            Scope::PerGpu
        } else {
            Scope::Total
        };
        let base = key
            .strip_suffix("_du")
            .or_else(|| key.strip_suffix("_calc"))
            .unwrap_or(key);
        let bytes = [
            ("_bytes", 1.0),
            ("_MB", 1e6),
            ("_MiB", 1_048_576.0),
            ("_GB", 1e9),
            ("_GiB", 1_073_741_824.0),
            ("_TB", 1e12),
        ]
        .into_iter()
        .find(|(suffix, _)| base.ends_with(suffix));
        let lower = key.to_ascii_lowercase();
        let other = ["tokens_per_sec", "flops", "gpu_hours", "days"]
            .iter()
            .any(|u| lower.contains(u));
        let unit = if let Some((_, scale)) = bytes {
            Unit::Bytes(scale)
        } else if !other && (lower.ends_with("_ms") || lower.contains("_ms_")) {
            Unit::Milliseconds
        } else {
            Unit::Other
        };
        Metric {
            key: key.to_string(),
            value,
            unit,
            scope,
        }
    }

    /// The first key of `preference` the case reports as a number.
    ///
    /// # Errors
    /// The note of an unpredicted case: none of the keys is reported, and which are.
    pub fn of(case: &Case, preference: &[&str]) -> Result<Metric, String> {
        preference
            .iter()
            .find_map(|k| num(&case.reported, k).map(|v| Metric::parse(k, v)))
            .ok_or_else(|| {
                let reported: Vec<&str> = case.reported.keys().map(String::as_str).collect();
                format!(
                    "reports none of the figures this kind is compared on; it reports {}",
                    reported.join(", ")
                )
            })
    }
}

/// The software a case states, the one text every reader of the framework reads:
/// `setup.software` and `setup.framework`, joined by a space and lowercased
/// (`"megatron-lm (2021)"`); empty where the case states neither.
pub fn software(case: &Case) -> String {
    ["software", "framework"]
        .iter()
        .filter_map(|k| text(&case.setup, k))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Which architecture facts a prediction needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Every tensor: weights, speeds, training (the vocabulary sizes the embedding and head).
    Weights,
    /// The attention layers only: KV-cache sizes (no vocabulary, no FFN).
    Attention,
}

/// The vocabulary put into an architecture read for [`Needs::Attention`]: a
/// KV-cache size never reads it, and `Shape` needs a non-zero one.
const UNREAD_VOCAB: u64 = 1;

/// The context a GPT-style model's learned positions span when the case states
/// no sequence length (GPT-2/GPT-3's 2048 on the fused-kernel models; only a
/// model with learned positions reads it, and [`architecture`] keeps them only where
/// the stated parameter count asks for them).
const UNSTATED_CONTEXT: u64 = 2048;

/// The architecture the case states.
///
/// # Rules
/// - a gated MLP (Llama style) where the FFN width is not `4h`, the KV heads are
///   fewer than the heads or the model is a mixture of experts; otherwise a plain
///   GeLU MLP (GPT style), unless only the gated block matches the stated exact
///   parameter count (Llama 3.2 1B's FFN is exactly `4h`); KV heads default to the
///   heads; `head_dim` as stated;
/// - learned positions (GPT style) only if the stated parameter count is nearer
///   with them than without (ALiBi and rotary models have none);
/// - the LM head tied where the stated exact count matches the tied model and
///   not the untied one;
/// - `model.moe` and `model.mla` as stated; the dense layers of a mixture of
///   experts take [`MOE_DENSE_FFN_PER_EXPERT`] times the experts' width where the
///   case does not state theirs.
///
/// # Errors
/// The missing field, named; a number the door refuses ([`Case::check`], also
/// for a case that did not come through it); an architecture no estimate can
/// work on ([`Architecture::check`]: more experts per token than experts, a zero
/// head width).
pub fn architecture(case: &Case, needs: Needs) -> Result<Architecture, String> {
    case.check()?;
    let m = &case.model;
    let get = |k: &str| count(m, k);
    let layers = get("layers").ok_or("the source gives no layer count (`model.layers`)")?;
    let hidden = get("hidden").ok_or("the source gives no hidden size (`model.hidden`)")?;
    let heads = get("heads").ok_or("the source gives no head count (`model.heads`)")?;
    let vocab = match needs {
        Needs::Weights => {
            get("vocab").ok_or("the source gives no vocabulary size (`model.vocab`)")?
        }
        Needs::Attention => UNREAD_VOCAB,
    };
    let ffn = get("ffn").unwrap_or(hidden.saturating_mul(4));
    let moe = m.get("moe").and_then(Value::as_object);
    let kv_heads = get("kv_heads").unwrap_or(heads);
    let shape = |style| Shape {
        style,
        layers,
        hidden,
        heads,
        kv_heads,
        head_dim: get("head_dim"),
        ffn,
        vocab,
        max_context: get("seq_len").unwrap_or(UNSTATED_CONTEXT),
    };
    let total = |a: &Architecture| sizeup_core::params::count(a).map(|c| c.total).ok();
    let stated = match needs {
        Needs::Weights if moe.is_none() => get("params"),
        _ => None,
    };
    // learned positions kept where the stated count is nearer with them; the head
    // tied where only the tied model matches the stated count exactly
    let settle = |mut arch: Architecture| {
        if let (Some(stated), true) = (stated, arch.embedding.learned_positions > 0) {
            let mut without = arch.clone();
            without.embedding.learned_positions = 0;
            let gap = |a: &Architecture| total(a).map_or(u64::MAX, |c| c.abs_diff(stated));
            if gap(&without) < gap(&arch) {
                arch = without;
            }
        }
        if let Some(stated) = stated {
            let mut tied = arch.clone();
            tied.embedding.tied = true;
            if total(&arch) != Some(stated) && total(&tied) == Some(stated) {
                arch = tied;
            }
        }
        arch
    };
    let build = |style| shape(style).build().map_err(|e| e.to_string()).map(&settle);
    // a GPT block has a plain MLP 4h wide and every head its own keys and values;
    // where the shape allows both, a gated block only if it alone matches the count
    let gpt_shaped = moe.is_none() && ffn == hidden.saturating_mul(4) && kv_heads == heads;
    let mut arch = build(if gpt_shaped {
        BlockStyle::Gpt
    } else {
        BlockStyle::Llama
    })?;
    if gpt_shaped && stated.is_some() && total(&arch) != stated {
        let gated = build(BlockStyle::Llama)?;
        if total(&gated) == stated {
            arch = gated;
        }
    }
    if let Some(moe) = moe {
        arch.layers = moe_layers(&arch, moe, layers)?;
    }
    if let Some(mla) = m.get("mla").and_then(Value::as_object) {
        let g = |k: &str| count(mla, k).ok_or(format!("`model.mla.{k}` missing"));
        let head_dim = g("head_dim")?;
        let kind = AttentionKind::Mla {
            heads,
            q_lora_rank: g("q_compression_dim").ok(),
            kv_lora_rank: g("kv_compression_dim")?,
            qk_nope_head_dim: head_dim,
            qk_rope_head_dim: g("rope_head_dim")?,
            v_head_dim: head_dim,
        };
        arch.map_blocks(|b| {
            if let Mixer::Attention(a) = &mut b.mixer {
                a.kind = kind;
            }
        });
    }
    arch.check()
        .map_err(|e| format!("the architecture the case states cannot be estimated: {e}"))?;
    Ok(arch)
}

/// The width of a mixture of experts' dense layers, in experts' widths, where the
/// case states only the experts' width: DeepSeek-V3's config.json gives 18432 for
/// the dense layers and 2048 per expert (9 ×), the one mixture of experts the
/// cases hold with dense first layers.
pub const MOE_DENSE_FFN_PER_EXPERT: u64 = 9;

fn moe_layers(
    arch: &Architecture,
    moe: &Map<String, Value>,
    layers: u64,
) -> Result<Schedule, String> {
    let g = |k: &str| count(moe, k).ok_or(format!("`model.moe.{k}` missing"));
    let expert = Mlp {
        kind: MlpKind::Gated,
        intermediate_size: g("expert_ffn")?,
        bias: false,
    };
    let dense_layers = g("dense_first_layers").unwrap_or(0);
    let dense_ffn = g("dense_ffn").unwrap_or_else(|_| {
        expert
            .intermediate_size
            .saturating_mul(MOE_DENSE_FFN_PER_EXPERT)
    });
    let routed = Moe {
        num_experts: g("routed_experts")?,
        experts_per_token: g("active_experts")?,
        expert,
        shared: match g("shared_experts").unwrap_or(0) {
            0 => None,
            n => Some(SharedExperts {
                mlp: Mlp {
                    intermediate_size: n.saturating_mul(expert.intermediate_size),
                    ..expert
                },
                gate: false,
            }),
        },
        router_bias: false,
    };
    let mut dense_block = arch.layers.blocks[0].clone();
    dense_block.ffn = BlockFfn::Dense(Mlp {
        intermediate_size: dense_ffn,
        ..expert
    });
    let mut moe_block = dense_block.clone();
    moe_block.ffn = BlockFfn::Moe(routed);
    let mut schedule = Schedule::uniform(dense_block, dense_layers.min(layers));
    schedule.push(moe_block, layers.saturating_sub(dense_layers));
    Ok(schedule)
}

/// The accelerator and the network between nodes for a case's `setup.gpu_type`:
/// the catalog row the text names ([`hardware::find_in_text`]: the longest name
/// or alias its words spell), with the row's own node figures unless the text
/// names another network.
///
/// # Rule
/// The row from the catalog's names and aliases alone: `A100` is the 80 GB SXM
/// part (the catalog's alias; DGX A100 and Selene), `A100-40GB` the 40 GB one,
/// `H100 PCIe` and `H100 NVL` their own rows. `omni-path` sets 4 × 100 Gb/s per
/// 8 GPUs between nodes (IDRIS's Jean Zay documentation). A bandwidth the text
/// states (`2.4 TB/s`) replaces the row's, and so does a memory size
/// ([`stated_memory_bytes`]) more than 10% from the row's: another size of the part.
///
/// # Errors
/// The text, when it names no catalog row.
pub fn accelerator(gpu_type: &str) -> Result<(Accelerator, Network), String> {
    let g = gpu_type.to_lowercase();
    let mut net = Network::default();
    if g.contains("omni-path") {
        net.inter_node_bytes_per_sec = Some(400.0 / 8.0 * 1e9 / 8.0);
    }
    let mut acc = hardware::find_in_text(gpu_type)
        .ok_or_else(|| format!("`{gpu_type}` names no accelerator of the catalog"))?
        .clone();
    // a part the text sizes itself (H100 96GB HBM2e at 2.4 TB/s) keeps its own figures
    if let Some(bytes) = stated_memory_bytes(gpu_type) {
        // another size of the part, not GB written for GiB (H200 141GB)
        if (bytes as f64 / acc.memory_bytes as f64 - 1.0).abs() > 0.1 {
            acc.memory_bytes = bytes;
            acc.usable_memory_bytes = None;
        }
    }
    if let Some(tb) = stated_number(&g, "tb/s") {
        acc.memory_bandwidth_bytes_per_sec = tb * 1e12;
    }
    Ok((acc, net))
}

/// The memory size a `gpu_type` text states (`96GB`, `24 GB`), in bytes, read as
/// GiB as GPUs are sold (an 80 GB H100 holds 80 GiB); `None` where it states
/// none of at least 1 GB. A rate (`1600Gbps`, `400 Gb/s`) is not a size.
pub fn stated_memory_bytes(gpu_type: &str) -> Option<u64> {
    stated_number(&gpu_type.to_lowercase(), "gb")
        .filter(|v| *v >= 1.0)
        .map(|gib| (gib * GIB) as u64)
}

/// The number written just before the first `unit` in `text` that ends a word
/// (`"96gb"`, `"2.4 tb/s"`; not the `gb` of `"1600gbps"` or `"400 gb/s"`), if any.
fn stated_number(text: &str, unit: &str) -> Option<f64> {
    text.match_indices(unit).find_map(|(at, _)| {
        let after = text[at + unit.len()..].chars().next();
        if after.is_some_and(|c| c.is_alphanumeric() || c == '/') {
            return None;
        }
        let before = text[..at].trim_end();
        // walk back by characters: the text may hold any character before the number
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_digit() || *c == '.')
            .last()
            .map(|(i, _)| i)?;
        before[start..].parse().ok()
    })
}

#[cfg(test)]
mod tests;

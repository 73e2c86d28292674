//! `llama4`: the `text_config` language model that `AutoModelForCausalLM` builds
//! (`Llama4ForCausalLM`; the vision model belongs to
//! `Llama4ForConditionalGeneration` only and is not counted).
//!
//! # Formula
//! ```text
//! attention: q h→a·d, k/v h→k·d, o a·d→h (biases with attention_bias)
//! MoE layer: router h→E, E experts 3·h·f, shared expert 3·h·f
//! dense layer: 3·h·f_mlp
//! norms:     2h per layer, h final; qk norm is a parameter-free L2 norm
//! ```
//!
//! # Symbols
//! `h` hidden size, `a` heads, `k` key/value heads, `d` `head_dim`, `E`
//! `num_local_experts`, `f` `intermediate_size`, `f_mlp` `intermediate_size_mlp`.
//!
//! # Source
//! transformers 5.25 `modeling_llama4.py` (`Llama4TextMoe`, `Llama4TextExperts`,
//! `Llama4TextMLP`, `Llama4TextL2Norm`) and `configuration_llama4.py`:
//! `moe_layers = range(step − 1, L, step)` for `interleave_moe_layer_step`,
//! `no_rope_layers[i] = (i + 1) % no_rope_layer_interval != 0` (1 = RoPE), and
//! RoPE layers attend within chunks of `attention_chunk_size` while NoPE layers
//! attend to everything. Check: Llama 4 Scout is 107_769_861_120
//! (shared/fixtures/models-2026/llama-4-scout-17b-16e-instruct).

use sizeup_core::arch::{
    Architecture, Attention, AttentionBias, AttentionKind, Block, BlockFfn, Mixer, Mlp, MlpKind,
    Moe, Schedule, SharedExperts, Span,
};

use super::config::{Config, HeadDim, KvHeads, Section};
use super::window;
use super::Decoder;
use crate::error::FormatError;

/// The `layer_types` entry of a chunked-attention layer.
const CHUNKED: &str = "chunked_attention";

/// Read a `llama4` config: its `text_config`.
pub(super) fn read(cfg: &mut Config) -> Result<Architecture, FormatError> {
    cfg.section(Section::Text, "Llama4TextConfig", read_text)
}

/// The Llama 4 language model from `text_config`.
fn read_text(cfg: &mut Config) -> Result<Architecture, FormatError> {
    let hidden = cfg.size(&["hidden_size"])?;
    let layers = cfg.layers(&["num_hidden_layers"])?;
    let vocab = cfg.size(&["vocab_size"])?;
    let heads = cfg.size(&["num_attention_heads"])?;
    let kv_heads = cfg.kv_heads("num_key_value_heads", heads, KvHeads::Fixed(8))?;
    let head_dim = cfg.head_dim(hidden, heads, HeadDim::Fixed(128))?;
    let f = cfg.size(&["intermediate_size"])?;
    let f_mlp = cfg.size(&["intermediate_size_mlp"])?;
    let experts = cfg.size_or(
        "num_local_experts",
        16,
        "`num_local_experts` defaults to 16",
    )?;
    let per_token = cfg.size_or(
        "num_experts_per_tok",
        1,
        "`num_experts_per_tok` defaults to 1",
    )?;
    let max_context = cfg.context_or(&["max_position_embeddings"], 131_072)?;
    let bias = cfg.flag_or(
        "attention_bias",
        false,
        "`attention_bias` defaults to false",
    )?;
    let chunk = cfg.opt_size(&["attention_chunk_size"])?;

    let moe_layers: Vec<bool> = match cfg.opt_counts("moe_layers")? {
        Some(list) => {
            if let Some(&bad) = list.iter().find(|&&i| i >= layers) {
                return Err(cfg.invalid(
                    "moe_layers",
                    bad,
                    format!("layer indices below {layers}"),
                ));
            }
            let mut flags = vec![false; layers as usize];
            for i in list {
                flags[i as usize] = true;
            }
            flags
        }
        None => {
            let step = cfg.size_or(
                "interleave_moe_layer_step",
                1,
                "`interleave_moe_layer_step` defaults to 1",
            )?;
            cfg.assume(
                "moe_layers",
                format!("every {step}th layer from layer {}", step - 1),
                "`moe_layers` absent: range(interleave_moe_layer_step - 1, L, step)",
            );
            (0..layers).map(|i| (i + 1) % step == 0).collect()
        }
    };

    let rope: Vec<bool> = match cfg.opt_counts("no_rope_layers")? {
        Some(list) if !list.is_empty() => {
            if list.len() as u64 != layers {
                return Err(cfg.invalid(
                    "no_rope_layers",
                    format!("a list of {} entries", list.len()),
                    format!("one entry per layer ({layers})"),
                ));
            }
            list.iter().map(|&r| r != 0).collect()
        }
        _ => {
            let every = cfg.size_or(
                "no_rope_layer_interval",
                4,
                "`no_rope_layer_interval` defaults to 4",
            )?;
            (0..layers).map(|i| (i + 1) % every != 0).collect()
        }
    };
    let chunked: Vec<bool> = match cfg.layer_types(layers, &[CHUNKED, window::FULL])? {
        Some(types) => types.iter().map(|t| *t == CHUNKED).collect(),
        None => rope.iter().map(|&r| r && chunk.is_some()).collect(),
    };

    let gated = |intermediate_size| Mlp {
        kind: MlpKind::Gated,
        intermediate_size,
        bias: false,
    };
    let blocks = (0..layers as usize).map(|i| {
        let span = match chunk {
            Some(c) if chunked[i] => Span::Chunk(c),
            _ => Span::Full,
        };
        let ffn = if moe_layers[i] {
            BlockFfn::Moe(Moe {
                num_experts: experts,
                experts_per_token: per_token,
                expert: gated(f),
                shared: Some(SharedExperts {
                    mlp: gated(f),
                    gate: false,
                }),
                router_bias: false,
            })
        } else {
            BlockFfn::Dense(gated(f_mlp))
        };
        Block {
            mixer: Mixer::Attention(Attention {
                bias: AttentionBias {
                    qkv: bias,
                    output: bias,
                },
                span,
                ..Attention::plain(AttentionKind::Standard {
                    heads,
                    kv_heads,
                    head_dim,
                })
            }),
            ffn,
            norms: 2,
            parallel: false,
            extra: Vec::new(),
        }
    });
    let layers_schedule = Schedule::from_layers(blocks.collect::<Vec<_>>());
    let tied = cfg.tied(false)?;
    Ok(Decoder {
        hidden,
        vocab,
        max_context,
        tied,
    }
    .around(cfg.model_type(), layers_schedule))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn fixture() -> Value {
        crate::hf::shared_2026_config("llama-4-scout-17b-16e-instruct")
    }

    #[test]
    fn scout_chunks_the_rope_layers_and_every_layer_is_moe() {
        let arch = crate::hf::from_config_str(&fixture().to_string())
            .unwrap()
            .arch;
        assert_eq!(arch.moe_layers(), 48);
        let span = |i| arch.layer(i).and_then(|b| b.attention()).unwrap().span;
        assert_eq!(span(0), sizeup_core::arch::Span::Chunk(8192));
        assert_eq!(span(3), sizeup_core::arch::Span::Full);
    }

    #[test]
    fn a_moe_step_of_two_makes_odd_layers_moe_and_even_layers_dense() {
        let mut c = fixture();
        c["text_config"]["interleave_moe_layer_step"] = Value::from(2);
        let arch = crate::hf::from_config_str(&c.to_string()).unwrap().arch;
        assert_eq!(arch.moe_layers(), 24);
        assert!(arch.layer(0).unwrap().dense().is_some());
        assert!(arch.layer(1).unwrap().moe().is_some());
        assert_eq!(
            arch.layer(0).unwrap().dense().unwrap().intermediate_size,
            16384
        );
    }
}

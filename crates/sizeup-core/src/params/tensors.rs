//! The model's weight tensors one by one: role, layer and shape.
//!
//! Storage formats quantize tensor by tensor (llama.cpp gives `attn_v` more bits
//! than `attn_q`, GPTQ leaves the LM head in 16 bits), so their sizes need the
//! list, not just the total. The list is the same count as [`super::count`]
//! split finer; a test holds the two equal.

use serde::Serialize;

use crate::arch::{Architecture, AttentionKind, Mlp, MlpKind, QkNorm};
use crate::error::{CoreError, Result};
use crate::units::{product, sum};

const Q: &str = "parameter count";

/// What a tensor does, in the roles quantizers distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorRole {
    /// Token embedding `V×h` (`token_embd`).
    TokenEmbedding,
    /// Learned position embedding (`position_embd`).
    PositionEmbedding,
    /// Query projection (`attn_q`).
    AttnQ,
    /// Key projection (`attn_k`).
    AttnK,
    /// Value projection (`attn_v`).
    AttnV,
    /// Attention output projection (`attn_output`).
    AttnOutput,
    /// MLA query down-projection (`attn_q_a`).
    AttnQA,
    /// MLA query up-projection (`attn_q_b`).
    AttnQB,
    /// MLA joint key/value down-projection with the rotary key (`attn_kv_a_mqa`).
    AttnKvA,
    /// MLA key/value up-projection (`attn_kv_b`).
    AttnKvB,
    /// Dense MLP gate (`ffn_gate`).
    FfnGate,
    /// Dense MLP up projection (`ffn_up`).
    FfnUp,
    /// Dense MLP down projection (`ffn_down`).
    FfnDown,
    /// Routed experts' gates, all `E` (`ffn_gate_exps`).
    ExpertGate,
    /// Routed experts' up projections (`ffn_up_exps`).
    ExpertUp,
    /// Routed experts' down projections (`ffn_down_exps`).
    ExpertDown,
    /// Shared experts' gate (`ffn_gate_shexp`).
    SharedGate,
    /// Shared experts' up projection (`ffn_up_shexp`).
    SharedUp,
    /// Shared experts' down projection (`ffn_down_shexp`).
    SharedDown,
    /// The router `h×E` (`ffn_gate_inp`), never quantized.
    Router,
    /// The scalar gate on the shared experts' output (`ffn_gate_inp_shexp`, `h×1`).
    SharedExpertGate,
    /// Normalisation weights (and biases), one-dimensional.
    Norm,
    /// Bias vectors, one-dimensional.
    Bias,
    /// Learned attention sinks, one per head.
    Sinks,
    /// The LM head `V×h` (`output`) when not tied.
    LmHead,
    /// Groups outside the language model (a vision tower), counted as a whole.
    Extra,
}

impl TensorRole {
    /// How many roles there are (each role `as usize` is below it).
    pub(crate) const COUNT: usize = TensorRole::Extra as usize + 1;

    /// One-dimensional tensors (norms, biases, sinks): quantizers leave them alone.
    pub fn is_vector(self) -> bool {
        matches!(
            self,
            TensorRole::Norm | TensorRole::Bias | TensorRole::Sinks
        )
    }

    /// Routed-expert weights, of which a token reads only `e` of `E`.
    pub fn is_routed_expert(self) -> bool {
        matches!(
            self,
            TensorRole::ExpertGate | TensorRole::ExpertUp | TensorRole::ExpertDown
        )
    }
}

/// One weight tensor (or `copies` identical ones, for the `E` routed experts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tensor {
    /// What it does.
    pub role: TensorRole,
    /// The block it sits in; `None` outside the blocks.
    pub layer: Option<u64>,
    /// Output features (1 for a vector).
    pub rows: u64,
    /// Input features: the length of one row, the axis block quantizers split
    /// (GGUF `ne[0]`).
    pub cols: u64,
    /// Identical tensors of this shape (`E` for routed experts, else 1).
    pub copies: u64,
}

impl Tensor {
    /// Scalar parameters: `rows · cols · copies`.
    pub fn elements(&self) -> Result<u64> {
        // a match, not `ok_or`: the error is built (and dropped) only on overflow
        match self
            .rows
            .checked_mul(self.cols)
            .and_then(|n| n.checked_mul(self.copies))
        {
            Some(n) => Ok(n),
            None => Err(CoreError::Overflow { quantity: Q }),
        }
    }

    fn matrix(role: TensorRole, layer: u64, rows: u64, cols: u64) -> Tensor {
        Tensor {
            role,
            layer: Some(layer),
            rows,
            cols,
            copies: 1,
        }
    }

    fn vector(role: TensorRole, layer: Option<u64>, len: u64) -> Tensor {
        Tensor {
            role,
            layer,
            rows: 1,
            cols: len,
            copies: 1,
        }
    }
}

/// Every weight tensor of `arch`, block by block.
///
/// # Formula
/// The shapes of DESIGN.md "Exact parameters": attention q `h→a·d`, k and v `h→k·d`,
/// o `a·d→h` (or the MLA projections), MLP gate and up `h→f`, down `f→h`, experts
/// likewise with `E` copies, router `h→E`, norms and biases as vectors.
///
/// # Source
/// transformers' modeling files (as for [`super::count`]); llama.cpp's GGUF tensor names.
///
/// # Errors
/// [`crate::CoreError::Overflow`] when a size does not fit in a `u64`.
pub fn tensors(arch: &Architecture) -> Result<Vec<Tensor>> {
    use TensorRole::*;
    // one entry per tensor per layer: bound the list before building it
    arch.check_layers()?;
    let h = arch.hidden_size;
    let norm_elem = arch.norm.kind.params_per_element();
    // about a dozen tensors a block; the reserve is a hint, so it is capped
    let mut out = Vec::with_capacity(12 * arch.num_layers.min(1 << 16) as usize + 8);
    out.push(Tensor {
        role: TokenEmbedding,
        layer: None,
        rows: arch.vocab_size,
        cols: h,
        copies: 1,
    });
    if arch.embedding.learned_positions > 0 {
        out.push(Tensor {
            role: PositionEmbedding,
            layer: None,
            rows: arch.embedding.learned_positions,
            cols: h,
            copies: 1,
        });
    }
    if arch.norm.embedding_norm {
        out.push(Tensor::vector(Norm, None, product(Q, &[h, norm_elem])?));
    }
    // Blocks of one kind differ only in their index: list each kind once.
    let dense_layers = arch.dense_layers();
    let (mut dense, mut sparse): (Option<Vec<Tensor>>, Option<Vec<Tensor>>) = (None, None);
    for layer in 0..arch.num_layers {
        let moe = arch.ffn.moe.is_some() && layer >= dense_layers;
        let kind = if moe { &mut sparse } else { &mut dense };
        let template = match kind {
            Some(t) => t,
            None => kind.insert(block(arch, moe)?),
        };
        out.extend(template.iter().map(|t| Tensor {
            layer: Some(layer),
            ..*t
        }));
    }
    if arch.norm.final_norm {
        out.push(Tensor::vector(Norm, None, product(Q, &[h, norm_elem])?));
    }
    if !arch.embedding.tied {
        out.push(Tensor {
            role: LmHead,
            layer: None,
            rows: arch.vocab_size,
            cols: h,
            copies: 1,
        });
        if arch.embedding.lm_head_bias {
            out.push(Tensor::vector(Bias, None, arch.vocab_size));
        }
    }
    for g in &arch.extra {
        out.push(Tensor::vector(Extra, None, g.params));
    }
    Ok(out)
}

/// The tensors of one block (of a mixture-of-experts layer if `moe_layer`), as block 0.
fn block(arch: &Architecture, moe_layer: bool) -> Result<Vec<Tensor>> {
    use TensorRole::*;
    let h = arch.hidden_size;
    let norm_elem = arch.norm.kind.params_per_element();
    let layer = 0;
    let mut out = Vec::with_capacity(16);
    attention(arch, layer, &mut out)?;
    let block_norms = product(Q, &[arch.norm.per_layer, h, norm_elem])?;
    if block_norms > 0 {
        out.push(Tensor::vector(Norm, Some(layer), block_norms));
    }
    // Dense layers come first (DeepSeek's `first_k_dense_replace`).
    match &arch.ffn.moe {
        Some(moe) if moe_layer => {
            let e = moe.num_experts;
            out.push(Tensor::matrix(Router, layer, e, h));
            if moe.router_bias {
                out.push(Tensor::vector(Bias, Some(layer), e));
            }
            let roles = [ExpertGate, ExpertUp, ExpertDown];
            let first = out.len();
            mlp(h, &moe.expert, layer, roles, &mut out)?;
            for t in &mut out[first..] {
                t.copies = e;
            }
            if let Some(shared) = &moe.shared {
                mlp(
                    h,
                    &shared.mlp,
                    layer,
                    [SharedGate, SharedUp, SharedDown],
                    &mut out,
                )?;
                if shared.gate {
                    out.push(Tensor::matrix(SharedExpertGate, layer, 1, h));
                }
            }
        }
        _ => {
            mlp(
                h,
                &arch.ffn.dense,
                layer,
                [FfnGate, FfnUp, FfnDown],
                &mut out,
            )?;
        }
    }
    Ok(out)
}

fn attention(arch: &Architecture, layer: u64, out: &mut Vec<Tensor>) -> Result<()> {
    use TensorRole::*;
    let h = arch.hidden_size;
    let att = &arch.attention;
    let norm_elem = arch.norm.kind.params_per_element();
    match att.kind {
        AttentionKind::Standard {
            heads,
            kv_heads,
            head_dim,
        } => {
            let q = product(Q, &[heads, head_dim])?;
            let kv = product(Q, &[kv_heads, head_dim])?;
            out.push(Tensor::matrix(AttnQ, layer, q, h));
            out.push(Tensor::matrix(AttnK, layer, kv, h));
            out.push(Tensor::matrix(AttnV, layer, kv, h));
            out.push(Tensor::matrix(AttnOutput, layer, h, q));
            if att.bias.qkv {
                out.push(Tensor::vector(Bias, Some(layer), sum(Q, &[q, kv, kv])?));
            }
            let qk_norms = match att.qk_norm {
                QkNorm::None => 0,
                QkNorm::PerHeadShared => product(Q, &[2, head_dim, norm_elem])?,
                QkNorm::Full => product(Q, &[sum(Q, &[q, kv])?, norm_elem])?,
                QkNorm::FullScaleOnly => sum(Q, &[q, kv])?,
            };
            if qk_norms > 0 {
                out.push(Tensor::vector(Norm, Some(layer), qk_norms));
            }
            if att.sinks {
                out.push(Tensor::vector(Sinks, Some(layer), heads));
            }
        }
        AttentionKind::Mla {
            heads,
            q_lora_rank,
            kv_lora_rank,
            qk_nope_head_dim,
            qk_rope_head_dim,
            v_head_dim,
        } => {
            let q_out = product(Q, &[heads, sum(Q, &[qk_nope_head_dim, qk_rope_head_dim])?])?;
            match q_lora_rank {
                Some(r) => {
                    out.push(Tensor::matrix(AttnQA, layer, r, h));
                    out.push(Tensor::vector(
                        Norm,
                        Some(layer),
                        product(Q, &[r, norm_elem])?,
                    ));
                    out.push(Tensor::matrix(AttnQB, layer, q_out, r));
                }
                None => out.push(Tensor::matrix(AttnQ, layer, q_out, h)),
            }
            out.push(Tensor::matrix(
                AttnKvA,
                layer,
                sum(Q, &[kv_lora_rank, qk_rope_head_dim])?,
                h,
            ));
            out.push(Tensor::vector(
                Norm,
                Some(layer),
                product(Q, &[kv_lora_rank, norm_elem])?,
            ));
            out.push(Tensor::matrix(
                AttnKvB,
                layer,
                product(Q, &[heads, sum(Q, &[qk_nope_head_dim, v_head_dim])?])?,
                kv_lora_rank,
            ));
            out.push(Tensor::matrix(
                AttnOutput,
                layer,
                h,
                product(Q, &[heads, v_head_dim])?,
            ));
        }
    }
    if att.bias.output {
        out.push(Tensor::vector(Bias, Some(layer), h));
    }
    Ok(())
}

/// Push one MLP's tensors with the given roles for gate, up and down.
fn mlp(
    h: u64,
    mlp: &Mlp,
    layer: u64,
    [gate, up, down]: [TensorRole; 3],
    out: &mut Vec<Tensor>,
) -> Result<()> {
    let f = mlp.intermediate_size;
    if mlp.kind == MlpKind::Gated {
        out.push(Tensor::matrix(gate, layer, f, h));
    }
    out.push(Tensor::matrix(up, layer, f, h));
    out.push(Tensor::matrix(down, layer, h, f));
    if mlp.bias {
        let inner = match mlp.kind {
            MlpKind::Gated => product(Q, &[2, f])?,
            MlpKind::Plain => f,
        };
        out.push(Tensor::vector(
            TensorRole::Bias,
            Some(layer),
            sum(Q, &[inner, h])?,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::*;
    use crate::params::count;
    use crate::Shape;
    use proptest::prelude::*;

    fn total(arch: &Architecture) -> u64 {
        tensors(arch)
            .unwrap()
            .iter()
            .map(|t| t.elements().unwrap())
            .sum()
    }

    /// Mixtral-8x7B: shared/fixtures/models/mixtral-8x7b-v0.1/config.json.
    pub(crate) fn mixtral_8x7b() -> Architecture {
        let mut a = Shape::llama(32, 4096, 32, 8, 14336, 32000).build().unwrap();
        a.model_type = "mixtral".into();
        a.max_context = 32768;
        a.ffn.moe = Some(Moe {
            num_experts: 8,
            experts_per_token: 2,
            expert: a.ffn.dense,
            shared: None,
            moe_layers: 32,
            router_bias: false,
        });
        a
    }

    #[test]
    fn listing_sums_to_the_count() {
        let llama = Shape::llama(32, 4096, 32, 32, 11008, 32000)
            .build()
            .unwrap();
        assert_eq!(total(&llama), 6_738_415_616); // shared/fixtures/models/llama-2-7b
        let mut gpt2 = Shape::gpt(12, 768, 12, 50257);
        gpt2.max_context = 1024;
        assert_eq!(total(&gpt2.build().unwrap()), 124_439_808); // shared/fixtures/models/gpt2
                                                                // shared/fixtures/models/mixtral-8x7b-v0.1/expected.json: 46_702_792_704
        assert_eq!(total(&mixtral_8x7b()), 46_702_792_704);
        assert_eq!(
            total(&mixtral_8x7b()),
            count(&mixtral_8x7b()).unwrap().total
        );
    }

    #[test]
    fn mla_listing_matches_the_count() {
        // DeepSeek-V3 shape (shared/fixtures/models/deepseek-v3/config.json)
        let mut a = Shape::llama(61, 7168, 128, 128, 18432, 129280)
            .build()
            .unwrap();
        a.attention.kind = AttentionKind::Mla {
            heads: 128,
            q_lora_rank: Some(1536),
            kv_lora_rank: 512,
            qk_nope_head_dim: 128,
            qk_rope_head_dim: 64,
            v_head_dim: 128,
        };
        let expert = Mlp {
            kind: MlpKind::Gated,
            intermediate_size: 2048,
            bias: false,
        };
        a.ffn.moe = Some(Moe {
            num_experts: 256,
            experts_per_token: 8,
            expert,
            shared: Some(SharedExperts {
                mlp: expert,
                gate: false,
            }),
            moe_layers: 58,
            router_bias: false,
        });
        assert_eq!(total(&a), count(&a).unwrap().total);
        assert_eq!(total(&a), 671_026_404_352); // shared/fixtures/models/deepseek-v3/expected.json
    }

    proptest! {
        #[test]
        fn listing_equals_count(l in 1u64..40, hh in 1u64..64, a in 1u64..16, f in 1u64..5000, v in 1u64..70000, gpt in any::<bool>()) {
            let h = hh * a;
            let arch = if gpt {
                Shape::gpt(l, h, a, v).build().unwrap()
            } else {
                Shape::llama(l, h, a, 1, f, v).build().unwrap()
            };
            prop_assert_eq!(total(&arch), count(&arch).unwrap().total);
        }
    }
}

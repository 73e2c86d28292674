//! Fine-tuning methods: full, LoRA and QLoRA; the projection matrices they adapt.
//!
//! LoRA (Hu et al. 2021, arXiv:2106.09685) freezes the base and trains, for each
//! adapted matrix `W` of shape `d_in × d_out`, a pair `A (d_in × r)`, `B (r × d_out)`:
//! `r·(d_in + d_out)` parameters. QLoRA (Dettmers et al. 2023, arXiv:2305.14314)
//! also stores the frozen linear weights in 4-bit NormalFloat with double
//! quantization.

use serde::{Deserialize, Serialize};

use crate::arch::Architecture;
use crate::error::{CoreError, Result};
use crate::ops::OpList;
use crate::params::{block_tensors, Tensor, TensorRole};
use crate::units::{product, sum};

const Q: &str = "adapter parameter count";

/// A projection matrix of a block, as LoRA targets name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Projection {
    /// Query projection (MLA: the query down and up projections).
    Q,
    /// Key projection (MLA: the joint key/value down projection).
    K,
    /// Value projection (MLA: the key/value up projection).
    V,
    /// Attention output projection.
    O,
    /// MLP gate (gated MLPs only).
    Gate,
    /// MLP up projection.
    Up,
    /// MLP down projection.
    Down,
}

impl Projection {
    /// Every projection, in the order help lists them.
    pub const ALL: [Projection; 7] = [
        Projection::Q,
        Projection::K,
        Projection::V,
        Projection::O,
        Projection::Gate,
        Projection::Up,
        Projection::Down,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Projection::Q => "q",
            Projection::K => "k",
            Projection::V => "v",
            Projection::O => "o",
            Projection::Gate => "gate",
            Projection::Up => "up",
            Projection::Down => "down",
        }
    }
}

impl std::str::FromStr for Projection {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase();
        let norm = norm.trim_end_matches("_proj");
        crate::named::find_by_name(&Projection::ALL, Projection::name, "LoRA target", s, norm)
    }
}

/// One kind of weight matrix in the network, and how many copies there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    /// Which projection it is.
    pub projection: Projection,
    /// Input width.
    pub d_in: u64,
    /// Output width.
    pub d_out: u64,
    /// Copies in the whole model (layers × experts).
    pub copies: u64,
}

impl Matrix {
    /// Weights in all copies: `d_in · d_out · copies`.
    pub fn params(&self) -> Result<u64> {
        product("matrix parameters", &[self.d_in, self.d_out, self.copies])
    }
}

/// The projection matrices of every block (attention and MLP, experts included).
///
/// # Formula
/// ```text
/// standard attention: q h×a·d, k h×k·d, v h×k·d, o a·d×h          (× L)
/// MLA:                q h×r_q and r_q×a·(d_n+d_r) (or h×a·(d_n+d_r)),
///                     k h×(r_kv+d_r), v r_kv×a·(d_n+d_v), o a·d_v×h  (× L)
/// MLP:                gate h×f (gated only), up h×f, down f×h        (× dense layers)
/// MoE:                the same per routed expert (× E × MoE layers) and shared expert
/// ```
///
/// A fold over [`crate::params::block_tensors`]: matrices of one shape and projection are
/// listed once with their copies summed. Recurrent mixers' projections take no adapters
/// (PEFT's default targets name attention and MLP modules only).
///
/// # Assumptions / limits
/// MLA has no separate k and v matrices; LoRA's `k` target adapts the joint
/// down projection and `v` the up projection (how PEFT matches DeepSeek's
/// `kv_a_proj_with_mqa` / `kv_b_proj` by name varies; this is our convention).
pub fn matrices(arch: &Architecture) -> Vec<Matrix> {
    let mut out: Vec<Matrix> = Vec::new();
    for (block, layers) in arch.blocks() {
        // a block whose shapes overflow has no adapters to offer; the count reports it
        if let Ok(tensors) = block_tensors(arch, block) {
            add_matrices(&mut out, &tensors, layers);
        }
    }
    out.retain(|m| m.copies > 0);
    out
}

/// [`matrices`] folded over `arch`'s operator list, whose blocks carry their tensors.
pub fn matrices_of(list: &OpList) -> Vec<Matrix> {
    let mut out: Vec<Matrix> = Vec::new();
    for b in &list.blocks {
        add_matrices(&mut out, &b.tensors, b.layers);
    }
    out.retain(|m| m.copies > 0);
    out
}

/// Add the adaptable projections among one block's `tensors`, `layers` times.
fn add_matrices(out: &mut Vec<Matrix>, tensors: &[Tensor], layers: u64) {
    use TensorRole as R;
    for t in tensors {
        let projection = match t.role {
            R::AttnQ | R::AttnQA | R::AttnQB => Projection::Q,
            R::AttnK | R::AttnKvA => Projection::K,
            R::AttnV | R::AttnKvB => Projection::V,
            R::AttnOutput => Projection::O,
            R::FfnGate | R::ExpertGate | R::SharedGate => Projection::Gate,
            R::FfnUp | R::ExpertUp | R::SharedUp => Projection::Up,
            R::FfnDown | R::ExpertDown | R::SharedDown => Projection::Down,
            _ => continue,
        };
        let m = Matrix {
            projection,
            d_in: t.cols,
            d_out: t.rows,
            copies: t.copies.saturating_mul(layers),
        };
        match out
            .iter_mut()
            .find(|x| (x.projection, x.d_in, x.d_out) == (m.projection, m.d_in, m.d_out))
        {
            Some(x) => x.copies = x.copies.saturating_add(m.copies),
            None => out.push(m),
        }
    }
}

/// How the model is trained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Every parameter is trained.
    Full,
    /// Low-rank adapters on a frozen 16-bit base.
    Lora {
        /// Adapter rank `r`.
        rank: u64,
        /// The adapted projections.
        targets: Vec<Projection>,
    },
    /// Low-rank adapters on a frozen NF4 base (double quantization).
    Qlora {
        /// Adapter rank `r`.
        rank: u64,
        /// The adapted projections.
        targets: Vec<Projection>,
        /// The parameters left unquantized (embeddings, head, norms) are cast to
        /// fp32, as PEFT's `prepare_model_for_kbit_training` does; see
        /// [`Method::stored_element_bytes`] for what that does to activations.
        #[serde(default = "upcast_by_default")]
        upcast: bool,
    },
}

/// QLoRA upcasts its unquantized parameters unless told otherwise.
///
/// # Source
/// huggingface/peft `src/peft/utils/other.py` `prepare_model_for_kbit_training`
/// (every fp16/bf16 parameter that is not `Params4bit` becomes fp32); TRL's
/// `SFTTrainer` and the transformers QLoRA recipes call it for a quantized model.
/// Unsloth and axolotl patch it out: `--qlora-upcast false`.
pub const QLORA_UPCAST_DEFAULT: bool = true;

fn upcast_by_default() -> bool {
    QLORA_UPCAST_DEFAULT
}

impl Method {
    /// The method's name (`full`, `lora`, `qlora`).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Full => "full",
            Method::Lora { .. } => "lora",
            Method::Qlora { .. } => "qlora",
        }
    }

    /// The adapter rank and targets, for the adapter methods.
    pub fn adapters(&self) -> Option<(u64, &[Projection])> {
        match self {
            Method::Full => None,
            Method::Lora { rank, targets } | Method::Qlora { rank, targets, .. } => {
                Some((*rank, targets))
            }
        }
    }

    /// Bytes of one element of what stays in 16 bits in a plain run: the unquantized
    /// parameters of a QLoRA base, the tensors a layer stores for its backward pass
    /// and the logits. 2, or 4 under an upcast QLoRA base.
    ///
    /// # Formula
    /// ```text
    /// 4 if Qlora { upcast: true } else 2
    /// ```
    ///
    /// # Source
    /// PyTorch type promotion: the fp32 norm weight times a bf16 hidden state is fp32
    /// (transformers `LlamaRMSNorm.forward`: `self.weight * hidden_states.to(input_dtype)`);
    /// bitsandbytes `Linear4bit.forward` returns its input's dtype (`out.to(inp_dtype)`),
    /// so the projections after an fp32 norm and the residual stream they feed stay
    /// fp32, and the fp32 head writes fp32 logits. transformers' flash-attention
    /// integration warns of exactly this ("the input hidden states seems to be
    /// silently casted in float32") and casts q, k, v back for the kernel.
    pub fn stored_element_bytes(&self) -> u64 {
        match self {
            Method::Qlora { upcast: true, .. } => 4,
            _ => 2,
        }
    }
}

/// Trainable adapter parameters: `Σ r·(d_in + d_out)` over every adapted matrix copy.
///
/// # Formula
/// ```text
/// adapters = Σ_{matrices m with projection ∈ targets} copies(m) · r · (d_in(m) + d_out(m))
/// ```
///
/// # Source
/// Hu et al. 2021 (LoRA) §4: `W + B·A` with `B ∈ ℝ^{d×r}`, `A ∈ ℝ^{r×k}`.
///
/// # Example
/// Llama-3.1-8B, r = 8 on q and v: 32 · 8 · ((4096+4096) + (4096+1024)) = 3,407,872.
///
/// # Errors
/// [`CoreError::Zero`] for rank 0; [`CoreError::Overflow`] on overflow.
pub fn adapter_params(arch: &Architecture, rank: u64, targets: &[Projection]) -> Result<u64> {
    adapter_params_in(&matrices(arch), rank, targets)
}

/// [`adapter_params`] over the matrices of [`matrices`] or [`matrices_of`].
///
/// # Errors
/// As [`adapter_params`].
pub fn adapter_params_in(matrices: &[Matrix], rank: u64, targets: &[Projection]) -> Result<u64> {
    if rank == 0 {
        return Err(CoreError::Zero { field: "lora_rank" });
    }
    let mut total = 0;
    for m in matrices {
        if targets.contains(&m.projection) {
            let one = product(Q, &[rank, sum(Q, &[m.d_in, m.d_out])?, m.copies])?;
            total = sum(Q, &[total, one])?;
        }
    }
    Ok(total)
}

/// Weights per NF4 quantization block (QLoRA §3, "4-bit NormalFloat").
pub const NF4_BLOCK: u64 = 64;
/// First-level blocks per second-level fp32 constant (QLoRA §3, "Double Quantization").
pub const NF4_SECOND_BLOCK: u64 = 256;

/// Bytes of one weight tensor of `n` values in NF4 with double quantization.
///
/// # Formula
/// ```text
/// bytes = ⌈n/2⌉ (4-bit codes) + ⌈n/64⌉ (8-bit block scales) + 4·⌈n/(64·256)⌉ (fp32 second-level scales)
/// bits per weight → 4 + 8/64 + 32/(64·256) = 4.127
/// ```
///
/// # Source
/// Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs"
/// (arXiv:2305.14314) §3: double quantization cuts the constants from 32/64 =
/// 0.5 to 8/64 + 32/(64·256) = 0.127 bits per parameter.
pub fn nf4_bytes(n: u64) -> Result<u64> {
    let blocks = n.div_ceil(NF4_BLOCK);
    sum(
        "NF4 bytes",
        &[
            n.div_ceil(2),
            blocks,
            product("NF4 bytes", &[4, blocks.div_ceil(NF4_SECOND_BLOCK)])?,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;

    fn llama31_8b() -> Architecture {
        // shared/fixtures/models/llama-3.1-8b: 32 layers, h 4096, 32 heads, 8 KV heads, f 14336, V 128256
        crate::testing::llama31_8b()
    }

    #[test]
    fn matrices_cover_every_projection_weight() {
        let arch = llama31_8b();
        let count = params::count(&arch).unwrap();
        let total: u64 = matrices(&arch).iter().map(|m| m.params().unwrap()).sum();
        // the rest is embeddings, head and norms: 2·V·h + (2L + 1)·h
        assert_eq!(total + 2 * 128256 * 4096 + (2 * 32 + 1) * 4096, count.total);
    }

    #[test]
    fn lora_counts_rank_times_widths() {
        let arch = llama31_8b();
        // 32 · 8 · ((4096 + 4096) + (4096 + 1024))
        assert_eq!(
            adapter_params(&arch, 8, &[Projection::Q, Projection::V]).unwrap(),
            3_407_872
        );
        // all seven: per layer q 8192+k 5120+v 5120+o 8192 + 3·(4096+14336), r = 16
        let all = adapter_params(&arch, 16, &Projection::ALL).unwrap();
        assert_eq!(all, 32 * 16 * (8192 + 5120 + 5120 + 8192 + 3 * 18432));
        assert!(adapter_params(&arch, 0, &Projection::ALL).is_err());
    }

    #[test]
    fn nf4_double_quant_is_4_127_bits() {
        // 64·256 weights: 8192 code bytes + 256 scale bytes + one fp32 constant
        assert_eq!(nf4_bytes(64 * 256).unwrap(), 8192 + 256 + 4);
        let n = 4096 * 14336;
        let bits = nf4_bytes(n).unwrap() as f64 * 8.0 / n as f64;
        assert!((bits - (4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0))).abs() < 1e-9);
        assert!((bits - 4.127).abs() < 1e-3);
    }

    #[test]
    fn targets_parse_with_or_without_proj() {
        assert_eq!("q_proj".parse::<Projection>().unwrap(), Projection::Q);
        assert_eq!("Down".parse::<Projection>().unwrap(), Projection::Down);
        assert!("qkv".parse::<Projection>().is_err());
    }
}

//! GGUF (llama.cpp) tensor types and the file types that mix them.
//!
//! A GGUF tensor type is a block layout (`block_q4_K`: 256 values in 144 bytes).
//! A file type such as `Q4_K_M` is a recipe: llama.cpp's `llama_tensor_get_type`
//! picks a tensor type per tensor from its role and layer (more bits for
//! `attn_v` and some `ffn_down`, `Q6_K` for the output). This module reproduces
//! that recipe for the roles sizeup lists, so a file's size comes out exact.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::BlockLayout;
use crate::params::TensorRole;

/// A ggml tensor type, with its block layout.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// bfloat16.
    BF16,
    /// 32 weights: fp16 scale + 32 × 4 bit (18 bytes).
    Q4_0,
    /// 32 weights: fp16 scale and min + 32 × 4 bit (20 bytes).
    Q4_1,
    /// 32 weights: fp16 scale + 32 high bits + 32 × 4 bit (22 bytes).
    Q5_0,
    /// 32 weights: fp16 scale and min + 32 high bits + 32 × 4 bit (24 bytes).
    Q5_1,
    /// 32 weights: fp16 scale + 32 × int8 (34 bytes).
    Q8_0,
    /// 256 weights: 16 4-bit scale/min pairs, 256 × 2 bit, fp16 d and dmin (84 bytes).
    Q2_K,
    /// 256 weights: high-bit mask, 256 × 2 bit, 12 bytes of 6-bit scales, fp16 d (110 bytes).
    Q3_K,
    /// 256 weights: fp16 d and dmin, 12 bytes of 6-bit scales, 256 × 4 bit (144 bytes).
    Q4_K,
    /// 256 weights: as Q4_K plus 32 bytes of high bits (176 bytes).
    Q5_K,
    /// 256 weights: 128 low-nibble + 64 high-bit bytes, 16 int8 scales, fp16 d (210 bytes).
    Q6_K,
    /// 256 weights: fp16 d + 32 × u16 grid indices (66 bytes).
    IQ2_XXS,
    /// 256 weights: fp16 d + 32 × u16 + 8 scale bytes (74 bytes).
    IQ2_XS,
    /// 256 weights: fp16 d + 64 + 8 + 8 bytes (82 bytes).
    IQ2_S,
    /// 256 weights: fp16 d + 96 bytes (98 bytes).
    IQ3_XXS,
    /// 256 weights: fp16 d + 64 + 8 + 32 + 4 bytes (110 bytes).
    IQ3_S,
    /// 256 weights: fp16 d + 32 + 16 bytes (50 bytes).
    IQ1_S,
    /// 256 weights: 32 + 16 + 8 bytes (56 bytes).
    IQ1_M,
    /// 32 weights: fp16 d + 16 bytes of non-linear 4-bit codes (18 bytes).
    IQ4_NL,
    /// 256 weights: fp16 d, u16 high scale bits, 4 low scale bytes, 128 bytes (136 bytes).
    IQ4_XS,
    /// 64-bit float.
    F64,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32 weights: fp16 scale and sum + 32 × int8 (36 bytes; activations).
    Q8_1,
    /// 256 weights: fp32 scale, 256 × int8, 16 int16 block sums (292 bytes; activations).
    Q8_K,
    /// Ternary, 256 weights in 54 bytes.
    TQ1_0,
    /// Ternary, 256 weights: 64 bytes of 2-bit codes + fp16 d (66 bytes).
    TQ2_0,
    /// OCP microscaling FP4, 32 weights: one E8M0 scale byte + 16 bytes (17 bytes).
    MXFP4,
    /// NVIDIA FP4, 64 weights: four E4M3 scale bytes + 32 bytes (36 bytes).
    NVFP4,
    /// 128 weights: fp16 d + 128 × 1 bit (18 bytes).
    Q1_0,
    /// 64 weights: fp16 d + 64 × 2 bit (18 bytes).
    Q2_0,
}

impl GgmlType {
    /// Every tensor type: the weight types first, then those GGUF files may hold
    /// for other tensors (integers, F64, activation types) and the newest formats.
    pub const ALL: [GgmlType; 35] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::IQ2_XXS,
        GgmlType::IQ2_XS,
        GgmlType::IQ2_S,
        GgmlType::IQ3_XXS,
        GgmlType::IQ3_S,
        GgmlType::IQ1_S,
        GgmlType::IQ1_M,
        GgmlType::IQ4_NL,
        GgmlType::IQ4_XS,
        GgmlType::F64,
        GgmlType::I8,
        GgmlType::I16,
        GgmlType::I32,
        GgmlType::I64,
        GgmlType::Q8_1,
        GgmlType::Q8_K,
        GgmlType::TQ1_0,
        GgmlType::TQ2_0,
        GgmlType::MXFP4,
        GgmlType::NVFP4,
        GgmlType::Q1_0,
        GgmlType::Q2_0,
    ];

    /// The id GGUF tensor infos store (`enum ggml_type` in ggml's `include/ggml.h`).
    /// Ids 4, 5, 31–33 and 36–38 belong to removed types.
    pub fn id(self) -> u32 {
        use GgmlType::*;
        match self {
            F32 => 0,
            F16 => 1,
            Q4_0 => 2,
            Q4_1 => 3,
            Q5_0 => 6,
            Q5_1 => 7,
            Q8_0 => 8,
            Q8_1 => 9,
            Q2_K => 10,
            Q3_K => 11,
            Q4_K => 12,
            Q5_K => 13,
            Q6_K => 14,
            Q8_K => 15,
            IQ2_XXS => 16,
            IQ2_XS => 17,
            IQ3_XXS => 18,
            IQ1_S => 19,
            IQ4_NL => 20,
            IQ3_S => 21,
            IQ2_S => 22,
            IQ4_XS => 23,
            I8 => 24,
            I16 => 25,
            I32 => 26,
            I64 => 27,
            F64 => 28,
            IQ1_M => 29,
            BF16 => 30,
            TQ1_0 => 34,
            TQ2_0 => 35,
            MXFP4 => 39,
            NVFP4 => 40,
            Q1_0 => 41,
            Q2_0 => 42,
        }
    }

    /// The type with this GGUF id; `None` for unknown and removed ids.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|t| t.id() == id)
    }

    /// Bytes per block and values per block.
    ///
    /// # Source
    /// ggml `ggml-common.h`: the `block_*` structs and their `static_assert`s on
    /// `sizeof` (e.g. `block_q4_K == 2*sizeof(ggml_half) + K_SCALE_SIZE + QK_K/2`).
    pub fn layout(self) -> BlockLayout {
        use GgmlType::*;
        let (bytes, elements) = match self {
            F32 => (4, 1),
            F16 | BF16 => (2, 1),
            Q4_0 | IQ4_NL => (18, 32),
            Q4_1 => (20, 32),
            Q5_0 => (22, 32),
            Q5_1 => (24, 32),
            Q8_0 => (34, 32),
            Q2_K => (84, 256),
            Q3_K => (110, 256),
            Q4_K => (144, 256),
            Q5_K => (176, 256),
            Q6_K => (210, 256),
            IQ2_XXS => (66, 256),
            IQ2_XS => (74, 256),
            IQ2_S => (82, 256),
            IQ3_XXS => (98, 256),
            IQ3_S => (110, 256),
            IQ1_S => (50, 256),
            IQ1_M => (56, 256),
            IQ4_XS => (136, 256),
            F64 | I64 => (8, 1),
            I32 => (4, 1),
            I16 => (2, 1),
            I8 => (1, 1),
            // 2·half + QK8_1
            Q8_1 => (36, 32),
            // float + QK_K + QK_K/16·sizeof(int16)
            Q8_K => (292, 256),
            // half + QK_K/64 + (QK_K − 4·QK_K/64)/5
            TQ1_0 => (54, 256),
            // half + QK_K/4
            TQ2_0 => (66, 256),
            // uint8 e + QK_MXFP4/2
            MXFP4 => (17, 32),
            // QK_NVFP4/QK_NVFP4_SUB scale bytes + QK_NVFP4/2
            NVFP4 => (36, 64),
            // half + QK1_0/8
            Q1_0 => (18, 128),
            // half + QK2_0/4
            Q2_0 => (18, 64),
        };
        BlockLayout { bytes, elements }
    }

    /// The name ggml prints (`q4_K`, `f16`).
    pub fn name(self) -> &'static str {
        use GgmlType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            BF16 => "bf16",
            Q4_0 => "q4_0",
            Q4_1 => "q4_1",
            Q5_0 => "q5_0",
            Q5_1 => "q5_1",
            Q8_0 => "q8_0",
            Q2_K => "q2_K",
            Q3_K => "q3_K",
            Q4_K => "q4_K",
            Q5_K => "q5_K",
            Q6_K => "q6_K",
            IQ2_XXS => "iq2_xxs",
            IQ2_XS => "iq2_xs",
            IQ2_S => "iq2_s",
            IQ3_XXS => "iq3_xxs",
            IQ3_S => "iq3_s",
            IQ1_S => "iq1_s",
            IQ1_M => "iq1_m",
            IQ4_NL => "iq4_nl",
            IQ4_XS => "iq4_xs",
            F64 => "f64",
            I8 => "i8",
            I16 => "i16",
            I32 => "i32",
            I64 => "i64",
            Q8_1 => "q8_1",
            Q8_K => "q8_K",
            TQ1_0 => "tq1_0",
            TQ2_0 => "tq2_0",
            MXFP4 => "mxfp4",
            NVFP4 => "nvfp4",
            Q1_0 => "q1_0",
            Q2_0 => "q2_0",
        }
    }

    /// The type llama.cpp falls back to when a row length is not a multiple of
    /// this type's block (`tensor_type_fallback`); `None` for types without one.
    fn fallback(self) -> Option<GgmlType> {
        use GgmlType::*;
        match self {
            IQ1_S | IQ1_M | IQ2_XXS | IQ2_XS | IQ2_S | IQ3_XXS | IQ3_S | IQ4_XS => Some(IQ4_NL),
            Q2_K | Q3_K => Some(Q4_0),
            Q4_K => Some(Q5_0),
            Q5_K => Some(Q5_1),
            Q6_K => Some(Q8_0),
            _ => None,
        }
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A llama.cpp file type (`LLAMA_FTYPE_MOSTLY_*`): the recipe `llama-quantize` applies.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GgufFileType {
    /// Everything 16-bit (norms f32).
    F16,
    /// Everything bfloat16 (norms f32).
    BF16,
    /// Q4_0, output Q6_K.
    Q4_0,
    /// Q4_1, output Q6_K.
    Q4_1,
    /// Q5_0, output Q6_K.
    Q5_0,
    /// Q5_1, output Q6_K.
    Q5_1,
    /// Q8_0 everywhere.
    Q8_0,
    /// Q2_K with Q3_K/Q4_K on sensitive tensors.
    Q2_K,
    /// Q3_K small.
    Q3_K_S,
    /// Q3_K medium.
    Q3_K_M,
    /// Q3_K large.
    Q3_K_L,
    /// Q4_K small.
    Q4_K_S,
    /// Q4_K medium: Q6_K on half the `attn_v` and `ffn_down`.
    Q4_K_M,
    /// Q5_K small.
    Q5_K_S,
    /// Q5_K medium: Q6_K on half the `attn_v` and `ffn_down`.
    Q5_K_M,
    /// Q6_K everywhere.
    Q6_K,
    /// IQ4_NL.
    IQ4_NL,
    /// IQ4_XS.
    IQ4_XS,
}

/// What llama.cpp's recipe looks at when it picks a tensor's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorContext {
    /// The tensor's role.
    pub role: TensorRole,
    /// Its block, for per-layer rules.
    pub layer: Option<u64>,
    /// Row length (`ne[0]`), which must be a multiple of the block size.
    pub cols: u64,
    /// `n_layer`: blocks of the model.
    pub layers: u64,
    /// Tensors whose name contains `ffn_down` (llama.cpp's `n_ffn_down`): one per
    /// block, two in MoE blocks with shared experts.
    pub ffn_down_tensors: u64,
    /// Routed experts `E` (0 for dense models).
    pub experts: u64,
    /// Query heads per KV head (`n_gqa`).
    pub gqa: u64,
    /// The embedding is tied to the LM head.
    pub tied_embeddings: bool,
}

impl GgufFileType {
    /// Every file type, in the order help lists them.
    pub const ALL: [GgufFileType; 18] = [
        GgufFileType::F16,
        GgufFileType::BF16,
        GgufFileType::Q4_0,
        GgufFileType::Q4_1,
        GgufFileType::Q5_0,
        GgufFileType::Q5_1,
        GgufFileType::Q8_0,
        GgufFileType::Q2_K,
        GgufFileType::Q3_K_S,
        GgufFileType::Q3_K_M,
        GgufFileType::Q3_K_L,
        GgufFileType::Q4_K_S,
        GgufFileType::Q4_K_M,
        GgufFileType::Q5_K_S,
        GgufFileType::Q5_K_M,
        GgufFileType::Q6_K,
        GgufFileType::IQ4_NL,
        GgufFileType::IQ4_XS,
    ];

    /// The name `llama-quantize` takes (`Q4_K_M`).
    pub fn name(self) -> &'static str {
        use GgufFileType::*;
        match self {
            F16 => "F16",
            BF16 => "BF16",
            Q4_0 => "Q4_0",
            Q4_1 => "Q4_1",
            Q5_0 => "Q5_0",
            Q5_1 => "Q5_1",
            Q8_0 => "Q8_0",
            Q2_K => "Q2_K",
            Q3_K_S => "Q3_K_S",
            Q3_K_M => "Q3_K_M",
            Q3_K_L => "Q3_K_L",
            Q4_K_S => "Q4_K_S",
            Q4_K_M => "Q4_K_M",
            Q5_K_S => "Q5_K_S",
            Q5_K_M => "Q5_K_M",
            Q6_K => "Q6_K",
            IQ4_NL => "IQ4_NL",
            IQ4_XS => "IQ4_XS",
        }
    }

    /// The tensor type most tensors get (llama.cpp `default_type` per ftype).
    pub fn base_type(self) -> GgmlType {
        use GgmlType as T;
        use GgufFileType as F;
        match self {
            F::F16 => T::F16,
            F::BF16 => T::BF16,
            F::Q4_0 => T::Q4_0,
            F::Q4_1 => T::Q4_1,
            F::Q5_0 => T::Q5_0,
            F::Q5_1 => T::Q5_1,
            F::Q8_0 => T::Q8_0,
            F::Q2_K => T::Q2_K,
            F::Q3_K_S | F::Q3_K_M | F::Q3_K_L => T::Q3_K,
            F::Q4_K_S | F::Q4_K_M => T::Q4_K,
            F::Q5_K_S | F::Q5_K_M => T::Q5_K,
            F::Q6_K => T::Q6_K,
            F::IQ4_NL => T::IQ4_NL,
            F::IQ4_XS => T::IQ4_XS,
        }
    }

    /// The tensor type `llama-quantize` gives one tensor under this file type.
    ///
    /// # Source
    /// llama.cpp `src/llama-quant.cpp`: `tensor_allows_quantization`,
    /// `llama_tensor_get_type_impl` and `tensor_type_fallback`
    /// (ggml-org/llama.cpp, 2025), without an importance matrix. The rules kept:
    /// - vectors, routers and position embeddings are not quantized (f32; positions f16);
    /// - `output` (and a tied `token_embd`) get Q6_K unless the file is Q8_0, or
    ///   Q8_0 when `h` is not a multiple of the block;
    /// - `attn_v` (and MLA `attn_kv_b`): Q2_K → Q4_K if `n_gqa ≥ 4` else Q3_K;
    ///   Q3_K_M → Q5_K on the first two, then Q4_K; Q3_K_L → Q5_K; IQ4_* → Q5_K if
    ///   `n_gqa ≥ 4`; Q4_K_M/Q5_K_M → Q6_K where `use_more_bits`; Q4_K_S → Q5_K on
    ///   the first four; a 70B (80-layer) model bumps Q3_K/Q4_K to Q5_K; 8 experts → Q8_0;
    /// - `attn_k`: 8 experts → Q8_0;
    /// - `ffn_down`: Q2_K → Q3_K; Q3_K_M → Q5_K below `n/16`, else Q4_K; Q3_K_L → Q5_K;
    ///   Q4_K_M/Q5_K_M → Q6_K where `use_more_bits`; IQ4_* → Q5_K below `n/8`;
    ///   Q4_K_S → Q5_K below `n/8`;
    /// - `attn_output`: 8 experts with Q2_K, Q3_K_S/M, Q4_K_S/M, IQ4_* → Q5_K;
    ///   otherwise Q2_K → Q3_K, Q3_K_M → Q4_K, Q3_K_L → Q5_K.
    ///
    /// `use_more_bits(i, n) = i < n/8 || i ≥ 7n/8 || (i − n/8) % 3 == 2`.
    ///
    /// # Assumptions / limits
    /// Falcon's special cases and the IQ1/IQ2/IQ3 file types are not modelled.
    /// `n_attention_wv` is one `attn_v` per block.
    pub fn tensor_type(self, t: &TensorContext) -> GgmlType {
        use GgmlType as T;
        use GgufFileType as F;
        use TensorRole as R;
        let base = self.base_type();
        if !base.is_quantized() {
            return match t.role {
                r if r.is_vector() || matches!(r, R::Router | R::SharedExpertGate) => T::F32,
                _ => base,
            };
        }
        match t.role {
            r if r.is_vector() || matches!(r, R::Router | R::SharedExpertGate) => return T::F32,
            R::PositionEmbedding | R::Extra => return T::F16,
            _ => {}
        }
        let layer = t.layer.unwrap_or(0);
        let n = t.layers;
        let eight_experts = t.experts == 8;
        let chosen = match t.role {
            R::LmHead => self.output_type(t.cols),
            R::TokenEmbedding if t.tied_embeddings => self.output_type(t.cols),
            R::AttnV | R::AttnKvB => {
                let mut ty = match self {
                    F::Q2_K if t.gqa >= 4 => T::Q4_K,
                    F::Q2_K => T::Q3_K,
                    F::Q3_K_M if layer < 2 => T::Q5_K,
                    F::Q3_K_M => T::Q4_K,
                    F::Q3_K_L => T::Q5_K,
                    F::IQ4_NL | F::IQ4_XS if t.gqa >= 4 => T::Q5_K,
                    F::Q4_K_M | F::Q5_K_M if use_more_bits(layer, n) => T::Q6_K,
                    F::Q4_K_S if layer < 4 => T::Q5_K,
                    _ => base,
                };
                // llama.cpp: "In the 70B model we have 8 heads sharing the same attn_v weights"
                if n == 80 && matches!(ty, T::Q3_K | T::Q4_K) {
                    ty = T::Q5_K;
                }
                if eight_experts {
                    ty = T::Q8_0;
                }
                ty
            }
            R::AttnK if eight_experts => T::Q8_0,
            R::FfnDown | R::ExpertDown | R::SharedDown => {
                let m = t.ffn_down_tensors;
                match self {
                    F::Q2_K => T::Q3_K,
                    F::Q3_K_M if layer < m / 16 => T::Q5_K,
                    F::Q3_K_M => T::Q4_K,
                    F::Q3_K_L => T::Q5_K,
                    F::Q4_K_M | F::Q5_K_M if use_more_bits(layer, m) => T::Q6_K,
                    F::IQ4_NL | F::IQ4_XS if layer < m / 8 => T::Q5_K,
                    F::Q4_K_S if layer < m / 8 => T::Q5_K,
                    _ => base,
                }
            }
            R::AttnOutput if eight_experts => match self {
                F::Q2_K | F::Q3_K_S | F::Q3_K_M | F::IQ4_NL | F::Q4_K_S | F::Q4_K_M | F::IQ4_XS => {
                    T::Q5_K
                }
                _ => base,
            },
            R::AttnOutput => match self {
                F::Q2_K => T::Q3_K,
                F::Q3_K_M => T::Q4_K,
                F::Q3_K_L => T::Q5_K,
                _ => base,
            },
            _ => base,
        };
        fall_back(chosen, t.cols)
    }

    /// `output.weight`: Q8_0 when the row does not split into blocks, else Q6_K
    /// unless the file is Q8_0.
    fn output_type(self, cols: u64) -> GgmlType {
        let base = self.base_type();
        if cols % base.layout().elements != 0 {
            GgmlType::Q8_0
        } else if base != GgmlType::Q8_0 {
            GgmlType::Q6_K
        } else {
            base
        }
    }
}

impl GgmlType {
    /// Whether the type stores blocks with scales (not a plain float or integer).
    pub fn is_quantized(self) -> bool {
        self.layout().elements > 1
    }
}

/// `tensor_type_fallback`: a type whose block does not divide the row falls back
/// to a 32-wide type, and to F16 if even that does not divide it.
fn fall_back(ty: GgmlType, cols: u64) -> GgmlType {
    if cols % ty.layout().elements == 0 {
        return ty;
    }
    match ty.fallback() {
        Some(f) if cols % f.layout().elements == 0 => f,
        _ => GgmlType::F16,
    }
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every
/// third one between them.
fn use_more_bits(i: u64, n: u64) -> bool {
    let (i, n) = (i as i128, n as i128);
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

impl fmt::Display for GgufFileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_per_weight_from_block_layouts() {
        // ggml-common.h comments: "Effectively 2.625 / 3.4375 / 4.5 / 5.5 / 6.5625 bits per weight"
        let bpw = |t: GgmlType| t.layout().bits_per_element();
        assert_eq!(bpw(GgmlType::Q2_K), 2.625);
        assert_eq!(bpw(GgmlType::Q3_K), 3.4375);
        assert_eq!(bpw(GgmlType::Q4_K), 4.5);
        assert_eq!(bpw(GgmlType::Q5_K), 5.5);
        assert_eq!(bpw(GgmlType::Q6_K), 6.5625);
        assert_eq!(bpw(GgmlType::Q4_0), 4.5);
        assert_eq!(bpw(GgmlType::Q8_0), 8.5);
        assert_eq!(bpw(GgmlType::IQ4_XS), 4.25);
        assert_eq!(bpw(GgmlType::IQ2_XXS), 2.0625); // "ends up using 2.0625 bpw"
    }

    #[test]
    fn ids_and_block_sizes_match_ggml() {
        // ggml @ d99724f: ids from include/ggml.h, (values, bytes) per block from the
        // static_asserts in src/ggml-common.h
        let expected = [
            (GgmlType::F32, 0, 1, 4),
            (GgmlType::F16, 1, 1, 2),
            (GgmlType::Q4_0, 2, 32, 18),
            (GgmlType::Q4_1, 3, 32, 20),
            (GgmlType::Q5_0, 6, 32, 22),
            (GgmlType::Q5_1, 7, 32, 24),
            (GgmlType::Q8_0, 8, 32, 34),
            (GgmlType::Q8_1, 9, 32, 36),
            (GgmlType::Q2_K, 10, 256, 84),
            (GgmlType::Q3_K, 11, 256, 110),
            (GgmlType::Q4_K, 12, 256, 144),
            (GgmlType::Q5_K, 13, 256, 176),
            (GgmlType::Q6_K, 14, 256, 210),
            (GgmlType::Q8_K, 15, 256, 292),
            (GgmlType::IQ2_XXS, 16, 256, 66),
            (GgmlType::IQ2_XS, 17, 256, 74),
            (GgmlType::IQ3_XXS, 18, 256, 98),
            (GgmlType::IQ1_S, 19, 256, 50),
            (GgmlType::IQ4_NL, 20, 32, 18),
            (GgmlType::IQ3_S, 21, 256, 110),
            (GgmlType::IQ2_S, 22, 256, 82),
            (GgmlType::IQ4_XS, 23, 256, 136),
            (GgmlType::I8, 24, 1, 1),
            (GgmlType::I16, 25, 1, 2),
            (GgmlType::I32, 26, 1, 4),
            (GgmlType::I64, 27, 1, 8),
            (GgmlType::F64, 28, 1, 8),
            (GgmlType::IQ1_M, 29, 256, 56),
            (GgmlType::BF16, 30, 1, 2),
            (GgmlType::TQ1_0, 34, 256, 54),
            (GgmlType::TQ2_0, 35, 256, 66),
            (GgmlType::MXFP4, 39, 32, 17),
            (GgmlType::NVFP4, 40, 64, 36),
            (GgmlType::Q1_0, 41, 128, 18),
            (GgmlType::Q2_0, 42, 64, 18),
        ];
        assert_eq!(expected.len(), GgmlType::ALL.len());
        for (t, id, elements, bytes) in expected {
            assert_eq!(t.id(), id, "{t}");
            assert_eq!(GgmlType::from_id(id), Some(t));
            assert_eq!(t.layout(), BlockLayout { bytes, elements }, "{t}");
        }
        for removed in [4, 5, 31, 32, 33, 36, 37, 38, 43] {
            assert_eq!(GgmlType::from_id(removed), None);
        }
        assert!(!GgmlType::I32.is_quantized());
        assert!(GgmlType::MXFP4.is_quantized());
    }

    #[test]
    fn use_more_bits_matches_llama_cpp() {
        // 32 layers: 0..4, 28..32, and 4 + 3k + 2 = 6, 9, …, 27 → 16 of 32
        let picked: Vec<u64> = (0..32).filter(|&i| use_more_bits(i, 32)).collect();
        assert_eq!(picked.len(), 16);
        assert_eq!(&picked[..6], &[0, 1, 2, 3, 6, 9]);
    }

    #[test]
    fn fallback_for_odd_rows() {
        // a row of 4864 = 19·256 keeps Q4_K; 4800 = 150·32 is not a multiple of 256 → Q5_0
        assert_eq!(fall_back(GgmlType::Q4_K, 4864), GgmlType::Q4_K);
        assert_eq!(fall_back(GgmlType::Q4_K, 4800), GgmlType::Q5_0);
        assert_eq!(fall_back(GgmlType::Q6_K, 100), GgmlType::F16);
    }
}

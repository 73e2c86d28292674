//! Weight formats: how a checkpoint stores each tensor, scales included.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::gguf::{GgmlType, GgufFileType, TensorContext};
use crate::error::{CoreError, Result};
use crate::params::TensorRole;
use crate::units::{product, sum};

const Q: &str = "weight bytes";

/// A weight storage format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightFormat {
    /// IEEE single precision, 4 bytes.
    Fp32,
    /// bfloat16, 2 bytes.
    Bf16,
    /// IEEE half precision, 2 bytes.
    Fp16,
    /// FP8 e4m3 with one fp32 scale per tensor (W8A8 FP8 checkpoints).
    Fp8E4m3,
    /// int8 with one 16-bit scale per output channel (W8A8 int8, SmoothQuant).
    Int8PerChannel,
    /// GPTQ int4: packed 4-bit weights, per group of `group` inputs a 16-bit scale
    /// and a 4-bit zero, plus an int32 `g_idx` per input channel.
    Gptq {
        /// Input channels sharing one scale and zero (128 is usual).
        group: u64,
    },
    /// AWQ int4: as GPTQ without `g_idx`.
    Awq {
        /// Input channels sharing one scale and zero (128 is usual).
        group: u64,
    },
    /// bitsandbytes NF4: 4-bit codes, one absmax per 64 weights (fp32, or 8-bit
    /// with double quantization).
    BnbNf4 {
        /// Quantize the absmax values again (QLoRA's double quantization).
        double_quant: bool,
    },
    /// bitsandbytes LLM.int8(): int8 weights with an fp32 scale per output row.
    BnbInt8,
    /// A llama.cpp GGUF file type (a per-tensor mixture such as `Q4_K_M`).
    Gguf(GgufFileType),
    /// FP8 e4m3 with an fp32 scale per `block × block` tile (DeepSeek-V3, Qwen3-FP8:
    /// `weight_block_size: [128, 128]`), W8A8 with block scaling.
    Fp8Block {
        /// Tile side (128 in every released checkpoint).
        block: u64,
    },
    /// FP8 e4m3 per tensor on the MLP and experts only; attention stays 16-bit
    /// (checkpoints that keep attention in bf16 for quality).
    Fp8Mlp,
    /// OCP MXFP4: 4-bit e2m1 values, one e8m0 scale byte per 32 inputs.
    Mxfp4 {
        /// Only the routed experts are MXFP4 (gpt-oss); the rest stays 16-bit.
        experts_only: bool,
    },
    /// NVIDIA NVFP4: 4-bit e2m1 values, an fp8 e4m3 scale per 16 inputs and an
    /// fp32 global scale per tensor (and one for its input).
    Nvfp4 {
        /// Only the routed experts are NVFP4; the rest stays 16-bit.
        experts_only: bool,
    },
}

/// The arithmetic the matrix products run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ComputePrecision {
    /// FP32 (no tensor cores).
    Fp32,
    /// BF16/FP16 tensor cores.
    Bf16,
    /// FP8 tensor cores.
    Fp8,
    /// INT8 tensor cores.
    Int8,
}

/// How one tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A plain float of this many bytes.
    Float(u64),
    /// A ggml block type.
    Ggml(GgmlType),
    /// FP8 with one fp32 scale per tensor.
    Fp8PerTensor,
    /// int8 with a 16-bit scale per output row.
    Int8PerRow,
    /// GPTQ or AWQ int4 with a group size, and `g_idx` or not.
    Int4Grouped {
        /// Inputs per group.
        group: u64,
        /// Store GPTQ's int32 `g_idx`.
        g_idx: bool,
    },
    /// bitsandbytes NF4, blocks of 64.
    Nf4 {
        /// Double quantization of the absmax values.
        double_quant: bool,
    },
    /// bitsandbytes LLM.int8().
    BnbInt8,
    /// FP8 with an fp32 scale per `block × block` tile.
    Fp8Block {
        /// Tile side.
        block: u64,
    },
    /// MXFP4: 4-bit values, an 8-bit scale per 32 inputs.
    Mxfp4,
    /// NVFP4: 4-bit values, an 8-bit scale per 16 inputs, two fp32 scales per tensor.
    Nvfp4,
}

/// Inputs per MXFP4 scale (OCP Microscaling Formats spec v1.0, §5: block size 32).
const MXFP4_BLOCK: u64 = 32;
/// Inputs per NVFP4 scale (NVIDIA Blackwell NVFP4: 16-element micro-blocks with an
/// e4m3 scale, plus an fp32 per-tensor scale).
const NVFP4_BLOCK: u64 = 16;

/// bitsandbytes `Params4bit` default block size.
const NF4_BLOCK: u64 = 64;
/// Blocks per second-level absmax with double quantization (bitsandbytes `blocksize=256`).
const NF4_NESTED_BLOCK: u64 = 256;

impl Storage {
    /// Exact bytes for `copies` tensors of `rows × cols`.
    ///
    /// # Formula
    /// ```text
    /// float:     n · bytes
    /// ggml:      rows · copies · ⌈cols / block⌉ · block_bytes
    /// fp8:       n + 4 (fp32 scale) per copy
    /// int8/row:  n + 2 · rows per copy
    /// int4 g:    n/2 + rows·⌈cols/g⌉·(2 + 1/2) (+ 4·cols g_idx) per copy
    /// nf4:       n/2 + 4·⌈n/64⌉, or with double quant n/2 + ⌈n/64⌉ + 4·⌈n/16384⌉ + 1028
    /// bnb int8:  n + 4 · rows per copy
    /// fp8 block: n + 4 · ⌈rows/b⌉ · ⌈cols/b⌉ per copy
    /// mxfp4:     n/2 + rows · ⌈cols/32⌉ per copy
    /// nvfp4:     n/2 + rows · ⌈cols/16⌉ + 8 per copy
    /// ```
    /// with `n = rows · cols` per copy.
    ///
    /// # Source
    /// ggml-common.h block structs; AutoGPTQ/AutoAWQ `QuantLinear` buffers
    /// (`qweight`, `qzeros`, `scales`, `g_idx`); bitsandbytes `Params4bit`
    /// quant state (`absmax`, nested `absmax`, 256-entry fp32 `code`, `offset`);
    /// bitsandbytes `Int8Params` (`SCB`, fp32 per row); transformers' FP8 quantizer
    /// (`weight_scale_inv`, fp32 per `weight_block_size` tile); OCP Microscaling
    /// Formats v1.0 (MXFP4: e2m1 + e8m0 per 32); NVIDIA ModelOpt NVFP4 checkpoints
    /// (`weight_scale` e4m3 per 16, `weight_scale_2` and `input_scale` fp32).
    ///
    /// # Errors
    /// [`CoreError::Overflow`].
    pub fn bytes(self, rows: u64, cols: u64, copies: u64) -> Result<u64> {
        let n = product(Q, &[rows, cols])?;
        let one = match self {
            Storage::Float(b) => product(Q, &[n, b])?,
            Storage::Ggml(t) => {
                let row = t
                    .layout()
                    .bytes_for(cols)
                    .ok_or(CoreError::Overflow { quantity: Q })?;
                product(Q, &[rows, row])?
            }
            Storage::Fp8PerTensor => sum(Q, &[n, 4])?,
            Storage::Int8PerRow => sum(Q, &[n, product(Q, &[rows, 2])?])?,
            Storage::Int4Grouped { group, g_idx } => {
                let groups = product(Q, &[rows, cols.div_ceil(group.max(1))])?;
                // qweight n/2; scales fp16 per group; qzeros 4 bits per group
                let packed = n.div_ceil(2);
                let scales = product(Q, &[groups, 2])?;
                let zeros = groups.div_ceil(2);
                let idx = if g_idx { product(Q, &[cols, 4])? } else { 0 };
                sum(Q, &[packed, scales, zeros, idx])?
            }
            Storage::Nf4 { double_quant } => {
                let blocks = n.div_ceil(NF4_BLOCK);
                let absmax = if double_quant {
                    // 8-bit absmax, an fp32 absmax per 256 blocks, a 256-entry fp32
                    // code book and an fp32 offset
                    sum(
                        Q,
                        &[
                            blocks,
                            product(Q, &[blocks.div_ceil(NF4_NESTED_BLOCK), 4])?,
                            1028,
                        ],
                    )?
                } else {
                    product(Q, &[blocks, 4])?
                };
                sum(Q, &[n.div_ceil(2), absmax])?
            }
            Storage::BnbInt8 => sum(Q, &[n, product(Q, &[rows, 4])?])?,
            Storage::Fp8Block { block } => {
                let b = block.max(1);
                let tiles = product(Q, &[rows.div_ceil(b), cols.div_ceil(b)])?;
                sum(Q, &[n, product(Q, &[tiles, 4])?])?
            }
            Storage::Mxfp4 => sum(
                Q,
                &[
                    n.div_ceil(2),
                    product(Q, &[rows, cols.div_ceil(MXFP4_BLOCK)])?,
                ],
            )?,
            Storage::Nvfp4 => sum(
                Q,
                &[
                    n.div_ceil(2),
                    product(Q, &[rows, cols.div_ceil(NVFP4_BLOCK)])?,
                    8,
                ],
            )?,
        };
        product(Q, &[one, copies])
    }

    /// A short name for tables (`q6_K`, `fp8`, `int4-g128`).
    pub fn name(self) -> String {
        match self {
            Storage::Float(4) => "f32".into(),
            Storage::Float(2) => "bf16/f16".into(),
            Storage::Float(b) => format!("{b}-byte float"),
            Storage::Ggml(t) => t.name().into(),
            Storage::Fp8PerTensor => "fp8".into(),
            Storage::Int8PerRow => "int8".into(),
            Storage::Int4Grouped { group, .. } => format!("int4-g{group}"),
            Storage::Nf4 { double_quant: true } => "nf4-dq".into(),
            Storage::Nf4 {
                double_quant: false,
            } => "nf4".into(),
            Storage::BnbInt8 => "int8 (LLM.int8)".into(),
            Storage::Fp8Block { block } => format!("fp8-b{block}"),
            Storage::Mxfp4 => "mxfp4".into(),
            Storage::Nvfp4 => "nvfp4".into(),
        }
    }
}

/// Options that change how a format stores some tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WeightOptions {
    /// Keep the token embedding and the LM head in 16 bits even where the format
    /// would quantize them (llama.cpp `--token-embedding-type f16 --output-tensor-type f16`).
    pub keep_embeddings_16bit: bool,
}

impl WeightFormat {
    /// The names accepted on the command line, one per format family.
    pub fn valid_names() -> Vec<String> {
        let mut v: Vec<String> = [
            "fp32",
            "bf16",
            "fp16",
            "fp8",
            "int8",
            "gptq-int4-g128",
            "awq-int4-g128",
            "bnb-nf4",
            "bnb-nf4-dq",
            "bnb-int8",
            "fp8-block128",
            "fp8-mlp",
            "mxfp4",
            "mxfp4-experts",
            "nvfp4",
            "nvfp4-experts",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(GgufFileType::ALL.iter().map(|f| f.name().to_string()));
        v
    }

    /// The precision the matrix products run in.
    ///
    /// # Assumptions / limits
    /// Weight-only formats (GPTQ, AWQ, NF4, LLM.int8, GGUF) dequantize to 16 bits
    /// and multiply there; FP8 and int8 per-channel are W8A8 (FP8 on the MLP only:
    /// the MLP's products, most of the work, set the precision). MXFP4 and NVFP4
    /// are priced as weight-only: FP4 tensor cores (Blackwell) are not modelled.
    pub fn compute_precision(self) -> ComputePrecision {
        match self {
            WeightFormat::Fp32 => ComputePrecision::Fp32,
            WeightFormat::Fp8E4m3 | WeightFormat::Fp8Block { .. } | WeightFormat::Fp8Mlp => {
                ComputePrecision::Fp8
            }
            WeightFormat::Int8PerChannel => ComputePrecision::Int8,
            _ => ComputePrecision::Bf16,
        }
    }

    /// Whether 16-bit products on these weights run in IEEE FP16 rather than
    /// bfloat16: FP16 weights, and quantized ones a kernel dequantizes to FP16
    /// (llama.cpp's `dequantize → cuBLAS` path).
    pub fn fp16_products(self) -> bool {
        match self {
            WeightFormat::Fp16 => true,
            WeightFormat::Gguf(f) => f.base_type() == GgmlType::F16 || self.is_quantized(),
            _ => self.is_quantized(),
        }
    }

    /// Whether the format stores weights in fewer than 16 bits with scales.
    pub fn is_quantized(self) -> bool {
        match self {
            WeightFormat::Fp32 | WeightFormat::Bf16 | WeightFormat::Fp16 => false,
            WeightFormat::Gguf(f) => f.base_type().is_quantized(),
            _ => true,
        }
    }

    /// How this format stores one tensor.
    ///
    /// # Assumptions / limits
    /// Hugging Face quantizers (FP8, int8, GPTQ, AWQ, bitsandbytes) convert the
    /// linear layers inside the blocks and keep the embedding, the LM head, the
    /// norms and biases in 16 bits; GPTQ and AWQ also keep the MoE router in 16
    /// bits (it is not in their layer lists), bitsandbytes converts it (it is an
    /// `nn.Linear`). GGUF follows [`GgufFileType::tensor_type`].
    pub fn storage(self, t: &TensorContext, opts: &WeightOptions) -> Storage {
        use TensorRole as R;
        let embedding = matches!(t.role, R::TokenEmbedding | R::LmHead);
        if embedding && opts.keep_embeddings_16bit {
            return Storage::Float(2);
        }
        let float16 = Storage::Float(2);
        let block_linear = !t.role.is_vector()
            && !matches!(
                t.role,
                R::TokenEmbedding | R::LmHead | R::PositionEmbedding | R::Extra
            );
        match self {
            WeightFormat::Fp32 => Storage::Float(4),
            WeightFormat::Bf16 | WeightFormat::Fp16 => float16,
            WeightFormat::Gguf(f) => Storage::Ggml(f.tensor_type(t)),
            _ if !block_linear || t.role == R::SharedExpertGate => float16,
            WeightFormat::Fp8E4m3 if t.role == R::Router => float16,
            WeightFormat::Fp8E4m3 => Storage::Fp8PerTensor,
            WeightFormat::Int8PerChannel if t.role == R::Router => float16,
            WeightFormat::Int8PerChannel => Storage::Int8PerRow,
            WeightFormat::Gptq { .. } | WeightFormat::Awq { .. } if t.role == R::Router => float16,
            WeightFormat::Gptq { group } => Storage::Int4Grouped { group, g_idx: true },
            WeightFormat::Awq { group } => Storage::Int4Grouped {
                group,
                g_idx: false,
            },
            WeightFormat::BnbNf4 { double_quant } => Storage::Nf4 { double_quant },
            WeightFormat::BnbInt8 => Storage::BnbInt8,
            WeightFormat::Fp8Block { .. }
            | WeightFormat::Fp8Mlp
            | WeightFormat::Mxfp4 { .. }
            | WeightFormat::Nvfp4 { .. }
                if t.role == R::Router =>
            {
                float16
            }
            WeightFormat::Fp8Block { block } => Storage::Fp8Block { block },
            WeightFormat::Fp8Mlp if t.role.is_mlp() => Storage::Fp8PerTensor,
            WeightFormat::Fp8Mlp => float16,
            WeightFormat::Mxfp4 { experts_only } | WeightFormat::Nvfp4 { experts_only }
                if experts_only && !t.role.is_routed_expert() =>
            {
                float16
            }
            WeightFormat::Mxfp4 { .. } => Storage::Mxfp4,
            WeightFormat::Nvfp4 { .. } => Storage::Nvfp4,
        }
    }
}

impl fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightFormat::Fp32 => f.write_str("fp32"),
            WeightFormat::Bf16 => f.write_str("bf16"),
            WeightFormat::Fp16 => f.write_str("fp16"),
            WeightFormat::Fp8E4m3 => f.write_str("fp8-e4m3"),
            WeightFormat::Int8PerChannel => f.write_str("int8-per-channel"),
            WeightFormat::Gptq { group } => write!(f, "gptq-int4-g{group}"),
            WeightFormat::Awq { group } => write!(f, "awq-int4-g{group}"),
            WeightFormat::BnbNf4 {
                double_quant: false,
            } => f.write_str("bnb-nf4"),
            WeightFormat::BnbNf4 { double_quant: true } => f.write_str("bnb-nf4-dq"),
            WeightFormat::BnbInt8 => f.write_str("bnb-int8"),
            WeightFormat::Gguf(t) => f.write_str(t.name()),
            WeightFormat::Fp8Block { block } => write!(f, "fp8-block{block}"),
            WeightFormat::Fp8Mlp => f.write_str("fp8-mlp"),
            WeightFormat::Mxfp4 {
                experts_only: false,
            } => f.write_str("mxfp4"),
            WeightFormat::Mxfp4 { experts_only: true } => f.write_str("mxfp4-experts"),
            WeightFormat::Nvfp4 {
                experts_only: false,
            } => f.write_str("nvfp4"),
            WeightFormat::Nvfp4 { experts_only: true } => f.write_str("nvfp4-experts"),
        }
    }
}

crate::named::serde_by_name!(WeightFormat);

impl FromStr for WeightFormat {
    type Err = CoreError;

    /// Parse a format name: `bf16`, `fp8`, `int8`, `gptq[-int4][-g128]`,
    /// `awq[-int4][-g64]`, `bnb-nf4[-dq]`, `bnb-int8`, or a GGUF file type
    /// (`Q4_K_M`, optionally `gguf-` in front). Case, `-` and `_` are loose.
    fn from_str(s: &str) -> Result<Self> {
        let unknown = || CoreError::Unknown {
            what: "weight format",
            name: s.to_string(),
            suggestions: WeightFormat::valid_names(),
        };
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let plain = match norm.as_str() {
            "fp32" | "f32" | "float32" => Some(WeightFormat::Fp32),
            "bf16" | "bfloat16" => Some(WeightFormat::Bf16),
            "fp16" | "float16" | "half" => Some(WeightFormat::Fp16),
            "fp8" | "fp8-e4m3" | "e4m3" | "float8" => Some(WeightFormat::Fp8E4m3),
            "int8" | "int8-per-channel" | "w8a8" | "w8a8-int8" => {
                Some(WeightFormat::Int8PerChannel)
            }
            "nf4" | "bnb-nf4" | "bnb-4bit" => Some(WeightFormat::BnbNf4 {
                double_quant: false,
            }),
            "nf4-dq" | "bnb-nf4-dq" | "qlora" => Some(WeightFormat::BnbNf4 { double_quant: true }),
            "bnb-int8" | "llm-int8" | "bnb-8bit" => Some(WeightFormat::BnbInt8),
            "fp8-mlp" => Some(WeightFormat::Fp8Mlp),
            "mxfp4" => Some(WeightFormat::Mxfp4 {
                experts_only: false,
            }),
            "mxfp4-experts" => Some(WeightFormat::Mxfp4 { experts_only: true }),
            "nvfp4" => Some(WeightFormat::Nvfp4 {
                experts_only: false,
            }),
            "nvfp4-experts" => Some(WeightFormat::Nvfp4 { experts_only: true }),
            _ => None,
        };
        if let Some(f) = plain {
            return Ok(f);
        }
        if let Some(rest) = norm.strip_prefix("fp8-block") {
            let block = match rest {
                "" => 128,
                b => b
                    .parse::<u64>()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(unknown)?,
            };
            return Ok(WeightFormat::Fp8Block { block });
        }
        for (prefix, gptq) in [("gptq", true), ("awq", false)] {
            if let Some(rest) = norm.strip_prefix(prefix) {
                let rest = rest.trim_start_matches('-');
                let rest = rest
                    .strip_prefix("int4")
                    .unwrap_or(rest)
                    .trim_start_matches('-');
                let group = match rest {
                    "" => 128,
                    g => g
                        .strip_prefix('g')
                        .and_then(|n| n.parse::<u64>().ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(unknown)?,
                };
                return Ok(if gptq {
                    WeightFormat::Gptq { group }
                } else {
                    WeightFormat::Awq { group }
                });
            }
        }
        let gguf = norm.strip_prefix("gguf-").unwrap_or(&norm);
        GgufFileType::ALL
            .into_iter()
            .find(|f| f.name().to_ascii_lowercase().replace('_', "-") == gguf)
            .map(WeightFormat::Gguf)
            .ok_or_else(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in WeightFormat::valid_names() {
            let f: WeightFormat = name.parse().unwrap();
            assert_eq!(f.to_string().parse::<WeightFormat>(), Ok(f), "{name}");
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{f}\""));
            assert_eq!(serde_json::from_str::<WeightFormat>(&json).unwrap(), f);
        }
        assert_eq!(
            "q4_k_m".parse(),
            Ok(WeightFormat::Gguf(GgufFileType::Q4_K_M))
        );
        assert_eq!("gptq-g64".parse(), Ok(WeightFormat::Gptq { group: 64 }));
        assert_eq!("AWQ".parse(), Ok(WeightFormat::Awq { group: 128 }));
        match "q4_k_x".parse::<WeightFormat>() {
            Err(CoreError::Unknown { suggestions, .. }) => {
                assert!(suggestions.contains(&"Q4_K_M".into()))
            }
            other => panic!("{other:?}"),
        }
        assert!("gptq-gx".parse::<WeightFormat>().is_err());
    }

    #[test]
    fn block_fp8_mxfp4_and_nvfp4_cost_their_scales() {
        let n = 4096 * 4096;
        // 32·32 tiles of 128×128, one fp32 each
        assert_eq!(
            Storage::Fp8Block { block: 128 }.bytes(4096, 4096, 1),
            Ok(n + 32 * 32 * 4)
        );
        // a 100×200 matrix has ⌈100/128⌉·⌈200/128⌉ = 2 tiles
        assert_eq!(
            Storage::Fp8Block { block: 128 }.bytes(100, 200, 1),
            Ok(20_000 + 8)
        );
        // 4.25 bits and 4.5 bits per weight, plus NVFP4's two fp32 per tensor
        assert_eq!(
            Storage::Mxfp4.bytes(4096, 4096, 3),
            Ok(3 * (n / 2 + n / 32))
        );
        assert_eq!(Storage::Nvfp4.bytes(4096, 4096, 1), Ok(n / 2 + n / 16 + 8));
    }

    #[test]
    fn scoped_formats_leave_the_rest_in_16_bits() {
        use TensorRole as R;
        let at = |f: WeightFormat, role| {
            f.storage(
                &TensorContext {
                    role,
                    layer: Some(0),
                    cols: 4096,
                    layers: 32,
                    ffn_down_tensors: 1,
                    experts: 8,
                    gqa: 4,
                    tied_embeddings: false,
                },
                &WeightOptions::default(),
            )
        };
        let mlp = WeightFormat::Fp8Mlp;
        assert_eq!(at(mlp, R::FfnUp), Storage::Fp8PerTensor);
        assert_eq!(at(mlp, R::ExpertDown), Storage::Fp8PerTensor);
        assert_eq!(at(mlp, R::AttnQ), Storage::Float(2));
        let experts = WeightFormat::Mxfp4 { experts_only: true };
        assert_eq!(at(experts, R::ExpertGate), Storage::Mxfp4);
        assert_eq!(at(experts, R::SharedUp), Storage::Float(2));
        assert_eq!(at(experts, R::AttnKvB), Storage::Float(2));
        let all = WeightFormat::Nvfp4 {
            experts_only: false,
        };
        assert_eq!(at(all, R::AttnOutput), Storage::Nvfp4);
        assert_eq!(at(all, R::Router), Storage::Float(2));
        assert_eq!(at(all, R::LmHead), Storage::Float(2));
        assert_eq!(
            "fp8-block128".parse(),
            Ok(WeightFormat::Fp8Block { block: 128 })
        );
    }

    #[test]
    fn int4_group_128_costs_4_156_bits_plus_g_idx() {
        // 4096×4096: 8 MiB of nibbles, 4096·32 groups × 2.5 bytes = 320 KiB
        let awq = Storage::Int4Grouped {
            group: 128,
            g_idx: false,
        };
        assert_eq!(awq.bytes(4096, 4096, 1), Ok(8_388_608 + 327_680));
        let gptq = Storage::Int4Grouped {
            group: 128,
            g_idx: true,
        };
        assert_eq!(gptq.bytes(4096, 4096, 1), Ok(8_388_608 + 327_680 + 16_384));
    }

    #[test]
    fn nf4_costs_4_5_or_about_4_127_bits() {
        let n = 4096 * 4096;
        // absmax fp32 per 64 weights: 0.5 bits
        assert_eq!(
            Storage::Nf4 {
                double_quant: false
            }
            .bytes(4096, 4096, 1),
            Ok(n / 2 + n / 64 * 4)
        );
        // 8-bit absmax + fp32 per 256 blocks + code book: 0.127 bits (Dettmers et al. 2023, §2)
        let dq = Storage::Nf4 { double_quant: true }
            .bytes(4096, 4096, 1)
            .unwrap();
        assert_eq!(dq, n / 2 + n / 64 + n / 64 / 256 * 4 + 1028);
    }
}

//! Storage formats of cached and stored numbers, with their exact block layouts.

mod gguf;
mod weights;

use serde::{Deserialize, Serialize};

pub use gguf::{GgmlType, GgufFileType, TensorContext};
pub use weights::{ComputePrecision, Storage, WeightFormat, WeightOptions};

/// How a format packs elements: `bytes` bytes hold `elements` values, scales included.
///
/// Quantized formats store blocks (llama.cpp's Q8_0: 32 int8 values and one fp16
/// scale, 34 bytes for 32 values, 8.5 bits each), so exact sizes come from whole
/// blocks, never from a rounded bits-per-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockLayout {
    /// Bytes in one block.
    pub bytes: u64,
    /// Values in one block.
    pub elements: u64,
}

impl BlockLayout {
    /// Bits per stored value, scales included.
    pub fn bits_per_element(self) -> f64 {
        self.bytes as f64 * 8.0 / self.elements as f64
    }

    /// Exact bytes for a row of `n` values: whole blocks, `⌈n / elements⌉ · bytes`.
    pub fn bytes_for(self, n: u64) -> Option<u64> {
        n.div_ceil(self.elements).checked_mul(self.bytes)
    }
}

/// Precision of the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum KvDtype {
    /// IEEE half precision (2 bytes).
    Fp16,
    /// bfloat16 (2 bytes).
    Bf16,
    /// 8-bit float (e4m3 or e5m2; 1 byte, per-tensor scale negligible).
    Fp8,
    /// 8-bit integer with a per-tensor scale (1 byte).
    Int8,
    /// llama.cpp Q8_0: 32 values in 34 bytes (8.5 bits).
    Q8_0,
    /// llama.cpp Q4_0: 32 values in 18 bytes (4.5 bits).
    Q4_0,
}

impl KvDtype {
    /// All KV precisions, in the order help lists them.
    pub const ALL: [KvDtype; 6] = [
        KvDtype::Fp16,
        KvDtype::Bf16,
        KvDtype::Fp8,
        KvDtype::Int8,
        KvDtype::Q8_0,
        KvDtype::Q4_0,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            KvDtype::Fp16 => "fp16",
            KvDtype::Bf16 => "bf16",
            KvDtype::Fp8 => "fp8",
            KvDtype::Int8 => "int8",
            KvDtype::Q8_0 => "q8_0",
            KvDtype::Q4_0 => "q4_0",
        }
    }

    /// The block layout of one cached row.
    ///
    /// # Source
    /// ggml `block_q8_0` (32 × int8 + fp16 scale) and `block_q4_0` (32 × 4 bit + fp16 scale).
    pub fn layout(self) -> BlockLayout {
        match self {
            KvDtype::Fp16 | KvDtype::Bf16 => BlockLayout {
                bytes: 2,
                elements: 1,
            },
            KvDtype::Fp8 | KvDtype::Int8 => BlockLayout {
                bytes: 1,
                elements: 1,
            },
            KvDtype::Q8_0 => BlockLayout {
                bytes: 34,
                elements: 32,
            },
            KvDtype::Q4_0 => BlockLayout {
                bytes: 18,
                elements: 32,
            },
        }
    }
}

impl std::str::FromStr for KvDtype {
    type Err = crate::CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        KvDtype::ALL
            .into_iter()
            .find(|d| d.name() == norm || (norm == "f16" && *d == KvDtype::Fp16))
            .ok_or_else(|| crate::CoreError::Unknown {
                what: "KV cache precision",
                name: s.to_string(),
                suggestions: KvDtype::ALL.iter().map(|d| d.name().to_string()).collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_layouts_give_ggml_bits() {
        assert_eq!(KvDtype::Q8_0.layout().bits_per_element(), 8.5);
        assert_eq!(KvDtype::Q4_0.layout().bits_per_element(), 4.5);
        // 128 values = 4 blocks of 18 bytes
        assert_eq!(KvDtype::Q4_0.layout().bytes_for(128), Some(72));
        // 100 values still need 4 whole blocks
        assert_eq!(KvDtype::Q4_0.layout().bytes_for(100), Some(72));
        assert_eq!("BF16".parse::<KvDtype>(), Ok(KvDtype::Bf16));
        assert!("fp4".parse::<KvDtype>().is_err());
    }
}

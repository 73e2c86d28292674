//! ggml tensor types and their exact block layouts.
//!
//! A ggml tensor row of `ne0` values is stored as `ne0 / block` blocks of
//! `type_size` bytes; quantized types put their scales inside the block, so the
//! byte count of a tensor is exact without knowing anything about the scheme.
//!
//! # Source
//! ggml-org/ggml @ d99724f (2026-08-21): type ids from `include/ggml.h`
//! (`enum ggml_type`), block sizes and byte sizes from the `static_assert`s on
//! the `block_*` structs in `src/ggml-common.h` and the `type_traits` table in
//! `src/ggml.c` (`blck_size`, `type_size`). `QK_K = 256`, `K_SCALE_SIZE = 12`.

use serde::{Serialize, Serializer};
use sizeup_core::BlockLayout;

/// The storage types a GGUF tensor can have.
///
/// Ids 4, 5 (`Q4_2`, `Q4_3`), 31–33 (`Q4_0_4_4`…) and 36–38 (`IQ4_NL_4_4`…)
/// were removed from ggml and are rejected like any unknown id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(non_camel_case_types)]
#[non_exhaustive]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// 32 values: fp16 scale + 16 bytes of 4-bit quants (18 bytes).
    Q4_0,
    /// 32 values: fp16 scale and min + 16 bytes (20 bytes).
    Q4_1,
    /// 32 values: fp16 scale + 4 bytes high bits + 16 bytes (22 bytes).
    Q5_0,
    /// 32 values: fp16 scale and min + 4 + 16 bytes (24 bytes).
    Q5_1,
    /// 32 values: fp16 scale + 32 int8 (34 bytes).
    Q8_0,
    /// 32 values: fp16 scale and sum + 32 int8 (36 bytes).
    Q8_1,
    /// 256 values in 84 bytes.
    Q2_K,
    /// 256 values in 110 bytes.
    Q3_K,
    /// 256 values in 144 bytes.
    Q4_K,
    /// 256 values in 176 bytes.
    Q5_K,
    /// 256 values in 210 bytes.
    Q6_K,
    /// 256 values in 292 bytes (fp32 scale, 256 int8, 16 int16 sums).
    Q8_K,
    /// 256 values in 66 bytes.
    IQ2_XXS,
    /// 256 values in 74 bytes.
    IQ2_XS,
    /// 256 values in 98 bytes.
    IQ3_XXS,
    /// 256 values in 50 bytes.
    IQ1_S,
    /// 32 values in 18 bytes.
    IQ4_NL,
    /// 256 values in 110 bytes.
    IQ3_S,
    /// 256 values in 82 bytes.
    IQ2_S,
    /// 256 values in 136 bytes.
    IQ4_XS,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 64-bit float.
    F64,
    /// 256 values in 56 bytes.
    IQ1_M,
    /// bfloat16.
    BF16,
    /// Ternary: 256 values in 54 bytes.
    TQ1_0,
    /// Ternary: 256 values in 66 bytes.
    TQ2_0,
    /// OCP microscaling FP4: 32 values, one E8M0 scale byte + 16 bytes (17 bytes).
    MXFP4,
    /// NVIDIA FP4: 64 values, four E4M3 scale bytes + 32 bytes (36 bytes).
    NVFP4,
    /// 128 values: fp16 scale + 16 bytes of 1-bit quants (18 bytes).
    Q1_0,
    /// 64 values: fp16 scale + 16 bytes of 2-bit quants (18 bytes).
    Q2_0,
}

/// `QK_K` in ggml-common.h: values per super-block of the k-quants and i-quants.
const QK_K: u64 = 256;

impl GgmlType {
    /// Every type, in id order.
    pub const ALL: [GgmlType; 35] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::Q8_K,
        GgmlType::IQ2_XXS,
        GgmlType::IQ2_XS,
        GgmlType::IQ3_XXS,
        GgmlType::IQ1_S,
        GgmlType::IQ4_NL,
        GgmlType::IQ3_S,
        GgmlType::IQ2_S,
        GgmlType::IQ4_XS,
        GgmlType::I8,
        GgmlType::I16,
        GgmlType::I32,
        GgmlType::I64,
        GgmlType::F64,
        GgmlType::IQ1_M,
        GgmlType::BF16,
        GgmlType::TQ1_0,
        GgmlType::TQ2_0,
        GgmlType::MXFP4,
        GgmlType::NVFP4,
        GgmlType::Q1_0,
        GgmlType::Q2_0,
    ];

    /// The numeric id stored in GGUF tensor infos (`enum ggml_type`).
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q4_1 => 3,
            GgmlType::Q5_0 => 6,
            GgmlType::Q5_1 => 7,
            GgmlType::Q8_0 => 8,
            GgmlType::Q8_1 => 9,
            GgmlType::Q2_K => 10,
            GgmlType::Q3_K => 11,
            GgmlType::Q4_K => 12,
            GgmlType::Q5_K => 13,
            GgmlType::Q6_K => 14,
            GgmlType::Q8_K => 15,
            GgmlType::IQ2_XXS => 16,
            GgmlType::IQ2_XS => 17,
            GgmlType::IQ3_XXS => 18,
            GgmlType::IQ1_S => 19,
            GgmlType::IQ4_NL => 20,
            GgmlType::IQ3_S => 21,
            GgmlType::IQ2_S => 22,
            GgmlType::IQ4_XS => 23,
            GgmlType::I8 => 24,
            GgmlType::I16 => 25,
            GgmlType::I32 => 26,
            GgmlType::I64 => 27,
            GgmlType::F64 => 28,
            GgmlType::IQ1_M => 29,
            GgmlType::BF16 => 30,
            GgmlType::TQ1_0 => 34,
            GgmlType::TQ2_0 => 35,
            GgmlType::MXFP4 => 39,
            GgmlType::NVFP4 => 40,
            GgmlType::Q1_0 => 41,
            GgmlType::Q2_0 => 42,
        }
    }

    /// The type with this id, or `None` for an unknown or removed id.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|t| t.id() == id)
    }

    /// ggml's name for the type (`ggml_type_name`): `q4_K`, `iq2_xxs`, `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "f32",
            GgmlType::F16 => "f16",
            GgmlType::Q4_0 => "q4_0",
            GgmlType::Q4_1 => "q4_1",
            GgmlType::Q5_0 => "q5_0",
            GgmlType::Q5_1 => "q5_1",
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q8_1 => "q8_1",
            GgmlType::Q2_K => "q2_K",
            GgmlType::Q3_K => "q3_K",
            GgmlType::Q4_K => "q4_K",
            GgmlType::Q5_K => "q5_K",
            GgmlType::Q6_K => "q6_K",
            GgmlType::Q8_K => "q8_K",
            GgmlType::IQ2_XXS => "iq2_xxs",
            GgmlType::IQ2_XS => "iq2_xs",
            GgmlType::IQ3_XXS => "iq3_xxs",
            GgmlType::IQ1_S => "iq1_s",
            GgmlType::IQ4_NL => "iq4_nl",
            GgmlType::IQ3_S => "iq3_s",
            GgmlType::IQ2_S => "iq2_s",
            GgmlType::IQ4_XS => "iq4_xs",
            GgmlType::I8 => "i8",
            GgmlType::I16 => "i16",
            GgmlType::I32 => "i32",
            GgmlType::I64 => "i64",
            GgmlType::F64 => "f64",
            GgmlType::IQ1_M => "iq1_m",
            GgmlType::BF16 => "bf16",
            GgmlType::TQ1_0 => "tq1_0",
            GgmlType::TQ2_0 => "tq2_0",
            GgmlType::MXFP4 => "mxfp4",
            GgmlType::NVFP4 => "nvfp4",
            GgmlType::Q1_0 => "q1_0",
            GgmlType::Q2_0 => "q2_0",
        }
    }

    /// Values per block and bytes per block.
    ///
    /// # Formula
    /// ```text
    /// bytes(tensor) = rows · (ne0 / elements) · bytes
    /// ```
    ///
    /// # Source
    /// ggml-common.h `static_assert(sizeof(block_*) == …)` (module docs), e.g.
    /// `block_q4_K`: `2·sizeof(ggml_half) + K_SCALE_SIZE + QK_K/2` = 4 + 12 + 128 = 144.
    pub fn layout(self) -> BlockLayout {
        let (elements, bytes) = match self {
            GgmlType::F32 | GgmlType::I32 => (1, 4),
            GgmlType::F16 | GgmlType::BF16 | GgmlType::I16 => (1, 2),
            GgmlType::F64 | GgmlType::I64 => (1, 8),
            GgmlType::I8 => (1, 1),
            // QK4_0 = 32: half d + qs[16]
            GgmlType::Q4_0 => (32, 2 + 16),
            // QK4_1 = 32: half d, m + qs[16]
            GgmlType::Q4_1 => (32, 2 * 2 + 16),
            // QK5_0 = 32: half d + qh[4] + qs[16]
            GgmlType::Q5_0 => (32, 2 + 4 + 16),
            // QK5_1 = 32: half d, m + qh[4] + qs[16]
            GgmlType::Q5_1 => (32, 2 * 2 + 4 + 16),
            // QK8_0 = 32: half d + qs[32]
            GgmlType::Q8_0 => (32, 2 + 32),
            // QK8_1 = 32: half d, s + qs[32]
            GgmlType::Q8_1 => (32, 2 * 2 + 32),
            // 2·half + QK_K/16 + QK_K/4
            GgmlType::Q2_K => (QK_K, 2 * 2 + QK_K / 16 + QK_K / 4),
            // half + QK_K/4 + QK_K/8 + 12
            GgmlType::Q3_K => (QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
            // 2·half + K_SCALE_SIZE + QK_K/2
            GgmlType::Q4_K => (QK_K, 2 * 2 + 12 + QK_K / 2),
            // 2·half + K_SCALE_SIZE + QK_K/2 + QK_K/8
            GgmlType::Q5_K => (QK_K, 2 * 2 + 12 + QK_K / 2 + QK_K / 8),
            // half + QK_K/16 + 3·QK_K/4
            GgmlType::Q6_K => (QK_K, 2 + QK_K / 16 + 3 * QK_K / 4),
            // float + QK_K + QK_K/16·sizeof(int16)
            GgmlType::Q8_K => (QK_K, 4 + QK_K + QK_K / 16 * 2),
            // half + QK_K/8·sizeof(uint16)
            GgmlType::IQ2_XXS => (QK_K, 2 + QK_K / 8 * 2),
            // half + QK_K/8·sizeof(uint16) + QK_K/32
            GgmlType::IQ2_XS => (QK_K, 2 + QK_K / 8 * 2 + QK_K / 32),
            // half + 3·(QK_K/8)
            GgmlType::IQ3_XXS => (QK_K, 2 + 3 * (QK_K / 8)),
            // half + QK_K/8 + QK_K/16
            GgmlType::IQ1_S => (QK_K, 2 + QK_K / 8 + QK_K / 16),
            // QK4_NL = 32: half + QK4_NL/2
            GgmlType::IQ4_NL => (32, 2 + 16),
            // half + 13·(QK_K/32) + IQ3S_N_SCALE (QK_K/64)
            GgmlType::IQ3_S => (QK_K, 2 + 13 * (QK_K / 32) + QK_K / 64),
            // half + QK_K/4 + QK_K/16
            GgmlType::IQ2_S => (QK_K, 2 + QK_K / 4 + QK_K / 16),
            // half + uint16 + QK_K/64 + QK_K/2
            GgmlType::IQ4_XS => (QK_K, 2 + 2 + QK_K / 64 + QK_K / 2),
            // QK_K/8 + QK_K/16 + QK_K/32 (no separate scale)
            GgmlType::IQ1_M => (QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
            // half + QK_K/64 + (QK_K − 4·QK_K/64)/5
            GgmlType::TQ1_0 => (QK_K, 2 + QK_K / 64 + (QK_K - 4 * QK_K / 64) / 5),
            // half + QK_K/4
            GgmlType::TQ2_0 => (QK_K, 2 + QK_K / 4),
            // QK_MXFP4 = 32: uint8 e + QK_MXFP4/2
            GgmlType::MXFP4 => (32, 1 + 16),
            // QK_NVFP4 = 64: uint8 scales[QK_NVFP4/QK_NVFP4_SUB] + QK_NVFP4/2
            GgmlType::NVFP4 => (64, 64 / 16 + 32),
            // QK1_0 = 128: half + QK1_0/8
            GgmlType::Q1_0 => (128, 2 + 128 / 8),
            // QK2_0 = 64: half + QK2_0/4
            GgmlType::Q2_0 => (64, 2 + 64 / 4),
        };
        BlockLayout { bytes, elements }
    }

    /// Whether values are packed into blocks with scales (everything but plain
    /// floats and integers).
    pub fn is_quantized(self) -> bool {
        self.layout().elements > 1
    }
}

impl Serialize for GgmlType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_removed_ids_are_unknown() {
        for t in GgmlType::ALL {
            assert_eq!(GgmlType::from_id(t.id()), Some(t));
        }
        for removed in [4, 5, 31, 32, 33, 36, 37, 38, 43, u32::MAX] {
            assert_eq!(GgmlType::from_id(removed), None);
        }
    }

    #[test]
    fn block_sizes_match_ggml_common() {
        // bytes per block from ggml-common.h static_asserts (ggml @ d99724f)
        let expected = [
            (GgmlType::Q4_0, 32, 18),
            (GgmlType::Q4_1, 32, 20),
            (GgmlType::Q5_0, 32, 22),
            (GgmlType::Q5_1, 32, 24),
            (GgmlType::Q8_0, 32, 34),
            (GgmlType::Q8_1, 32, 36),
            (GgmlType::Q2_K, 256, 84),
            (GgmlType::Q3_K, 256, 110),
            (GgmlType::Q4_K, 256, 144),
            (GgmlType::Q5_K, 256, 176),
            (GgmlType::Q6_K, 256, 210),
            (GgmlType::Q8_K, 256, 292),
            (GgmlType::IQ2_XXS, 256, 66),
            (GgmlType::IQ2_XS, 256, 74),
            (GgmlType::IQ2_S, 256, 82),
            (GgmlType::IQ3_XXS, 256, 98),
            (GgmlType::IQ3_S, 256, 110),
            (GgmlType::IQ1_S, 256, 50),
            (GgmlType::IQ1_M, 256, 56),
            (GgmlType::IQ4_NL, 32, 18),
            (GgmlType::IQ4_XS, 256, 136),
            (GgmlType::TQ1_0, 256, 54),
            (GgmlType::TQ2_0, 256, 66),
            (GgmlType::MXFP4, 32, 17),
            (GgmlType::NVFP4, 64, 36),
            (GgmlType::Q1_0, 128, 18),
            (GgmlType::Q2_0, 64, 18),
            (GgmlType::BF16, 1, 2),
            (GgmlType::F64, 1, 8),
        ];
        for (t, elements, bytes) in expected {
            assert_eq!(t.layout(), BlockLayout { bytes, elements }, "{}", t.name());
        }
        // llama.cpp's published bits per weight: Q4_K 4.5, Q6_K 6.5625, Q8_0 8.5
        assert_eq!(GgmlType::Q4_K.layout().bits_per_element(), 4.5);
        assert_eq!(GgmlType::Q6_K.layout().bits_per_element(), 6.5625);
        assert_eq!(GgmlType::Q8_0.layout().bits_per_element(), 8.5);
    }
}

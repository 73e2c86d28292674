//! A format-neutral table of the tensors a checkpoint stores.
//!
//! Readers (safetensors headers, GGUF tensor infos) list each tensor with its
//! name, shape, storage type and exact byte size; this module works out what
//! each one is ([`Role`]) and how many model parameters it holds, and totals them
//! per role and per storage type. Nothing here reads a file.
//!
//! # Parameters of packed tensors
//! A quantized checkpoint stores some weights packed into wider integers, so the
//! number of stored elements is not the number of parameters. The table counts
//! parameters, by these rules (each tied to the format that writes it):
//!
//! | stored tensor | packing | parameters |
//! | --- | --- | --- |
//! | `….qweight`, `I32` (GPTQ, AWQ) | 8 int4 per int32 | elements × 8 |
//! | `….weight_packed`, `I32` (compressed-tensors `pack-quantized`) | 8 int4 per int32 | elements × 8 |
//! | `….weight`, `U8`, beside `….weight.absmax` or `….weight.quant_state.*` (bitsandbytes 4-bit) | 2 per byte | elements × 2 |
//! | `….weight`, `U8`, beside `….weight_scale` (NVFP4, ModelOpt) | 2 per byte | elements × 2 |
//! | `…_blocks`, `U8`, beside `…_scales` (MXFP4, gpt-oss) | 2 per byte | elements × 2 |
//! | any other tensor (fp8 weights, GGUF blocks, floats) | none | elements |
//!
//! GGUF shapes already count values (a `Q4_K` row of 4096 values is 4096), so
//! GGUF tensors never need a packing factor.
//!
//! The 4-bit packing of GPTQ/AWQ/compressed-tensors is an assumption: an 8-bit
//! GPTQ checkpoint packs 4 per int32 and is under-counted by half here
//! (the bit width lives in `config.json`'s `quantization_config`, not in the
//! weights file). [`compare_with_config`] shows such a mismatch.
//!
//! Quantization side tensors are [`Role::QuantScales`] and are left out of the
//! parameter total: GPTQ/AWQ `scales`, `qzeros`, `g_idx` (beside a `qweight`);
//! bitsandbytes `absmax`, `quant_map`, `nested_*`, `quant_state.*`, `SCB`,
//! `weight_format`; fp8 and compressed-tensors `weight_scale`,
//! `weight_scale_inv` (DeepSeek-V3 block scales), `weight_scale_2`,
//! `input_scale`, `weight_zero_point`, `weight_g_idx`, `weight_shape`,
//! `k_scale`, `v_scale`; MXFP4 `…_scales` beside `…_blocks`. Their stored
//! elements are reported as their own line.
//!
//! Tensors that transformers keeps as buffers rather than parameters are
//! [`Role::Buffer`] and also left out: GPT-2/GPT-J causal masks (`attn.bias`,
//! `attn.masked_bias`), rotary `inv_freq`, DeepSeek's
//! `e_score_correction_bias` (GGUF `exp_probs_b`) and llama.cpp's
//! `rope_freqs` / `rope_factors_*`.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize, Serializer};
use sizeup_core::units::{product, sum};
use sizeup_core::{BlockLayout, CoreError};

use crate::gguf::GgmlType;

/// How a tensor's elements are stored.
///
/// The plain types carry the names the safetensors format uses (`BF16`,
/// `F8_E4M3`…); GGUF's float and integer types map onto the same variants, and
/// its block-quantized types are [`Dtype::Ggml`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(non_camel_case_types)]
#[non_exhaustive]
pub enum Dtype {
    /// Boolean, one byte.
    BOOL,
    /// OCP MX FP4 (E2M1), two values per byte.
    F4,
    /// OCP MX FP6 E2M3, four values per three bytes.
    F6_E2M3,
    /// OCP MX FP6 E3M2, four values per three bytes.
    F6_E3M2,
    /// Unsigned byte.
    U8,
    /// Signed byte.
    I8,
    /// FP8 E5M2.
    F8_E5M2,
    /// FP8 E4M3.
    F8_E4M3,
    /// FP8 E8M0 (MX scale).
    F8_E8M0,
    /// FP8 E4M3, finite, no negative zero.
    F8_E4M3FNUZ,
    /// FP8 E5M2, finite, no negative zero.
    F8_E5M2FNUZ,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 32-bit integer.
    U32,
    /// IEEE single precision.
    F32,
    /// Complex with two f32 parts.
    C64,
    /// IEEE double precision.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
    /// A ggml block-quantized type (`Q4_K`, `IQ2_XXS`…).
    Ggml(GgmlType),
}

impl Dtype {
    /// Every plain (non-ggml) type, in the order of the safetensors `Dtype` enum.
    pub const PLAIN: [Dtype; 22] = [
        Dtype::BOOL,
        Dtype::F4,
        Dtype::F6_E2M3,
        Dtype::F6_E3M2,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8_E5M2,
        Dtype::F8_E4M3,
        Dtype::F8_E8M0,
        Dtype::F8_E4M3FNUZ,
        Dtype::F8_E5M2FNUZ,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::C64,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// The name as safetensors headers write it (`BF16`), or ggml's name in
    /// capitals for block types (`Q4_K`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::BOOL => "BOOL",
            Dtype::F4 => "F4",
            Dtype::F6_E2M3 => "F6_E2M3",
            Dtype::F6_E3M2 => "F6_E3M2",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8_E5M2 => "F8_E5M2",
            Dtype::F8_E4M3 => "F8_E4M3",
            Dtype::F8_E8M0 => "F8_E8M0",
            Dtype::F8_E4M3FNUZ => "F8_E4M3FNUZ",
            Dtype::F8_E5M2FNUZ => "F8_E5M2FNUZ",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::C64 => "C64",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
            Dtype::Ggml(t) => ggml_upper_name(t),
        }
    }

    /// The plain type with this safetensors name, if any.
    pub fn from_safetensors_name(name: &str) -> Option<Dtype> {
        Dtype::PLAIN.into_iter().find(|d| d.name() == name)
    }

    /// The type [`Dtype::name`] names, plain or ggml block type.
    pub fn from_name(name: &str) -> Option<Dtype> {
        Dtype::from_safetensors_name(name).or_else(|| {
            GgmlType::ALL
                .into_iter()
                .map(Dtype::from_ggml)
                .find(|d| d.name() == name)
        })
    }

    /// The type a GGUF tensor of ggml type `t` has here: plain floats and
    /// integers map to the plain variants, block types to [`Dtype::Ggml`].
    pub fn from_ggml(t: GgmlType) -> Dtype {
        match t {
            GgmlType::F32 => Dtype::F32,
            GgmlType::F16 => Dtype::F16,
            GgmlType::BF16 => Dtype::BF16,
            GgmlType::F64 => Dtype::F64,
            GgmlType::I8 => Dtype::I8,
            GgmlType::I16 => Dtype::I16,
            GgmlType::I32 => Dtype::I32,
            GgmlType::I64 => Dtype::I64,
            other => Dtype::Ggml(other),
        }
    }

    /// Bytes per block and elements per block.
    ///
    /// # Source
    /// safetensors `Dtype::bitsize` (huggingface/safetensors 0.8: F4 4 bits,
    /// F6 6 bits, C64 64 bits…); ggml block types from [`GgmlType::layout`].
    pub fn layout(self) -> BlockLayout {
        let (bytes, elements) = match self {
            Dtype::F4 => (1, 2),
            Dtype::F6_E2M3 | Dtype::F6_E3M2 => (3, 4),
            Dtype::BOOL
            | Dtype::U8
            | Dtype::I8
            | Dtype::F8_E5M2
            | Dtype::F8_E4M3
            | Dtype::F8_E8M0
            | Dtype::F8_E4M3FNUZ
            | Dtype::F8_E5M2FNUZ => (1, 1),
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => (2, 1),
            Dtype::I32 | Dtype::U32 | Dtype::F32 => (4, 1),
            Dtype::C64 | Dtype::F64 | Dtype::I64 | Dtype::U64 => (8, 1),
            Dtype::Ggml(t) => return t.layout(),
        };
        BlockLayout { bytes, elements }
    }
}

fn ggml_upper_name(t: GgmlType) -> &'static str {
    match t {
        GgmlType::F32 => "F32",
        GgmlType::F16 => "F16",
        GgmlType::Q4_0 => "Q4_0",
        GgmlType::Q4_1 => "Q4_1",
        GgmlType::Q5_0 => "Q5_0",
        GgmlType::Q5_1 => "Q5_1",
        GgmlType::Q8_0 => "Q8_0",
        GgmlType::Q8_1 => "Q8_1",
        GgmlType::Q2_K => "Q2_K",
        GgmlType::Q3_K => "Q3_K",
        GgmlType::Q4_K => "Q4_K",
        GgmlType::Q5_K => "Q5_K",
        GgmlType::Q6_K => "Q6_K",
        GgmlType::Q8_K => "Q8_K",
        GgmlType::IQ2_XXS => "IQ2_XXS",
        GgmlType::IQ2_XS => "IQ2_XS",
        GgmlType::IQ3_XXS => "IQ3_XXS",
        GgmlType::IQ1_S => "IQ1_S",
        GgmlType::IQ4_NL => "IQ4_NL",
        GgmlType::IQ3_S => "IQ3_S",
        GgmlType::IQ2_S => "IQ2_S",
        GgmlType::IQ4_XS => "IQ4_XS",
        GgmlType::I8 => "I8",
        GgmlType::I16 => "I16",
        GgmlType::I32 => "I32",
        GgmlType::I64 => "I64",
        GgmlType::F64 => "F64",
        GgmlType::IQ1_M => "IQ1_M",
        GgmlType::BF16 => "BF16",
        GgmlType::TQ1_0 => "TQ1_0",
        GgmlType::TQ2_0 => "TQ2_0",
        GgmlType::MXFP4 => "MXFP4",
        GgmlType::NVFP4 => "NVFP4",
        GgmlType::Q1_0 => "Q1_0",
        GgmlType::Q2_0 => "Q2_0",
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Dtype {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A string: the name [`Dtype::name`] gives.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Dtype {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Dtype".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string"})
    }
}

impl<'de> Deserialize<'de> for Dtype {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Dtype::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("`{name}` is not a tensor dtype")))
    }
}

/// What a tensor is, by its name; the groups match the parameter breakdown of
/// `sizeup_core::params::Breakdown`, plus three that hold no model parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Token embedding (`embed_tokens`, `wte`, `token_embd`).
    Embedding,
    /// Learned positions (`wpe`, `embed_positions`, `position_embd`).
    PositionEmbedding,
    /// Attention projections, their biases and sinks.
    Attention,
    /// Dense MLP.
    Mlp,
    /// Routed experts (`experts.N`, `ffn_*_exps`).
    MoeRoutedExperts,
    /// Shared experts and their gates (`shared_expert`, `*_shexp`).
    MoeSharedExperts,
    /// Expert routers (`mlp.gate`, `router`, `ffn_gate_inp`).
    MoeRouter,
    /// Every normalisation weight, q/k norms included.
    Norm,
    /// The LM head (`lm_head`, GGUF `output`).
    LmHead,
    /// Vision towers and multimodal projectors.
    VisionAndProjector,
    /// Quantization scales, zero points and group indices (not parameters).
    QuantScales,
    /// Stored buffers that are not parameters (causal masks, rotary tables).
    Buffer,
    /// Anything the naming rules do not recognise.
    Other,
}

impl Role {
    /// Whether tensors of this role count as model parameters.
    pub fn is_parameter(self) -> bool {
        !matches!(self, Role::QuantScales | Role::Buffer)
    }
}

/// Classify a tensor by its name alone (Hugging Face or GGUF naming).
///
/// Rules, first match wins: buffers; quantization side tensors named as such;
/// vision and projector; a holding module whose name has `norm` or starts with
/// `ln_` (`input_layernorm`, `q_norm`, `attn_norm`, `ln_f`); LM head (`lm_head` as any
/// part, `embed_out`, `output_layer`, GGUF `output` at the top); learned positions;
/// token embedding; shared experts; routers (`gate` right under
/// `mlp`/`block_sparse_moe`, or alone as skip lists write it; `router`,
/// `ffn_gate_inp`); routed experts (`experts`, `*_exps`, GGUF `ffn_up.N`);
/// attention (`self_attn`, `attn`, `attention`, `self_attention`, `attn_*`);
/// MLP (`mlp`, `feed_forward`, `ffn_*`, OPT's `fc1`/`fc2`); other.
///
/// The sibling-dependent scale rules of the module docs (GPTQ `scales`, MXFP4
/// `_scales`) are applied by [`TensorTable::new`], which sees all names.
pub fn classify(name: &str) -> Role {
    let parts: Vec<&str> = name.split('.').collect();
    let has = |words: &[&str]| parts.iter().any(|p| words.contains(p));
    let last = parts.last().copied().unwrap_or("");
    let before_last = parts.len().checked_sub(2).map_or("", |i| parts[i]);

    let causal_mask = before_last == "attn" && matches!(last, "bias" | "masked_bias");
    if causal_mask
        || has(&[
            "inv_freq",
            "e_score_correction_bias",
            "exp_probs_b",
            "rope_freqs",
        ])
        || parts[0].starts_with("rope_factors")
    {
        return Role::Buffer;
    }
    if is_named_quant_side_tensor(&parts) {
        return Role::QuantScales;
    }
    if has(&[
        "vision_tower",
        "vision_model",
        "visual",
        "vision",
        "multi_modal_projector",
        "mm_projector",
        "vision_embed_tokens",
        "image_newline",
    ]) || matches!(parts[0], "v" | "mm")
    {
        return Role::VisionAndProjector;
    }
    // the module that holds the weight: `input_layernorm` in `….input_layernorm.weight`
    // (not any part: DBRX's `norm_attn_norm.attn.Wqkv` is attention)
    let owner = if parts.len() >= 2 { before_last } else { last };
    if owner.contains("norm") || owner.starts_with("ln_") {
        return Role::Norm;
    }
    // `lm_head` anywhere (`language_model.lm_head` in image-text checkpoints); GGUF's
    // bare `output` only at the top (`attn_output` is attention)
    if parts[0] == "output" || has(&["lm_head", "embed_out", "output_layer"]) {
        return Role::LmHead;
    }
    if has(&[
        "wpe",
        "embed_positions",
        "position_embeddings",
        "position_embd",
    ]) {
        return Role::PositionEmbedding;
    }
    if has(&[
        "embed_tokens",
        "wte",
        "word_embeddings",
        "tok_embeddings",
        "embed_in",
        "token_embd",
    ]) {
        return Role::Embedding;
    }
    if has(&[
        "shared_expert",
        "shared_experts",
        "shared_expert_gate",
        "shared_mlp",
    ]) || parts.iter().any(|p| p.ends_with("_shexp"))
    {
        return Role::MoeSharedExperts;
    }
    // a lone `gate` is how quantization skip lists name every router at once
    // (MiniMax-M2's `modules_to_not_convert: ["gate", …]`)
    let router = parts == ["gate"]
        || parts.windows(2).any(|w| {
            w[1] == "gate" && matches!(w[0], "mlp" | "block_sparse_moe" | "feed_forward" | "moe")
        });
    if router || has(&["router", "ffn_gate_inp"]) {
        return Role::MoeRouter;
    }
    let per_expert_gguf = parts
        .windows(2)
        .any(|w| matches!(w[0], "ffn_gate" | "ffn_up" | "ffn_down") && w[1].parse::<u64>().is_ok());
    if has(&["experts"]) || parts.iter().any(|p| p.ends_with("_exps")) || per_expert_gguf {
        return Role::MoeRoutedExperts;
    }
    if has(&[
        "self_attn",
        "attn",
        "attention",
        "self_attention",
        "cross_attn",
    ]) || parts.iter().any(|p| p.starts_with("attn_"))
    {
        return Role::Attention;
    }
    if has(&[
        "mlp",
        "feed_forward",
        "ffn",
        "block_sparse_moe",
        "fc1",
        "fc2",
    ]) || parts.iter().any(|p| p.starts_with("ffn_"))
    {
        return Role::Mlp;
    }
    Role::Other
}

/// Quantization side tensors recognisable from their own name.
fn is_named_quant_side_tensor(parts: &[&str]) -> bool {
    const NAMED: [&str; 17] = [
        // bitsandbytes 4-bit (Params4bit.quant_state serialisation) and 8-bit
        "absmax",
        "quant_map",
        "nested_absmax",
        "nested_quant_map",
        "quant_state",
        "SCB",
        "weight_format",
        // fp8 (FBGEMM, compressed-tensors, DeepSeek-V3), NVFP4 (ModelOpt)
        "weight_scale",
        "weight_scale_inv",
        "weight_scale_2",
        "input_scale",
        // compressed-tensors
        "weight_zero_point",
        "weight_g_idx",
        "weight_shape",
        "input_zero_point",
        // fp8 KV-cache scales
        "k_scale",
        "v_scale",
    ];
    parts.iter().any(|p| NAMED.contains(p))
}

/// One tensor as a reader found it: name, shape, storage type and exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTensor {
    /// Name in the file.
    pub name: String,
    /// Shape, outermost dimension first (PyTorch order; GGUF dims reversed).
    pub shape: Vec<u64>,
    /// Storage type.
    pub dtype: Dtype,
    /// Bytes the tensor occupies in the file.
    pub bytes: u64,
}

/// One row of the tensor table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TensorInfo {
    /// Name in the file.
    pub name: String,
    /// Shape, outermost dimension first.
    pub shape: Vec<u64>,
    /// Storage type.
    pub dtype: Dtype,
    /// Bytes in the file.
    pub bytes: u64,
    /// Model parameters held (stored elements × packing factor; module docs).
    pub params: u64,
    /// What the tensor is.
    pub role: Role,
}

/// Counts over a group of tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Totals {
    /// Number of tensors.
    pub tensors: u64,
    /// Parameters (or stored elements, for scales and buffers).
    pub params: u64,
    /// Bytes in the file.
    pub bytes: u64,
}

impl Totals {
    fn add(&mut self, t: &TensorInfo) -> Result<(), CoreError> {
        self.tensors = sum("tensor count", &[self.tensors, 1])?;
        self.params = sum("parameter count", &[self.params, t.params])?;
        self.bytes = sum("checkpoint bytes", &[self.bytes, t.bytes])?;
        Ok(())
    }
}

/// The tensors of a checkpoint with their roles and parameter counts, and the
/// totals per role and per storage type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TensorTable {
    /// Every tensor, in the order the reader gave them.
    pub tensors: Vec<TensorInfo>,
    /// Model parameters: the sum over roles that are parameters (not
    /// [`Role::QuantScales`] nor [`Role::Buffer`]).
    pub params: u64,
    /// Bytes of every tensor, scales and buffers included.
    pub bytes: u64,
    /// Totals per role.
    pub by_role: BTreeMap<Role, Totals>,
    /// Totals per storage type.
    pub by_dtype: BTreeMap<Dtype, Totals>,
}

impl TensorTable {
    /// Classify every tensor, count its parameters and total them.
    ///
    /// # Formula
    /// ```text
    /// params(t) = Π shape(t) · packing(t)      (packing: module docs)
    /// params    = Σ params(t) over tensors whose role is a parameter
    /// bytes     = Σ bytes(t)
    /// ```
    ///
    /// # Errors
    /// [`CoreError::Overflow`] when a count does not fit in a `u64`.
    pub fn new(stored: Vec<StoredTensor>) -> Result<TensorTable, CoreError> {
        let names: HashSet<&str> = stored.iter().map(|t| t.name.as_str()).collect();
        let mut tensors = Vec::with_capacity(stored.len());
        for t in &stored {
            let (role, packing) = role_and_packing(t, &names);
            let elements = product("tensor elements", &t.shape)?;
            tensors.push(TensorInfo {
                name: t.name.clone(),
                shape: t.shape.clone(),
                dtype: t.dtype,
                bytes: t.bytes,
                params: product("parameter count", &[elements, packing])?,
                role,
            });
        }
        let mut by_role: BTreeMap<Role, Totals> = BTreeMap::new();
        let mut by_dtype: BTreeMap<Dtype, Totals> = BTreeMap::new();
        let mut all = Totals::default();
        let mut params = 0;
        for t in &tensors {
            by_role.entry(t.role).or_default().add(t)?;
            by_dtype.entry(t.dtype).or_default().add(t)?;
            all.add(t)?;
            if t.role.is_parameter() {
                params = sum("parameter count", &[params, t.params])?;
            }
        }
        Ok(TensorTable {
            tensors,
            params,
            bytes: all.bytes,
            by_role,
            by_dtype,
        })
    }

    /// Totals of one role (zero when no tensor has it).
    pub fn role(&self, role: Role) -> Totals {
        self.by_role.get(&role).copied().unwrap_or_default()
    }
}

/// The role of a tensor and how many parameters each stored element holds,
/// given the names of every tensor in the checkpoint.
fn role_and_packing(t: &StoredTensor, names: &HashSet<&str>) -> (Role, u64) {
    let name = t.name.as_str();
    let sibling = |suffix: &str, replacing: &str| -> bool {
        name.strip_suffix(replacing)
            .is_some_and(|base| names.contains(format!("{base}{suffix}").as_str()))
    };
    // GPTQ/AWQ side tensors sit beside the `qweight` they scale.
    if ["scales", "qzeros", "g_idx"]
        .iter()
        .any(|s| sibling("qweight", s))
    {
        return (Role::QuantScales, 1);
    }
    // MXFP4 (gpt-oss): `gate_up_proj_scales` beside `gate_up_proj_blocks`.
    if sibling("_blocks", "_scales") {
        return (Role::QuantScales, 1);
    }
    let role = classify(name);
    let packing = match t.dtype {
        Dtype::I32 if name.ends_with(".qweight") || name.ends_with(".weight_packed") => 8,
        Dtype::U8
            if sibling(".weight.absmax", ".weight")
                || sibling(".weight.quant_state.bitsandbytes__nf4", ".weight")
                || sibling(".weight.quant_state.bitsandbytes__fp4", ".weight")
                || sibling(".weight_scale", ".weight")
                || sibling("_scales", "_blocks") =>
        {
            2
        }
        _ => 1,
    };
    (role, packing)
}

/// How the parameters counted in a checkpoint compare with a count from its
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConfigComparison {
    /// Parameters computed from the configuration (`sizeup_core::params::count`).
    pub config_params: u64,
    /// Parameters counted in the files ([`TensorTable::params`]).
    pub file_params: u64,
    /// `file_params − config_params` when the files hold more, else 0.
    pub extra_in_file: u64,
    /// `config_params − file_params` when the files hold fewer, else 0.
    pub missing_in_file: u64,
    /// `(file_params − config_params) / config_params`; 0 when both are 0.
    pub relative_difference: f64,
}

/// Compare a configuration's parameter count with what the files hold.
///
/// # Formula
/// ```text
/// relative_difference = (file − config) / config
/// ```
///
/// # Assumptions / limits
/// A tied LM head is stored once and counted once by both sides. Differences
/// come from buffers the table could not recognise, GPTQ bit widths other than
/// 4, or a configuration that does not describe the files.
pub fn compare_with_config(config_params: u64, table: &TensorTable) -> ConfigComparison {
    let file_params = table.params;
    let relative_difference = if config_params == 0 {
        if file_params == 0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (file_params as f64 - config_params as f64) / config_params as f64
    };
    ConfigComparison {
        config_params,
        file_params,
        extra_in_file: file_params.saturating_sub(config_params),
        missing_in_file: config_params.saturating_sub(file_params),
        relative_difference,
    }
}

#[cfg(test)]
mod tests;

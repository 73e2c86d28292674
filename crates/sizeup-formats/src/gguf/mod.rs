//! GGUF files (llama.cpp): metadata and tensor infos, read without the weights.
//!
//! ```
//! # fn main() -> Result<(), sizeup_formats::gguf::GgufError> {
//! // The smallest valid GGUF: magic, version 3, no tensors, no metadata.
//! let bytes = [b"GGUF".as_slice(), &3u32.to_le_bytes(), &0u64.to_le_bytes(), &0u64.to_le_bytes()].concat();
//! let file = sizeup_formats::gguf::read_bytes(&bytes)?;
//! assert_eq!(file.version, 3);
//! assert_eq!(file.tensor_table()?.params, 0);
//! # Ok(()) }
//! ```

mod architecture;
mod metadata;
mod reader;

use std::io::Cursor;
use std::path::Path;

use serde::Serialize;
use sizeup_core::{Architecture, Assumption, CoreError};
use thiserror::Error;

use crate::tensors::{Dtype, StoredTensor, TensorTable};

pub use architecture::{architecture, SUPPORTED_ARCHITECTURES};
pub use metadata::{Array, Metadata, Value, ValueType};
pub use reader::{
    read, tensor_bytes, GgufFile, GgufTensor, DEFAULT_ALIGNMENT, MAX_ARRAY_LEN, MAX_DIMS,
    MAX_HEADER_BYTES, MAX_KV, MAX_NAME_BYTES, MAX_NESTING, MAX_TENSORS,
};
/// ggml tensor types and their block layouts live in `sizeup_core` (one table for
/// reading files and for sizing quantized weights).
pub use sizeup_core::dtype::GgmlType;

/// What can go wrong reading a GGUF file. Every variant names the file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GgufError {
    /// Not a regular file, or a shard outside its folder.
    #[error(transparent)]
    File(#[from] crate::file::FileError),
    /// The file could not be read.
    #[error("cannot read `{file}`")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("`{file}` is not a GGUF file: it starts with {found:?}, expected `GGUF`")]
    BadMagic {
        /// The file.
        file: String,
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A version other than 2 or 3 (version 1 used 32-bit counts; a big-endian
    /// file reads as 50331648 or 33554432).
    #[error("`{file}` is GGUF version {version}; versions 2 and 3 (little-endian) are supported")]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The version read.
        version: u32,
    },
    /// The file ends before something it announces.
    #[error("`{file}` is truncated: the {what} at byte {offset} needs {needed} bytes, {available} remain")]
    Truncated {
        /// The file.
        file: String,
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// The metadata and tensor infos extend past [`MAX_HEADER_BYTES`].
    #[error("the header of `{file}` is larger than the limit of {limit} bytes")]
    HeaderTooLarge {
        /// The file.
        file: String,
        /// The limit.
        limit: u64,
    },
    /// A count or length above its cap.
    #[error("`{file}`: {what} {count} is above the limit of {limit}")]
    CountTooLarge {
        /// The file.
        file: String,
        /// Which count.
        what: &'static str,
        /// The value read.
        count: u64,
        /// The cap.
        limit: u64,
    },
    /// A key or tensor name that is not UTF-8.
    #[error("`{file}`: the {what} at byte {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// The file.
        file: String,
        /// Key or tensor name.
        what: &'static str,
        /// Where it starts.
        offset: u64,
    },
    /// A metadata type id outside 0–12.
    #[error("`{file}`: key `{key}` has unknown value type {type_id} (GGUF defines 0–12)")]
    UnknownValueType {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// The id read.
        type_id: u32,
    },
    /// Arrays nested deeper than [`MAX_NESTING`].
    #[error("`{file}`: key `{key}` nests arrays deeper than {limit} levels")]
    NestingTooDeep {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// The cap.
        limit: u32,
    },
    /// The same key twice.
    #[error("`{file}`: key `{key}` appears twice")]
    DuplicateKey {
        /// The file.
        file: String,
        /// The key.
        key: String,
    },
    /// The same tensor name twice.
    #[error("`{file}`: tensor `{tensor}` appears twice")]
    DuplicateTensor {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
    },
    /// More than four dimensions.
    #[error("`{file}`: tensor `{tensor}` has {n_dims} dimensions, at most {limit} are allowed")]
    TooManyDims {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Dimensions read.
        n_dims: u32,
        /// `GGML_MAX_DIMS`.
        limit: u32,
    },
    /// A dimension above `i64::MAX` (negative in ggml's `int64_t`).
    #[error("`{file}`: tensor `{tensor}` has dimension {dim}, above 2^63 − 1")]
    DimTooLarge {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// The dimension read.
        dim: u64,
    },
    /// A ggml type id that does not exist (or was removed).
    #[error("`{file}`: tensor `{tensor}` has unknown ggml type {type_id}")]
    UnknownGgmlType {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// The id read.
        type_id: u32,
    },
    /// A row that is not a whole number of blocks.
    #[error("`{file}`: tensor `{tensor}` of type {ggml_type} has rows of {row} values, not a multiple of the block size {block}")]
    PartialBlock {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Its ggml type.
        ggml_type: &'static str,
        /// `ne0`.
        row: u64,
        /// Values per block.
        block: u64,
    },
    /// Element or byte count past 64 bits.
    #[error("`{file}`: the size of tensor `{tensor}` overflows 64 bits")]
    Overflow {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
    },
    /// `general.alignment` that is zero or not a power of two.
    #[error("`{file}`: general.alignment = {alignment} is not a power of two")]
    BadAlignment {
        /// The file.
        file: String,
        /// The value read.
        alignment: u64,
    },
    /// A key whose value has the wrong type.
    #[error("`{file}`: key `{key}` should be {expected}, found {found}")]
    WrongKeyType {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// The type needed.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A tensor whose offset is not a multiple of the alignment.
    #[error("`{file}`: tensor `{tensor}` starts at data offset {offset}, not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// The alignment.
        alignment: u64,
    },
    /// A tensor that ends past the end of the file.
    #[error("`{file}`: tensor `{tensor}` spans {bytes} bytes from data offset {offset}, past the {data_len}-byte data section")]
    TensorOutOfBounds {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// Its size.
        bytes: u64,
        /// Bytes in the data section.
        data_len: u64,
    },
    /// Two tensors whose data overlap.
    #[error("`{file}`: tensors `{first}` and `{second}` overlap")]
    OverlappingTensors {
        /// The file.
        file: String,
        /// The one that starts first.
        first: String,
        /// The other.
        second: String,
    },
    /// A key the architecture needs is absent.
    #[error("`{file}` has no key `{key}`")]
    MissingKey {
        /// The file.
        file: String,
        /// The key.
        key: String,
    },
    /// A per-layer list whose entries differ, where one value is needed.
    #[error("`{file}`: key `{key}` varies per layer, which is not supported")]
    VariesPerLayer {
        /// The file.
        file: String,
        /// The key.
        key: String,
    },
    /// A key with a value that makes no sense.
    #[error("`{file}`: key `{key}` = {value} is invalid: expected {expected}")]
    InvalidValue {
        /// The file.
        file: String,
        /// The key.
        key: String,
        /// The value read.
        value: String,
        /// What would be valid.
        expected: &'static str,
    },
    /// A `general.architecture` this crate cannot describe.
    #[error("`{file}`: architecture `{arch}` is not supported (supported: {})", SUPPORTED_ARCHITECTURES.join(", "))]
    UnsupportedArchitecture {
        /// The file.
        file: String,
        /// `general.architecture`.
        arch: String,
    },
    /// A count of the tensor table overflowed.
    #[error(transparent)]
    Count(#[from] CoreError),
}

/// Read the header of the GGUF file at `path` (never its tensor data).
///
/// # Errors
/// [`GgufError`] naming the file and the first problem.
pub fn read_path(path: &Path) -> Result<GgufFile, GgufError> {
    let name = path.display().to_string();
    let (f, _) = crate::file::open_regular(path)?;
    read(f, &name)
}

/// Read a GGUF header from bytes in memory (named `<memory>` in errors).
///
/// # Errors
/// As [`read_path`].
pub fn read_bytes(bytes: &[u8]) -> Result<GgufFile, GgufError> {
    read(Cursor::new(bytes), "<memory>")
}

impl GgufFile {
    /// The tensors as a format-neutral table, shapes outermost first
    /// (ggml's `[ne0, ne1]` becomes `[ne1, ne0]`).
    ///
    /// # Errors
    /// [`GgufError::Count`] if a total overflows.
    pub fn tensor_table(&self) -> Result<TensorTable, GgufError> {
        let stored = self
            .tensors
            .iter()
            .map(|t| StoredTensor {
                name: t.name.clone(),
                shape: t.dims.iter().rev().copied().collect(),
                dtype: Dtype::from_ggml(t.ggml_type),
                bytes: t.bytes,
            })
            .collect();
        Ok(TensorTable::new(stored)?)
    }

    /// The architecture the metadata describes, and the assumptions made.
    ///
    /// # Errors
    /// See [`architecture`].
    pub fn architecture(&self) -> Result<(Architecture, Vec<Assumption>), GgufError> {
        architecture(self)
    }
}

/// A GGUF file read whole: its header, its tensor table and the architecture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GgufModel {
    /// `general.architecture`.
    pub arch: String,
    /// The architecture built from the metadata.
    pub architecture: Architecture,
    /// Values the metadata left out and the rule that filled them.
    pub assumptions: Vec<Assumption>,
    /// The tensors, with exact parameters and bytes from the file.
    pub table: TensorTable,
}

/// Read a GGUF file's header and describe the model in it.
///
/// # Errors
/// Any [`GgufError`] of reading, plus [`GgufError::UnsupportedArchitecture`]
/// and missing-key errors of [`architecture`].
pub fn read_model(path: &Path) -> Result<GgufModel, GgufError> {
    let file = read_path(path)?;
    let (architecture, assumptions) = file.architecture()?;
    let arch = match file.metadata.get("general.architecture") {
        Some(Value::String(s)) => s.clone(),
        _ => architecture.model_type.clone(),
    };
    Ok(GgufModel {
        arch,
        architecture,
        assumptions,
        table: file.tensor_table()?,
    })
}

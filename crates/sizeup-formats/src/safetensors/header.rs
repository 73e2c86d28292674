//! One safetensors file's header: the 8-byte length, the JSON, and its checks.
//!
//! Layout: `u64` little-endian header length `n`, then `n` bytes of JSON
//! mapping each tensor name to `{"dtype", "shape", "data_offsets": [start, end]}`
//! (offsets relative to the data section) plus an optional `__metadata__`
//! string→string map, then the data section.
//!
//! # Source
//! huggingface/safetensors README ("Format") and `tensor.rs` of the `safetensors`
//! crate 0.8: its `read_metadata` caps the header at 100,000,000 bytes and
//! requires tensors to tile the data section from 0, in offset order, each
//! spanning exactly `elements · bits / 8` bytes. Our checks are the same,
//! applied to the header alone, with errors that name the tensor.
//! The crate's own `read_metadata` needs the whole file in memory (it compares
//! the data length with the buffer), so it cannot be used on headers alone.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{Read, Seek, SeekFrom};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use sizeup_core::units::product;

use super::SafetensorsError;
use crate::tensors::{Dtype, StoredTensor};

/// The largest header accepted: 100 MiB (the reference crate uses 100 MB;
/// real headers are a few MiB at most).
pub const MAX_HEADER_BYTES: u64 = 100 << 20;
/// Most dimensions accepted in a shape (real tensors have at most 5).
pub const MAX_RANK: usize = 16;

/// The header of one safetensors file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetensorsHeader {
    /// Where it was read from (a path, a URL, `<memory>`).
    pub file: String,
    /// Bytes of JSON after the 8-byte length.
    pub header_len: u64,
    /// Bytes of tensor data after the header.
    pub data_len: u64,
    /// The `__metadata__` map (empty when absent).
    pub metadata: BTreeMap<String, String>,
    /// The tensors, in data order.
    pub tensors: Vec<StoredTensor>,
}

/// Check a header length read from the first 8 bytes of a file of `file_len`
/// bytes.
///
/// # Errors
/// [`SafetensorsError::TooShort`] when the file cannot hold the length itself,
/// [`SafetensorsError::HeaderTooLarge`] above [`MAX_HEADER_BYTES`],
/// [`SafetensorsError::HeaderBeyondFile`] when it claims more than the file has.
pub fn check_header_len(file: &str, claimed: u64, file_len: u64) -> Result<(), SafetensorsError> {
    if file_len < 8 {
        return Err(SafetensorsError::TooShort {
            file: file.to_string(),
            file_len,
        });
    }
    if claimed > MAX_HEADER_BYTES {
        return Err(SafetensorsError::HeaderTooLarge {
            file: file.to_string(),
            claimed,
            limit: MAX_HEADER_BYTES,
        });
    }
    if claimed > file_len - 8 {
        return Err(SafetensorsError::HeaderBeyondFile {
            file: file.to_string(),
            claimed,
            available: file_len - 8,
        });
    }
    Ok(())
}

/// Read and check the header of a safetensors file from any seekable source,
/// reading only its first `8 + n` bytes. `file` names the source in errors.
///
/// # Errors
/// [`SafetensorsError`] naming the file and the first problem.
pub fn read_header<R: Read + Seek>(
    mut reader: R,
    file: &str,
) -> Result<SafetensorsHeader, SafetensorsError> {
    let io = |source| SafetensorsError::Io {
        file: file.to_string(),
        source,
    };
    let file_len = reader.seek(SeekFrom::End(0)).map_err(io)?;
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    if file_len < 8 {
        return Err(SafetensorsError::TooShort {
            file: file.to_string(),
            file_len,
        });
    }
    let mut len = [0u8; 8];
    reader.read_exact(&mut len).map_err(io)?;
    let claimed = u64::from_le_bytes(len);
    check_header_len(file, claimed, file_len)?;
    // bounded by MAX_HEADER_BYTES and by the file, so the allocation is too
    let mut json = Vec::with_capacity(usize::try_from(claimed).unwrap_or(0));
    reader.take(claimed).read_to_end(&mut json).map_err(io)?;
    if json.len() as u64 != claimed {
        return Err(SafetensorsError::HeaderBeyondFile {
            file: file.to_string(),
            claimed,
            available: json.len() as u64,
        });
    }
    parse_header(file, &json, file_len - 8 - claimed)
}

/// Parse and check header JSON, given the length of the data section after it.
///
/// # Errors
/// [`SafetensorsError::Json`] for malformed JSON (nesting deeper than
/// serde_json's 128 levels included), then the first failed check: unknown
/// dtype, too many dimensions, element count overflow, size that does not match
/// dtype × shape, offsets reversed or outside the data, overlap, gap, trailing
/// data, duplicate names.
pub fn parse_header(
    file: &str,
    json: &[u8],
    data_len: u64,
) -> Result<SafetensorsHeader, SafetensorsError> {
    let raw: RawHeader = serde_json::from_slice(json).map_err(|source| SafetensorsError::Json {
        file: file.to_string(),
        source,
    })?;
    let mut seen = HashSet::new();
    let mut placed = Vec::with_capacity(raw.tensors.len());
    for (name, entry) in raw.tensors {
        if !seen.insert(name.clone()) {
            return Err(SafetensorsError::DuplicateTensor {
                file: file.to_string(),
                tensor: name,
            });
        }
        placed.push(check_entry(file, name, entry, data_len)?);
    }
    placed.sort_by_key(|(_, start, end)| (*start, *end));
    let mut cursor = 0u64;
    let mut previous: Option<&str> = None;
    for (t, start, end) in &placed {
        if *start < cursor {
            return Err(SafetensorsError::Overlap {
                file: file.to_string(),
                first: previous.unwrap_or_default().to_string(),
                second: t.name.clone(),
            });
        }
        if *start > cursor {
            return Err(SafetensorsError::Gap {
                file: file.to_string(),
                tensor: t.name.clone(),
                start: *start,
                expected: cursor,
            });
        }
        cursor = *end;
        previous = Some(&t.name);
    }
    if cursor != data_len {
        return Err(SafetensorsError::TrailingData {
            file: file.to_string(),
            used: cursor,
            data_len,
        });
    }
    Ok(SafetensorsHeader {
        file: file.to_string(),
        header_len: json.len() as u64,
        data_len,
        metadata: raw.metadata.unwrap_or_default(),
        tensors: placed.into_iter().map(|(t, _, _)| t).collect(),
    })
}

/// Check one entry on its own: dtype, shape, size and bounds.
fn check_entry(
    file: &str,
    name: String,
    entry: RawEntry,
    data_len: u64,
) -> Result<(StoredTensor, u64, u64), SafetensorsError> {
    let Some(dtype) = Dtype::from_safetensors_name(&entry.dtype) else {
        return Err(SafetensorsError::UnknownDtype {
            file: file.to_string(),
            tensor: name,
            dtype: entry.dtype,
        });
    };
    let shape = entry.shape.0;
    let Ok(elements) = product("tensor elements", &shape) else {
        return Err(SafetensorsError::ShapeOverflow {
            file: file.to_string(),
            tensor: name,
            shape,
        });
    };
    let layout = dtype.layout();
    if elements % layout.elements != 0 {
        return Err(SafetensorsError::PartialByte {
            file: file.to_string(),
            tensor: name,
            dtype: dtype.name(),
            elements,
        });
    }
    let Some(bytes) = (elements / layout.elements).checked_mul(layout.bytes) else {
        return Err(SafetensorsError::ShapeOverflow {
            file: file.to_string(),
            tensor: name,
            shape,
        });
    };
    let [start, end] = entry.data_offsets;
    if end < start {
        return Err(SafetensorsError::OffsetsReversed {
            file: file.to_string(),
            tensor: name,
            start,
            end,
        });
    }
    if end > data_len {
        return Err(SafetensorsError::OutOfBounds {
            file: file.to_string(),
            tensor: name,
            end,
            data_len,
        });
    }
    if end - start != bytes {
        return Err(SafetensorsError::SizeMismatch {
            file: file.to_string(),
            tensor: name,
            dtype: dtype.name(),
            shape,
            expected: bytes,
            actual: end - start,
        });
    }
    Ok((
        StoredTensor {
            name,
            shape,
            dtype,
            bytes,
        },
        start,
        end,
    ))
}

/// The header JSON as written: tensors in file order, plus `__metadata__`.
struct RawHeader {
    metadata: Option<BTreeMap<String, String>>,
    tensors: Vec<(String, RawEntry)>,
}

#[derive(Deserialize)]
struct RawEntry {
    dtype: String,
    shape: Shape,
    data_offsets: [u64; 2],
}

/// A shape of at most [`MAX_RANK`] dimensions, refused while parsing so that a
/// hostile header cannot make a huge vector.
struct Shape(Vec<u64>);

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a list of at most {MAX_RANK} dimensions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut dims = Vec::new();
                while let Some(d) = seq.next_element::<u64>()? {
                    if dims.len() == MAX_RANK {
                        return Err(de::Error::invalid_length(MAX_RANK + 1, &self));
                    }
                    dims.push(d);
                }
                Ok(Shape(dims))
            }
        }
        d.deserialize_seq(ShapeVisitor)
    }
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = RawHeader;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a safetensors header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
                let mut metadata = None;
                let mut tensors = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "__metadata__" {
                        if metadata.is_some() {
                            return Err(de::Error::duplicate_field("__metadata__"));
                        }
                        // `null` is accepted, as by the reference crate's `Option`
                        let value: Option<BTreeMap<String, String>> = map.next_value()?;
                        metadata = Some(value.unwrap_or_default());
                    } else {
                        let entry = map.next_value()?;
                        tensors.push((key, entry));
                    }
                }
                Ok(RawHeader { metadata, tensors })
            }
        }
        d.deserialize_map(HeaderVisitor)
    }
}

//! The GGUF binary reader: header, metadata and tensor infos, never tensor data.
//!
//! Layout (GGUF v2 and v3, little-endian):
//! ```text
//! magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
//! kv_count × (key: string, type: u32, value)
//! tensor_count × (name: string, n_dims: u32, dims: n_dims × u64, ggml_type: u32, offset: u64)
//! padding to `general.alignment` (default 32) | tensor data
//! ```
//!
//! Every length is checked against what is left of the file before anything
//! is allocated; counts, string lengths and nesting depth are capped; the
//! header must end within [`MAX_HEADER_BYTES`]; tensors must lie inside the
//! data section, aligned and without overlap.
//!
//! Tensor types and their block layouts are `sizeup_core::dtype::GgmlType`
//! (ids from ggml's `enum ggml_type`, sizes from `ggml-common.h`).
//!
//! # Source
//! GGUF specification (ggml-org/ggml `docs/gguf.md`); the checks follow
//! `gguf_init_from_reader` in ggml's `src/gguf.cpp` (ggml @ d99724f), which
//! rejects version 1, more than `GGML_MAX_DIMS` = 4 dims, rows that are not a
//! whole number of blocks, and a non-power-of-two alignment.

use std::collections::HashSet;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};

use sizeup_core::dtype::GgmlType;
use sizeup_core::units::product;

use super::metadata::{Array, Metadata, Value, ValueType};
use super::GgufError;

/// The header of a GGUF file may not extend past this many bytes (256 MiB).
///
/// Real headers hold the tokenizer (vocabulary, merges, sometimes the whole
/// `tokenizer.json`): tens of MiB at most. The cap bounds memory on hostile input.
pub const MAX_HEADER_BYTES: u64 = 256 << 20;
/// Most tensors accepted in one file (real files hold a few thousand).
pub const MAX_TENSORS: u64 = 1 << 20;
/// Most metadata pairs accepted (real files hold under a hundred).
pub const MAX_KV: u64 = 1 << 20;
/// Most elements in one metadata array (vocabularies are ≤ 262,144 tokens).
pub const MAX_ARRAY_LEN: u64 = 1 << 24;
/// Deepest nesting of arrays accepted (ggml itself accepts none).
pub const MAX_NESTING: u32 = 4;
/// Longest key or tensor name: the GGUF spec caps keys at 65,535 bytes.
pub const MAX_NAME_BYTES: u64 = 65_535;
/// `GGML_MAX_DIMS`.
pub const MAX_DIMS: u32 = 4;
/// `GGUF_DEFAULT_ALIGNMENT`, used when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

const MAGIC: [u8; 4] = *b"GGUF";

/// A GGUF file's header: metadata and tensor infos.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufFile {
    /// Where it was read from (a path, a URL, `<memory>`).
    pub file: String,
    /// Format version (2 or 3).
    pub version: u32,
    /// Alignment of tensor data.
    pub alignment: u64,
    /// The key/value pairs.
    pub metadata: Metadata,
    /// The tensor infos, in file order.
    pub tensors: Vec<GgufTensor>,
    /// Absolute offset of the data section.
    pub data_offset: u64,
    /// Length of the whole file in bytes.
    pub file_len: u64,
}

/// One tensor info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufTensor {
    /// Tensor name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions in ggml order: `ne0` (the contiguous row) first.
    pub dims: Vec<u64>,
    /// Storage type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Bytes of data: `rows · (ne0 / block) · type_size`.
    pub bytes: u64,
}

/// Bytes of a tensor with dims `dims` (ggml order) stored as `t`.
///
/// # Formula
/// ```text
/// bytes = (ne1 · ne2 · ne3) · (ne0 / block) · type_size
/// ```
///
/// # Source
/// `ggml_nbytes` and the row check in `gguf_init_from_reader` (ggml `src/gguf.cpp`).
///
/// # Errors
/// `None` when `ne0` is not a whole number of blocks or the product overflows.
pub fn tensor_bytes(dims: &[u64], t: GgmlType) -> Option<u64> {
    let layout = t.layout();
    let ne0 = dims.first().copied().unwrap_or(1);
    if ne0 % layout.elements != 0 {
        return None;
    }
    let rows = dims
        .iter()
        .skip(1)
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
    rows.checked_mul(ne0 / layout.elements)?
        .checked_mul(layout.bytes)
}

/// Read the header of a GGUF file from any seekable source, without reading
/// tensor data. `file` names the source in errors.
///
/// # Errors
/// A [`GgufError`] naming the first problem: I/O, wrong magic, unsupported
/// version, truncation, caps exceeded, unknown types, bad alignment, tensors
/// outside the data section or overlapping.
pub fn read<R: Read + Seek>(mut reader: R, file: &str) -> Result<GgufFile, GgufError> {
    let io = |source| GgufError::Io {
        file: file.to_string(),
        source,
    };
    let file_len = reader.seek(SeekFrom::End(0)).map_err(io)?;
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut input = Input {
        inner: BufReader::new(reader),
        pos: 0,
        file_len,
        file,
    };
    input.file_header()
}

struct Input<'f, R> {
    inner: BufReader<R>,
    pos: u64,
    file_len: u64,
    file: &'f str,
}

impl<R: Read> Input<'_, R> {
    fn file(&self) -> String {
        self.file.to_string()
    }

    /// Fail unless `n` more bytes lie inside the file and inside the header cap.
    fn need(&self, n: Option<u64>, what: &'static str) -> Result<(), GgufError> {
        let available = self.file_len.saturating_sub(self.pos);
        let end = n.and_then(|n| self.pos.checked_add(n));
        match end {
            Some(end) if end <= self.file_len => {
                if end > MAX_HEADER_BYTES {
                    Err(GgufError::HeaderTooLarge {
                        file: self.file(),
                        limit: MAX_HEADER_BYTES,
                    })
                } else {
                    Ok(())
                }
            }
            _ => Err(GgufError::Truncated {
                file: self.file(),
                what,
                offset: self.pos,
                needed: n.unwrap_or(u64::MAX),
                available,
            }),
        }
    }

    fn bytes(&mut self, n: u64, what: &'static str) -> Result<Vec<u8>, GgufError> {
        self.need(Some(n), what)?;
        // `need` bounds n by MAX_HEADER_BYTES, so it fits in usize.
        let len = usize::try_from(n).map_err(|_| GgufError::HeaderTooLarge {
            file: self.file(),
            limit: MAX_HEADER_BYTES,
        })?;
        let mut buf = vec![0; len];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    fn fill(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), GgufError> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                GgufError::Truncated {
                    file: self.file(),
                    what,
                    offset: self.pos,
                    needed: buf.len() as u64,
                    available: 0,
                }
            } else {
                GgufError::Io {
                    file: self.file(),
                    source: e,
                }
            }
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        self.need(Some(N as u64), what)?;
        let mut buf = [0; N];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn capped_len(&mut self, what: &'static str, limit: u64) -> Result<u64, GgufError> {
        let n = self.u64(what)?;
        if n > limit {
            return Err(GgufError::CountTooLarge {
                file: self.file(),
                what,
                count: n,
                limit,
            });
        }
        Ok(n)
    }

    /// A key or tensor name: strict UTF-8, at most [`MAX_NAME_BYTES`].
    fn name(&mut self, what: &'static str) -> Result<String, GgufError> {
        let n = self.capped_len(what, MAX_NAME_BYTES)?;
        let offset = self.pos;
        let bytes = self.bytes(n, what)?;
        String::from_utf8(bytes).map_err(|_| GgufError::InvalidUtf8 {
            file: self.file(),
            what,
            offset,
        })
    }

    /// A string value: invalid UTF-8 is replaced rather than rejected, since
    /// some converters wrote raw byte tokens into vocabularies.
    fn string(&mut self) -> Result<String, GgufError> {
        let n = self.capped_len("string length", MAX_HEADER_BYTES)?;
        let bytes = self.bytes(n, "string")?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn value_type(&mut self, key: &str) -> Result<ValueType, GgufError> {
        let id = self.u32("value type")?;
        ValueType::from_id(id).ok_or_else(|| GgufError::UnknownValueType {
            file: self.file(),
            key: key.to_string(),
            type_id: id,
        })
    }

    fn value(&mut self, ty: ValueType, key: &str) -> Result<Value, GgufError> {
        Ok(match ty {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.array("value")?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array("value")?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array("value")?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array("value")?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array("value")?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array("value")?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array("value")?)),
            ValueType::Bool => Value::Bool(self.array::<1>("value")?[0] != 0),
            ValueType::String => Value::String(self.string()?),
            ValueType::Array => Value::Array(self.array_value(key, 1)?),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array("value")?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array("value")?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array("value")?)),
        })
    }

    fn array_value(&mut self, key: &str, depth: u32) -> Result<Array, GgufError> {
        if depth > MAX_NESTING {
            return Err(GgufError::NestingTooDeep {
                file: self.file(),
                key: key.to_string(),
                limit: MAX_NESTING,
            });
        }
        let elem = self.value_type(key)?;
        let n = self.capped_len("array length", MAX_ARRAY_LEN)?;
        // Every element takes at least `min_size` bytes: check before allocating.
        self.need(n.checked_mul(elem.min_size()), "array")?;
        let size = elem.min_size();
        let bulk = |input: &mut Self| input.bytes(n * size, "array");
        Ok(match elem {
            ValueType::U8 => Array::U8(bulk(self)?),
            ValueType::I8 => Array::I8(decode(&bulk(self)?, i8::from_le_bytes)),
            ValueType::Bool => Array::Bool(bulk(self)?.into_iter().map(|b| b != 0).collect()),
            ValueType::U16 => Array::U16(decode(&bulk(self)?, u16::from_le_bytes)),
            ValueType::I16 => Array::I16(decode(&bulk(self)?, i16::from_le_bytes)),
            ValueType::U32 => Array::U32(decode(&bulk(self)?, u32::from_le_bytes)),
            ValueType::I32 => Array::I32(decode(&bulk(self)?, i32::from_le_bytes)),
            ValueType::F32 => Array::F32(decode(&bulk(self)?, f32::from_le_bytes)),
            ValueType::U64 => Array::U64(decode(&bulk(self)?, u64::from_le_bytes)),
            ValueType::I64 => Array::I64(decode(&bulk(self)?, i64::from_le_bytes)),
            ValueType::F64 => Array::F64(decode(&bulk(self)?, f64::from_le_bytes)),
            ValueType::String => {
                let mut v = Vec::with_capacity(small_capacity(n));
                for _ in 0..n {
                    v.push(self.string()?);
                }
                Array::String(v)
            }
            ValueType::Array => {
                let mut v = Vec::with_capacity(small_capacity(n));
                for _ in 0..n {
                    v.push(self.array_value(key, depth + 1)?);
                }
                Array::Array(v)
            }
        })
    }

    fn file_header(&mut self) -> Result<GgufFile, GgufError> {
        let magic: [u8; 4] = self.array("magic")?;
        if magic != MAGIC {
            return Err(GgufError::BadMagic {
                file: self.file(),
                found: magic,
            });
        }
        let version = self.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion {
                file: self.file(),
                version,
            });
        }
        let n_tensors = self.capped_len("tensor count", MAX_TENSORS)?;
        let n_kv = self.capped_len("metadata count", MAX_KV)?;

        let mut metadata = Metadata::default();
        for _ in 0..n_kv {
            let key = self.name("metadata key")?;
            let ty = self.value_type(&key)?;
            let value = self.value(ty, &key)?;
            if !metadata.insert(key.clone(), value) {
                return Err(GgufError::DuplicateKey {
                    file: self.file(),
                    key,
                });
            }
        }
        let alignment = self.alignment(&metadata)?;

        let mut tensors = Vec::with_capacity(small_capacity(n_tensors));
        let mut names = HashSet::new();
        for _ in 0..n_tensors {
            let t = self.tensor_info()?;
            if !names.insert(t.name.clone()) {
                return Err(GgufError::DuplicateTensor {
                    file: self.file(),
                    tensor: t.name,
                });
            }
            tensors.push(t);
        }

        // ggml pads to the alignment only when there are tensors.
        let data_offset = if n_tensors > 0 {
            align_up(self.pos, alignment).ok_or(GgufError::Truncated {
                file: self.file(),
                what: "data section",
                offset: self.pos,
                needed: alignment,
                available: self.file_len.saturating_sub(self.pos),
            })?
        } else {
            self.pos
        };
        if data_offset > self.file_len {
            return Err(GgufError::Truncated {
                file: self.file(),
                what: "data section",
                offset: self.pos,
                needed: data_offset - self.pos,
                available: self.file_len - self.pos,
            });
        }
        check_placement(self.file, &tensors, alignment, self.file_len - data_offset)?;
        Ok(GgufFile {
            file: self.file(),
            version,
            alignment,
            metadata,
            tensors,
            data_offset,
            file_len: self.file_len,
        })
    }

    fn alignment(&self, metadata: &Metadata) -> Result<u64, GgufError> {
        const KEY: &str = "general.alignment";
        match metadata.get(KEY) {
            None => Ok(DEFAULT_ALIGNMENT),
            Some(Value::U32(a)) if a.is_power_of_two() => Ok(u64::from(*a)),
            Some(Value::U32(a)) => Err(GgufError::BadAlignment {
                file: self.file(),
                alignment: u64::from(*a),
            }),
            Some(other) => Err(GgufError::WrongKeyType {
                file: self.file(),
                key: KEY.to_string(),
                expected: "uint32",
                found: other.value_type().name(),
            }),
        }
    }

    fn tensor_info(&mut self) -> Result<GgufTensor, GgufError> {
        let name = self.name("tensor name")?;
        let n_dims = self.u32("tensor dimension count")?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::TooManyDims {
                file: self.file(),
                tensor: name,
                n_dims,
                limit: MAX_DIMS,
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = self.u64("tensor dimension")?;
            // ggml stores dims as int64_t and rejects negative ones
            if i64::try_from(d).is_err() {
                return Err(GgufError::DimTooLarge {
                    file: self.file(),
                    tensor: name,
                    dim: d,
                });
            }
            dims.push(d);
        }
        let type_id = self.u32("tensor type")?;
        let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownGgmlType {
            file: self.file(),
            tensor: name.clone(),
            type_id,
        })?;
        let offset = self.u64("tensor offset")?;
        if product("tensor elements", &dims).is_err() {
            return Err(GgufError::Overflow {
                file: self.file(),
                tensor: name,
            });
        }
        let layout = ggml_type.layout();
        if dims.first().copied().unwrap_or(1) % layout.elements != 0 {
            return Err(GgufError::PartialBlock {
                file: self.file(),
                tensor: name,
                ggml_type: ggml_type.name(),
                row: dims.first().copied().unwrap_or(1),
                block: layout.elements,
            });
        }
        let bytes = tensor_bytes(&dims, ggml_type).ok_or_else(|| GgufError::Overflow {
            file: self.file(),
            tensor: name.clone(),
        })?;
        Ok(GgufTensor {
            name,
            dims,
            ggml_type,
            offset,
            bytes,
        })
    }
}

/// Tensors must start on the alignment, end inside the data section and not overlap.
fn check_placement(
    file: &str,
    tensors: &[GgufTensor],
    alignment: u64,
    data_len: u64,
) -> Result<(), GgufError> {
    for t in tensors {
        if t.offset % alignment != 0 {
            return Err(GgufError::MisalignedTensor {
                file: file.to_string(),
                tensor: t.name.clone(),
                offset: t.offset,
                alignment,
            });
        }
        if t.offset
            .checked_add(t.bytes)
            .is_none_or(|end| end > data_len)
        {
            return Err(GgufError::TensorOutOfBounds {
                file: file.to_string(),
                tensor: t.name.clone(),
                offset: t.offset,
                bytes: t.bytes,
                data_len,
            });
        }
    }
    let mut order: Vec<&GgufTensor> = tensors.iter().collect();
    order.sort_by_key(|t| (t.offset, t.bytes));
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // in bounds, so the sum cannot overflow
        if a.offset + a.bytes > b.offset {
            return Err(GgufError::OverlappingTensors {
                file: file.to_string(),
                first: a.name.clone(),
                second: b.name.clone(),
            });
        }
    }
    Ok(())
}

fn align_up(pos: u64, alignment: u64) -> Option<u64> {
    pos.checked_add(alignment - 1)
        .map(|p| p / alignment * alignment)
}

/// Pre-allocate for at most 4096 elements: a claimed count is only trusted as
/// far as the bytes actually read.
fn small_capacity(n: u64) -> usize {
    usize::try_from(n.min(4096)).unwrap_or(4096)
}

fn decode<const N: usize, T>(bytes: &[u8], from_le: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0; N];
            a.copy_from_slice(c);
            from_le(a)
        })
        .collect()
}

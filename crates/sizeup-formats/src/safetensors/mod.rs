//! safetensors checkpoints: single files and sharded ones, read header-only.
//!
//! ```no_run
//! # fn main() -> Result<(), sizeup_formats::safetensors::SafetensorsError> {
//! // A folder with model.safetensors.index.json and its shards, or model.safetensors.
//! let ckpt = sizeup_formats::safetensors::read_checkpoint("models/llama-2-7b".as_ref())?;
//! println!("{} parameters in {} bytes", ckpt.table.params, ckpt.table.bytes);
//! # Ok(()) }
//! ```

mod header;
mod index;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sizeup_core::CoreError;
use thiserror::Error;

use crate::tensors::TensorTable;

pub use crate::tensors::{compare_with_config, ConfigComparison};
pub use header::{
    check_header_len, parse_header, read_header, SafetensorsHeader, MAX_HEADER_BYTES, MAX_RANK,
};
pub use index::{parse_index, ShardIndex, MAX_INDEX_BYTES};

/// The index file name transformers writes for sharded checkpoints.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// The file name transformers writes for single-file checkpoints.
pub const SINGLE_FILE: &str = "model.safetensors";

/// What can go wrong reading safetensors files. Every variant names the file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SafetensorsError {
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
    /// Fewer than 8 bytes: not even the header length.
    #[error("`{file}` has {file_len} bytes, too short for a safetensors header")]
    TooShort {
        /// The file.
        file: String,
        /// Its length.
        file_len: u64,
    },
    /// The header length is above [`MAX_HEADER_BYTES`].
    #[error("`{file}` claims a header of {claimed} bytes, above the limit of {limit} bytes")]
    HeaderTooLarge {
        /// The file.
        file: String,
        /// The length in the first 8 bytes.
        claimed: u64,
        /// [`MAX_HEADER_BYTES`].
        limit: u64,
    },
    /// The header length is more than the file holds.
    #[error("`{file}` claims a header of {claimed} bytes but only {available} follow the length")]
    HeaderBeyondFile {
        /// The file.
        file: String,
        /// The length in the first 8 bytes.
        claimed: u64,
        /// Bytes after the length.
        available: u64,
    },
    /// The header or index is not the JSON expected.
    #[error("`{file}` has a malformed JSON header")]
    Json {
        /// The file.
        file: String,
        /// What serde_json found (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A dtype the format does not define.
    #[error("`{file}`: tensor `{tensor}` has unknown dtype `{dtype}`")]
    UnknownDtype {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// The dtype as written.
        dtype: String,
    },
    /// The element or byte count overflows 64 bits.
    #[error("`{file}`: tensor `{tensor}` has shape {shape:?}, whose size overflows 64 bits")]
    ShapeOverflow {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Its shape.
        shape: Vec<u64>,
    },
    /// Sub-byte elements that do not fill whole bytes (an odd count of F4).
    #[error("`{file}`: tensor `{tensor}` has {elements} elements of {dtype}, which do not fill whole bytes")]
    PartialByte {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: &'static str,
        /// Its element count.
        elements: u64,
    },
    /// `data_offsets` with end before start.
    #[error("`{file}`: tensor `{tensor}` has data_offsets [{start}, {end}], end before start")]
    OffsetsReversed {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Start offset.
        start: u64,
        /// End offset.
        end: u64,
    },
    /// A tensor that ends past the data section.
    #[error("`{file}`: tensor `{tensor}` ends at data offset {end}, past the {data_len}-byte data section")]
    OutOfBounds {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// End offset.
        end: u64,
        /// Bytes in the data section.
        data_len: u64,
    },
    /// Offsets that do not span dtype × shape.
    #[error("`{file}`: tensor `{tensor}` ({dtype} {shape:?}) needs {expected} bytes but its data_offsets span {actual}")]
    SizeMismatch {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: &'static str,
        /// Its shape.
        shape: Vec<u64>,
        /// Bytes dtype × shape needs.
        expected: u64,
        /// Bytes the offsets span.
        actual: u64,
    },
    /// Two tensors share bytes.
    #[error("`{file}`: tensors `{first}` and `{second}` overlap")]
    Overlap {
        /// The file.
        file: String,
        /// The earlier tensor.
        first: String,
        /// The later one.
        second: String,
    },
    /// Bytes between two tensors that belong to none (the format tiles the data).
    #[error("`{file}`: tensor `{tensor}` starts at data offset {start}, leaving a gap after offset {expected}")]
    Gap {
        /// The file.
        file: String,
        /// The tensor after the gap.
        tensor: String,
        /// Its start.
        start: u64,
        /// Where it should start.
        expected: u64,
    },
    /// Bytes after the last tensor.
    #[error("`{file}`: tensors cover {used} bytes of the {data_len}-byte data section")]
    TrailingData {
        /// The file.
        file: String,
        /// Bytes covered by tensors.
        used: u64,
        /// Bytes in the data section.
        data_len: u64,
    },
    /// The same tensor name twice in one header.
    #[error("`{file}`: tensor `{tensor}` appears twice")]
    DuplicateTensor {
        /// The file.
        file: String,
        /// The tensor.
        tensor: String,
    },
    /// An index file above [`MAX_INDEX_BYTES`].
    #[error("`{file}` has {len} bytes, above the limit of {limit} for an index")]
    IndexTooLarge {
        /// The file.
        file: String,
        /// Its length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// An index whose `weight_map` is empty.
    #[error("`{file}` lists no tensors in its weight_map")]
    EmptyIndex {
        /// The file.
        file: String,
    },
    /// A shard name that leaves the index's folder.
    #[error("`{file}` names shard `{shard}`, which is not a relative path inside its folder")]
    UnsafeShardName {
        /// The index.
        file: String,
        /// The shard name.
        shard: String,
    },
    /// The index places a tensor in a shard that does not hold it.
    #[error("`{index}` places tensor `{tensor}` in `{shard}`, which does not contain it")]
    MissingFromShard {
        /// The index.
        index: String,
        /// The tensor.
        tensor: String,
        /// The shard named.
        shard: String,
    },
    /// The same tensor in two shards.
    #[error("tensor `{tensor}` is stored in both `{first}` and `{second}`")]
    TensorInTwoShards {
        /// The tensor.
        tensor: String,
        /// One shard.
        first: String,
        /// The other.
        second: String,
    },
    /// A folder with no safetensors checkpoint.
    #[error("`{dir}` holds neither `model.safetensors.index.json` nor a `.safetensors` file")]
    NoCheckpoint {
        /// The folder.
        dir: String,
    },
    /// A folder with several safetensors files and no index to tie them.
    #[error("`{dir}` holds several safetensors files and no index: {}", candidates.join(", "))]
    AmbiguousCheckpoint {
        /// The folder.
        dir: String,
        /// The files found.
        candidates: Vec<String>,
    },
    /// A count of the tensor table overflowed.
    #[error(transparent)]
    Count(#[from] CoreError),
}

/// One file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    /// Name (shard name for sharded checkpoints, else the path).
    pub file: String,
    /// Bytes of header JSON.
    pub header_len: u64,
    /// Bytes of tensor data.
    pub data_len: u64,
    /// Tensors in the file.
    pub tensors: u64,
}

/// A checkpoint: its files and the tensor table of all of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    /// The index or single file read.
    pub source: String,
    /// Each file, in the order read.
    pub files: Vec<FileSummary>,
    /// `metadata.total_size` of the index (the sum of tensor bytes, as written).
    pub index_total_size: Option<u64>,
    /// The `__metadata__` of the first file (`{"format": "pt"}` for most).
    pub metadata: BTreeMap<String, String>,
    /// Every tensor of every file.
    pub table: TensorTable,
}

/// Assemble a checkpoint from the headers of its files.
///
/// `index` is the index file's name and content for a sharded checkpoint; each
/// header comes with the shard name it was read under.
///
/// # Errors
/// [`SafetensorsError::MissingFromShard`] when the index places a tensor in a
/// shard that lacks it; [`SafetensorsError::TensorInTwoShards`]; count overflow.
pub fn assemble(
    source: &str,
    index: Option<&ShardIndex>,
    headers: Vec<(String, SafetensorsHeader)>,
) -> Result<Checkpoint, SafetensorsError> {
    let mut home: HashMap<&str, &str> = HashMap::new();
    for (shard, h) in &headers {
        for t in &h.tensors {
            if let Some(first) = home.insert(&t.name, shard) {
                return Err(SafetensorsError::TensorInTwoShards {
                    tensor: t.name.clone(),
                    first: first.to_string(),
                    second: shard.clone(),
                });
            }
        }
    }
    if let Some(index) = index {
        for (tensor, shard) in &index.weight_map {
            if home.get(tensor.as_str()) != Some(&shard.as_str()) {
                return Err(SafetensorsError::MissingFromShard {
                    index: source.to_string(),
                    tensor: tensor.clone(),
                    shard: shard.clone(),
                });
            }
        }
    }
    let metadata = headers
        .first()
        .map(|(_, h)| h.metadata.clone())
        .unwrap_or_default();
    let files = headers
        .iter()
        .map(|(shard, h)| FileSummary {
            file: shard.clone(),
            header_len: h.header_len,
            data_len: h.data_len,
            tensors: h.tensors.len() as u64,
        })
        .collect();
    let stored = headers.into_iter().flat_map(|(_, h)| h.tensors).collect();
    Ok(Checkpoint {
        source: source.to_string(),
        files,
        index_total_size: index.and_then(|i| i.total_size),
        metadata,
        table: TensorTable::new(stored)?,
    })
}

/// Read a checkpoint from a folder, an index file or a single `.safetensors` file.
///
/// In a folder: `model.safetensors.index.json`, else `model.safetensors`, else
/// the only `*.safetensors.index.json`, else the only `*.safetensors`.
///
/// # Errors
/// [`SafetensorsError::NoCheckpoint`] or [`SafetensorsError::AmbiguousCheckpoint`]
/// for a folder without a clear checkpoint; any error of the files read.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint, SafetensorsError> {
    let target = if path.is_dir() {
        locate(path)?
    } else {
        path.to_path_buf()
    };
    let name = target.display().to_string();
    if name.ends_with(".index.json") {
        let index = parse_index(&name, &read_bounded(&target, MAX_INDEX_BYTES)?)?;
        let dir = target.parent().unwrap_or(Path::new("."));
        let headers = index
            .shards()
            .into_iter()
            .map(|shard| {
                let path = crate::file::inside(dir, shard)?;
                Ok((shard.to_string(), read_file(&path)?))
            })
            .collect::<Result<Vec<_>, SafetensorsError>>()?;
        assemble(&name, Some(&index), headers)
    } else {
        let header = read_file(&target)?;
        assemble(&name, None, vec![(name.clone(), header)])
    }
}

/// Read and check the header of the safetensors file at `path`.
///
/// # Errors
/// As [`read_header`], plus [`SafetensorsError::Io`] naming the path.
pub fn read_file(path: &Path) -> Result<SafetensorsHeader, SafetensorsError> {
    let name = path.display().to_string();
    let (f, _) = crate::file::open_regular(path)?;
    read_header(f, &name)
}

/// Find the checkpoint file in a folder.
fn locate(dir: &Path) -> Result<PathBuf, SafetensorsError> {
    for name in [INDEX_FILE, SINGLE_FILE] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    let io = |source| SafetensorsError::Io {
        file: dir.display().to_string(),
        source,
    };
    let mut indexes = Vec::new();
    let mut singles = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry
            .map_err(io)?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".safetensors.index.json") {
            indexes.push(name);
        } else if name.ends_with(".safetensors") {
            singles.push(name);
        }
    }
    indexes.sort();
    singles.sort();
    let pick = |mut names: Vec<String>| match names.len() {
        1 => Ok(Some(dir.join(names.remove(0)))),
        0 => Ok(None),
        _ => Err(SafetensorsError::AmbiguousCheckpoint {
            dir: dir.display().to_string(),
            candidates: names,
        }),
    };
    if let Some(p) = pick(indexes)? {
        return Ok(p);
    }
    pick(singles)?.ok_or_else(|| SafetensorsError::NoCheckpoint {
        dir: dir.display().to_string(),
    })
}

/// Read a small file whole, refusing one above `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, SafetensorsError> {
    let name = path.display().to_string();
    let io = |source| SafetensorsError::Io {
        file: name.clone(),
        source,
    };
    let (f, len) = crate::file::open_regular(path)?;
    if len > limit {
        return Err(SafetensorsError::IndexTooLarge {
            file: name,
            len,
            limit,
        });
    }
    let mut buf = Vec::new();
    f.take(limit).read_to_end(&mut buf).map_err(io)?;
    Ok(buf)
}

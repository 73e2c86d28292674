//! `model.safetensors.index.json`: which shard holds which tensor.
//!
//! ```json
//! {"metadata": {"total_size": 13476839424},
//!  "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors", …}}
//! ```
//!
//! # Source
//! transformers `modeling_utils.py` (`save_pretrained` writes `metadata.total_size`,
//! the sum of tensor bytes, and `weight_map`).

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::Deserialize;

use super::SafetensorsError;

/// The largest index file accepted (100 MiB; real ones are well under 1 MiB).
pub const MAX_INDEX_BYTES: u64 = 100 << 20;

/// A parsed shard index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIndex {
    /// `metadata.total_size`, when present and a whole number.
    pub total_size: Option<u64>,
    /// Tensor name → shard file name (relative to the index).
    pub weight_map: BTreeMap<String, String>,
}

impl ShardIndex {
    /// The shard files, each once, sorted.
    pub fn shards(&self) -> Vec<&str> {
        let mut shards: Vec<&str> = self.weight_map.values().map(String::as_str).collect();
        shards.sort_unstable();
        shards.dedup();
        shards
    }
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(default)]
    metadata: Option<RawIndexMetadata>,
    weight_map: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawIndexMetadata {
    #[serde(default)]
    total_size: Option<serde_json::Value>,
}

/// Parse an index file's JSON and check its shard names.
///
/// # Errors
/// [`SafetensorsError::IndexTooLarge`], [`SafetensorsError::Json`],
/// [`SafetensorsError::EmptyIndex`], or [`SafetensorsError::UnsafeShardName`] for
/// a shard outside the index's folder (absolute, `..`).
pub fn parse_index(file: &str, json: &[u8]) -> Result<ShardIndex, SafetensorsError> {
    if json.len() as u64 > MAX_INDEX_BYTES {
        return Err(SafetensorsError::IndexTooLarge {
            file: file.to_string(),
            len: json.len() as u64,
            limit: MAX_INDEX_BYTES,
        });
    }
    let raw: RawIndex = serde_json::from_slice(json).map_err(|source| SafetensorsError::Json {
        file: file.to_string(),
        source,
    })?;
    if raw.weight_map.is_empty() {
        return Err(SafetensorsError::EmptyIndex {
            file: file.to_string(),
        });
    }
    for shard in raw.weight_map.values() {
        check_shard_name(file, shard)?;
    }
    // Some writers store total_size as a float (`1.3e10`); keep it only when exact.
    let total_size = raw
        .metadata
        .and_then(|m| m.total_size)
        .and_then(|v| v.as_u64().or_else(|| whole_f64(v.as_f64()?)));
    Ok(ShardIndex {
        total_size,
        weight_map: raw.weight_map,
    })
}

fn whole_f64(x: f64) -> Option<u64> {
    (x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64).then_some(x as u64)
}

/// A shard name must be a relative path made of plain components.
pub(crate) fn check_shard_name(file: &str, shard: &str) -> Result<(), SafetensorsError> {
    let plain = !shard.is_empty()
        && !shard.contains('\\')
        && Path::new(shard)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(SafetensorsError::UnsafeShardName {
            file: file.to_string(),
            shard: shard.to_string(),
        })
    }
}

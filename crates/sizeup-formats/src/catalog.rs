//! The embedded model catalog: real models' architecture facts in sizeup's own format.
//!
//! `catalog/models.toml` (in this crate) holds one `[[model]]` table per model: its
//! name, family, Hugging Face id, context length and the [`Architecture`] itself as
//! a TOML table. The file is compiled in and parsed once, on first use. A test
//! checks every entry against the reference counts in `shared/fixtures`, so the
//! catalog cannot drift from them.
//!
//! ```
//! use sizeup_formats::catalog;
//!
//! let entry = catalog::find("Llama_3.1_8B").unwrap(); // case, `-`, `_` and `.` are loose
//! assert_eq!(entry.name, "llama-3.1-8b");
//! let count = sizeup_core::params::count(&entry.arch).unwrap();
//! assert_eq!(count.total, 8_030_261_248); // shared/fixtures/models/llama-3.1-8b
//! ```

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sizeup_core::Architecture;

use crate::error::FormatError;

/// The catalog file, embedded at build time.
const MODELS_TOML: &str = include_str!("../catalog/models.toml");

/// How many nearest names an unknown name is answered with.
const SUGGESTIONS: usize = 3;

/// One model of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The short name to look it up by (`llama-3.1-8b`).
    pub name: String,
    /// The family or generation it belongs to (`llama3.1`).
    pub family: String,
    /// Its Hugging Face repository id, empty for hand-made entries.
    pub hf_id: String,
    /// The longest context it was built for, in tokens.
    pub context: u64,
    /// Anything a reader of the numbers should know about the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Its architecture, exactly as counted.
    pub arch: Architecture,
}

/// The file's layout: a list of `[[model]]` tables.
#[derive(Debug, Serialize, Deserialize)]
struct CatalogFile {
    model: Vec<Entry>,
}

/// The parsed catalog, or the parser's message.
fn parsed() -> &'static Result<Vec<Entry>, String> {
    static CATALOG: OnceLock<Result<Vec<Entry>, String>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        toml::from_str::<CatalogFile>(MODELS_TOML)
            .map(|f| f.model)
            .map_err(|e| e.to_string())
    })
}

/// Every catalog entry, in file order (empty only if the embedded file were malformed,
/// which the crate's tests rule out; [`find`] reports that case as an error).
pub fn all() -> &'static [Entry] {
    match parsed() {
        Ok(entries) => entries,
        Err(_) => &[],
    }
}

/// The catalog entry called `name`, compared loosely: case-insensitive, with `-`, `_`
/// and `.` equivalent; the Hugging Face id (or its part after `/`) matches too.
///
/// # Errors
/// [`FormatError::UnknownModel`] with up to three nearest names (edit distance) when
/// nothing matches; [`FormatError::Catalog`] if the embedded file does not parse.
pub fn find(name: &str) -> Result<&'static Entry, FormatError> {
    let entries = parsed().as_ref().map_err(|message| FormatError::Catalog {
        message: message.clone(),
    })?;
    let wanted = loose(name);
    let hit = entries.iter().find(|e| {
        loose(&e.name) == wanted
            || (!e.hf_id.is_empty()
                && (loose(&e.hf_id) == wanted
                    || e.hf_id.rsplit('/').next().map(loose) == Some(wanted.clone())))
    });
    hit.ok_or_else(|| FormatError::UnknownModel {
        name: name.to_string(),
        suggestions: nearest(&wanted, entries),
    })
}

/// A name with case and separators folded: `Llama_3.1-8B` → `llama-3-1-8b`.
fn loose(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Up to [`SUGGESTIONS`] catalog names closest to `wanted` by Levenshtein distance,
/// best first, leaving out names that differ in more than half their length.
fn nearest(wanted: &str, entries: &[Entry]) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = entries
        .iter()
        .map(|e| {
            (
                strsim::levenshtein(wanted, &loose(&e.name)),
                e.name.as_str(),
            )
        })
        .filter(|(d, name)| *d <= name.len().max(wanted.len()) / 2)
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, n)| n.to_string())
        .collect()
}

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

/// The catalog file (`catalog/models.toml`), embedded at build time as JSON (see
/// `build.rs`: the same tables, read twenty times faster).
const MODELS_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/models.json"));

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
        serde_json::from_str::<CatalogFile>(MODELS_JSON)
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
            || hf_ids(e).iter().any(|id| {
                loose(id) == wanted || id.rsplit('/').next().map(loose) == Some(wanted.clone())
            })
    });
    hit.ok_or_else(|| FormatError::UnknownModel {
        name: name.to_string(),
        suggestions: nearest(&wanted, entries),
    })
}

/// The Hugging Face ids an entry stands for. The catalog writes a repository and
/// its tuned twin as one id with the suffix in brackets:
/// `meta-llama/Llama-3.2-1B(-Instruct)` is `meta-llama/Llama-3.2-1B` and
/// `meta-llama/Llama-3.2-1B-Instruct`.
pub fn hf_ids(entry: &Entry) -> Vec<String> {
    let id = entry.hf_id.trim();
    if id.is_empty() {
        return Vec::new();
    }
    match id.strip_suffix(')').and_then(|s| s.split_once('(')) {
        Some((base, suffix)) => vec![base.to_string(), format!("{base}{suffix}")],
        None => vec![id.to_string()],
    }
}

/// The entry whose Hugging Face id is `repo` (`ORG/NAME`), ignoring case only.
pub fn find_hf_id(repo: &str) -> Option<&'static Entry> {
    let repo = repo.trim();
    all()
        .iter()
        .find(|e| hf_ids(e).iter().any(|id| id.eq_ignore_ascii_case(repo)))
}

/// A catalog entry found for a Hub-style name by [`find_alias`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The entry.
    pub entry: &'static Entry,
    /// The name both reduce to (`llama-3-1-8b`).
    pub key: String,
    /// Whether a tuning suffix (`-Instruct`, `-Chat`, `-it`, `-Base`) was set
    /// aside, on either side: the shapes are the base model's.
    pub tuned: bool,
}

/// Suffixes that name a tuning of the same network, not another shape.
const TUNING_SUFFIXES: [&str; 4] = ["-instruct", "-chat", "-it", "-base"];
/// Suffixes that name a file layout (`-hf`: converted to transformers).
const FORMAT_SUFFIXES: [&str; 1] = ["-hf"];

/// The entry a Hub-style name stands for once its organization, a `Meta-` prefix
/// and tuning or format suffixes are set aside on both sides:
/// `meta-llama/Llama-3.1-8B-Instruct` and `Meta-Llama-3.1-8B-Instruct` are
/// `llama-3.1-8b` (whose id is `meta-llama/Meta-Llama-3.1-8B`). Never a fuzzy
/// guess: the reduced names must be equal, and name one entry only.
///
/// # Source
/// The suffixes are the Hub's naming habits (meta-llama, google, Qwen,
/// mistralai, deepseek-ai repositories); a tuned release keeps its base model's
/// `config.json` shapes.
pub fn find_alias(name: &str) -> Option<Alias> {
    let (key, query_tuned) = reduced(name);
    if key.is_empty() {
        return None;
    }
    let mut hits = all().iter().filter_map(|e| {
        let keys = std::iter::once(e.name.clone()).chain(hf_ids(e));
        keys.map(|k| reduced(&k))
            .find(|(k, _)| *k == key)
            .map(|(_, tuned)| (e, tuned))
    });
    let (entry, entry_tuned) = hits.next()?;
    if hits.any(|(other, _)| other.name != entry.name) {
        return None;
    }
    Some(Alias {
        entry,
        key,
        tuned: query_tuned || entry_tuned,
    })
}

/// `name` without organization, `Meta-` prefix and the suffixes above, loosely
/// folded; and whether a tuning suffix was removed.
fn reduced(name: &str) -> (String, bool) {
    let last = name.trim().rsplit('/').next().unwrap_or_default();
    let mut s = loose(last);
    if let Some(rest) = s.strip_prefix("meta-") {
        s = rest.to_string();
    }
    let mut tuned = false;
    'strip: loop {
        for (suffix, tuning) in TUNING_SUFFIXES
            .iter()
            .map(|x| (x, true))
            .chain(FORMAT_SUFFIXES.iter().map(|x| (x, false)))
        {
            if let Some(rest) = s.strip_suffix(suffix).filter(|r| !r.is_empty()) {
                s = rest.to_string();
                tuned |= tuning;
                continue 'strip;
            }
        }
        break;
    }
    (s, tuned)
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

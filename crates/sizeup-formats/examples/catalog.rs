//! Write `catalog/models.toml` from `catalog/sources.toml`.
//!
//! Each source names a folder with a real `config.json` (read by the same Hugging Face
//! reader as `sizeup params`) or a published shape; the catalog holds the resulting
//! `Architecture`, so a test can hold every entry to its reader and its reference counts.
//!
//! ```text
//! cargo run -p sizeup-formats --example catalog > crates/sizeup-formats/catalog/models.toml
//! ```
//! Run from the workspace root, with `shared/` beside it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use sizeup_core::Shape;
use sizeup_formats::catalog::Entry;
use sizeup_formats::hf;

#[derive(Deserialize)]
struct Sources {
    model: Vec<Source>,
}

#[derive(Deserialize)]
struct Source {
    name: String,
    family: String,
    hf_id: String,
    notes: Option<String>,
    config: Option<String>,
    shape: Option<Shape>,
}

#[derive(Serialize)]
struct CatalogFile {
    model: Vec<Entry>,
}

const HEADER: &str = "\
# sizeup's model catalog, in sizeup's own format (not Hugging Face's).
#
# Written by `cargo run -p sizeup-formats --example catalog` from catalog/sources.toml;
# do not edit by hand. One [[model]] table per model: `name` (the lookup name),
# `family`, `hf_id` (empty for hand-made entries), `context` (tokens), optional
# `notes`, and [model.arch]: the sizeup_core::Architecture itself (a layer schedule:
# distinct blocks and runs of them), as serde writes it. tests/catalog.rs holds every
# entry to its reader and to the reference counts.

";

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = match std::fs::read_to_string(root.join("catalog/sources.toml")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read catalog/sources.toml: {e}");
            return ExitCode::from(2);
        }
    };
    let sources: Sources = match toml::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: catalog/sources.toml: {e}");
            return ExitCode::from(2);
        }
    };
    let workspace = root.join("../..");
    let mut entries = Vec::new();
    for s in sources.model {
        let arch = match (&s.config, &s.shape) {
            (Some(dir), _) => match hf::from_config_path(&workspace.join(dir)) {
                Ok(parsed) => parsed.arch,
                Err(e) => {
                    eprintln!("error: {}: {e}", s.name);
                    return ExitCode::from(2);
                }
            },
            (None, Some(shape)) => match shape.build() {
                Ok(mut a) => {
                    a.model_type = s.family.clone();
                    a
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", s.name);
                    return ExitCode::from(2);
                }
            },
            (None, None) => {
                eprintln!("error: {}: neither `config` nor `shape`", s.name);
                return ExitCode::from(2);
            }
        };
        entries.push(Entry {
            name: s.name,
            family: s.family,
            hf_id: s.hf_id,
            context: arch.max_context,
            notes: s.notes,
            arch,
        });
    }
    match toml::to_string(&CatalogFile { model: entries }) {
        Ok(body) => {
            print!("{HEADER}{body}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write the catalog: {e}");
            ExitCode::from(2)
        }
    }
}

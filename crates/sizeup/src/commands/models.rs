//! `sizeup models`: the embedded catalog.

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_core::params;

use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup models`.
#[derive(Debug, Args, Serialize)]
pub struct ModelsArgs {
    /// Only models whose name or family contains this text
    #[arg(long)]
    pub filter: Option<String>,
}

/// One catalog row.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ModelRow {
    /// Catalog name.
    pub name: String,
    /// Family.
    pub family: String,
    /// Hugging Face id.
    pub hf_id: Option<String>,
    /// Every parameter.
    pub params_total: u64,
    /// Parameters one token uses.
    pub params_active: u64,
    /// Longest context.
    pub context_tokens: u64,
    /// `MHA`, `GQA`, `MQA`, `MLA`, with `+SWA` for sliding windows.
    pub attention: String,
}

/// What `sizeup models` reports.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ModelsReport {
    /// The catalog, in catalog order.
    pub models: Vec<ModelRow>,
}

/// List the catalog.
pub fn run(args: &ModelsArgs) -> Result<ModelsReport, AppError> {
    let needle = args.filter.as_deref().map(str::to_ascii_lowercase);
    let mut models = Vec::new();
    for e in sizeup_formats::catalog::all() {
        if let Some(n) = &needle {
            if !e.name.to_ascii_lowercase().contains(n)
                && !e.family.to_ascii_lowercase().contains(n)
            {
                continue;
            }
        }
        let c = params::count(&e.arch)?;
        models.push(ModelRow {
            name: e.name.clone(),
            family: e.family.clone(),
            hf_id: Some(e.hf_id.clone()).filter(|id| !id.is_empty()),
            params_total: c.total,
            params_active: c.active,
            context_tokens: e.arch.max_context,
            attention: e.arch.attention_layout(),
        });
    }
    Ok(ModelsReport { models })
}

impl Report for ModelsReport {
    fn view(&self, _units: ByteUnits) -> View {
        let mut t = Table::new(
            None,
            &[
                ("name", "name"),
                ("family", "family"),
                ("params", "params_total"),
                ("active", "params_active"),
                ("context", "context_tokens"),
                ("attention", "attention"),
            ],
        );
        for m in &self.models {
            t.row(vec![
                Cell::Text(m.name.clone()),
                Cell::Text(m.family.clone()),
                Cell::Count(m.params_total),
                if m.params_active == m.params_total {
                    Cell::Empty
                } else {
                    Cell::Count(m.params_active)
                },
                Cell::Exact(m.context_tokens),
                Cell::Text(m.attention.clone()),
            ]);
        }
        View {
            tables: vec![t],
            notes: vec![format!("{} models", self.models.len())],
        }
    }
}

//! `sizeup params MODEL`: the exact parameter count and where it sits.

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_core::params::{self, Breakdown};
use sizeup_core::rough::{self, RoughComparison};
use sizeup_core::Assumption;

use crate::cli::ModelArg;
use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup params`.
#[derive(Debug, Args, Serialize)]
pub struct ParamsArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
}

/// What `sizeup params` reports (JSON field names are a contract: see README.md).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct ParamsReport {
    /// The model and its architecture.
    pub model: ModelSummary,
    /// Every parameter, a tied LM head counted once.
    pub params_total: u64,
    /// Parameters one token uses (MoE: routed experts it skips excluded).
    pub params_active: u64,
    /// Parameters by group.
    pub breakdown: Breakdown,
    /// Parameters of the multi-token-prediction layers the checkpoint ships (not in
    /// `params_total`, as transformers does not build them; 0 without them).
    pub params_mtp: u64,
    /// Parameters of the language model alone (towers excluded).
    pub params_text: u64,
    /// The lesson's `12·h²` estimate beside the exact count.
    pub rough: RoughComparison,
    /// What the checkpoint's files hold, when their headers were read
    /// (safetensors folder, GGUF file, Hub), beside the config's count.
    pub checkpoint: Option<sizeup_formats::source::CheckpointTensors>,
    /// Rules applied where the input was silent.
    pub assumptions: Vec<Assumption>,
}

/// Count the model's parameters.
pub fn run(args: &ParamsArgs) -> Result<ParamsReport, AppError> {
    let loaded = model::load(&args.model)?;
    let count = params::count(&loaded.arch)?;
    Ok(ParamsReport {
        model: ModelSummary::new(&loaded),
        params_total: count.total,
        params_active: count.active,
        breakdown: count.breakdown,
        params_mtp: count.mtp,
        params_text: count.text,
        rough: rough::compare(&loaded.arch, &count)?,
        checkpoint: loaded.tensors.clone(),
        assumptions: loaded.assumptions,
    })
}

impl Report for ParamsReport {
    fn view(&self, _units: ByteUnits) -> View {
        let b = &self.breakdown;
        let mut t = Table::new(
            Some(&format!(
                "{} ({})",
                self.model.name,
                self.model.description()
            )),
            &[
                ("group", "group"),
                ("params", "params"),
                ("exact", "params_exact"),
                ("share", "share"),
            ],
        );
        let groups = [
            ("embedding", b.embedding),
            ("position embedding", b.position_embedding),
            ("attention", b.attention),
            ("mlp", b.mlp),
            ("moe routed experts", b.moe_routed_experts),
            ("moe shared experts", b.moe_shared_experts),
            ("moe router", b.moe_router),
            ("norms", b.norm),
            ("lm_head", b.lm_head),
            ("vision tower + projector", b.vision_and_projector),
            ("recurrent mixers", b.recurrent),
            ("other", b.other),
        ];
        let total = self.params_total.max(1) as f64;
        for (name, n) in groups.into_iter().filter(|(_, n)| *n > 0) {
            t.row(vec![
                Cell::Text(name.into()),
                Cell::Count(n),
                Cell::Exact(n),
                Cell::Ratio(n as f64 / total),
            ]);
        }
        t.row(vec![
            Cell::Text("total".into()),
            Cell::Count(self.params_total),
            Cell::Exact(self.params_total),
            Cell::Ratio(1.0),
        ]);
        if self.params_active != self.params_total {
            t.row(vec![
                Cell::Text("active per token".into()),
                Cell::Count(self.params_active),
                Cell::Exact(self.params_active),
                Cell::Ratio(self.params_active as f64 / total),
            ]);
        }
        if self.params_mtp > 0 {
            t.row(vec![
                Cell::Text("multi-token prediction (beside the total)".into()),
                Cell::Count(self.params_mtp),
                Cell::Exact(self.params_mtp),
                Cell::Ratio(self.params_mtp as f64 / total),
            ]);
        }
        let mut r = Table::new(
            Some(&format!(
                "the lesson's rough estimate: {} (exact {}, {:+.1}%)",
                crate::humanize::count(self.rough.rough_total),
                crate::humanize::count(self.rough.exact_total),
                (self.rough.rough_total as f64 / self.rough.exact_total.max(1) as f64 - 1.0)
                    * 100.0
            )),
            &[
                ("component", "component"),
                ("rough", "rough"),
                ("exact", "exact"),
                ("why they differ", "reason"),
            ],
        );
        for c in self
            .rough
            .components
            .iter()
            .filter(|c| c.rough > 0 || c.exact > 0)
        {
            r.row(vec![
                Cell::Text(c.component.to_string()),
                Cell::Count(c.rough),
                Cell::Count(c.exact),
                Cell::Text(c.reason.clone()),
            ]);
        }
        let mut notes = Vec::new();
        if let Some(c) = &self.checkpoint {
            notes.push(format!(
                "checkpoint files: {} parameters in {} bytes ({} tensors)",
                crate::humanize::grouped(c.table.params),
                crate::humanize::grouped(c.table.bytes),
                c.table.tensors.len()
            ));
            if let Some(cmp) = &c.comparison {
                notes.push(if cmp.extra_in_file == 0 && cmp.missing_in_file == 0 {
                    "the files hold exactly the parameters the config describes".to_string()
                } else {
                    format!(
                        "the files differ from the config: {} more, {} fewer parameters ({:+.3}%)",
                        crate::humanize::grouped(cmp.extra_in_file),
                        crate::humanize::grouped(cmp.missing_in_file),
                        cmp.relative_difference * 100.0
                    )
                });
            }
        }
        notes.extend(model::assumption_notes(&self.assumptions));
        View {
            tables: vec![t, r],
            notes,
        }
    }
}

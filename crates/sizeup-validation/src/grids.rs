//! Layout grids: many measured layouts of one model on one cluster, ranked by sizeup.
//!
//! A plan is as good as its ranking. The grids of `data/layout_grids.json` are
//! published layout searches (one model, one cluster, several tensor-, pipeline-
//! and data-parallel splits, micro-batches and recomputation modes, each with the
//! step time its source measured, or out of memory). Every layout of a grid is
//! priced the way `plan train` prices a candidate: [`Candidate::request`] over the
//! grid's base request, then [`Prepared::estimate_point`]; the plan's first choice
//! is the layout it would rank first among them: the least wall time of those it
//! predicts to fit, ties broken by the plan's candidate order.
//!
//! Nothing here is fitted: the grids are priced with the constants in the code,
//! and no rule reads a grid's id, source or model. A grid states its framework's
//! settings (kernels, overlap, ZeRO stage, precision) as data.
//!
//! # Figures per grid
//! ```text
//! first-choice gap = (T_best − T_choice) / T_best       (T measured tokens/s; 1 when the choice ran out of memory)
//!                    and the same with the runs that ran out of memory left out of the grid
//!                    (the time ranking alone, apart from the memory verdicts)
//! Spearman ρ       = Pearson correlation of the ranks of predicted and measured T over the measured layouts
//!                    (ties take their average rank; none for a grid of fewer than 3)
//! median |error|   = median over the measured layouts of |T_predicted − T_measured| / T_measured
//! fit misses       = measured runs predicted not to fit + out-of-memory runs predicted to fit
//! ```

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{abs_quantile, relative_error};
use sizeup_core::device::collective::Network;
use sizeup_core::hardware;
use sizeup_core::plan::train::Ranked;
use sizeup_core::plan::Candidate;
use sizeup_core::shape::Shape;
use sizeup_core::training::activations::Recompute;
use sizeup_core::training::kernels::Kernels;
use sizeup_core::training::loss::Loss;
use sizeup_core::training::parallel::ZeroStage;
use sizeup_core::training::states::{OptimizerImpl, Precision};
use sizeup_core::training::time::Overlap;
use sizeup_core::training::verdict::FitVerdict;
use sizeup_core::training::{Prepared, TrainRequest};

/// Measured layouts a grid needs for its rank correlation: with two, ρ is ±1
/// whatever the model says.
pub const MIN_RANKED: usize = 3;

/// The bar on the first-choice gap: the plan's first choice within 5% of the best
/// measured throughput (issue 12, "Fidelity").
pub const FIRST_CHOICE_GAP_BAR: f64 = 0.05;

/// One measured layout, as its source printed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredLayout {
    /// Tensor-parallel size `t`.
    pub tp: u64,
    /// Pipeline stages `p` (plain 1F1B: no interleaving in these grids).
    pub pp: u64,
    /// Data-parallel size `dp`.
    pub dp: u64,
    /// Micro-batch `b` in sequences.
    pub micro_batch: u64,
    /// Global batch `B` in sequences.
    pub global_batch: u64,
    /// Recomputation.
    pub recompute: Recompute,
    /// Seconds per optimizer step as printed; `None` when the run did not fit.
    #[serde(default)]
    pub step_seconds: Option<f64>,
    /// The run ran out of memory.
    #[serde(default)]
    pub out_of_memory: bool,
    /// Memory in use per GPU as the source read it (the grid's `memory_reading`
    /// says how), GiB; `None` where it printed none.
    #[serde(default)]
    pub memory_gib: Option<f64>,
}

impl MeasuredLayout {
    /// Measured tokens per second per GPU; `None` for a run that did not fit.
    ///
    /// # Formula
    /// `T = B · s / (step_seconds · N)`
    pub fn measured_tokens_per_sec_per_gpu(&self, seq_len: u64, gpus: u64) -> Option<f64> {
        self.step_seconds
            .map(|t| self.global_batch as f64 * seq_len as f64 / (t * gpus as f64))
    }

    /// A short label: `tp 4 · pp 12 · dp 8 · b 2 · B 2048 · full`.
    pub fn label(&self) -> String {
        format!(
            "tp {} · pp {} · dp {} · b {} · B {} · {}",
            self.tp,
            self.pp,
            self.dp,
            self.micro_batch,
            self.global_batch,
            self.recompute.name()
        )
    }
}

/// A published grid: one model on one cluster, the framework's settings, the layouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Stable identifier.
    pub id: String,
    /// Repository (at a commit) or paper, and file.
    pub source: String,
    /// The table or section, how it was printed, and what was left out and why.
    pub table: String,
    /// The model the source states.
    pub model: Shape,
    /// Where each model number comes from.
    pub model_source: String,
    /// The accelerator's catalog name.
    pub gpu: String,
    /// GPUs in every run of the grid.
    pub gpus: u64,
    /// The cluster's network.
    pub network: Network,
    /// Where the network figures come from.
    pub network_source: String,
    /// Sequence length `s`.
    pub seq_len: u64,
    /// Precision of the matrix products.
    pub precision: Precision,
    /// ZeRO stage.
    pub zero: ZeroStage,
    /// Flash attention.
    pub flash_attention: bool,
    /// Dropout on attention probabilities and residuals (Megatron's defaults, 0.1).
    #[serde(default)]
    pub dropout: bool,
    /// Fused or eager element-wise kernels.
    pub kernels: Kernels,
    /// Which communication the framework overlaps.
    pub overlap: Overlap,
    /// Who holds the gradients and optimizer states (DeepSpeed's BF16 optimizer
    /// for Megatron-DeepSpeed's bf16 runs); the precision's convention when absent.
    #[serde(default)]
    pub optimizer_impl: OptimizerImpl,
    /// How the logits and loss are held (DeepSpeed's pipeline engine keeps the
    /// last stage's outputs); the kernels' default when absent.
    #[serde(default)]
    pub loss: Option<Loss>,
    /// Where the settings come from.
    pub settings_source: String,
    /// How the source read the memory of its layouts (`memory_gib`), if it did.
    #[serde(default)]
    pub memory_reading: Option<String>,
    /// The measured layouts, in the source's order.
    pub layouts: Vec<MeasuredLayout>,
}

/// The data file's shape (its `about` key is a note for readers).
#[derive(Debug, Deserialize)]
struct GridFile {
    grids: Vec<Grid>,
}

/// Parse a grids file in the shape of `data/layout_grids.json`.
///
/// # Errors
/// The JSON error, naming the line and column.
pub fn parse(text: &str) -> Result<Vec<Grid>, serde_json::Error> {
    serde_json::from_str::<GridFile>(text).map(|f| f.grids)
}

/// The grids sizeup ships (`crates/sizeup-validation/data/layout_grids.json`, embedded).
pub fn shipped() -> &'static [Grid] {
    static GRIDS: OnceLock<Vec<Grid>> = OnceLock::new();
    GRIDS.get_or_init(|| {
        parse(include_str!("../data/layout_grids.json"))
            .expect("embedded data/layout_grids.json parses")
    })
}

/// One layout of a grid, measured and priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricedLayout {
    /// The layout as the source printed it.
    pub layout: MeasuredLayout,
    /// Its label.
    pub label: String,
    /// Measured tokens per second per GPU (`None`: out of memory).
    pub measured_tokens_per_sec_per_gpu: Option<f64>,
    /// Predicted tokens per second per GPU.
    pub predicted_tokens_per_sec_per_gpu: Option<f64>,
    /// Predicted wall seconds for the grid's training tokens: what the plan ranks by.
    pub predicted_total_seconds: Option<f64>,
    /// Predicted memory per GPU of the fullest stage, bytes.
    pub predicted_memory_bytes: Option<u64>,
    /// Whether sizeup predicts it fits, tightly, or not at all.
    pub predicted_verdict: Option<FitVerdict>,
    /// `(predicted − measured) / measured` throughput.
    pub error: Option<f64>,
    /// Rank of the measured throughput among the measured layouts (1 = fastest).
    pub measured_rank: Option<f64>,
    /// Rank of the predicted throughput among the measured layouts (1 = fastest).
    pub predicted_rank: Option<f64>,
    /// Why it could not be priced.
    pub note: Option<String>,
}

/// A grid's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridOutcome {
    /// The grid's id.
    pub id: String,
    /// The grid's source and table.
    pub source: String,
    /// The accelerator.
    pub gpu: String,
    /// GPUs per run.
    pub gpus: u64,
    /// Every layout, in the source's order.
    pub layouts: Vec<PricedLayout>,
    /// Index of the plan's first choice among `layouts`.
    pub first_choice: Option<usize>,
    /// Index of the plan's first choice had the runs that ran out of memory been
    /// left out: the time ranking alone, apart from the memory verdicts.
    pub first_choice_among_ran: Option<usize>,
    /// Index of the fastest measured layout.
    pub best_measured: Option<usize>,
    /// `(T_best − T_choice) / T_best`; 1 when the choice ran out of memory.
    pub first_choice_gap: Option<f64>,
    /// The same for `first_choice_among_ran`.
    pub first_choice_gap_among_ran: Option<f64>,
    /// Spearman rank correlation of predicted and measured throughput (`None`
    /// with fewer than [`MIN_RANKED`] measured layouts).
    pub spearman: Option<f64>,
    /// Median absolute relative error of the predicted throughput.
    pub median_abs_error: Option<f64>,
    /// Measured runs predicted not to fit.
    pub measured_but_predicted_oom: usize,
    /// Out-of-memory runs predicted to fit with the margin to spare.
    pub oom_but_predicted_fit: usize,
    /// Measured runs predicted tight.
    pub measured_but_tight: usize,
    /// Out-of-memory runs predicted tight.
    pub oom_and_tight: usize,
}

impl GridOutcome {
    /// Layouts with a measured throughput.
    pub fn measured(&self) -> usize {
        self.layouts
            .iter()
            .filter(|l| l.measured_tokens_per_sec_per_gpu.is_some())
            .count()
    }

    /// Layouts that ran out of memory.
    pub fn out_of_memory(&self) -> usize {
        self.layouts
            .iter()
            .filter(|l| l.layout.out_of_memory)
            .count()
    }

    /// Layouts sizeup priced.
    pub fn priced(&self) -> usize {
        self.layouts
            .iter()
            .filter(|l| l.predicted_tokens_per_sec_per_gpu.is_some())
            .count()
    }
}

/// Ranks of `values`, largest first (rank 1), ties sharing their average rank.
///
/// # Example
/// `[10, 30, 30, 20]` → `[4, 1.5, 1.5, 3]`.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // positions i..=j (0-based) hold ranks i+1..=j+1; their mean
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation of two equally long series.
///
/// # Formula
/// `ρ = Σ (r_x − r̄)(r_y − r̄) / √(Σ (r_x − r̄)² · Σ (r_y − r̄)²)` over the
/// average ranks (Pearson's correlation of the ranks, exact with ties).
///
/// # Source
/// Spearman 1904; with ties, Kendall & Gibbons, "Rank Correlation Methods" (1990) §3.
///
/// # Assumptions / limits
/// `None` for fewer than two pairs, series of unequal length, non-finite
/// values, or a series whose values are all equal (no ranking to correlate).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return None;
    }
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let mean = (x.len() as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        let (dx, dy) = (a - mean, b - mean);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// The plan's candidate for a measured layout: no interleaving, context or
/// expert parallelism, no sequence parallelism, the grid's ZeRO stage.
fn candidate(grid: &Grid, l: &MeasuredLayout) -> Candidate {
    Candidate {
        accelerator: 0,
        gpus: grid.gpus,
        tp: l.tp,
        pp: l.pp,
        vpp: 1,
        cp: 1,
        ep: 1,
        dp: l.dp,
        micro_batch: l.micro_batch,
        sequence_parallel: false,
        zero: grid.zero,
        recompute: l.recompute,
    }
}

/// The request the plan would price for `l`: the grid's settings as the base,
/// the layout's flags applied by [`Candidate::request`].
pub fn request(grid: &Grid, l: &MeasuredLayout) -> TrainRequest {
    let mut base = TrainRequest::new(grid.gpus, grid.seq_len, l.global_batch, l.micro_batch);
    base.precision = grid.precision;
    base.optimizer_impl = grid.optimizer_impl;
    base.loss = grid.loss;
    base.flash_attention = grid.flash_attention;
    base.dropout = grid.dropout;
    base.kernels = grid.kernels;
    base.overlap = grid.overlap;
    base.network = grid.network;
    candidate(grid, l).request(&base)
}

/// Price every layout of `grid` and work out its figures (see the module docs).
pub fn evaluate(grid: &Grid) -> GridOutcome {
    let measured: Vec<Option<f64>> = grid
        .layouts
        .iter()
        .map(|l| l.measured_tokens_per_sec_per_gpu(grid.seq_len, grid.gpus))
        .collect();
    let setup = grid
        .model
        .build()
        .map_err(|e| format!("model: {e}"))
        .and_then(|arch| {
            hardware::find(&grid.gpu)
                .map(|acc| (arch, acc))
                .map_err(|e| format!("gpu: {e}"))
        });
    let mut layouts: Vec<PricedLayout> = grid
        .layouts
        .iter()
        .zip(&measured)
        .map(|(l, &m)| PricedLayout {
            layout: l.clone(),
            label: l.label(),
            measured_tokens_per_sec_per_gpu: m,
            predicted_tokens_per_sec_per_gpu: None,
            predicted_total_seconds: None,
            predicted_memory_bytes: None,
            predicted_verdict: None,
            error: None,
            measured_rank: None,
            predicted_rank: None,
            note: None,
        })
        .collect();
    match &setup {
        Err(why) => layouts.iter_mut().for_each(|p| p.note = Some(why.clone())),
        Ok((arch, acc)) => {
            let prepared = Prepared::new(arch);
            for p in &mut layouts {
                match prepared.estimate_point(acc, &request(grid, &p.layout)) {
                    Ok(e) => {
                        let t = e.time.tokens_per_second_per_gpu;
                        p.predicted_tokens_per_sec_per_gpu = Some(t);
                        p.predicted_total_seconds = Some(e.time.total_seconds);
                        p.predicted_memory_bytes = Some(e.memory.total_bytes);
                        p.predicted_verdict = Some(e.verdict);
                        p.error = p
                            .measured_tokens_per_sec_per_gpu
                            .map(|m| relative_error(t, m));
                    }
                    Err(e) => p.note = Some(e.to_string()),
                }
            }
        }
    }

    // ranks over the layouts both measured and priced
    let both: Vec<usize> = (0..layouts.len())
        .filter(|&i| {
            layouts[i].measured_tokens_per_sec_per_gpu.is_some()
                && layouts[i].predicted_tokens_per_sec_per_gpu.is_some()
        })
        .collect();
    let m: Vec<f64> = both
        .iter()
        .filter_map(|&i| layouts[i].measured_tokens_per_sec_per_gpu)
        .collect();
    let p: Vec<f64> = both
        .iter()
        .filter_map(|&i| layouts[i].predicted_tokens_per_sec_per_gpu)
        .collect();
    for ((&i, rm), rp) in both.iter().zip(average_ranks(&m)).zip(average_ranks(&p)) {
        layouts[i].measured_rank = Some(rm);
        layouts[i].predicted_rank = Some(rp);
    }

    let first_choice = plan_choice(grid, &layouts, |_| true);
    let first_choice_among_ran = plan_choice(grid, &layouts, |l| !l.layout.out_of_memory);
    let best_measured = (0..layouts.len())
        .filter_map(|i| layouts[i].measured_tokens_per_sec_per_gpu.map(|t| (t, i)))
        .max_by(|(a, _), (b, _)| a.total_cmp(b))
        .map(|(_, i)| i);
    let errors: Vec<f64> = layouts.iter().filter_map(|l| l.error).collect();
    GridOutcome {
        id: grid.id.clone(),
        source: format!("{}, {}", grid.source, grid.table),
        gpu: grid.gpu.clone(),
        gpus: grid.gpus,
        first_choice_gap: gap(&layouts, first_choice, best_measured),
        first_choice_gap_among_ran: gap(&layouts, first_choice_among_ran, best_measured),
        first_choice,
        first_choice_among_ran,
        best_measured,
        spearman: if m.len() >= MIN_RANKED {
            spearman(&p, &m)
        } else {
            None
        },
        median_abs_error: abs_quantile(&errors, 0.5),
        measured_but_predicted_oom: count(&layouts, false, FitVerdict::DoesNotFit),
        oom_but_predicted_fit: count(&layouts, true, FitVerdict::Fits),
        measured_but_tight: count(&layouts, false, FitVerdict::Tight),
        oom_and_tight: count(&layouts, true, FitVerdict::Tight),
        layouts,
    }
}

/// Layouts that ran out of memory (or ran, with `oom` false) with this verdict.
fn count(layouts: &[PricedLayout], oom: bool, verdict: FitVerdict) -> usize {
    layouts
        .iter()
        .filter(|l| l.layout.out_of_memory == oom && l.predicted_verdict == Some(verdict))
        .count()
}

/// The plan's first choice among the layouts `among` admits: as `plan train`
/// ranks, the least predicted wall time of those it predicts to fit, tight fits
/// after the rest, ties in the plan's candidate order.
fn plan_choice(
    grid: &Grid,
    layouts: &[PricedLayout],
    among: impl Fn(&PricedLayout) -> bool,
) -> Option<usize> {
    (0..layouts.len())
        .filter(|&i| among(&layouts[i]))
        .filter_map(|i| {
            let verdict = layouts[i].predicted_verdict?;
            let score = layouts[i].predicted_total_seconds?;
            (verdict.within_capacity() && score.is_finite()).then(|| {
                (
                    Ranked {
                        tight: verdict == FitVerdict::Tight,
                        score,
                        candidate: candidate(grid, &grid.layouts[i]),
                    },
                    i,
                )
            })
        })
        .min_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, i)| i)
}

/// `(T_best − T_choice) / T_best`, with `T_choice = 0` for a choice that ran out of memory.
fn gap(layouts: &[PricedLayout], choice: Option<usize>, best: Option<usize>) -> Option<f64> {
    let best = layouts[best?].measured_tokens_per_sec_per_gpu?;
    // a choice that ran out of memory delivers nothing
    let chosen = layouts[choice?]
        .measured_tokens_per_sec_per_gpu
        .unwrap_or(0.0);
    Some((best - chosen) / best)
}

/// [`evaluate`] of every shipped grid, in file order.
pub fn evaluate_shipped() -> Vec<GridOutcome> {
    shipped().iter().map(evaluate).collect()
}

pub mod margin;

#[cfg(test)]
mod tests;

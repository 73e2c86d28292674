//! The "layout grids" section of `sizeup validate`: published layout searches
//! ranked by the plan's own estimate ([`sizeup_validation::grids`]).

use sizeup_core::training::verdict::FIT_MARGIN;
use sizeup_validation::grids::{self, margin, GridOutcome, PricedLayout, FIRST_CHOICE_GAP_BAR};

use super::ratio;
use crate::render::{Cell, Table};

/// The kind `--kind` selects the grids by.
pub const KIND: &str = "train_layout_grid";

/// The shipped grids, each priced and ranked, when `--kind` admits them.
pub fn outcomes(kind: Option<&str>) -> Vec<GridOutcome> {
    if kind.is_none_or(|k| KIND.starts_with(k)) {
        grids::evaluate_shipped()
    } else {
        Vec::new()
    }
}

fn tokens(x: Option<f64>) -> Cell {
    x.map_or(Cell::Empty, |t| Cell::Number(t, "tok/s/GPU"))
}

/// A rank: whole, or halfway between two where tied.
fn rank(r: Option<f64>) -> Cell {
    r.map_or(Cell::Empty, |r| {
        Cell::Text(if r.fract() == 0.0 {
            format!("{r:.0}")
        } else {
            format!("{r:.1}")
        })
    })
}

fn label(o: &GridOutcome, i: Option<usize>) -> Cell {
    i.map_or(Cell::Empty, |i| Cell::Text(o.layouts[i].label.clone()))
}

fn measured(o: &GridOutcome, i: Option<usize>) -> Cell {
    match i.map(|i| &o.layouts[i]) {
        Some(PricedLayout {
            measured_tokens_per_sec_per_gpu: Some(t),
            ..
        }) => Cell::Number(*t, "tok/s/GPU"),
        Some(_) => Cell::Text("out of memory".into()),
        None => Cell::Empty,
    }
}

/// One row per grid: the plan's first choice against the best measured layout,
/// the rank correlation and the throughput error.
pub fn summary(outcomes: &[GridOutcome]) -> Table {
    let title = format!(
        "layout grids: every measured layout of a published layout search priced as `plan train` prices a candidate; the plan's first choice against the best measured (bar: within {:.0}%), Spearman ρ of predicted and measured throughput, median |error| of the throughput per GPU; nothing fitted on them",
        FIRST_CHOICE_GAP_BAR * 100.0
    );
    let mut t = Table::new(
        Some(&title),
        &[
            ("grid", "grid"),
            ("GPUs", "gpus"),
            ("layouts", "layouts"),
            ("plan's first choice", "first_choice"),
            ("its measured", "first_choice_tokens_per_sec_per_gpu"),
            ("best measured", "best_measured"),
            ("best", "best_tokens_per_sec_per_gpu"),
            ("gap", "first_choice_gap"),
            ("gap, OOM runs left out", "first_choice_gap_among_ran"),
            ("Spearman ρ", "spearman"),
            ("median |error|", "median_abs_error"),
            ("ran, predicted OOM", "measured_but_predicted_oom"),
            ("OOM, predicted to fit", "oom_but_predicted_fit"),
            ("ran, tight", "measured_but_tight"),
            ("OOM, tight", "oom_and_tight"),
            ("memory read / counted", "memory_read_over_counted_median"),
        ],
    );
    for o in outcomes {
        t.row(vec![
            Cell::Text(o.id.clone()),
            Cell::Text(format!("{} × {}", o.gpus, o.gpu)),
            Cell::Text(format!("{} + {} OOM", o.measured(), o.out_of_memory())),
            label(o, o.first_choice),
            measured(o, o.first_choice),
            label(o, o.best_measured),
            measured(o, o.best_measured),
            ratio(o.first_choice_gap),
            ratio(o.first_choice_gap_among_ran),
            o.spearman.map_or(Cell::Empty, |r| Cell::Number(r, "")),
            ratio(o.median_abs_error),
            Cell::Exact(o.measured_but_predicted_oom as u64),
            Cell::Exact(o.oom_but_predicted_fit as u64),
            Cell::Exact(o.measured_but_tight as u64),
            Cell::Exact(o.oom_and_tight as u64),
            median_reading(o),
        ]);
    }
    t
}

/// Every layout of every grid: measured and predicted throughput and ranks,
/// predicted memory, and which one the plan picks.
pub fn layouts(outcomes: &[GridOutcome]) -> Table {
    let mut t = Table::new(
        Some("layout grid layouts: throughput per GPU measured and predicted, rank among the measured layouts (1 = fastest), predicted memory of the fullest stage"),
        &[
            ("grid", "grid"),
            ("layout", "layout"),
            ("measured", "measured_tokens_per_sec_per_gpu"),
            ("predicted", "predicted_tokens_per_sec_per_gpu"),
            ("error", "error"),
            ("measured rank", "measured_rank"),
            ("predicted rank", "predicted_rank"),
            ("predicted memory", "predicted_memory_bytes"),
            ("memory read", "memory_read_bytes"),
            ("predicted fits", "predicted_verdict"),
            ("plan", "plan"),
            ("note", "note"),
        ],
    );
    for o in outcomes {
        for (i, l) in o.layouts.iter().enumerate() {
            let plan = [
                (o.first_choice == Some(i), "first choice"),
                (
                    o.first_choice_among_ran == Some(i) && o.first_choice != Some(i),
                    "first choice, OOM runs left out",
                ),
                (o.best_measured == Some(i), "best measured"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, what)| *what)
            .collect::<Vec<_>>()
            .join("; ");
            t.row(vec![
                Cell::Text(o.id.clone()),
                Cell::Text(l.label.clone()),
                if l.layout.out_of_memory {
                    Cell::Text("out of memory".into())
                } else {
                    tokens(l.measured_tokens_per_sec_per_gpu)
                },
                tokens(l.predicted_tokens_per_sec_per_gpu),
                l.error
                    .map_or(Cell::Empty, |e| Cell::Text(format!("{:+.1}%", e * 100.0))),
                rank(l.measured_rank),
                rank(l.predicted_rank),
                l.predicted_memory_bytes.map_or(Cell::Empty, Cell::Bytes),
                l.layout.memory_gib.map_or(Cell::Empty, |g| {
                    Cell::Bytes((g * sizeup_core::units::GIB) as u64)
                }),
                l.predicted_verdict
                    .map_or(Cell::Empty, |v| Cell::Text(v.word().into())),
                Cell::Text(plan),
                l.note.clone().map_or(Cell::Empty, Cell::Text),
            ]);
        }
    }
    t
}

/// The median of a grid's memory readings over the counted peaks (all positive).
fn median_reading(o: &GridOutcome) -> Cell {
    let r = margin::reading_ratios(o);
    sizeup_validation::abs_quantile(&r, 0.5).map_or(Cell::Empty, |m| {
        Cell::Text(format!("{m:.2}× ({})", r.len()))
    })
}

/// The fit margin of `sizeup train`'s verdicts, fitted on the grids'
/// out-of-memory runs, with each source document held out.
pub fn margin(outcomes: &[GridOutcome]) -> Table {
    let fit = margin::fit_margin(grids::shipped(), outcomes);
    let title = format!(
        "fit margin: a training run fits when its counted peak leaves {:.2} of the memory free, and is tight inside that margin; fitted as the smallest step of 0.01 at which none of the grids' {} out-of-memory runs the count fits is called a fit (training::verdict::FIT_MARGIN = {:.2}); each source document held out",
        fit.margin,
        fit.runs,
        FIT_MARGIN
    );
    let mut t = Table::new(
        Some(&title),
        &[
            ("held out", "document"),
            ("margin fitted without it", "margin_without"),
            ("its OOM runs called a fit", "oom_called_fit"),
            ("its runs that ran called tight", "ran_called_tight"),
        ],
    );
    for h in &fit.held_out {
        t.row(vec![
            Cell::Text(h.document.clone()),
            Cell::Number(h.margin_without, ""),
            Cell::Exact(h.oom_called_fit as u64),
            Cell::Exact(h.ran_called_tight as u64),
        ]);
    }
    t
}

/// The note under the tables: where the grids and their memory readings come from.
pub fn notes(outcomes: &[GridOutcome]) -> Vec<String> {
    let mut notes: Vec<String> = outcomes
        .iter()
        .map(|o| format!("layout grid {}: {}", o.id, o.source))
        .collect();
    for g in grids::shipped() {
        if let Some(how) = &g.memory_reading {
            notes.push(format!("layout grid {} memory read: {how}", g.id));
        }
    }
    notes
}

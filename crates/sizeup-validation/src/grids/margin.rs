//! The fit margin ([`sizeup_core::training::verdict::FIT_MARGIN`]), fitted on the
//! grids' out-of-memory runs, and the grids' memory readings against the count.
//!
//! # Fit
//! ```text
//! need(run)  = 1 − counted / capacity                 (an out-of-memory run the count fits)
//! margin     = the smallest multiple of 0.01 above every need
//! ```
//! so that no out-of-memory run is called a fit. Held out by source document:
//! the margin fitted on the other documents, and what it calls the held-out
//! document's runs (out-of-memory runs called a fit: a wrong verdict; runs that
//! ran called tight: the price of the margin).

use serde::{Deserialize, Serialize};
use sizeup_core::hardware;
use sizeup_core::training::verdict::FitVerdict;

use super::{Grid, GridOutcome};
use crate::calibration::GRID_STEP;

/// One source document held out of the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// The document (the grids' `source`).
    pub document: String,
    /// The margin fitted on the other documents (0 when they have no
    /// out-of-memory run the count fits).
    pub margin_without: f64,
    /// The held-out document's out-of-memory runs that margin calls a fit.
    pub oom_called_fit: usize,
    /// The held-out document's runs that ran and that margin calls tight.
    pub ran_called_tight: usize,
}

/// The margin and its held-out figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarginFit {
    /// Fitted on every grid.
    pub margin: f64,
    /// Out-of-memory runs it is fitted on (those the count fits).
    pub runs: usize,
    /// Per source document, held out.
    pub held_out: Vec<HeldOut>,
}

/// A priced layout's counted peak and its accelerator's memory, bytes.
struct Run {
    document: usize,
    out_of_memory: bool,
    counted: u64,
    capacity: u64,
}

fn runs(grids: &[Grid], outcomes: &[GridOutcome], documents: &[&str]) -> Vec<Run> {
    let mut out = Vec::new();
    for (g, o) in grids.iter().zip(outcomes) {
        let Ok(acc) = hardware::find(&g.gpu) else {
            continue;
        };
        let document = documents.iter().position(|d| *d == g.source).unwrap_or(0);
        for l in &o.layouts {
            if let Some(counted) = l.predicted_memory_bytes {
                out.push(Run {
                    document,
                    out_of_memory: l.layout.out_of_memory,
                    counted,
                    capacity: acc.memory_bytes,
                });
            }
        }
    }
    out
}

/// The smallest multiple of [`GRID_STEP`] at which [`verdict`] calls no
/// out-of-memory run a fit, and how many such runs the count fits.
fn fit<'r>(runs: impl Iterator<Item = &'r Run> + Clone) -> (f64, usize) {
    let oom = runs.filter(|r| r.out_of_memory && r.counted <= r.capacity);
    let steps = (1.0 / GRID_STEP).round() as u32;
    let margin = (0..=steps)
        .map(|k| f64::from(k) * GRID_STEP)
        .find(|&m| oom.clone().all(|r| verdict(r, m) != FitVerdict::Fits))
        .unwrap_or(1.0);
    ((margin / GRID_STEP).round() * GRID_STEP, oom.count())
}

/// A run's verdict under the margin `m`.
fn verdict(r: &Run, m: f64) -> FitVerdict {
    FitVerdict::with_margin(r.counted, r.capacity, m)
}

/// Fit the margin on `grids` (priced as `outcomes`, in the same order).
pub fn fit_margin(grids: &[Grid], outcomes: &[GridOutcome]) -> MarginFit {
    let mut documents: Vec<&str> = Vec::new();
    for g in grids {
        if !documents.contains(&g.source.as_str()) {
            documents.push(&g.source);
        }
    }
    let all = runs(grids, outcomes, &documents);
    let (margin, n) = fit(all.iter());
    let held_out = documents
        .iter()
        .enumerate()
        .map(|(d, name)| {
            let (without, _) = fit(all.iter().filter(|r| r.document != d));
            let mine = all.iter().filter(|r| r.document == d);
            let (mut oom_fit, mut ran_tight) = (0, 0);
            for r in mine {
                match (r.out_of_memory, verdict(r, without)) {
                    (true, FitVerdict::Fits) => oom_fit += 1,
                    (false, FitVerdict::Tight) => ran_tight += 1,
                    _ => {}
                }
            }
            HeldOut {
                document: (*name).to_string(),
                margin_without: without,
                oom_called_fit: oom_fit,
                ran_called_tight: ran_tight,
            }
        })
        .collect();
    MarginFit {
        margin,
        runs: n,
        held_out,
    }
}

/// `measured / counted` for every layout with a memory reading: how far the
/// source's reading (`nvidia-smi`: the allocator's reserve, NCCL and the CUDA
/// context included) sits above the counted peak of the fullest stage.
pub fn reading_ratios(o: &GridOutcome) -> Vec<f64> {
    o.layouts
        .iter()
        .filter_map(|l| {
            let read = l.layout.memory_gib? * sizeup_core::units::GIB;
            let counted = l.predicted_memory_bytes? as f64;
            (counted > 0.0).then(|| read / counted)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grids::{evaluate_shipped, shipped};
    use sizeup_core::training::verdict::{FIT_MARGIN, READING_RATIO};

    #[test]
    fn the_code_margin_is_the_fitted_one() {
        let fit = fit_margin(shipped(), &evaluate_shipped());
        assert_eq!(fit.margin, FIT_MARGIN);
        // BLOOM's two tight out-of-memory runs and the V100 one
        assert_eq!(fit.runs, 3);
    }

    #[test]
    fn the_code_reading_ratio_is_the_grids_median() {
        let ratios: Vec<f64> = evaluate_shipped().iter().flat_map(reading_ratios).collect();
        assert_eq!(ratios.len(), 53);
        let median = crate::abs_quantile(&ratios, 0.5).unwrap();
        assert_eq!((median * 100.0).round() / 100.0, READING_RATIO);
    }

    #[test]
    fn held_out_documents_are_reported_as_they_fall() {
        let fit = fit_margin(shipped(), &evaluate_shipped());
        assert_eq!(fit.held_out.len(), 2);
        let bloom = &fit.held_out[0];
        assert!(bloom.document.ends_with("chronicles-prequel.md"));
        // fitted on the V100 tables alone (0.09), BLOOM's runs are all called right
        assert_eq!((bloom.margin_without, bloom.oom_called_fit), (0.09, 0));
        let v100 = &fit.held_out[1];
        assert!(v100.document.ends_with("tr3m-1B3.md"));
        // fitted on BLOOM alone (0.06), the V100 run at 29.3 of 32 GiB is called a fit
        assert_eq!((v100.margin_without, v100.oom_called_fit), (0.06, 1));
    }

    #[test]
    fn the_margin_is_the_first_step_above_the_largest_need() {
        let run = |counted: u64, capacity: u64, out_of_memory: bool| Run {
            document: 0,
            out_of_memory,
            counted,
            capacity,
        };
        // needs 0.05 and 0.123: the first step above 0.123 is 0.13; a run that ran is no need
        let runs = [
            run(95, 100, true),
            run(877, 1000, true),
            run(50, 100, false),
        ];
        assert_eq!(fit(runs.iter()), (0.13, 2));
        // a need exactly on a step goes to the next one: 90 of 100 fits at 0.10
        assert_eq!(fit([run(90, 100, true)].iter()), (0.11, 1));
        // runs over the capacity need no margin
        assert_eq!(fit([run(101, 100, true)].iter()), (0.0, 0));
    }
}

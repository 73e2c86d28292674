//! `sizeup validate`: recompute published measurements and show each error beside a naive baseline.

mod grids;

use sizeup_formats::file::{read_text, shown, MAX_TEXT_BYTES};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_validation::calibration::{self, FittedConstant};
use sizeup_validation::grids::GridOutcome;
use sizeup_validation::{
    abs_quantile, relative_error, Case, CaseOutcome, OWN_CASES, OWN_CASES_PATH,
};
use sizeup_validation::{inference, training};

use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::render::{Cell, Report, Table, View};

/// The published cases, read in place from `shared/` beside the repository.
const SHARED_CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/validation/cases.json"
);

/// The practitioners' measurements, read in place beside the repository.
const SHARED_PRACTITIONER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/validation/practitioner.json"
);

/// Flags of `sizeup validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Cases file(s) in the schema of shared/validation/cases.json (default: the shared
    /// cases and practitioner measurements beside the repository, plus sizeup's own
    /// H200 measurements)
    #[arg(long = "cases", value_name = "FILE")]
    cases: Vec<PathBuf>,
    /// Only cases whose kind starts with this (`infer`, `train`, `kv_cache`…;
    /// `train_layout_grid` for the layout grids alone)
    #[arg(long)]
    kind: Option<String>,
}

/// One case's outcome with its provenance.
#[derive(Debug, Serialize, Deserialize)]
pub struct CaseRow {
    /// The recomputed case.
    #[serde(flatten)]
    pub outcome: CaseOutcome,
    /// Signed relative error of sizeup's prediction.
    pub error: Option<f64>,
    /// Signed relative error of the naive baseline.
    pub baseline_error: Option<f64>,
    /// Prediction with the fitted constants refitted without this case's source family.
    pub loso_predicted: Option<f64>,
    /// Signed relative error of the leave-one-source-out prediction.
    pub loso_error: Option<f64>,
    /// Why there is no leave-one-source-out prediction.
    pub loso_note: Option<String>,
    /// The source family held out together with this case.
    pub source_family: String,
    /// The source's own caveat flag.
    pub uncertain: bool,
    /// Where the figure was published.
    pub source: String,
}

/// Error statistics of one kind of case.
#[derive(Debug, Serialize, Deserialize)]
pub struct KindSummary {
    /// The case kind.
    pub kind: String,
    /// Whether these are the cases their sources mark uncertain, summed apart from
    /// the others (whose row leaves them out).
    pub uncertain: bool,
    /// Cases of this kind.
    pub cases: usize,
    /// Cases sizeup predicted.
    pub predicted: usize,
    /// Median absolute relative error of sizeup, constants fitted on every case
    /// (in-sample); a case whose source leaves inputs unstated is scored by its
    /// distance to the range of predictions over them.
    pub median_abs_error: Option<f64>,
    /// The same median with every case scored at the reader's guesses for the
    /// unstated inputs (no ranges).
    pub guess_median_abs_error: Option<f64>,
    /// 90th percentile of the in-sample absolute relative error.
    pub p90_abs_error: Option<f64>,
    /// Largest in-sample absolute relative error.
    pub worst_abs_error: Option<f64>,
    /// Cases with a leave-one-source-out prediction.
    pub loso_predicted: usize,
    /// Median absolute relative error, leave-one-source-out.
    pub loso_median_abs_error: Option<f64>,
    /// 90th percentile of the leave-one-source-out absolute error.
    pub loso_p90_abs_error: Option<f64>,
    /// Cases sizeup predicted that the baseline predicts too.
    pub baseline_predicted: usize,
    /// Median absolute relative error of the baseline, on the same cases.
    pub baseline_median_abs_error: Option<f64>,
    /// 90th percentile of the baseline's absolute error.
    pub baseline_p90_abs_error: Option<f64>,
}

/// Speed errors of one source family, held out: issue 11's bar is a
/// leave-one-source-out error below the flat baseline's on every family.
#[derive(Debug, Serialize, Deserialize)]
pub struct FamilySummary {
    /// The union of kinds (`training speed (throughput + time)`…).
    pub group: String,
    /// The source family.
    pub family: String,
    /// Its cases with both a leave-one-source-out and a baseline prediction
    /// (cases their sources mark uncertain left out).
    pub cases: usize,
    /// Median absolute relative error, leave-one-source-out.
    pub loso_median_abs_error: Option<f64>,
    /// Median absolute relative error of the baseline on the same cases.
    pub baseline_median_abs_error: Option<f64>,
}

impl FamilySummary {
    /// Whether sizeup, without this family's cases, beats the baseline on them.
    pub fn below_baseline(&self) -> Option<bool> {
        Some(self.loso_median_abs_error? < self.baseline_median_abs_error?)
    }
}

/// What `sizeup validate` reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct ValidateReport {
    /// Every case, in file order.
    pub cases: Vec<CaseRow>,
    /// Statistics per kind.
    pub summary: Vec<KindSummary>,
    /// Speed errors per source family, each held out.
    pub families: Vec<FamilySummary>,
    /// The fitted constants: value in the code, value fitted here, on which cases.
    pub constants: Vec<FittedConstant>,
    /// Published layout searches ranked by the plan's estimate (never fitted on).
    pub layout_grids: Vec<GridOutcome>,
}

fn read_cases(args: &ValidateArgs) -> Result<Vec<Case>, AppError> {
    let parse = |name: String, text: &str| -> Result<Vec<Case>, AppError> {
        let cases: Vec<Case> = serde_json::from_str(text).map_err(|e| AppError::Usage {
            flag: "--cases",
            value: name.clone(),
            problem: format!("not a cases file: {e}"),
            hint: Some("a cases file is a JSON list of {id, source, kind, model, setup, reported} objects, as in shared/validation/cases.json".into()),
        })?;
        for case in &cases {
            case.check().map_err(|problem| AppError::Usage {
                flag: "--cases",
                value: name.clone(),
                problem: format!("case `{}`: {problem}", case.id),
                hint: None,
            })?;
        }
        Ok(cases)
    };
    let mut cases = Vec::new();
    if args.cases.is_empty() {
        let text =
            read_text(Path::new(SHARED_CASES), MAX_TEXT_BYTES).map_err(|_| AppError::Usage {
                flag: "--cases",
                value: SHARED_CASES.into(),
                problem: "the shared cases file is not beside this build".into(),
                hint: Some(
                    "pass `--cases FILE` with a file in the schema of shared/validation/cases.json"
                        .into(),
                ),
            })?;
        cases.extend(parse(SHARED_CASES.into(), &text)?);
        if let Ok(text) = read_text(Path::new(SHARED_PRACTITIONER), MAX_TEXT_BYTES) {
            cases.extend(parse(SHARED_PRACTITIONER.into(), &text)?);
        }
        cases.extend(parse(OWN_CASES_PATH.into(), OWN_CASES)?);
    }
    for path in &args.cases {
        let text = read_text(path, MAX_TEXT_BYTES).map_err(|e| AppError::Usage {
            flag: "--cases",
            value: shown(path),
            problem: e.to_string(),
            hint: None,
        })?;
        cases.extend(parse(path.display().to_string(), &text)?);
    }
    Ok(cases)
}

/// Recompute every case: constants fitted on every case, then per held-out source family.
pub fn run(args: &ValidateArgs) -> Result<ValidateReport, AppError> {
    let cases = read_cases(args)?;
    // the constants are fitted on every case read, whatever `--kind` shows
    let v = calibration::validate(&cases);
    let rows: Vec<CaseRow> = cases
        .iter()
        .zip(v.in_sample)
        .zip(v.loso.into_iter().zip(v.families).zip(v.loso_notes))
        .filter(|((c, _), _)| args.kind.as_deref().is_none_or(|k| c.kind.starts_with(k)))
        .map(|((c, outcome), ((loso, family), loso_note))| CaseRow {
            loso_note,
            error: outcome.error(),
            baseline_error: outcome.baseline_error(),
            loso_error: loso.map(|p| relative_error(p, outcome.reported)),
            loso_predicted: loso,
            source_family: family,
            outcome,
            uncertain: c.uncertain,
            source: c.source.clone(),
        })
        .collect();
    let mut kinds: Vec<String> = rows.iter().map(|r| r.outcome.kind.clone()).collect();
    kinds.sort();
    kinds.dedup();
    let mut groups: Vec<(String, Vec<String>)> =
        kinds.iter().map(|k| (k.clone(), vec![k.clone()])).collect();
    for (name, members) in UNIONS {
        if members.iter().all(|m| kinds.iter().any(|k| k == m)) {
            groups.push((
                name.to_string(),
                members.iter().map(|m| m.to_string()).collect(),
            ));
        }
    }
    let families = UNIONS
        .iter()
        .flat_map(|(name, members)| by_family(name, members, &rows))
        .collect();
    let mut summary = Vec::new();
    for (kind, members) in groups {
        for uncertain in [false, true] {
            let of_kind: Vec<&CaseRow> = rows
                .iter()
                .filter(|r| members.contains(&r.outcome.kind) && r.uncertain == uncertain)
                .collect();
            if of_kind.is_empty() {
                continue;
            }
            summary.push(summarize(kind.clone(), uncertain, &of_kind));
        }
    }
    Ok(ValidateReport {
        cases: rows,
        summary,
        families,
        constants: v.constants,
        layout_grids: grids::outcomes(args.kind.as_deref()),
    })
}

/// The unions of kinds the bars of issues 4, 5 and 11 are stated over.
const UNIONS: [(&str, [&str; 2]); 2] = [
    (
        "inference speed (decode + prefill)",
        ["infer_decode", "infer_prefill"],
    ),
    (
        "training speed (throughput + time)",
        ["train_throughput", "train_time"],
    ),
];

/// [`FamilySummary`] of every source family with cases of `members`, in the
/// order the families first appear.
fn by_family(group: &str, members: &[&str], rows: &[CaseRow]) -> Vec<FamilySummary> {
    let scored: Vec<&CaseRow> = rows
        .iter()
        .filter(|r| members.contains(&r.outcome.kind.as_str()) && !r.uncertain)
        .filter(|r| r.loso_error.is_some() && r.baseline_error.is_some())
        .collect();
    let mut families: Vec<&str> = Vec::new();
    for r in &scored {
        if !families.contains(&r.source_family.as_str()) {
            families.push(&r.source_family);
        }
    }
    families
        .into_iter()
        .map(|family| {
            let of: Vec<&&CaseRow> = scored
                .iter()
                .filter(|r| r.source_family == family)
                .collect();
            let loso: Vec<f64> = of.iter().filter_map(|r| r.loso_error).collect();
            let baseline: Vec<f64> = of.iter().filter_map(|r| r.baseline_error).collect();
            FamilySummary {
                group: group.to_string(),
                family: family.to_string(),
                cases: of.len(),
                loso_median_abs_error: abs_quantile(&loso, 0.5),
                baseline_median_abs_error: abs_quantile(&baseline, 0.5),
            }
        })
        .collect()
}

/// Error statistics over `rows`: in-sample, leave-one-source-out, and the
/// baseline on the cases sizeup predicts; each with how many cases it covers.
fn summarize(kind: String, uncertain: bool, rows: &[&CaseRow]) -> KindSummary {
    let errors: Vec<f64> = rows.iter().filter_map(|r| r.error).collect();
    let guesses: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.outcome.guess_error())
        .collect();
    let loso: Vec<f64> = rows.iter().filter_map(|r| r.loso_error).collect();
    let baseline: Vec<f64> = rows
        .iter()
        .filter(|r| r.error.is_some())
        .filter_map(|r| r.baseline_error)
        .collect();
    KindSummary {
        kind,
        uncertain,
        cases: rows.len(),
        predicted: errors.len(),
        median_abs_error: abs_quantile(&errors, 0.5),
        guess_median_abs_error: abs_quantile(&guesses, 0.5),
        p90_abs_error: abs_quantile(&errors, 0.9),
        worst_abs_error: abs_quantile(&errors, 1.0),
        loso_predicted: loso.len(),
        loso_median_abs_error: abs_quantile(&loso, 0.5),
        loso_p90_abs_error: abs_quantile(&loso, 0.9),
        baseline_predicted: baseline.len(),
        baseline_median_abs_error: abs_quantile(&baseline, 0.5),
        baseline_p90_abs_error: abs_quantile(&baseline, 0.9),
    }
}

/// A share as a percentage cell, empty where there is none.
fn ratio(x: Option<f64>) -> Cell {
    x.map_or(Cell::Empty, Cell::Ratio)
}

fn signed(x: Option<f64>) -> Cell {
    x.map_or(Cell::Empty, |e| Cell::Text(format!("{:+.1}%", e * 100.0)))
}

impl Report for ValidateReport {
    fn view(&self, _units: ByteUnits) -> View {
        let mut cases = Table::new(
            Some("cases"),
            &[
                ("case", "id"),
                ("kind", "kind"),
                ("metric", "metric"),
                ("reported", "reported"),
                ("predicted", "predicted"),
                ("error", "error"),
                ("baseline", "baseline"),
                ("baseline error", "baseline_error"),
                ("LOSO predicted", "loso_predicted"),
                ("LOSO error", "loso_error"),
                ("family", "source_family"),
                ("note", "note"),
            ],
        );
        for r in &self.cases {
            let o = &r.outcome;
            cases.row(vec![
                Cell::Text(format!(
                    "{}{}",
                    o.id,
                    if r.uncertain { " (uncertain)" } else { "" }
                )),
                Cell::Text(o.kind.clone()),
                Cell::Text(o.metric.clone()),
                if o.reported.is_finite() {
                    Cell::Number(o.reported, "")
                } else {
                    Cell::Empty
                },
                o.predicted.map_or(Cell::Empty, |p| Cell::Number(p, "")),
                signed(r.error),
                o.baseline.map_or(Cell::Empty, |p| Cell::Number(p, "")),
                signed(r.baseline_error),
                r.loso_predicted
                    .map_or(Cell::Empty, |p| Cell::Number(p, "")),
                signed(r.loso_error),
                Cell::Text(r.source_family.clone()),
                Cell::Text(
                    [o.note.clone(), r.loso_note.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ]);
        }
        let mut summary = Table::new(
            Some("summary: absolute relative error per kind (sizeup in-sample | leave-one-source-out | naive baseline on the same cases); cases their sources mark uncertain are summed apart, on their own row; where a source leaves inputs unstated, a case is scored by its distance to the range of predictions over their plausible values (`median at guesses`: at the reader's defaults instead)"),
            &[
                ("kind", "kind"),
                ("cases", "cases"),
                ("predicted", "predicted"),
                ("median", "median_abs_error"),
                ("median at guesses", "guess_median_abs_error"),
                ("p90", "p90_abs_error"),
                ("worst", "worst_abs_error"),
                ("LOSO predicted", "loso_predicted"),
                ("LOSO median", "loso_median_abs_error"),
                ("LOSO p90", "loso_p90_abs_error"),
                ("baseline predicted", "baseline_predicted"),
                ("baseline median", "baseline_median_abs_error"),
                ("baseline p90", "baseline_p90_abs_error"),
            ],
        );
        for s in &self.summary {
            summary.row(vec![
                Cell::Text(if s.uncertain {
                    format!("{} (uncertain, apart)", s.kind)
                } else {
                    s.kind.clone()
                }),
                Cell::Exact(s.cases as u64),
                Cell::Exact(s.predicted as u64),
                ratio(s.median_abs_error),
                ratio(s.guess_median_abs_error),
                ratio(s.p90_abs_error),
                ratio(s.worst_abs_error),
                Cell::Exact(s.loso_predicted as u64),
                ratio(s.loso_median_abs_error),
                ratio(s.loso_p90_abs_error),
                Cell::Exact(s.baseline_predicted as u64),
                ratio(s.baseline_median_abs_error),
                ratio(s.baseline_p90_abs_error),
            ]);
        }
        let mut constants = Table::new(
            Some(&format!("fitted constants: median |ln(predicted/reported)| minimised on a grid of {} (ties: the smaller mean); LOSO range over the held-out source families", calibration::GRID_STEP)),
            &[
                ("constant", "constant"),
                ("fitted on", "fitted_on"),
                ("in code", "code_value"),
                ("fitted", "fitted_value"),
                ("cases", "cases"),
                ("families", "families"),
                ("LOSO min", "loso_min"),
                ("LOSO max", "loso_max"),
            ],
        );
        for c in &self.constants {
            constants.row(vec![
                Cell::Text(c.constant.to_string()),
                Cell::Text(c.fitted_on.to_string()),
                Cell::Number(c.code_value, ""),
                Cell::Number(c.fitted_value, ""),
                Cell::Exact(c.cases.len() as u64),
                Cell::Exact(c.families as u64),
                Cell::Number(c.loso_range.0, ""),
                Cell::Number(c.loso_range.1, ""),
            ]);
        }
        let mut families = Table::new(
            Some("per source family: each family held out (leave-one-source-out) against the baseline on the same cases; issue 11's bar: below the baseline on every family"),
            &[
                ("kinds", "group"),
                ("family", "family"),
                ("cases", "cases"),
                ("LOSO median", "loso_median_abs_error"),
                ("baseline median", "baseline_median_abs_error"),
                ("below the baseline", "below_baseline"),
            ],
        );
        for f in &self.families {
            families.row(vec![
                Cell::Text(f.group.clone()),
                Cell::Text(f.family.clone()),
                Cell::Exact(f.cases as u64),
                ratio(f.loso_median_abs_error),
                ratio(f.baseline_median_abs_error),
                f.below_baseline().map_or(Cell::Empty, |b| {
                    Cell::Text(if b { "yes" } else { "no" }.into())
                }),
            ]);
        }
        let mut tables = vec![summary, families];
        if !self.layout_grids.is_empty() {
            tables.push(grids::summary(&self.layout_grids));
            tables.push(grids::margin(&self.layout_grids));
        }
        tables.extend([constants, cases]);
        if !self.layout_grids.is_empty() {
            tables.push(grids::layouts(&self.layout_grids));
        }
        View {
            tables,
            notes: [
                format!(
                    "error = (predicted − reported) / reported; in-sample: constants fitted on every case; LOSO: refitted without the case's source family, by the same procedure; baselines: decode = weight bytes ÷ (datasheet bandwidth × {}), prefill = 2·N·tokens ÷ (datasheet peak × {}), training = 6·N·D at MFU {}",
                    inference::BASELINE_MEMORY_UTILIZATION,
                    inference::BASELINE_COMPUTE_UTILIZATION,
                    training::BASELINE_MFU,
                ),
            ]
            .into_iter()
            .chain(self.constants.iter().map(|c| {
                format!("{} fitted on {}", c.constant, c.cases.join(", "))
            }))
            .chain(grids::notes(&self.layout_grids))
            .collect(),
        }
    }
}

//! The chart of a serving plan: the steady-state Pareto front of the setups
//! that met the targets (output throughput per GPU against output speed per
//! user), with the plan's rows ringed and its first choice named. Pure: it
//! describes the chart; `main` writes the file.

use sizeup_core::plan::serve::{ServeCandidate, Steady};

use crate::chart::{Axis, AxisUnit, Chart, LineChart, Mark, Series};

use super::{layout_text, load_text, PlanServeReport, ServeRow};

/// Where a setup sits on the chart: (tokens/s per user, output tokens/s per GPU).
fn position(s: &Steady) -> (f64, f64) {
    (
        s.tokens_per_sec_per_user(),
        s.output_tokens_per_sec_per_gpu(),
    )
}

/// `4×H100-SXM`, or `4×H100-SXM 1P(tp1)+3D(tp1)` for a disaggregated setup.
fn setup_label(c: &ServeCandidate, accelerator: &str) -> String {
    match c.prefill {
        None => format!("{}×{accelerator}", c.gpus()),
        Some(_) => format!("{}×{accelerator} {}", c.gpus(), layout_text(c)),
    }
}

fn row_label(row: &ServeRow) -> String {
    format!(
        "#{} {}",
        row.rank,
        setup_label(&row.entry.candidate, &row.entry.accelerator)
    )
}

/// The chart `plan serve --chart` draws: the plan's first choice as a ring of
/// its own colour, its other rows as rings, both labelled with their rank, and
/// the Pareto front as a line in order of speed per user, each point labelled
/// with its GPUs (and its prefill/decode pools when disaggregated). Every point is placed by its
/// steady-state figures, the figures the front is drawn from.
pub fn chart(report: &PlanServeReport) -> Chart {
    let accelerator = |i: usize| report.plan.accelerators.get(i).map_or("?", String::as_str);
    let mut front: Vec<((f64, f64), String)> = report
        .pareto
        .iter()
        .map(|p| {
            (
                (p.tokens_per_sec_per_user, p.output_tokens_per_sec_per_gpu),
                setup_label(&p.candidate, accelerator(p.candidate.accelerator)),
            )
        })
        .collect();
    front.sort_by(|a, b| a.0 .0.total_cmp(&b.0 .0));
    // the first choice first: its label is placed before any other can take its room
    let (first, others) = report
        .rows
        .split_first()
        .map_or((None, &[][..]), |(f, o)| (Some(f), o));
    let mut series = Vec::new();
    if let Some(row) = first {
        series.push(Series {
            name: "first choice (#1)".into(),
            points: vec![position(&row.entry.steady)],
            point_labels: Some(vec![row_label(row)]),
            mark: Mark::Highlight,
        });
    }
    if !others.is_empty() {
        series.push(Series {
            name: "other rows of the plan".into(),
            points: others.iter().map(|r| position(&r.entry.steady)).collect(),
            point_labels: Some(others.iter().map(row_label).collect()),
            mark: Mark::Highlight,
        });
    }
    series.push(Series {
        name: "Pareto front (steady state)".into(),
        points: front.iter().map(|f| f.0).collect(),
        point_labels: Some(front.into_iter().map(|f| f.1).collect()),
        mark: Mark::Line,
    });
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x = Axis::fitting(
        "Output speed per user",
        AxisUnit::TokensPerSec,
        all().map(|p| p.0),
    );
    let y = Axis::linear("Output throughput per GPU", AxisUnit::TokensPerSec);
    Chart::Line(LineChart {
        title: format!(
            "{} at {}: throughput per GPU against speed per user",
            report.model.name,
            load_text(report.request.load)
        ),
        x,
        y,
        series,
        references: Vec::new(),
    })
}

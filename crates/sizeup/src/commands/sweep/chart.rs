//! The chart of a sweep, chosen by what was varied: KV cache against context,
//! latency against throughput as the batch grows, serving memory line items as
//! stacked bars, or training memory (against micro-batch). Pure: it describes
//! the chart; `main` writes the file.

use crate::chart::{Axis, AxisUnit, Chart, LineChart, Mark, Reference, Series, Stack, StackedBars};
use crate::error::AppError;
use crate::humanize::{self, ByteUnits};

use super::axes::Quantity;
use super::serve::ServePoint;
use super::train::{self, TrainPoint};
use super::{ChartKind, Mode, Settings, SweepPoint, SweepReport};

/// The chart `kind` draws for `report`.
pub fn chart(report: &SweepReport, kind: ChartKind, units: ByteUnits) -> Result<Chart, AppError> {
    let swept = report.swept();
    let find = |names: &[&str]| swept.iter().position(|s| names.contains(&s.def.name));
    let kind = match (kind, report.mode) {
        (ChartKind::Auto, Mode::Train) => ChartKind::TrainMemory,
        (ChartKind::Auto, Mode::Serve) => match swept.first().map(|s| s.def.name) {
            Some("context") => ChartKind::Kv,
            Some("batch" | "concurrency") => ChartKind::LatencyThroughput,
            _ => ChartKind::Memory,
        },
        (k, _) => k,
    };
    let missing = |kind: &str, axis: &str, example: &str| AppError::Usage {
        flag: "--chart-kind",
        value: kind.into(),
        problem: format!("it plots against `{axis}`, which this sweep does not vary"),
        hint: Some(format!(
            "add `--vary {example}`, or use `--chart-kind memory`"
        )),
    };
    let wrong_mode = |kind: &str, mode: Mode| AppError::Usage {
        flag: "--chart-kind",
        value: kind.into(),
        problem: format!("it plots a {} estimate", mode.noun()),
        hint: Some(format!(
            "add `--mode {}`, or use `--chart-kind auto`",
            mode.name()
        )),
    };
    match (kind, report.mode) {
        (ChartKind::Kv, Mode::Serve) => {
            let x =
                find(&["context"]).ok_or_else(|| missing("kv", "context", "context=4k..128k"))?;
            Ok(Chart::Line(kv_chart(report, x, units)))
        }
        (ChartKind::LatencyThroughput, Mode::Serve) => {
            let x = find(&["batch", "concurrency"]).ok_or_else(|| {
                missing(
                    "latency-throughput",
                    "batch` or `concurrency",
                    "batch=1..256",
                )
            })?;
            Ok(Chart::Line(latency_chart(report, x)))
        }
        (ChartKind::Memory | ChartKind::Auto, Mode::Serve) => {
            Ok(Chart::Bars(memory_bars(report, units)))
        }
        (ChartKind::TrainMemory | ChartKind::Memory | ChartKind::Auto, Mode::Train) => {
            Ok(train_memory(report, find(&["micro_batch"]), units))
        }
        (ChartKind::Kv, Mode::Train) => Err(wrong_mode("kv", Mode::Serve)),
        (ChartKind::LatencyThroughput, Mode::Train) => {
            Err(wrong_mode("latency-throughput", Mode::Serve))
        }
        (ChartKind::TrainMemory, Mode::Serve) => Err(wrong_mode("train-memory", Mode::Train)),
    }
}

/// A value as a tick or legend shows it: `4k`, `8`, `50%`, `$2.5/h`.
fn value_text(quantity: Quantity, v: f64) -> String {
    match quantity {
        Quantity::Tokens => humanize::tokens_short(v),
        Quantity::Count => humanize::count_short(v),
        Quantity::UsdPerHour => format!("${}/h", humanize::compact(v)),
        Quantity::Fraction => humanize::percent(v),
        Quantity::Mib => format!("{} MiB", humanize::compact(v)),
        Quantity::Microseconds => format!("{} µs", humanize::compact(v)),
        Quantity::Gbps => format!("{} Gb/s", humanize::compact(v)),
        Quantity::Text => format!("#{}", v as usize + 1),
    }
}

/// One series: its legend entry (none when only one input is varied) and its
/// `(x value, point)` pairs in `x` order.
type Group<'a, P> = (Option<String>, Vec<(f64, &'a P)>);

/// The points with an estimate grouped into series: one per value of the axis
/// other than `x` (a single series when only `x` is varied), each in `x` order.
fn series_by_other<'a, P>(
    report: &'a SweepReport,
    x: usize,
    estimate: impl Fn(&'a SweepPoint) -> Option<&'a P>,
) -> Vec<Group<'a, P>> {
    let swept = report.swept();
    let other = (0..swept.len()).find(|&i| i != x);
    let mut groups: Vec<Group<P>> = match other {
        Some(o) => swept[o]
            .values
            .iter()
            .map(|&v| {
                let s = &swept[o];
                (
                    Some(format!(
                        "{}={}",
                        s.name,
                        s.label(v)
                            .map_or_else(|| value_text(s.def.quantity, v), String::from)
                    )),
                    Vec::new(),
                )
            })
            .collect(),
        None => vec![(None, Vec::new())],
    };
    for p in &report.points {
        let Some(e) = estimate(p) else { continue };
        let group = other.map_or(0, |o| {
            let v = p.values.0[o].1;
            swept[o].values.iter().position(|&w| w == v).unwrap_or(0)
        });
        groups[group].1.push((p.values.0[x].1, e));
    }
    for (_, points) in &mut groups {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    groups.retain(|(_, points)| !points.is_empty());
    groups
}

fn kv_dtype(report: &SweepReport) -> &str {
    match &report.settings {
        Settings::Serve { kv_dtype, .. } => kv_dtype,
        Settings::Train { .. } => "",
    }
}

fn kv_chart(report: &SweepReport, x: usize, units: ByteUnits) -> LineChart {
    let groups = series_by_other(report, x, SweepPoint::serve);
    let served = || groups.iter().flat_map(|(_, p)| p.iter().map(|(_, sp)| *sp));
    let mut references = vec![gpu_line(report, units)];
    // With one device per replica the request's whole cache sits on one GPU, so
    // the room left after weights and overheads is the line to stay under.
    let budgets: Vec<u64> = served().map(|p| p.kv_budget_bytes).collect();
    if served().all(|p| p.tp == 1) && budgets.windows(2).all(|w| w[0] == w[1]) {
        if let Some(&b) = budgets.first() {
            references.push(Reference {
                label: format!(
                    "room for KV cache after weights {}",
                    humanize::bytes(b, units)
                ),
                value: b as f64,
            });
        }
    }
    let series = groups
        .iter()
        .map(|(name, points)| Series {
            name: name
                .clone()
                .unwrap_or_else(|| format!("{} KV cache", kv_dtype(report))),
            points: points
                .iter()
                .map(|(c, p)| (*c, p.kv_per_request_bytes as f64))
                .collect(),
            point_labels: None,
            mark: Mark::Line,
        })
        .collect();
    LineChart {
        title: format!(
            "{}: KV cache per request against context ({} cache)",
            report.model.name,
            kv_dtype(report)
        ),
        // linear: the cache grows in proportion to the context, and a straight
        // line shows it (a log axis would bend it into a curve)
        x: Axis::linear("Context length", AxisUnit::Tokens),
        y: Axis::linear("KV cache per request", AxisUnit::Bytes(units)),
        series,
        references,
    }
}

fn latency_chart(report: &SweepReport, x: usize) -> LineChart {
    let groups = series_by_other(report, x, SweepPoint::serve);
    let mut left_out = false;
    let series: Vec<Series> = groups
        .iter()
        .map(|(name, points)| {
            let fitting: Vec<&(f64, &ServePoint)> = points.iter().filter(|(_, p)| p.fits).collect();
            left_out |= fitting.len() < points.len();
            Series {
                name: name
                    .clone()
                    .unwrap_or_else(|| format!("{} on {}", report.model.name, report.gpu)),
                points: fitting
                    .iter()
                    .map(|(_, p)| (p.output_tokens_per_sec, p.time_per_output_token_seconds))
                    .collect(),
                point_labels: Some(fitting.iter().map(|(b, _)| format!("B={b}")).collect()),
                mark: Mark::Line,
            }
        })
        .collect();
    let rates = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect::<Vec<_>>();
    let mut title = format!(
        "{} on {}: latency against throughput by batch",
        report.model.name, report.gpu
    );
    if left_out {
        title.push_str(" (batches that do not fit left out)");
    }
    LineChart {
        title,
        x: Axis::fitting(
            "Output throughput, all replicas",
            AxisUnit::TokensPerSec,
            rates.iter().copied(),
        ),
        y: Axis::linear("Time per output token", AxisUnit::Seconds),
        series,
        references: Vec::new(),
    }
}

/// A bar's name: the point's values, `1 / 1k` for two axes (short enough to
/// show under the bar; the x title names the axes).
fn category(report: &SweepReport, p: &SweepPoint) -> String {
    let texts: Vec<String> = report
        .swept()
        .iter()
        .zip(&p.values.0)
        .map(|(s, (_, v, _, label))| {
            label
                .clone()
                .unwrap_or_else(|| value_text(s.def.quantity, *v))
        })
        .collect();
    texts.join(" / ")
}

/// The x title of bars: the axis (with its unit for tokens), or `tp / prompt`.
fn bars_x_label(report: &SweepReport) -> String {
    match report.swept() {
        [one] => match one.def.quantity {
            Quantity::Tokens => format!("{} (tokens)", one.name),
            _ => one.name.to_string(),
        },
        more => more.iter().map(|s| s.name).collect::<Vec<_>>().join(" / "),
    }
}

fn gpu_line(report: &SweepReport, units: ByteUnits) -> Reference {
    Reference {
        label: format!(
            "{} memory {}",
            report.gpu,
            humanize::bytes(report.gpu_memory_bytes, units)
        ),
        value: report.gpu_memory_bytes as f64,
    }
}

fn memory_bars(report: &SweepReport, units: ByteUnits) -> StackedBars {
    let served: Vec<(&SweepPoint, &ServePoint)> = report
        .points
        .iter()
        .filter_map(|p| p.serve().map(|s| (p, s)))
        .collect();
    let categories = served.iter().map(|(p, _)| category(report, p)).collect();
    type Item = (&'static str, fn(&ServePoint) -> u64);
    // No `free` layer: the gap up to the device line shows it, and a bar that
    // does not fit rises above the line.
    let items: [Item; 7] = [
        ("weights", |p| p.memory.weights_bytes),
        ("KV cache", |p| p.memory.kv_cache_bytes),
        ("activation workspace", |p| {
            p.memory.activation_workspace_bytes
        }),
        ("runtime", |p| p.memory.runtime_bytes),
        ("not usable", |p| p.memory.unusable_bytes),
        ("communication buffers", |p| p.memory.comm_buffer_bytes),
        ("engine reserve", |p| p.memory.engine_reserve_bytes),
    ];
    let stacks = items
        .iter()
        .filter(|(_, get)| served.iter().any(|(_, p)| get(p) > 0))
        .map(|(name, get)| Stack {
            name: name.to_string(),
            values: served.iter().map(|(_, p)| get(p) as f64).collect(),
        })
        .collect();
    StackedBars {
        title: format!("{}: memory per GPU", report.model.name),
        x_label: bars_x_label(report),
        categories,
        stacks,
        y: Axis::linear("Memory per GPU", AxisUnit::Bytes(units)),
        limit: Some(gpu_line(report, units)),
    }
}

/// Training memory per GPU: with a micro-batch axis and a second input, the
/// total against micro-batch, one line per value of the other input; else the
/// line items stacked, one bar per point. The GPU's memory is the limit.
fn train_memory(report: &SweepReport, micro_batch: Option<usize>, units: ByteUnits) -> Chart {
    let title = format!("{}: training memory per GPU", report.model.name);
    let y = Axis::linear("Memory per GPU", AxisUnit::Bytes(units));
    if let (Some(x), 2) = (micro_batch, report.swept().len()) {
        let series = series_by_other(report, x, SweepPoint::train)
            .into_iter()
            .map(|(name, points)| Series {
                name: name.unwrap_or_default(),
                points: points
                    .iter()
                    .map(|(b, p)| (*b, p.memory.total_bytes as f64))
                    .collect(),
                point_labels: None,
                mark: Mark::Line,
            })
            .collect();
        return Chart::Line(LineChart {
            title,
            x: Axis::linear("Micro-batch (sequences)", AxisUnit::Count),
            y,
            series,
            references: vec![gpu_line(report, units)],
        });
    }
    let trained: Vec<(&SweepPoint, &TrainPoint)> = report
        .points
        .iter()
        .filter_map(|p| p.train().map(|t| (p, t)))
        .collect();
    let names = trained
        .first()
        .map_or([""; 5], |(_, t)| train::memory_items(t).map(|(n, _)| n));
    let stacks = names
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            trained
                .iter()
                .any(|(_, t)| train::memory_items(t)[*i].1 > 0)
        })
        .map(|(i, name)| Stack {
            name: name.to_string(),
            values: trained
                .iter()
                .map(|(_, t)| train::memory_items(t)[i].1 as f64)
                .collect(),
        })
        .collect();
    Chart::Bars(StackedBars {
        title,
        x_label: bars_x_label(report),
        categories: trained.iter().map(|(p, _)| category(report, p)).collect(),
        stacks,
        y,
        limit: Some(gpu_line(report, units)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_typed() {
        assert_eq!(value_text(Quantity::Tokens, 131_072.0), "128k");
        assert_eq!(value_text(Quantity::Count, 8.0), "8");
        assert_eq!(value_text(Quantity::Fraction, 0.9), "90.0%");
        assert_eq!(value_text(Quantity::UsdPerHour, 2.5), "$2.5/h");
    }
}

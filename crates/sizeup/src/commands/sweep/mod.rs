//! `sizeup sweep MODEL --vary seq_len=4k..128k`: one estimate per point of one or
//! two varied inputs, as a table and (with `--chart`) a chart.
//!
//! Every point runs the same estimate as `sizeup infer` (or, with `--mode
//! train`, `sizeup train`) with that flag set (see [`axes`]). Points are
//! independent, so they are evaluated in parallel (rayon, here in the binary:
//! the core stays free of threads); a point that fails (a `tp` that does not
//! divide the heads) becomes a row holding its error.

pub(crate) mod axes;
mod chart;
mod serve;
mod train;

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};
use rayon::prelude::*;
use std::borrow::Cow;

use serde::de;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sizeup_core::hardware::Accelerator;
use sizeup_core::training::verdict::FitVerdict;
use sizeup_core::{Architecture, Assumption};
use sizeup_formats::hf::Quantization;

use crate::cli::{DeviceArgs, ModelArg};
use crate::commands::infer::ServeArgs;
use crate::commands::train::TrainFlags;
use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::model::{self, ModelSummary};
use crate::progress::Progress;
use crate::render::{Cell, Report, Table, View};
use crate::sweep_axis::SweepAxis;

pub use self::axes::Quantity;
pub use self::chart::chart;
pub use self::serve::ServePoint;
pub use self::train::TrainPoint;

use self::axes::Swept;

/// Sweeps of at least this many points show a progress bar (on a terminal):
/// smaller ones finish before a bar would be seen.
const PROGRESS_MIN_POINTS: usize = 2_000;

/// Flags of `sizeup sweep`.
#[derive(Debug, Args, Serialize)]
pub struct SweepArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// What each point estimates: serving (as `sizeup infer`) or training (as `sizeup train`)
    #[arg(long, value_enum, default_value_t = Mode::Serve)]
    pub mode: Mode,
    /// An input to vary, NAME=START..END[:STEP|*FACTOR] or NAME=V1,V2,… (k = 1024), e.g.
    /// `seq_len=4k..128k`, `batch=1..256*2`, `hidden=2048..8192`; twice for a grid.
    /// Serving: any numeric flag of `sizeup infer` (`context`/`seq_len`, `prompt`,
    /// `output`, `batch`, `concurrency`, `tp`, `gpus`, `price`, …); training: of
    /// `sizeup train` (`micro_batch`, `global_batch`, `seq_len`, `tp`, `pp`, `gpus`,
    /// `tokens`, `lora_rank`, `zero`, …); both: the architecture (`hidden`, `layers`, `kv_heads`)
    #[arg(long = "vary", value_name = "NAME=SPEC", required = true)]
    #[serde(serialize_with = "crate::api::text_list")]
    pub vary: Vec<SweepAxis>,
    /// Write a chart to this file (`.svg` or `.png`)
    #[arg(long, value_name = "FILE", value_parser = crate::chart::parse_chart_path)]
    pub chart: Option<PathBuf>,
    /// What the chart plots; `auto` picks by mode and the first varied input
    /// (context: KV cache; batch or concurrency: latency against throughput;
    /// other serving inputs: memory per GPU; training: training memory per GPU)
    #[arg(long, value_enum, default_value_t = ChartKind::Auto)]
    pub chart_kind: ChartKind,
    /// Rank the rows instead of keeping grid order: points that fit first, then
    /// by this figure; points that do not fit are marked and come after, errors last
    #[arg(long, value_enum, conflicts_with = "chart")]
    pub rank: Option<Rank>,
    /// The most work a sweep does before it asks: points × layers per point
    /// (about 0.2–0.5 µs each on one core), e.g. `1e9` to allow a longer sweep
    #[arg(long, value_name = "LAYER_POINTS", default_value = "100M", value_parser = crate::door::WORK)]
    pub max_work: u64,
    #[command(flatten)]
    #[serde(flatten)]
    pub device: DeviceArgs,
    #[command(
        flatten,
        next_help_heading = "Serving (--mode serve, as `sizeup infer`)"
    )]
    #[serde(flatten)]
    pub serve: ServeArgs,
    #[command(
        flatten,
        next_help_heading = "Training (--mode train, as `sizeup train`)"
    )]
    #[serde(flatten)]
    pub train: TrainFlags,
}

/// What each point of a sweep estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Serving, as `sizeup infer`.
    Serve,
    /// Training, as `sizeup train`.
    Train,
}

impl Mode {
    /// The flag value: `serve`, `train`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Serve => "serve",
            Mode::Train => "train",
        }
    }

    /// `serving`, `training`.
    pub fn noun(self) -> &'static str {
        match self {
            Mode::Serve => "serving",
            Mode::Train => "training",
        }
    }
}

/// What `--rank` orders the points by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rank {
    /// Throughput, highest first (serving: output tokens/s; training: tokens/s)
    Speed,
    /// Cost, lowest first (serving: $ per million output tokens; training: run cost)
    Cost,
}

/// The sort key of a point under `rank`: fitting points before tight ones
/// (training), before those that do not fit, before errors; then the figure
/// (unpriced points after priced ones).
fn rank_key(p: &SweepPoint, rank: Rank) -> (u8, f64) {
    let (class, speed, cost) = match &p.outcome {
        Outcome::Serve(s) => (
            if s.fits { 0 } else { 2 },
            s.output_tokens_per_sec,
            s.usd_per_million_output_tokens,
        ),
        Outcome::Train(t) => (
            match t.verdict {
                FitVerdict::Fits => 0,
                FitVerdict::Tight => 1,
                FitVerdict::DoesNotFit => 2,
            },
            t.tokens_per_second,
            t.cost_usd,
        ),
        Outcome::Error(_) => return (3, 0.0),
    };
    let figure = match rank {
        Rank::Speed => -speed,
        Rank::Cost => cost.unwrap_or(f64::INFINITY),
    };
    (
        class,
        if figure.is_nan() {
            f64::INFINITY
        } else {
            figure
        },
    )
}

/// What a sweep's chart plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartKind {
    /// Chosen by the varied input.
    Auto,
    /// KV cache per request against context, with the GPU's memory.
    Kv,
    /// Memory per GPU as stacked line items, one bar per point.
    Memory,
    /// Time per output token against throughput, one point per batch size.
    LatencyThroughput,
    /// Training memory per GPU: stacked line items, or total against
    /// micro-batch per value of a second input, with the GPU's memory.
    TrainMemory,
}

/// One varied input, as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct AxisReport {
    /// The name as given (`seq_len`).
    pub name: Cow<'static, str>,
    /// The input it sets (`context`).
    pub input: Cow<'static, str>,
    /// The axis in canonical form (`seq_len=4k..128k`).
    pub spec: String,
    /// How many values.
    pub points: usize,
}

/// The values of the varied inputs at one point, serialized as a map from
/// name to value (whole numbers for inputs that count, the name for a name
/// axis): `(name, value, whole, name on a name axis)`. Read back from JSON, a
/// name axis's value (its position among the names) is not known: NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct PointValues(pub Vec<(Cow<'static, str>, f64, bool, Option<String>)>);

impl Serialize for PointValues {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value, whole, label) in &self.0 {
            let (name, value, whole) = (name.as_ref(), *value, *whole);
            if let Some(label) = label {
                map.serialize_entry(name, label)?;
            } else if whole {
                map.serialize_entry(name, &(value as u64))?;
            } else {
                map.serialize_entry(name, &value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for PointValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PointValuesVisitor)
    }
}

/// A map from each varied input to its value: a number, or a name.
#[cfg(feature = "serve")]
impl schemars::JsonSchema for PointValues {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PointValues".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": {"type": ["number", "string"]}
        })
    }
}

/// Reads a point's values in their order (the axes' order).
struct PointValuesVisitor;

impl<'de> de::Visitor<'de> for PointValuesVisitor {
    type Value = PointValues;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map from a varied input to its value")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<PointValues, A::Error> {
        let mut values = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
            let name = Cow::Owned(name);
            values.push(match value {
                serde_json::Value::String(label) => (name, f64::NAN, false, Some(label)),
                serde_json::Value::Number(n) => match (n.as_u64(), n.as_f64()) {
                    (Some(whole), _) => (name, whole as f64, true, None),
                    (None, Some(x)) => (name, x, false, None),
                    (None, None) => return Err(de::Error::custom(format!("`{name}` = {n}"))),
                },
                other => {
                    return Err(de::Error::custom(format!(
                        "`{name}` = {other} is not a number or a name"
                    )))
                }
            });
        }
        Ok(PointValues(values))
    }
}

/// What one point gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A serving estimate.
    Serve(Box<ServePoint>),
    /// A training estimate.
    Train(Box<TrainPoint>),
    /// The estimate refused the point; the message says why.
    Error(String),
}

/// One point of the sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct SweepPoint {
    /// The varied inputs' values.
    pub values: PointValues,
    /// The estimate, or why there is none.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl SweepPoint {
    /// The serving estimate, if the point has one.
    pub fn serve(&self) -> Option<&ServePoint> {
        match &self.outcome {
            Outcome::Serve(p) => Some(p),
            _ => None,
        }
    }

    /// The training estimate, if the point has one.
    pub fn train(&self) -> Option<&TrainPoint> {
        match &self.outcome {
            Outcome::Train(p) => Some(p),
            _ => None,
        }
    }

    /// The error, if the point has no estimate.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// The fixed settings of the sweep that the table title names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum Settings {
    /// Serving.
    Serve {
        /// Weight format.
        weights: String,
        /// KV cache precision.
        kv_dtype: String,
        /// Serving engine.
        engine: String,
    },
    /// Training.
    Train {
        /// Precision of the matrix products.
        precision: String,
        /// Optimizer.
        optimizer: String,
        /// `full`, `lora` or `qlora`.
        method: String,
        /// Activation recomputation.
        recompute: String,
        /// ZeRO stage.
        zero: u8,
    },
}

/// What `sizeup sweep` reports: one point per combination of the varied values,
/// first axis outermost.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct SweepReport {
    /// The model as loaded (before any architecture axis).
    pub model: ModelSummary,
    /// What each point estimates.
    pub mode: Mode,
    /// The accelerator.
    pub gpu: String,
    /// Its memory, bytes.
    pub gpu_memory_bytes: u64,
    /// What stays fixed.
    pub settings: Settings,
    /// The varied inputs, first axis outermost.
    pub axes: Vec<AxisReport>,
    /// The points, first axis outermost.
    pub points: Vec<SweepPoint>,
    /// The assumptions of the first point that has an estimate (the varied
    /// inputs differ from point to point).
    pub assumptions: Vec<Assumption>,
    /// Rules applied while reading the model.
    pub model_assumptions: Vec<Assumption>,
    #[serde(skip)]
    swept: Vec<Swept>,
}

impl SweepReport {
    /// The axes' definitions, in order.
    fn swept(&self) -> &[Swept] {
        &self.swept
    }
}

/// What every point starts from: the model, the flags and the accelerator.
pub struct Base<'a> {
    /// The model as loaded.
    pub arch: &'a Architecture,
    /// The accelerator, resolved once.
    pub gpu: &'a Accelerator,
    /// The device flags.
    pub device: &'a DeviceArgs,
    /// The serving flags.
    pub serve: &'a ServeArgs,
    /// How the checkpoint stores its weights, when its config says.
    pub checkpoint: Option<&'a Quantization>,
    /// The training flags.
    pub train: &'a TrainFlags,
    /// The varied inputs.
    pub swept: &'a [Swept],
}

impl Base<'_> {
    /// The accelerator at a point: the base one unless a `gpu` axis names another.
    pub fn accelerator(
        &self,
        device: &DeviceArgs,
    ) -> Result<std::borrow::Cow<'_, Accelerator>, AppError> {
        if device.gpu == self.device.gpu && device.gpu_file == self.device.gpu_file {
            Ok(std::borrow::Cow::Borrowed(self.gpu))
        } else {
            Ok(std::borrow::Cow::Owned(device.accelerator()?))
        }
    }
}

/// Run the sweep.
pub fn run(args: &SweepArgs) -> Result<SweepReport, AppError> {
    check_mode_flags(args)?;
    let swept = axes::resolve(&args.vary, args.mode)?;
    let loaded = model::load(&args.model)?;
    check_work(&swept, loaded.arch.num_layers(), args.max_work)?;
    let gpu = args.device.accelerator()?;
    let base = Base {
        arch: &loaded.arch,
        gpu: &gpu,
        device: &args.device,
        serve: &args.serve,
        checkpoint: loaded.quantization.as_ref(),
        train: &args.train,
        swept: &swept,
    };
    let grid = Grid::new(&swept);
    let evaluate = |values: &[f64]| -> Result<Outcome, AppError> {
        Ok(match args.mode {
            Mode::Serve => Outcome::Serve(Box::new(serve::evaluate(&base, values)?)),
            Mode::Train => Outcome::Train(Box::new(train::evaluate(&base, values)?)),
        })
    };

    let progress = Progress::new(grid.len() as u64, grid.len() >= PROGRESS_MIN_POINTS);
    progress.set_prefix(&swept.iter().map(|s| s.name).collect::<Vec<_>>().join(" × "));
    let mut points: Vec<SweepPoint> = (0..grid.len())
        .into_par_iter()
        .map(|i| {
            let values = grid.values(&swept, i);
            let outcome = evaluate(&values).unwrap_or_else(|e| Outcome::Error(e.to_string()));
            progress.inc();
            SweepPoint {
                values: PointValues(
                    swept
                        .iter()
                        .zip(values)
                        .map(|(s, v)| {
                            (
                                s.name.into(),
                                v,
                                s.def.door.whole(),
                                s.label(v).map(String::from),
                            )
                        })
                        .collect(),
                ),
                outcome,
            }
        })
        .collect();
    progress.finish();
    if let Some(rank) = args.rank {
        // stable: ties keep grid order
        points.sort_by(|a, b| {
            let (ca, fa) = rank_key(a, rank);
            let (cb, fb) = rank_key(b, rank);
            ca.cmp(&cb).then(fa.total_cmp(&fb))
        });
    }

    let mut assumptions = match points.iter().position(|p| p.error().is_none()) {
        Some(i) => {
            let values = grid.values(&swept, i);
            match args.mode {
                Mode::Serve => serve::assumptions(&base, &values)?,
                Mode::Train => train::assumptions(&base, &values)?,
            }
        }
        None => Vec::new(),
    };
    assumptions.extend(axes::assumptions(&swept));
    let settings = match args.mode {
        Mode::Serve => Settings::Serve {
            weights: args
                .serve
                .weights_for(loaded.quantization.as_ref())
                .0
                .to_string(),
            kv_dtype: args.serve.kv_dtype.name().to_string(),
            engine: args.serve.engine.name().to_string(),
        },
        Mode::Train => Settings::Train {
            precision: args.train.precision.name().to_string(),
            optimizer: args.train.optimizer.name().to_string(),
            method: args.train.method.clone(),
            recompute: args.train.recompute.name().to_string(),
            zero: args.train.zero,
        },
    };
    Ok(SweepReport {
        model: ModelSummary::new(&loaded),
        mode: args.mode,
        gpu: gpu.name.clone(),
        gpu_memory_bytes: gpu.memory_bytes,
        settings,
        axes: swept
            .iter()
            .map(|s| AxisReport {
                name: s.name.into(),
                input: s.def.name.into(),
                spec: s.spec.clone(),
                points: s.values.len(),
            })
            .collect(),
        points,
        assumptions,
        model_assumptions: loaded.assumptions,
        swept,
    })
}

/// The flags of a group as parsed from nothing: its defaults.
#[derive(Parser)]
struct Defaults<T: Args> {
    #[command(flatten)]
    flags: T,
}

/// Refuse flags of the other mode: they would be silently ignored.
/// Refuse a sweep whose work (each point's layers, summed over the grid) is above
/// `--max-work`, before any point runs: a grid inside the point cap can still
/// take hours when every point walks tens of thousands of layers.
fn check_work(swept: &[Swept], layers: u64, max_work: u64) -> Result<(), AppError> {
    let per_point_layers: f64 = match swept.iter().find(|s| s.def.name == "layers") {
        // the layers axis sets each point's layer count: its mean stands for all
        Some(axis) => axis.values.iter().sum::<f64>() / axis.values.len().max(1) as f64,
        None => layers as f64,
    };
    let points: f64 = swept.iter().map(|s| s.values.len() as f64).product();
    let work = points * per_point_layers;
    if work <= max_work as f64 {
        return Ok(());
    }
    Err(AppError::Usage {
        flag: "--vary",
        value: swept
            .iter()
            .map(|s| s.spec.clone())
            .collect::<Vec<_>>()
            .join(" "),
        problem: format!(
            "the sweep would evaluate {points} points × {per_point_layers:.0} layers = {work:.2e} layer-points, more than `--max-work` {max_work:.2e} (each takes about 0.2–0.5 µs on one core)"
        ),
        hint: Some(format!(
            "use fewer points or layers, or pass `--max-work {:.1e}` to run it anyway",
            round_up_2_digits(work)
        )),
    })
}

/// `x` rounded up to two significant digits (2.15e9 → 2.2e9).
fn round_up_2_digits(x: f64) -> f64 {
    let unit = 10f64.powi(x.log10().floor() as i32 - 1);
    (x / unit).ceil() * unit
}

fn check_mode_flags(args: &SweepArgs) -> Result<(), AppError> {
    let unused =
        match args.mode {
            Mode::Serve => Defaults::<TrainFlags>::try_parse_from(["sweep"])
                .is_ok_and(|d| d.flags != args.train),
            Mode::Train => Defaults::<ServeArgs>::try_parse_from(["sweep"])
                .is_ok_and(|d| d.flags != args.serve),
        };
    if !unused {
        return Ok(());
    }
    let (given, other) = match args.mode {
        Mode::Serve => (Mode::Train, Mode::Serve),
        Mode::Train => (Mode::Serve, Mode::Train),
    };
    Err(AppError::Usage {
        flag: "--mode",
        value: other.name().into(),
        problem: format!(
            "{} flags were given, and a {} sweep would ignore them",
            given.noun(),
            other.noun()
        ),
        hint: Some(format!(
            "add `--mode {}`, or drop the {} flags (`sizeup sweep --help` lists them under their heading)",
            given.name(),
            given.noun()
        )),
    })
}

/// The points of one or two axes, first axis outermost.
struct Grid {
    lens: Vec<usize>,
}

impl Grid {
    fn new(swept: &[Swept]) -> Grid {
        Grid {
            lens: swept.iter().map(|s| s.values.len()).collect(),
        }
    }

    fn len(&self) -> usize {
        self.lens.iter().product()
    }

    /// The values at point `i`.
    fn values(&self, swept: &[Swept], mut i: usize) -> Vec<f64> {
        let mut out = vec![0.0; swept.len()];
        for (k, s) in swept.iter().enumerate().rev() {
            out[k] = s.values[i % self.lens[k]];
            i /= self.lens[k];
        }
        out
    }
}

/// A varied value as a table cell.
fn value_cell(quantity: Quantity, v: f64, whole: bool) -> Cell {
    match quantity {
        Quantity::UsdPerHour => Cell::Number(v, "USD/h"),
        Quantity::Fraction => Cell::Ratio(v),
        Quantity::Mib => Cell::Number(v, "MiB"),
        Quantity::Microseconds => Cell::Number(v, "µs"),
        Quantity::Gbps => Cell::Number(v, "Gb/s"),
        Quantity::Tokens | Quantity::Count if whole => Cell::Exact(v as u64),
        Quantity::Tokens | Quantity::Count | Quantity::Text => Cell::Number(v, ""),
    }
}

/// The result columns of the report's mode.
enum Columns {
    Serve(serve::Columns),
    Train(train::Columns),
}

impl Columns {
    fn new(report: &SweepReport) -> Columns {
        match report.mode {
            Mode::Serve => Columns::Serve(serve::Columns::new(report)),
            Mode::Train => Columns::Train(train::Columns::new(report)),
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        match self {
            Columns::Serve(c) => c.headers(),
            Columns::Train(c) => c.headers(),
        }
    }

    fn cells(&self, point: &SweepPoint) -> Vec<Cell> {
        match self {
            Columns::Serve(c) => c.cells(point),
            Columns::Train(c) => c.cells(point),
        }
    }
}

impl Report for SweepReport {
    fn view(&self, _units: ByteUnits) -> View {
        let what = match &self.settings {
            Settings::Serve {
                weights,
                kv_dtype,
                engine,
            } => format!("serving with {weights} weights, {kv_dtype} KV cache, {engine}"),
            Settings::Train {
                precision,
                optimizer,
                method,
                recompute,
                zero,
            } => format!(
                "{method} training in {precision}, {optimizer}, recompute {recompute}, ZeRO-{zero}"
            ),
        };
        let varied = |name: &str| self.swept().iter().any(|s| s.def.name == name);
        // a name axis overrides the fixed setting it would name
        let what = if self.swept().iter().any(|s| s.names.is_some()) {
            format!("{what} (unless varied)")
        } else {
            what
        };
        let title = format!(
            "{} ({}) on {}: {what}; {} points ({})",
            self.model.name,
            self.model.description(),
            if varied("gpu") {
                "each `gpu`"
            } else {
                self.gpu.as_str()
            },
            self.points.len(),
            self.axes
                .iter()
                .map(|a| a.spec.clone())
                .collect::<Vec<_>>()
                .join(" × ")
        );
        let mut keys: Vec<(String, String)> = self
            .axes
            .iter()
            .map(|a| (a.name.to_string(), a.name.to_string()))
            .collect();
        let columns = Columns::new(self);
        let headers = columns.headers();
        keys.extend(headers);
        let pairs: Vec<(&str, &str)> = keys.iter().map(|(h, k)| (h.as_str(), k.as_str())).collect();
        let mut table = Table::new(Some(&title), &pairs);
        for p in &self.points {
            let mut row: Vec<Cell> = self
                .swept()
                .iter()
                .zip(&p.values.0)
                .map(|(s, (_, v, whole, label))| match label {
                    Some(label) => Cell::Text(label.clone()),
                    None => value_cell(s.def.quantity, *v, *whole),
                })
                .collect();
            row.extend(columns.cells(p));
            table.row(row);
        }
        let mut notes = match self.mode {
            Mode::Serve => serve::notes(self),
            Mode::Train => train::notes(self),
        };
        if let Some((header, rest)) = model::assumption_notes(&self.assumptions).split_first() {
            notes.push(format!(
                "{} at the first point with an estimate (the varied inputs change from point to point)",
                header.trim_end_matches(':')
            ));
            notes.extend(rest.iter().cloned());
        }
        notes.extend(model::assumption_notes(&self.model_assumptions));
        View {
            tables: vec![table],
            notes,
        }
    }
}

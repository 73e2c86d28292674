//! The library surface: for every command one request type and one response
//! type, both `Serialize + Deserialize`, and one entry point shape,
//! `estimate(&Request) -> Result<Response, Error>`.
//!
//! The command line, the web API (`sizeup serve`) and the Python package are
//! shells over this module: each turns its input into a request, calls
//! [`Estimate::estimate`], and draws the response.
//!
//! - A **request** is the command's flags as a type: its fields are the flags
//!   without the dashes (`--seq-len` is `seq_len`, MODEL is `model`, `--as` is
//!   `as`). It is read from JSON through the same clap definitions that parse
//!   the command line, so every range check, default and conflict rule is the
//!   CLI's; a field left out takes the flag's default. Numbers may be written as
//!   the flags take them (`"32k"`, `"15.6T"`). A `config` field carries a
//!   `config.json` (its text or the object itself) instead of a catalog name.
//! - A **response** is the command's report, the JSON `sizeup COMMAND --format
//!   json` prints, in base units, with its assumptions.
//!
//! Both round-trip: a request or response written to JSON reads back to one
//! that writes the same bytes.
//!
//! Model names resolve through the catalog and readers (`sizeup models` lists
//! the catalog), accelerators through [`sizeup_core::hardware::find`] (`sizeup
//! gpus`), engines and weight formats through their `FromStr`; a request's
//! MODEL may also be a `config.json`, a checkpoint folder, a `.gguf` file or
//! `hf:ORG/NAME`.
//!
//! ```
//! use sizeup::api::{self, InferRequest};
//!
//! let request: InferRequest = serde_json::from_str(
//!     r#"{"model": "llama-3.1-8b", "gpu": "H100-SXM", "context": "32k", "concurrency": 8}"#,
//! )?;
//! let response = api::infer(&request)?;
//! assert!(response.estimate.fits);
//! assert_eq!(response.estimate.context, 32_768);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod diagnosis;
mod fields;

#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

pub(crate) use self::fields::field_name;
pub use self::fields::{fields, Field, RequestError, CONFIG_FIELD, MAX_CONFIG_BYTES};
pub(crate) use self::fields::{text, text_list, text_opt};
pub use crate::cli::{DeviceArgs, ModelArg};
pub use crate::commands::card::{CardArgs as CardRequest, CardReport as CardResponse};
pub use crate::commands::gpus::{GpusArgs as GpusRequest, GpusReport as GpusResponse};
pub use crate::commands::infer::{
    InferArgs as InferRequest, InferReport as InferResponse, LoadArgs, ServeArgs,
};
pub use crate::commands::inspect::{
    InspectArgs as InspectRequest, InspectReport as InspectResponse,
};
pub use crate::commands::kv::{KvArgs as KvRequest, KvReport as KvResponse};
pub use crate::commands::models::{ModelsArgs as ModelsRequest, ModelsReport as ModelsResponse};
pub use crate::commands::params::{ParamsArgs as ParamsRequest, ParamsReport as ParamsResponse};
pub use crate::commands::plan::{
    PlanServeArgs as PlanServeRequest, PlanServeReport as PlanServeResponse,
    PlanTrainArgs as PlanTrainRequest, PlanTrainReport as PlanTrainResponse,
};
pub use crate::commands::rough::{RoughArgs as RoughRequest, RoughReport as RoughResponse};
pub use crate::commands::sweep::{SweepArgs as SweepRequest, SweepReport as SweepResponse};
pub use crate::commands::train::{
    TrainArgs as TrainRequest, TrainFlags, TrainReport as TrainResponse,
};
pub use crate::diagnostics::Diagnostic;
pub use crate::error::AppError as Error;
pub use crate::humanize::ByteUnits;
pub use crate::model::ModelSource;

/// A command's request: read from fields by its flags, answered by [`Estimate::estimate`].
pub trait Estimate:
    Serialize + DeserializeOwned + clap::Args + clap::FromArgMatches + Sized
{
    /// The command that answers (`params`; `plan train` for a nested one).
    const COMMAND: &'static str;
    /// What it answers.
    type Response: Serialize + DeserializeOwned;

    /// Run the command.
    ///
    /// # Errors
    /// Whatever the command refuses: an unknown model or accelerator, a layout
    /// that does not divide the model, a count that overflows.
    fn estimate(&self) -> Result<Self::Response, Error>;

    /// The model the request names, for the commands that take one.
    fn model_mut(&mut self) -> Option<&mut ModelArg>;

    /// Read a request from its fields (`("seq_len", "32k")`), through the flags'
    /// doors: what serde's `Deserialize` does, with the error kept typed.
    ///
    /// # Errors
    /// A field the command lacks, or a value its flag refuses, named by the field.
    fn from_fields(
        fields: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Result<Self, RequestError> {
        fields::parse(fields)
    }
}

/// Implement [`Estimate`] and `Deserialize` (by [`Estimate::from_fields`]) for
/// each request type.
macro_rules! requests {
    ($($request:ty => $response:ty, $command:literal, $run:path, $model:ident;)*) => {$(
        impl Estimate for $request {
            const COMMAND: &'static str = $command;
            type Response = $response;

            fn estimate(&self) -> Result<$response, Error> {
                $run(self)
            }

            fn model_mut(&mut self) -> Option<&mut ModelArg> {
                requests!(@model self $model)
            }
        }

        impl<'de> Deserialize<'de> for $request {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let fields = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
                <$request>::from_fields(fields).map_err(serde::de::Error::custom)
            }
        }
    )*};
    (@model $self:ident model) => { Some(&mut $self.model) };
    (@model $self:ident none) => { None };
}

requests! {
    ParamsRequest => ParamsResponse, "params", crate::commands::params::run, model;
    KvRequest => KvResponse, "kv", crate::commands::kv::run, model;
    InferRequest => InferResponse, "infer", crate::commands::infer::run, model;
    TrainRequest => TrainResponse, "train", crate::commands::train::run, model;
    CardRequest => CardResponse, "card", crate::commands::card::run, model;
    PlanTrainRequest => PlanTrainResponse, "plan train", crate::commands::plan::run_train, model;
    PlanServeRequest => PlanServeResponse, "plan serve", crate::commands::plan::run_serve, model;
    SweepRequest => SweepResponse, "sweep", crate::commands::sweep::run, model;
    ModelsRequest => ModelsResponse, "models", crate::commands::models::run, none;
    GpusRequest => GpusResponse, "gpus", crate::commands::gpus::run, none;
    RoughRequest => RoughResponse, "rough", crate::commands::rough::run, none;
    InspectRequest => InspectResponse, "inspect", crate::commands::inspect::run, none;
}

/// The exact parameter count and where the parameters sit.
///
/// ```
/// let request: sizeup::api::ParamsRequest =
///     serde_json::from_value(serde_json::json!({"model": "llama-3.1-8b"}))?;
/// let response = sizeup::api::params(&request)?;
/// // shared/fixtures/models/llama-3.1-8b/expected.json
/// assert_eq!(response.params_total, 8_030_261_248);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model, or a config the readers refuse.
pub fn params(request: &ParamsRequest) -> Result<ParamsResponse, Error> {
    request.estimate()
}

/// The KV cache per token, per sequence, per batch and per GPU.
///
/// ```
/// let request: sizeup::api::KvRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "seq_len": "8k", "batch": 4
/// }))?;
/// let response = sizeup::api::kv(&request)?;
/// // 32 layers · 2 (K and V) · 8 KV heads · 128 dims · 2 bytes (fp16)
/// assert_eq!(response.bytes_per_token, 131_072);
/// assert_eq!(response.bytes_total, 131_072 * 8192 * 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model, or a `tp` the KV heads refuse.
pub fn kv(request: &KvRequest) -> Result<KvResponse, Error> {
    request.estimate()
}

/// Serving: memory per GPU, prefill and decode speed, concurrency and cost.
///
/// ```
/// let request: sizeup::api::InferRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "gpu": "H100-SXM", "weights": "fp8", "engine": "vllm"
/// }))?;
/// let response = sizeup::api::infer(&request)?;
/// let e = &response.estimate;
/// assert!(e.fits);
/// assert!(e.schedule.time_per_output_token_seconds > 0.0);
/// assert_eq!(e.weights.to_string(), "fp8-e4m3");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model or accelerator, or a layout the model refuses.
pub fn infer(request: &InferRequest) -> Result<InferResponse, Error> {
    request.estimate()
}

/// Training: memory per GPU, FLOPs, step time, MFU, wall time and cost.
///
/// ```
/// let request: sizeup::api::TrainRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "gpu": "H100-SXM", "gpus": 8, "zero": 3,
///     "seq_len": "8k", "global_batch": 64, "tokens": "1B"
/// }))?;
/// let response = sizeup::api::train(&request)?;
/// assert!(response.estimate.fits);
/// assert_eq!(response.estimate.params_total, 8_030_261_248);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model or accelerator, or a layout that does not divide the model.
pub fn train(request: &TrainRequest) -> Result<TrainResponse, Error> {
    request.estimate()
}

/// The lesson's evidence card: parameters, training and serving cost, the
/// bottleneck and what would change the decision.
///
/// ```
/// let request: sizeup::api::CardRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "workload": "chat", "gpu": "H100-SXM"
/// }))?;
/// let response = sizeup::api::card(&request)?;
/// assert_eq!(response.card.params.total, 8_030_261_248);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model or accelerator, or a workload the model cannot serve.
pub fn card(request: &CardRequest) -> Result<CardResponse, Error> {
    request.estimate()
}

/// Every training layout of a job that fits, ranked by wall time or cost.
///
/// ```
/// let request: sizeup::api::PlanTrainRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "gpu": "H100-SXM", "gpus": 8, "global_batch": 64, "top": 3
/// }))?;
/// let response = sizeup::api::plan_train(&request)?;
/// assert_eq!(response.rows.len(), 3);
/// assert_eq!(response.rows[0].rank, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model or accelerator, a space with nothing that fits, or a
/// search predicted to outlast its time limit.
pub fn plan_train(request: &PlanTrainRequest) -> Result<PlanTrainResponse, Error> {
    request.estimate()
}

/// The cheapest serving setups that carry a load within latency targets,
/// confirmed by the serving simulation.
///
/// ```
/// let request: sizeup::api::PlanServeRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "rate": 5, "prompt": 1000, "output": 200,
///     "ttft": 1, "tpot": 0.05, "gpu": ["H100-SXM"], "top": 2
/// }))?;
/// let response = sizeup::api::plan_serve(&request)?;
/// assert_eq!(response.rows[0].rank, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model or accelerator, contradictory targets, a space too large for
/// its time limit, or a load no setup meets (the nearest miss is named).
pub fn plan_serve(request: &PlanServeRequest) -> Result<PlanServeResponse, Error> {
    request.estimate()
}

/// One estimate per point of one or two varied inputs.
///
/// ```
/// let request: sizeup::api::SweepRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "vary": "batch=1..8*2"
/// }))?;
/// let response = sizeup::api::sweep(&request)?;
/// assert_eq!(response.points.len(), 4); // 1, 2, 4, 8
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unknown model or accelerator, an axis no flag matches, or a sweep larger
/// than `max_work`.
pub fn sweep(request: &SweepRequest) -> Result<SweepResponse, Error> {
    request.estimate()
}

/// The chart `sizeup sweep --chart PATH` draws for a sweep: SVG or PNG bytes,
/// chosen by `path`'s extension, with byte axes in `units`. Nothing is written.
///
/// ```
/// let request: sizeup::api::SweepRequest = serde_json::from_value(serde_json::json!({
///     "model": "llama-3.1-8b", "vary": "seq_len=4k..32k*2", "chart": "kv.svg"
/// }))?;
/// let response = sizeup::api::sweep(&request)?;
/// let path = std::path::Path::new("kv.svg");
/// let svg = sizeup::api::sweep_chart(path, &request, &response, sizeup::api::ByteUnits::Binary)?;
/// assert!(svg.starts_with(b"<svg"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// A `chart_kind` the sweep's axes cannot draw, or a chart that cannot be rendered.
pub fn sweep_chart(
    path: &std::path::Path,
    request: &SweepRequest,
    response: &SweepResponse,
    units: ByteUnits,
) -> Result<Vec<u8>, Error> {
    let chart = crate::commands::sweep::chart(response, request.chart_kind, units)?;
    chart_bytes(path, &chart)
}

/// The chart `sizeup plan serve --chart PATH` draws for a plan: SVG or PNG
/// bytes, chosen by `path`'s extension. Nothing is written.
///
/// # Errors
/// A chart that cannot be rendered (a figure that is not finite).
pub fn plan_serve_chart(
    path: &std::path::Path,
    response: &PlanServeResponse,
) -> Result<Vec<u8>, Error> {
    chart_bytes(path, &crate::commands::plan::serve::chart(response))
}

/// Write a chart's `bytes` (from [`sweep_chart`] or [`plan_serve_chart`]) to `path`.
///
/// # Errors
/// [`Error::Write`] naming the path, when the file cannot be written.
pub fn write_chart(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.display().to_string(),
        source,
    })
}

/// `chart`'s bytes in the format `path` names.
fn chart_bytes(path: &std::path::Path, chart: &crate::chart::Chart) -> Result<Vec<u8>, Error> {
    crate::chart::write_chart(path, chart).map_err(|e| Error::Chart {
        path: path.display().to_string(),
        source: Box::new(e),
    })
}

/// The embedded model catalog.
///
/// ```
/// let request: sizeup::api::ModelsRequest =
///     serde_json::from_value(serde_json::json!({"filter": "llama-3.1-8b"}))?;
/// let response = sizeup::api::models(&request)?;
/// assert!(response.models.iter().any(|m| m.name == "llama-3.1-8b"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// None today; the shape is every command's.
pub fn models(request: &ModelsRequest) -> Result<ModelsResponse, Error> {
    request.estimate()
}

/// The accelerator catalog, every figure with its source.
///
/// ```
/// let request: sizeup::api::GpusRequest =
///     serde_json::from_value(serde_json::json!({"filter": "H100-SXM"}))?;
/// let response = sizeup::api::gpus(&request)?;
/// assert_eq!(response.accelerators[0].name, "H100-SXM");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// A `gpu_file` that cannot be read.
pub fn gpus(request: &GpusRequest) -> Result<GpusResponse, Error> {
    request.estimate()
}

/// The lesson's rough estimate, with its exercises' variations.
///
/// ```
/// let request: sizeup::api::RoughRequest =
///     serde_json::from_value(serde_json::json!({"only": "small"}))?;
/// let response = sizeup::api::rough(&request)?;
/// // the lesson's small model: 24 · (12 · 2048² + 4 · 2048) + 50000 · 2048
/// assert_eq!(response.rows[0].estimate.params, 1_310_556_160);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// A combination whose counts overflow.
pub fn rough(request: &RoughRequest) -> Result<RoughResponse, Error> {
    request.estimate()
}

/// The tensors a checkpoint holds (safetensors, GGUF or the Hub), by role and dtype.
///
/// ```no_run
/// let request: sizeup::api::InspectRequest =
///     serde_json::from_value(serde_json::json!({"path": "model.safetensors"}))?;
/// let response = sizeup::api::inspect(&request)?;
/// println!("{} tensors", response.table.tensors.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// A file that cannot be read or is not a checkpoint.
pub fn inspect(request: &InspectRequest) -> Result<InspectResponse, Error> {
    request.estimate()
}

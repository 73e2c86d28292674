//! Command-line definition: one clap tree, shared argument groups.

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use sizeup_core::hardware::{self, Accelerator};

use crate::commands::card::CardArgs;
use crate::commands::gpus::{read_gpu_file, GpusArgs};
use crate::commands::infer::InferArgs;
use crate::commands::inspect::InspectArgs;
use crate::commands::kv::KvArgs;
use crate::commands::models::ModelsArgs;
use crate::commands::params::ParamsArgs;
use crate::commands::plan::PlanTarget;
use crate::commands::rough::RoughArgs;
use crate::commands::sweep::SweepArgs;
use crate::commands::train::TrainArgs;
use crate::commands::validate::ValidateArgs;
use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::render::Format;

/// What a transformer language model costs before you train or serve it.
#[derive(Debug, Parser)]
#[command(
    name = "sizeup",
    version,
    about,
    max_term_width = 100,
    help_expected = true
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The lesson's rough estimate (12·h² per block, KV cache), byte for byte
    Rough {
        #[command(flatten)]
        args: RoughArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Exact parameter count and where the parameters sit
    Params {
        #[command(flatten)]
        args: ParamsArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// KV cache per token, per sequence, per batch and per GPU
    Kv {
        #[command(flatten)]
        args: KvArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Serving: memory per GPU, prefill and decode speed, concurrency and cost
    Infer {
        #[command(flatten)]
        args: InferArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Training: memory per GPU under a parallel layout, FLOPs, step time, MFU, wall time and cost
    Train {
        #[command(flatten)]
        args: TrainArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Search every configuration of a job and rank those that fit (`plan train`, `plan serve`)
    Plan {
        #[command(subcommand)]
        target: PlanTarget,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Vary one or two inputs of an estimate: a table and a chart (`--chart out.svg`)
    Sweep {
        #[command(flatten)]
        args: Box<SweepArgs>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The accelerator catalog, every figure with its source
    Gpus {
        #[command(flatten)]
        args: GpusArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The lesson's evidence card: params, training cost, inference cost, bottleneck, decision
    Card {
        #[command(flatten)]
        args: CardArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Recompute published measurements and compare (with a naive baseline)
    Validate {
        #[command(flatten)]
        args: ValidateArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The tensors a checkpoint holds (safetensors, GGUF or the Hub), by role and dtype
    Inspect {
        #[command(flatten)]
        args: InspectArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The embedded model catalog
    Models {
        #[command(flatten)]
        args: ModelsArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// A local web page and a JSON API over these commands (`/api/openapi.json`)
    #[cfg(feature = "serve")]
    Serve {
        #[command(flatten)]
        args: crate::serve::ServeArgs,
    },
}

/// The model every model command takes.
#[derive(Debug, Clone, Args, Serialize)]
pub struct ModelArg {
    /// A catalog name (`sizeup models` lists them), a `config.json`, a checkpoint folder, a `.gguf` file, or `hf:ORG/NAME[@REVISION]`
    #[arg(value_name = "MODEL")]
    pub model: String,
    /// Read the config.json as this supported model_type (for a type sizeup does not
    /// know yet, or a variant of one): the count is then unverified, and says so
    #[arg(long = "as", value_name = "TYPE")]
    #[serde(rename = "as")]
    pub as_type: Option<String>,
    /// What MODEL may reach: anything on the command line; set by `serve` for requests.
    #[arg(skip)]
    #[serde(
        rename = "config",
        skip_serializing_if = "crate::model::ModelSource::is_named"
    )]
    pub source: crate::model::ModelSource,
}

/// The devices, shared by the serving and training flags (and so by `sweep`,
/// which takes both). Serving and training read `--gpus` and `--tp` with their
/// own defaults.
#[derive(Debug, Clone, PartialEq, Args, Serialize)]
pub struct DeviceArgs {
    /// Accelerator name (`sizeup gpus` lists them; case, `-`, `_` and spaces are ignored)
    #[arg(long, default_value = "H100-SXM")]
    pub gpu: String,
    /// A TOML file describing the accelerator instead of `--gpu` (the catalog's fields at top level)
    #[arg(long, value_name = "FILE", conflicts_with = "gpu")]
    pub gpu_file: Option<String>,
    /// Devices in all (serving: `gpus / (tp · pp · attention-dp)` replicas, default their product; training: default 1)
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub gpus: Option<u64>,
    /// Tensor-parallel size (serving: devices per pipeline stage of a replica, default `--gpus / --pp`, else 1; llama.cpp: devices of one instance, each matrix split by rows over them; training: default 1)
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub tp: Option<u64>,
    /// Pipeline-parallel stages (serving: stages of `--tp` devices per replica, as vLLM's
    /// `--pipeline-parallel-size`, with as many batches in flight; training: stages of the
    /// layout); default 1
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub pp: Option<u64>,
    /// Expert-parallel size, MoE models (serving: groups of the `--tp` · `--attention-dp`
    /// ranks the experts spread over, each group holding whole experts: vLLM's
    /// `--enable-expert-parallel` is all of them, SGLang's `--ep-size` any divisor; training:
    /// the expert-parallel group); default 1
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub ep: Option<u64>,
    /// Price per device-hour in US dollars (default: the catalog's)
    #[arg(long, value_parser = crate::door::PRICE)]
    pub price: Option<f64>,
}

impl DeviceArgs {
    /// The accelerator `--gpu` names or `--gpu-file` describes.
    pub fn accelerator(&self) -> Result<Accelerator, AppError> {
        Ok(match &self.gpu_file {
            Some(path) => read_gpu_file(path)?,
            None => hardware::find(&self.gpu)?.clone(),
        })
    }
}

/// Parse a KV cache precision.
pub fn parse_kv_dtype(s: &str) -> Result<sizeup_core::KvDtype, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = sizeup_core::KvDtype::ALL.iter().map(|d| d.name()).collect();
        format!(
            "`{s}` is not a KV cache precision (expected one of {})",
            names.join(", ")
        )
    })
}

/// Output flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,
    /// Human output in SI units (GB = 10⁹ bytes) instead of binary (GiB = 2³⁰ bytes)
    #[arg(long, global = true)]
    pub si: bool,
}

impl OutputArgs {
    /// The byte prefixes human output uses.
    pub fn units(&self) -> ByteUnits {
        if self.si {
            ByteUnits::Si
        } else {
            ByteUnits::Binary
        }
    }
}

/// Parse a weight format (`bf16`, `fp8`, `awq-int4-g128`, `Q4_K_M`…).
pub fn parse_weights(s: &str) -> Result<sizeup_core::WeightFormat, String> {
    s.parse().map_err(|_| {
        format!(
            "`{s}` is not a weight format (expected one of {})",
            sizeup_core::WeightFormat::valid_names().join(", ")
        )
    })
}

/// Parse a serving engine.
pub fn parse_engine(s: &str) -> Result<sizeup_core::inference::Engine, String> {
    use sizeup_core::inference::Engine;
    s.parse().map_err(|_| {
        let names: Vec<&str> = Engine::ALL.iter().map(|e| e.name()).collect();
        format!(
            "`{s}` is not an engine (expected one of {})",
            names.join(", ")
        )
    })
}

/// Parse an activation recomputation mode.
pub fn parse_recompute(s: &str) -> Result<sizeup_core::training::activations::Recompute, String> {
    use sizeup_core::training::activations::Recompute;
    s.parse().map_err(|_| {
        let names: Vec<&str> = Recompute::ALL.iter().map(|r| r.name()).collect();
        format!(
            "`{s}` is not a recomputation mode (expected one of {})",
            names.join(", ")
        )
    })
}

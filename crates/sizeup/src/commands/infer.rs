//! `sizeup infer MODEL --gpu H100-SXM`: memory per GPU, speed, concurrency and cost of serving.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use sizeup_core::hardware::Accelerator;
use sizeup_core::inference::sim::{
    self, Arrivals, Dist, Lengths, Percentiles, RunState, SchedulerConfig, SimReport, SimRequest,
};
use sizeup_core::inference::{self, Bound, Engine, InferEstimate, InferRequest, Load, Reserve};
use sizeup_core::{Assumption, KvDtype, WeightFormat};
use sizeup_formats::file::{read_text, shown, MAX_TEXT_BYTES};
use sizeup_formats::hf::Quantization;

use crate::cli::{DeviceArgs, ModelArg};
use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup infer`: the model, the devices and the serving flags.
#[derive(Debug, Args, Serialize)]
pub struct InferArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    #[serde(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub serve: ServeArgs,
    // boxed: the load flags would make `infer` the one large variant of the command enum
    #[command(flatten)]
    #[serde(flatten)]
    pub load: Box<LoadArgs>,
}

/// Serving under load: `--rate` or `--closed-loop` runs an event simulation of
/// a continuous-batching engine whose steps are priced like the estimate.
///
/// `--concurrency` stays what it was (the steady-state batch of the estimate);
/// the simulation takes its load from `--rate` (open loop, Poisson) or
/// `--closed-loop` (clients that send again as soon as answered), and every
/// other flag of this group needs one of the two.
#[derive(Debug, Clone, PartialEq, Args, Serialize)]
#[command(group(clap::ArgGroup::new("sim_load").args(["rate", "closed_loop"])))]
pub struct LoadArgs {
    /// Simulate Poisson arrivals at this many requests per second (whole deployment)
    #[arg(long, value_parser = crate::door::RATE, help_heading = "Serving under load")]
    pub rate: Option<f64>,
    /// Simulate this many clients, each sending its next request when answered
    #[arg(long, value_parser = crate::door::SEQUENCES, conflicts_with = "rate", help_heading = "Serving under load")]
    pub closed_loop: Option<u64>,
    /// Requests to send in the simulation (the run ends when all are answered)
    #[arg(long, value_parser = crate::door::REQUESTS, default_value = "1000", requires = "sim_load", help_heading = "Serving under load")]
    pub requests: u64,
    /// Seed of the simulation's random numbers (same seed, same run)
    #[arg(long, value_parser = crate::door::SEED, default_value = "0", requires = "sim_load", help_heading = "Serving under load")]
    pub seed: u64,
    /// Engine steps to simulate at most (a run that needs more stops and says so)
    #[arg(long, value_parser = crate::door::STEPS, default_value = "10M", requires = "sim_load", help_heading = "Serving under load")]
    pub max_steps: u64,
    /// Prompt lengths: `N`, `uniform:A..B`, `normal:MEAN,SD` or `lognormal:MEAN,SD` (default: --prompt)
    #[arg(long, value_parser = crate::door::dist, requires = "sim_load", conflicts_with = "lengths", help_heading = "Serving under load")]
    #[serde(serialize_with = "crate::api::text_opt")]
    pub prompt_dist: Option<Dist>,
    /// Output lengths, as --prompt-dist (default: --output)
    #[arg(long, value_parser = crate::door::dist, requires = "sim_load", conflicts_with = "lengths", help_heading = "Serving under load")]
    #[serde(serialize_with = "crate::api::text_opt")]
    pub output_dist: Option<Dist>,
    /// A file of `prompt,output` lines (CSV, a header allowed) or JSON lines `{"prompt": N, "output": M}`, replayed in order
    #[arg(long, requires = "sim_load", help_heading = "Serving under load")]
    pub lengths: Option<PathBuf>,
    /// Sequences the engine runs at once (vLLM `max_num_seqs`; default 256)
    #[arg(long, value_parser = crate::door::SEQUENCES, requires = "sim_load", help_heading = "Serving under load")]
    pub max_num_seqs: Option<u64>,
    /// New tokens per engine step (vLLM `max_num_batched_tokens`; default 8192)
    #[arg(long, value_parser = crate::door::TOKENS, requires = "sim_load", help_heading = "Serving under load")]
    pub max_batched_tokens: Option<u64>,
    /// Run each prompt whole in one step instead of in chunks
    #[arg(long, requires = "sim_load", help_heading = "Serving under load")]
    pub no_chunked_prefill: bool,
    /// Fraction of each prompt found in the prefix cache (0 to 0.999)
    #[arg(long, value_parser = crate::door::HIT_RATE, requires = "sim_load", help_heading = "Serving under load")]
    pub prefix_hit_rate: Option<f64>,
    /// The decode side of a disaggregated deployment: each prompt's KV cache
    /// arrives with the request, and only the block holding its last token is computed
    #[arg(
        long,
        requires = "sim_load",
        conflicts_with = "prefix_hit_rate",
        help_heading = "Serving under load"
    )]
    pub prompt_arrives_cached: bool,
    /// Engine CPU time per step not hidden behind the GPU, milliseconds (default 0)
    #[arg(long, value_parser = crate::door::OVERHEAD_MS, requires = "sim_load", help_heading = "Serving under load")]
    pub step_overhead_ms: Option<f64>,
    /// Time per request before the engine (HTTP, tokenization), milliseconds (default 0)
    #[arg(long, value_parser = crate::door::OVERHEAD_MS, requires = "sim_load", help_heading = "Serving under load")]
    pub request_overhead_ms: Option<f64>,
}

impl LoadArgs {
    /// The simulation these flags ask for, if any, with `serve`'s fixed lengths
    /// as the default.
    pub fn request(&self, serve: &ServeArgs) -> Result<Option<SimRequest>, AppError> {
        let arrivals = match (self.rate, self.closed_loop) {
            (Some(rate_per_sec), _) => Arrivals::Poisson { rate_per_sec },
            (None, Some(clients)) => Arrivals::ClosedLoop { clients },
            (None, None) => return Ok(None),
        };
        let lengths = match &self.lengths {
            Some(path) => Lengths::Replay {
                pairs: read_lengths(path)?,
            },
            None => Lengths::Drawn {
                prompt: self.prompt_dist.unwrap_or(Dist::Fixed {
                    tokens: serve.prompt,
                }),
                output: self.output_dist.unwrap_or(Dist::Fixed {
                    tokens: serve.output,
                }),
            },
        };
        let mut scheduler = SchedulerConfig::default();
        if let Some(n) = self.max_num_seqs {
            scheduler.max_num_seqs = n;
        }
        if let Some(n) = self.max_batched_tokens {
            scheduler.max_batched_tokens = n;
        }
        scheduler.chunked_prefill = !self.no_chunked_prefill;
        if let Some(h) = self.prefix_hit_rate {
            scheduler.prefix_hit_rate = h;
        }
        scheduler.prompt_arrives_cached = self.prompt_arrives_cached;
        if let Some(ms) = self.step_overhead_ms {
            scheduler.step_overhead_seconds = ms * 1e-3;
            scheduler.step_overhead_source = "user flag".into();
        }
        if let Some(ms) = self.request_overhead_ms {
            scheduler.request_overhead_seconds = ms * 1e-3;
            scheduler.request_overhead_source = "user flag".into();
        }
        Ok(Some(SimRequest {
            arrivals,
            lengths,
            requests: self.requests,
            seed: self.seed,
            max_steps: self.max_steps,
            scheduler,
        }))
    }
}

/// `(prompt, output)` pairs from a CSV or JSON-lines file; blank lines and `#`
/// comments skipped, a first line that is not two numbers taken for a header.
fn read_lengths(path: &Path) -> Result<Vec<(u64, u64)>, AppError> {
    let usage = |problem: String| AppError::Usage {
        flag: "--lengths",
        value: shown(path),
        problem,
        hint: Some(
            "one request per line: `prompt,output` (CSV) or `{\"prompt\": 512, \"output\": 128}`"
                .into(),
        ),
    };
    let text = read_text(path, MAX_TEXT_BYTES).map_err(|e| usage(e.to_string()))?;
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let pair = if line.starts_with('{') {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| usage(format!("line {}: {e}", i + 1)))?;
            let field = |k: &str| {
                v.get(k)
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| usage(format!("line {}: no whole-number `{k}`", i + 1)))
                    .and_then(|n| {
                        crate::door::TOKENS
                            .parse(&n.to_string())
                            .map_err(|e| usage(format!("line {}: {e}", i + 1)))
                    })
            };
            (field("prompt")?, field("output")?)
        } else {
            let mut cells = line.split(',').map(str::trim);
            let (a, b) = (cells.next().unwrap_or(""), cells.next().unwrap_or(""));
            match (crate::door::TOKENS.parse(a), crate::door::TOKENS.parse(b)) {
                (Ok(p), Ok(o)) => (p, o),
                // a header
                _ if pairs.is_empty() && a.parse::<f64>().is_err() => continue,
                (Err(e), _) | (_, Err(e)) => return Err(usage(format!("line {}: {e}", i + 1))),
            }
        };
        pairs.push(pair);
    }
    if pairs.is_empty() {
        return Err(usage("no `prompt,output` lines".into()));
    }
    Ok(pairs)
}

/// The serving flags besides the devices, shared by `infer` and `sweep`. Every
/// assumption of the engine profile is a flag; [`ServeArgs::request`] turns
/// them, with the devices, into a request.
#[derive(Debug, Clone, PartialEq, Args, Serialize)]
pub struct ServeArgs {
    /// Weight format: bf16, fp16, fp32, fp8, fp8-block128 (DeepSeek-style tiles), fp8-mlp
    /// (attention kept 16-bit), int8, gptq-int4-g128, awq-int4-g128, bnb-nf4[-dq], bnb-int8,
    /// mxfp4[-experts] (gpt-oss: experts only), nvfp4[-experts], or a GGUF type such as Q4_K_M
    /// (default: the checkpoint's `quantization_config`, else bf16)
    #[arg(long, value_parser = crate::cli::parse_weights)]
    #[serde(serialize_with = "crate::api::text_opt")]
    pub weights: Option<WeightFormat>,
    /// Keep the token embedding and LM head in 16 bits even where the format quantizes them
    #[arg(long)]
    pub keep_embeddings_16bit: bool,
    /// KV cache precision
    #[arg(long, default_value = "bf16", value_parser = crate::cli::parse_kv_dtype)]
    pub kv_dtype: KvDtype,
    /// Context each request may reach, sizing the KV cache, as vLLM's `--max-model-len` and
    /// SGLang's `--context-length` mean it (default: prompt + output), e.g. `32k`; the
    /// KV pool's concurrency is reported at it
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub context: Option<u64>,
    /// Prompt tokens per request
    #[arg(long, value_parser = crate::door::TOKENS, default_value = "1024")]
    pub prompt: u64,
    /// Output tokens per request
    #[arg(long, value_parser = crate::door::TOKENS, default_value = "256")]
    pub output: u64,
    /// A static batch: requests prefilled together, then decoded in lockstep (default 1)
    #[arg(long, value_parser = crate::door::SEQUENCES, conflicts_with = "concurrency")]
    pub batch: Option<u64>,
    /// Continuous batching with this many requests in flight
    #[arg(long, value_parser = crate::door::SEQUENCES)]
    pub concurrency: Option<u64>,
    /// Serving engine: vllm, sglang, trtllm, llama.cpp, transformers
    #[arg(long, default_value = "vllm", value_parser = crate::cli::parse_engine)]
    pub engine: Engine,
    /// MoE models: data-parallel attention groups of `--tp` GPUs per replica, each with its
    /// own sequences and KV cache, sharing the experts (vLLM's `--data-parallel-size D
    /// --tensor-parallel-size T` is `--attention-dp D --tp T`, on D·T GPUs; TensorRT-LLM's
    /// `enable_attention_dp` is `--tp 1`); default 1
    #[arg(long, value_parser = crate::door::DEVICES)]
    pub attention_dp: Option<u64>,
    /// llama.cpp only: how one model spreads over `--gpus` (layer: whole layers per GPU, run
    /// in turn, llama.cpp's default; row: each matrix split across the GPUs, as tensor parallelism)
    #[arg(long, value_enum)]
    pub split_mode: Option<SplitMode>,
    /// Fraction of device memory the engine may use (vLLM `gpu_memory_utilization`,
    /// SGLang `mem_fraction_static`)
    #[arg(long, value_parser = crate::door::FRACTION)]
    pub gpu_memory_utilization: Option<f64>,
    /// Paged KV block size in tokens (0: a contiguous cache)
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub kv_block: Option<u64>,
    /// Runtime memory per device in MiB (context, workspaces, CUDA graphs, driver)
    #[arg(long, value_parser = crate::door::MIB)]
    pub runtime_mib: Option<u64>,
    /// Communication buffers per device in MiB when tensor-parallel
    #[arg(long, value_parser = crate::door::MIB)]
    pub comm_buffer_mib: Option<u64>,
    /// Tokens per prefill chunk (sizes the activation workspace)
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub prefill_chunk: Option<u64>,
    /// Fraction of the curve-predicted 16-bit matmul rate the kernels reach
    #[arg(long, value_parser = crate::door::FRACTION)]
    pub matmul_efficiency: Option<f64>,
    /// Fraction of the curve-predicted FP8/INT8 matmul rate the kernels reach
    #[arg(long, value_parser = crate::door::FRACTION)]
    pub matmul_efficiency_8bit: Option<f64>,
    /// Fraction of the curve-predicted memory bandwidth the kernels reach
    #[arg(long, value_parser = crate::door::FRACTION)]
    pub memory_efficiency: Option<f64>,
    /// Fixed overhead per layer per forward pass, microseconds
    #[arg(long, value_parser = crate::door::MICROSECONDS)]
    pub layer_overhead_us: Option<f64>,
    /// Fraction of the link bandwidth an all-reduce reaches
    #[arg(long, value_parser = crate::door::FRACTION)]
    pub allreduce_efficiency: Option<f64>,
    /// Latency of one all-reduce, microseconds
    #[arg(long, value_parser = crate::door::MICROSECONDS)]
    pub allreduce_latency_us: Option<f64>,
}

/// How llama.cpp spreads one model over several GPUs (its `--split-mode`).
///
/// # Source
/// llama.cpp docs/multi-gpu.md: `layer` (the default) gives each GPU a contiguous
/// slice of layers and their KV cache; `row` splits each weight matrix by rows
/// across the GPUs (`llama_split_mode` in llama.h: "use tensor parallelism if supported").
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitMode {
    /// Whole layers on each GPU, run one after another (llama.cpp's default)
    Layer,
    /// Each weight matrix split across the GPUs (priced as tensor parallelism)
    Row,
}

impl SplitMode {
    /// The name `--split-mode` takes (clap's spelling of the variant).
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// What `sizeup infer` reports.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct InferReport {
    /// The model and its architecture.
    pub model: ModelSummary,
    /// The estimate, in base units, with its assumptions and warnings.
    pub estimate: InferEstimate,
    /// Rules applied while reading the model.
    pub model_assumptions: Vec<Assumption>,
    /// Serving under load, when `--rate` or `--closed-loop` asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SimReport>,
}

impl ServeArgs {
    /// The request these flags describe on `device`, for a checkpoint stored as
    /// `checkpoint` says (see [`ServeArgs::weights_for`]).
    pub fn request(
        &self,
        device: &DeviceArgs,
        checkpoint: Option<&Quantization>,
    ) -> Result<InferRequest, AppError> {
        self.request_on(device, &device.accelerator()?, checkpoint)
    }

    /// The weight format to serve in and where it comes from: `--weights` when
    /// given (the user's choice wins), else the format the checkpoint's
    /// `quantization_config` names, else bf16 (also when that config names a
    /// quantization no format describes: the source says so and why).
    pub fn weights_for(&self, checkpoint: Option<&Quantization>) -> (WeightFormat, String) {
        match (self.weights, checkpoint) {
            (Some(w), _) => (w, "user choice".into()),
            (None, Some(Quantization::Format { format, read_from })) => (
                *format,
                format!("read from config.json quantization_config: {read_from}"),
            ),
            (None, Some(Quantization::Unmapped { method, reason })) => (
                WeightFormat::Bf16,
                format!(
                    "default; the checkpoint's quantization_config (quant_method `{method}`) \
                     is not priced: {reason}; give --weights"
                ),
            ),
            (None, None) => (
                WeightFormat::Bf16,
                "default; the model names no quantization_config".into(),
            ),
        }
    }

    /// The request these flags describe on `device`, whose accelerator is `gpu`
    /// (already resolved: a sweep reads a `--gpu-file` once, not at every point).
    ///
    /// llama.cpp runs one model over all `--gpus`: split by layers (`pp = gpus`) or,
    /// with `--split-mode row`, by rows (`tp = gpus`); with `--tp`, independent
    /// instances of `tp` GPUs each, split by rows (`gpus / tp` replicas, as a plan's
    /// rows run them).
    ///
    /// # Errors
    /// [`AppError::Usage`] for `--pp` or `--tp` with `--split-mode layer` with
    /// llama.cpp, or `--split-mode` with another engine.
    pub fn request_on(
        &self,
        device: &DeviceArgs,
        gpu: &Accelerator,
        checkpoint: Option<&Quantization>,
    ) -> Result<InferRequest, AppError> {
        let mut req = InferRequest::new(gpu, self.engine);
        let (gpus, tp, pp) = self.layout(device)?;
        req.gpus = gpus;
        req.tp = tp;
        req.pp = pp;
        req.ep = device.ep.unwrap_or(1);
        req.attention_dp = self.attention_dp.unwrap_or(1);
        let (weights, source) = self.weights_for(checkpoint);
        req.weights = weights;
        req.weights_source = Some(source);
        req.weight_options.keep_embeddings_16bit = self.keep_embeddings_16bit;
        req.kv_dtype = self.kv_dtype;
        req.context = self.context;
        req.prompt = self.prompt;
        req.output = self.output;
        req.load = match (self.batch, self.concurrency) {
            (_, Some(c)) => Load::Concurrency(c),
            (b, None) => Load::Batch(b.unwrap_or(1)),
        };
        req.price_per_gpu_hour = device.price;
        let p = &mut req.profile;
        let mut overridden = Vec::new();
        if let Some(u) = self.gpu_memory_utilization {
            // SGLang's mem_fraction_static keeps its reserve holding the activations
            p.reserve = match p.reserve {
                Reserve::HoldsActivations { .. } => Reserve::HoldsActivations { fraction: 1.0 - u },
                _ => Reserve::Total { fraction: 1.0 - u },
            };
            overridden.push("gpu_memory_utilization");
        }
        if let Some(b) = self.kv_block {
            p.kv_block_tokens = (b > 0).then_some(b);
            overridden.push("kv_block");
        }
        if let Some(m) = self.runtime_mib {
            p.runtime_bytes = m << 20;
            overridden.push("runtime_mib");
        }
        if let Some(m) = self.comm_buffer_mib {
            p.comm_buffer_bytes = m << 20;
            overridden.push("comm_buffer_mib");
        }
        if let Some(c) = self.prefill_chunk {
            p.prefill_chunk_tokens = Some(c);
            overridden.push("prefill_chunk");
        }
        for (flag, value, field) in [
            (
                "matmul_efficiency",
                self.matmul_efficiency,
                &mut p.matmul_efficiency_16bit,
            ),
            (
                "matmul_efficiency_8bit",
                self.matmul_efficiency_8bit,
                &mut p.matmul_efficiency_8bit,
            ),
            (
                "memory_efficiency",
                self.memory_efficiency,
                &mut p.memory_efficiency,
            ),
            (
                "allreduce_efficiency",
                self.allreduce_efficiency,
                &mut p.allreduce_efficiency,
            ),
        ] {
            if let Some(v) = value {
                *field = v;
                overridden.push(flag);
            }
        }
        if let Some(us) = self.layer_overhead_us {
            p.layer_overhead_seconds = us * 1e-6;
            overridden.push("layer_overhead_us");
        }
        if let Some(us) = self.allreduce_latency_us {
            p.allreduce_latency_seconds = us * 1e-6;
            overridden.push("allreduce_latency_us");
        }
        p.mark_overridden(&overridden);
        Ok(req)
    }

    /// Devices in all, tensor-parallel ranks and layer-split devices per replica.
    fn layout(&self, device: &DeviceArgs) -> Result<(u64, u64, u64), AppError> {
        if self.engine != Engine::LlamaCpp {
            let pp = device.pp.unwrap_or(1);
            if let Some(mode) = self.split_mode {
                return Err(AppError::Usage {
                    flag: "--split-mode",
                    value: mode.name(),
                    problem: format!(
                        "`--split-mode` is llama.cpp's; `{}` splits a model by tensor parallelism",
                        self.engine
                    ),
                    hint: Some("use `--tp` (devices per replica), or `--engine llama.cpp`".into()),
                });
            }
            // stages and data-parallel attention groups, each of `tp` devices
            let groups = pp.saturating_mul(self.attention_dp.unwrap_or(1));
            return Ok(match (device.gpus, device.tp) {
                (Some(g), Some(t)) => (g, t, pp),
                // the groups take their share of the devices given
                (Some(g), None) => (g, (g / groups).max(1), pp),
                (None, Some(t)) => (t.saturating_mul(groups), t, pp),
                (None, None) => (groups, 1, pp),
            });
        }
        if let Some(pp) = device.pp.filter(|&p| p > 1) {
            return Err(AppError::Usage {
                flag: "--pp",
                value: pp.to_string(),
                problem: "llama.cpp splits layers with `--split-mode layer` over all `--gpus`"
                    .into(),
                hint: Some(
                    "give `--gpus N` (its default split runs whole layers on each GPU in turn)"
                        .into(),
                ),
            });
        }
        if let Some(tp) = device.tp {
            // instances of `tp` GPUs each, their matrices split by rows over them
            if self.split_mode == Some(SplitMode::Layer) {
                return Err(AppError::Usage {
                    flag: "--tp",
                    value: tp.to_string(),
                    problem: "with llama.cpp, `--tp` runs instances of that many GPUs with each matrix split by rows; `--split-mode layer` splits one instance by layers over all `--gpus`".into(),
                    hint: Some("give `--gpus N` alone for one instance split by layers, or `--tp` for instances split by rows".into()),
                });
            }
            return Ok((device.gpus.unwrap_or(tp), tp, 1));
        }
        let gpus = device.gpus.unwrap_or(1);
        Ok(match self.split_mode.unwrap_or(SplitMode::Layer) {
            SplitMode::Layer => (gpus, 1, gpus),
            SplitMode::Row => (gpus, gpus, 1),
        })
    }
}

/// Estimate serving.
pub fn run(args: &InferArgs) -> Result<InferReport, AppError> {
    let loaded = model::load(&args.model)?;
    let mut req = args
        .serve
        .request(&args.device, loaded.quantization.as_ref())?;
    let load = args.load.request(&args.serve)?;
    if let Some(s) = &load {
        // the estimate beside the simulation is for the mean request
        let (p, o) = s.lengths.means();
        req.prompt = (p.round() as u64).max(1);
        req.output = (o.round() as u64).max(1);
    }
    let estimate = inference::estimate(&loaded.arch, &req)?;
    let simulation = match &load {
        Some(s) => Some(sim::simulate(&loaded.arch, &req, s)?),
        None => None,
    };
    Ok(InferReport {
        model: ModelSummary::new(&loaded),
        estimate,
        model_assumptions: loaded.assumptions,
        simulation,
    })
}

impl Report for InferReport {
    fn view(&self, units: ByteUnits) -> View {
        let e = &self.estimate;
        let m = &e.memory;
        let load = match e.load {
            Load::Batch(b) => format!("batch {b}"),
            Load::Concurrency(c) => format!("{c} concurrent"),
        };
        let mut mem = Table::new(
            Some(&format!(
                "{} ({}) on {}×{} ({}), {} weights, {} KV, {}: memory per GPU{}",
                self.model.name,
                self.model.description(),
                e.gpus,
                e.gpu,
                if e.pp > 1 && e.engine == Engine::LlamaCpp {
                    format!("layers split {} ways", e.pp)
                } else {
                    layout_text(e.tp, e.pp, e.ep, e.attention_dp)
                },
                e.weights,
                e.kv_dtype.name(),
                e.engine,
                if e.pp > 1 { " (the fullest)" } else { "" }
            )),
            &[
                ("item", "item"),
                ("bytes", "bytes"),
                ("share", "share_of_device"),
            ],
        );
        let total = m.total_bytes as f64;
        let mut item = |name: &str, b: u64| {
            mem.row(vec![
                Cell::Text(name.into()),
                Cell::Bytes(b),
                Cell::Ratio(b as f64 / total),
            ])
        };
        item("weights", m.weights_bytes);
        item(
            &format!(
                "KV cache ({load} × {} tokens)",
                crate::humanize::grouped(e.context)
            ),
            m.kv_cache_bytes,
        );
        item("activation workspace", m.activation_workspace_bytes);
        item("runtime (context, workspaces, graphs)", m.runtime_bytes);
        if m.unusable_bytes > 0 {
            item("not usable (driver, OS)", m.unusable_bytes);
        }
        if e.tp > 1 {
            item("communication buffers", m.comm_buffer_bytes);
        }
        item("engine reserve", m.engine_reserve_bytes);
        if m.shortfall_bytes > 0 {
            item("SHORT BY", m.shortfall_bytes);
        } else {
            item("free", m.free_bytes);
        }
        item("device memory", m.total_bytes);

        let mut speed = Table::new(
            Some(&format!(
                "Speed per replica: {} prompt + {} output tokens, {load}",
                crate::humanize::grouped(e.prompt),
                crate::humanize::grouped(e.output)
            )),
            &[
                ("quantity", "quantity"),
                ("value", "value"),
                ("bound", "bound"),
            ],
        );
        let s = &e.schedule;
        speed.row(vec![
            Cell::Text("time to first token (prefill)".into()),
            Cell::Seconds(s.time_to_first_token_seconds),
            Cell::Text(Bound::name(e.prefill.bound).into()),
        ]);
        speed.row(vec![
            Cell::Text("time per output token".into()),
            Cell::Seconds(s.time_per_output_token_seconds),
            Cell::Text(Bound::name(e.decode.bound).into()),
        ]);
        speed.row(vec![
            Cell::Text("end-to-end latency".into()),
            Cell::Seconds(s.end_to_end_seconds),
            Cell::Empty,
        ]);
        speed.row(vec![
            Cell::Text("tokens/s per request".into()),
            Cell::Number(s.tokens_per_sec_per_request, "tokens/s"),
            Cell::Empty,
        ]);
        speed.row(vec![
            Cell::Text("prefill throughput".into()),
            Cell::Number(e.prefill.tokens_per_sec, "tokens/s"),
            Cell::Empty,
        ]);
        speed.row(vec![
            Cell::Text(format!("output throughput, {} replica(s)", e.replicas)),
            Cell::Number(e.output_tokens_per_sec_total, "tokens/s"),
            Cell::Empty,
        ]);
        speed.row(vec![
            Cell::Text("ridge batch (datasheet / effective)".into()),
            Cell::Text(format!(
                "{:.0} / {}",
                e.ridge_batch_datasheet,
                e.ridge_batch_effective
                    .map_or("beyond 65536".to_string(), |r| r.to_string())
            )),
            Cell::Empty,
        ]);

        let mut limits = Table::new(
            Some("Limits and cost"),
            &[("quantity", "quantity"), ("value", "value")],
        );
        limits.row(vec![
            Cell::Text("fits".into()),
            Cell::Text(if e.fits { "yes" } else { "no" }.into()),
        ]);
        limits.row(vec![
            Cell::Text("KV pool per GPU".into()),
            Cell::Bytes(e.kv_pool.bytes_per_gpu),
        ]);
        limits.row(vec![
            Cell::Text("KV pool in tokens".into()),
            Cell::Exact(e.kv_pool.tokens),
        ]);
        limits.row(vec![
            Cell::Text(format!(
                "concurrency at {} tokens per request",
                crate::humanize::grouped(e.context)
            )),
            Cell::Text(format!("{:.2}x", e.kv_pool.concurrency_at_context)),
        ]);
        limits.row(vec![
            Cell::Text(format!(
                "largest batch at {} tokens",
                crate::humanize::grouped(e.context)
            )),
            Cell::Exact(e.max_batch_at_context),
        ]);
        limits.row(vec![
            Cell::Text(format!("longest context at {load}")),
            if e.max_context_at_batch > self.model.max_context {
                Cell::Text(format!(
                    "{} (beyond the model's {})",
                    crate::humanize::grouped(e.max_context_at_batch),
                    crate::humanize::grouped(self.model.max_context)
                ))
            } else {
                Cell::Exact(e.max_context_at_batch)
            },
        ]);
        if let Some(t) = e.moe_experts_touched_per_layer {
            limits.row(vec![
                Cell::Text("experts read per MoE layer per decode step".into()),
                Cell::Number(t, ""),
            ]);
        }
        if let Some(c) = &e.cost {
            limits.row(vec![
                Cell::Text("$ per million input tokens".into()),
                Cell::Number(c.usd_per_million_input_tokens, "USD"),
            ]);
            limits.row(vec![
                Cell::Text("$ per million output tokens".into()),
                Cell::Number(c.usd_per_million_output_tokens, "USD"),
            ]);
        }

        let mut notes: Vec<String> = e.warnings.iter().map(|w| format!("warning: {w}")).collect();
        if let Some(a) = &e.fit_advice {
            let mut ways = Vec::new();
            match (a.min_tp, e.engine) {
                (Some(tp), Engine::LlamaCpp) => {
                    ways.push(format!("--gpus {tp} --split-mode row"));
                }
                (Some(tp), _) => ways.push(format!("--tp {tp} (and --gpus a multiple of it)")),
                (None, _) => {}
            }
            if !a.formats.is_empty() {
                ways.push(format!("--weights {}", a.formats.join(" or ")));
            }
            if let Some(b) = a.max_batch {
                ways.push(format!("--batch {b} or less at this context"));
            }
            if let Some(c) = a.max_context {
                ways.push(format!("--context {c} or less at this batch"));
            }
            notes.push(format!(
                "does not fit: {} short per GPU; it would fit with {}",
                crate::humanize::bytes(m.shortfall_bytes, units),
                if ways.is_empty() {
                    "a larger device".to_string()
                } else {
                    ways.join("; or ")
                }
            ));
        }
        let groups: Vec<String> = e
            .weight_breakdown
            .groups
            .iter()
            .map(|g| format!("{} {}", g.name, g.storages.join("+")))
            .collect();
        notes.push(format!(
            "weights: {:.2} bits per parameter on average ({})",
            e.weight_breakdown.bits_per_param,
            groups.join(", ")
        ));
        notes.extend(model::assumption_notes(&e.assumptions));
        notes.extend(model::assumption_notes(&self.model_assumptions));
        let mut tables = vec![mem, speed, limits];
        if let Some(r) = &self.simulation {
            let (latency, load) = simulation_tables(r);
            tables.push(latency);
            tables.push(load);
            notes.push(run_state(r));
            notes.extend(model::assumption_notes(&r.assumptions));
        }
        View { tables, notes }
    }
}

/// The simulation's latency table and its throughput, pool and queue table.
fn simulation_tables(r: &SimReport) -> (Table, Table) {
    let arrivals = match r.arrivals {
        Arrivals::Poisson { rate_per_sec } => format!("Poisson {rate_per_sec} req/s"),
        Arrivals::ClosedLoop { clients } => format!("closed loop, {clients} clients"),
    };
    let mut latency = Table::new(
        Some(&format!(
            "Serving under load: {arrivals}, {}; {} of {} requests answered in {} steps, seed {}",
            r.lengths, r.requests_completed, r.requests_sent, r.steps, r.seed
        )),
        &[
            ("latency", "latency"),
            ("mean", "mean_seconds"),
            ("p50", "p50_seconds"),
            ("p90", "p90_seconds"),
            ("p95", "p95_seconds"),
            ("p99", "p99_seconds"),
            ("max", "max_seconds"),
        ],
    );
    for (name, p) in [
        ("time to first token", &r.ttft),
        ("time per output token", &r.tpot),
        ("inter-token latency", &r.itl),
        ("end-to-end", &r.e2e),
    ] {
        let p: &Percentiles = p;
        latency.row(vec![
            Cell::Text(name.into()),
            Cell::Seconds(p.mean),
            Cell::Seconds(p.p50),
            Cell::Seconds(p.p90),
            Cell::Seconds(p.p95),
            Cell::Seconds(p.p99),
            Cell::Seconds(p.max),
        ]);
    }
    let mut load = Table::new(
        Some(&format!(
            "Throughput, KV pool and queue ({} replica(s), one simulated)",
            r.replicas
        )),
        &[("quantity", "quantity"), ("value", "value")],
    );
    let mut row = |name: &str, cell: Cell| load.row(vec![Cell::Text(name.into()), cell]);
    row("requests/s", Cell::Number(r.requests_per_sec, "req/s"));
    row(
        "output tokens/s",
        Cell::Number(r.output_tokens_per_sec, "tokens/s"),
    );
    row(
        "prompt tokens/s",
        Cell::Number(r.prompt_tokens_per_sec, "tokens/s"),
    );
    row("simulated time", Cell::Seconds(r.simulated_seconds));
    row(
        "KV pool (blocks × tokens)",
        Cell::Text(format!("{} × {}", r.kv_pool_blocks, r.kv_block_tokens)),
    );
    row("KV pool use, mean", Cell::Ratio(r.kv_pool_use.mean));
    row("KV pool use, max", Cell::Ratio(r.kv_pool_use.max));
    row("queue (waiting), mean", Cell::Number(r.queue.mean, ""));
    row("queue (waiting), max", Cell::Number(r.queue.max, ""));
    row("running, mean", Cell::Number(r.running.mean, ""));
    row("preemptions", Cell::Exact(r.preemptions));
    if r.requests_rejected > 0 {
        row(
            "rejected (longer than the KV pool)",
            Cell::Exact(r.requests_rejected),
        );
    }
    (latency, load)
}

/// Whether the simulation reached a steady state, in words.
fn run_state(r: &SimReport) -> String {
    match r.state {
        RunState::Steady => "simulation: steady state (the queue did not grow over the run)".into(),
        RunState::Overloaded {
            offered_per_sec,
            capacity_per_sec,
            queue_growth_per_request,
        } => format!(
            "simulation: NO STEADY STATE: {offered_per_sec} req/s offered, about {capacity_per_sec:.3} req/s served while requests waited; the queue gained {queue_growth_per_request:.2} requests per request sent, so latencies grow with the run's length and the percentiles above describe this run only"
        ),
        RunState::TooShortToJudge => {
            "simulation: too few arrivals (under 40) to tell whether the queue grows".into()
        }
        RunState::StepCap { steps } => format!(
            "simulation: stopped at the cap of {steps} steps before every request was answered (raise --max-steps or lower --requests)"
        ),
    }
}

/// A replica's ranks as the tables print them: `tp 8`, `tp 8 · pp 2`, `tp 8 · ep 8`,
/// `tp 1 · attention dp 8 · ep 8`.
pub fn layout_text(tp: u64, pp: u64, ep: u64, attention_dp: u64) -> String {
    let mut s = format!("tp {tp}");
    if pp > 1 {
        s.push_str(&format!(" · pp {pp}"));
    }
    if attention_dp > 1 {
        s.push_str(&format!(" · attention dp {attention_dp}"));
    }
    if ep > 1 {
        s.push_str(&format!(" · ep {ep}"));
    }
    s
}

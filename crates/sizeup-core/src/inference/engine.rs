//! Serving engines: what each one reserves, how it pages the KV cache, and how
//! close its kernels get to the chip's peaks.
//!
//! Every number here is an assumption printed with each estimate and
//! overridable. Efficiencies multiply the device model's rates ([`crate::device`]:
//! the accelerator's measured kernel rates and Calculon's size curves): the device
//! says how well an operation of that shape can fill the chip, the engine factor
//! how much of that its kernels reach.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::assumption::Assumption;
use crate::error::{CoreError, Result};
use crate::hardware::Accelerator;

const MIB: u64 = 1 << 20;

/// Host time eager PyTorch spends issuing one decoder layer's kernels, seconds.
///
/// # Formula
/// `1 / 25.5 tok/s / 32 layers = 1.23 ms`: the whole step is host time when the
/// device finishes each kernel before the next is issued.
///
/// # Source
/// PyTorch blog "Accelerating Generative AI with PyTorch II: GPT, Fast" (Nov 2023):
/// an eager Llama-7B (32 layers) decodes 25.5 tok/s at batch 1 on an A100-80GB and
/// the trace shows it "heavily CPU overhead bound"; torch.compile with CUDA graphs
/// and a static cache reaches 107 tok/s on the same card.
///
/// # Assumptions / limits
/// Host-dependent: a faster CPU or a newer PyTorch dispatches faster, and a
/// framework with more operations per layer slower. Not fitted on any case of
/// `shared/validation/`.
pub const EAGER_HOST_SECONDS_PER_LAYER: f64 = 1.0 / 25.5 / 32.0;

/// A serving engine, written in JSON as on the command line (`llama.cpp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// vLLM (paged attention, continuous batching).
    Vllm,
    /// SGLang (radix attention, continuous batching).
    Sglang,
    /// NVIDIA TensorRT-LLM.
    Trtllm,
    /// llama.cpp (GGUF, CUDA or Metal backend).
    LlamaCpp,
    /// Hugging Face transformers `generate` (eager PyTorch).
    Transformers,
}

impl Engine {
    /// Every engine, in the order help lists them.
    pub const ALL: [Engine; 5] = [
        Engine::Vllm,
        Engine::Sglang,
        Engine::Trtllm,
        Engine::LlamaCpp,
        Engine::Transformers,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
            Engine::Trtllm => "trtllm",
            Engine::LlamaCpp => "llama.cpp",
            Engine::Transformers => "transformers",
        }
    }

    /// How the engine runs the devices of a layer split (`pp > 1`), `None` where
    /// sizeup models no split for it.
    ///
    /// # Source
    /// llama.cpp `--split-mode layer` runs its devices in turn (docs/multi-gpu.md);
    /// vLLM keeps `pp` batches in flight, one per stage (`--pipeline-parallel-size`:
    /// V0 ran one scheduler per virtual engine, each with `1/pp` of the KV blocks,
    /// vllm/core/scheduler.py; V1 a queue of `pp` batches,
    /// vllm/v1/engine/core.py `step_with_batch_queue`); SGLang (`--pp-size`) and
    /// TensorRT-LLM (`pipeline_parallel_size`) pipeline the same way. transformers'
    /// `device_map="auto"` split is not modelled.
    pub fn stage_schedule(self) -> Option<StageSchedule> {
        match self {
            Engine::LlamaCpp => Some(StageSchedule::InTurn),
            Engine::Vllm | Engine::Sglang | Engine::Trtllm => Some(StageSchedule::Pipelined),
            Engine::Transformers => None,
        }
    }

    /// Batches a replica of `pp` stages keeps in flight: `pp` where the engine
    /// pipelines them ([`StageSchedule::Pipelined`]), else 1.
    pub fn batches_in_flight(self, pp: u64) -> u64 {
        match self.stage_schedule() {
            Some(StageSchedule::Pipelined) => pp.max(1),
            _ => 1,
        }
    }

    /// How the engine may spread routed experts over a replica's `tp` ranks
    /// (expert parallelism, [`super::RankSplit`]), `None` where it cannot.
    ///
    /// # Source
    /// vLLM `--enable-expert-parallel`: the experts over all `tp` ranks of a stage
    /// (vllm/model_executor/layers/fused_moe/config.py, `FusedMoEParallelConfig.make`:
    /// EP size = TP × DP); SGLang `--ep-size` partitions the TP ranks into EP groups
    /// (`moe_ep_rank = tp_rank // (tp_size // ep_size)`, docs/advanced_features/expert_parallelism.md);
    /// TensorRT-LLM `moe_expert_parallel_size × moe_tensor_parallel_size = tp_size`.
    /// llama.cpp and transformers have no expert parallelism.
    pub fn expert_groups(self) -> Option<ExpertGroups> {
        match self {
            Engine::Vllm => Some(ExpertGroups::AllRanks),
            Engine::Sglang | Engine::Trtllm => Some(ExpertGroups::DivisorOfRanks),
            Engine::LlamaCpp | Engine::Transformers => None,
        }
    }

    /// How the engine runs data-parallel attention groups beside shared experts
    /// (`InferRequest::attention_dp`), `None` where sizeup does not model it.
    ///
    /// # Source
    /// vLLM `--data-parallel-size` with an MoE model: one engine per group of
    /// `--tensor-parallel-size` ranks, attention and dense layers whole in each,
    /// its own scheduler, `max_num_seqs` and KV cache. TensorRT-LLM
    /// `enable_attention_dp`: attention on single ranks (`Mapping`: attention tp
    /// 1). SGLang `--enable-dp-attention` (`--tp` = all the replica's ranks,
    /// `--dp` groups): attention tensor-parallel inside a group, the dense MLPs
    /// (`moe_dense_tp_size` unset) and the LM head (`enable_dp_lm_head` unset) over
    /// every rank of the replica, the token embedding whole on each
    /// (`VocabParallelEmbedding(enable_tp=not is_dp_attention_enabled())`,
    /// python/sglang/srt/models/deepseek_v2.py).
    pub fn attention_groups(self) -> Option<AttentionGroups> {
        match self {
            Engine::Vllm => Some(AttentionGroups::AnyTp),
            Engine::Sglang => Some(AttentionGroups::SharedDense),
            Engine::Trtllm => Some(AttentionGroups::SingleRank),
            Engine::LlamaCpp | Engine::Transformers => None,
        }
    }

    /// The engine's profile on `gpu` (llama.cpp distinguishes its Metal and CUDA backends).
    pub fn profile(self, gpu: &Accelerator) -> EngineProfile {
        let backend = if gpu.vendor.eq_ignore_ascii_case("apple") {
            Backend::Metal
        } else if gpu.vendor.eq_ignore_ascii_case("amd") {
            Backend::Rocm
        } else {
            Backend::Cuda
        };
        profile(self, backend)
    }
}

/// The expert-parallel sizes an engine allows on a stage of `tp` ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpertGroups {
    /// `ep` is 1 or all the ranks the experts spread over: each rank holds
    /// whole experts (vLLM).
    AllRanks,
    /// `ep` divides the ranks: each of `ep` groups holds whole experts, split
    /// over its ranks (SGLang, TensorRT-LLM).
    DivisorOfRanks,
}

impl ExpertGroups {
    /// Whether `ep` groups over `ranks` ranks (`tp · attention_dp`) are allowed.
    pub fn allows(self, ep: u64, ranks: u64) -> bool {
        match self {
            ExpertGroups::AllRanks => ep == 1 || ep == ranks,
            ExpertGroups::DivisorOfRanks => ep >= 1 && ranks % ep == 0,
        }
    }
}

/// The tensor-parallel sizes an engine's data-parallel attention groups take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionGroups {
    /// Groups of any `tp` ranks, each with whole dense layers (vLLM).
    AnyTp,
    /// Groups of one rank each (TensorRT-LLM).
    SingleRank,
    /// Groups of any `tp` ranks; the dense MLPs, shared experts and LM head split
    /// over every rank of the replica and take every group's tokens, like the
    /// routed experts; the token embedding whole on each rank (SGLang).
    SharedDense,
}

impl AttentionGroups {
    /// Whether a group may hold any number of ranks.
    pub fn any_tp(self) -> bool {
        matches!(self, AttentionGroups::AnyTp | AttentionGroups::SharedDense)
    }
}

/// How an engine runs the `pp` devices of a layer split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageSchedule {
    /// One batch passes the devices one after another; no device works while
    /// another does (llama.cpp).
    InTurn,
    /// `pp` batches are in flight, each on its own stage: the replica serves as
    /// `pp` engines whose every step is a pass through all stages, each with
    /// `1/pp` of the requests and of the KV pool (vLLM, SGLang, TensorRT-LLM).
    Pipelined,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

crate::named::serde_by_name!(Engine);

impl FromStr for Engine {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        let norm = norm
            .replace("tensorrtllm", "trtllm")
            .replace("llamacpp", "llama.cpp");
        Engine::ALL
            .into_iter()
            .find(|e| e.name().replace(['-', '_'], "") == norm)
            .ok_or_else(|| CoreError::Unknown {
                what: "engine",
                name: s.to_string(),
                suggestions: Engine::ALL.iter().map(|e| e.name().to_string()).collect(),
            })
    }
}

/// The kernel library an engine runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// NVIDIA CUDA.
    Cuda,
    /// AMD ROCm.
    Rocm,
    /// Apple Metal.
    Metal,
}

/// How an engine keeps memory back from its caches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "of")]
pub enum Reserve {
    /// A fraction of the device's memory stays unused (vLLM `1 − gpu_memory_utilization`).
    Total {
        /// The fraction kept back.
        fraction: f64,
    },
    /// A fraction of what is free after weights stays unused (TensorRT-LLM
    /// `1 − kv_cache_free_gpu_mem_fraction`).
    Free {
        /// The fraction kept back.
        fraction: f64,
    },
    /// A fraction of the device's memory is kept back and holds the activation
    /// workspace and CUDA graphs; the weights and the KV pool take the rest
    /// (SGLang `1 − mem_fraction_static`).
    HoldsActivations {
        /// The fraction kept back.
        fraction: f64,
    },
}

impl Reserve {
    /// The fraction kept back.
    pub fn fraction(self) -> f64 {
        match self {
            Reserve::Total { fraction }
            | Reserve::Free { fraction }
            | Reserve::HoldsActivations { fraction } => fraction,
        }
    }
}

/// Everything an estimate assumes about an engine. Each field is overridable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EngineProfile {
    /// The engine.
    pub engine: Engine,
    /// Its backend on the chosen accelerator.
    pub backend: Backend,
    /// Paged KV cache block size in tokens; `None` for a contiguous cache.
    pub kv_block_tokens: Option<u64>,
    /// Memory the engine keeps back.
    pub reserve: Reserve,
    /// CUDA/Metal context, library workspaces, CUDA graphs and the driver's own
    /// reserve, bytes per device.
    pub runtime_bytes: u64,
    /// Communication buffers per device when tensor-parallel (NCCL, custom all-reduce).
    pub comm_buffer_bytes: u64,
    /// Tokens one prefill step processes (sizes the activation workspace);
    /// `None` for the whole batch at once.
    pub prefill_chunk_tokens: Option<u64>,
    /// The engine sizes its KV pool after a profiling pass of one whole prefill
    /// chunk (vLLM's `profile_run` at `max_num_batched_tokens`), so the workspace
    /// it keeps back is the chunk's, however short the prompts served.
    #[serde(default)]
    pub profiles_whole_chunk: bool,
    /// Fraction of the accelerator's measured 16-bit (and FP32) matmul rate (after the
    /// device model's size curve) its kernels reach.
    pub matmul_efficiency_16bit: f64,
    /// Fraction of the accelerator's measured FP8/INT8 matmul rate its kernels reach.
    pub matmul_efficiency_8bit: f64,
    /// Fraction of the curve-predicted memory bandwidth its kernels reach.
    pub memory_efficiency: f64,
    /// Fixed time per layer per forward pass (kernel launches, synchronisation), seconds.
    pub layer_overhead_seconds: f64,
    /// The per-layer overhead is host time spent issuing kernels one by one (eager
    /// PyTorch), which runs while the device works: a pass takes the longer of the
    /// two, `max(device time, L · overhead)`, instead of their sum.
    #[serde(default)]
    pub overhead_on_host: bool,
    /// Quantized weights are dequantized to 16 bits in memory before a batched
    /// matmul (llama.cpp CUDA above 32 tokens): an extra read and write.
    pub dequantize_for_batched_matmul: bool,
    /// Grouped-query K/V are copied to every query head before attention
    /// (transformers' `repeat_kv`): the cache is read, written `a/k`-fold and read again.
    pub expand_gqa_kv: bool,
    /// 16-bit products accumulate in FP16 (llama.cpp's cuBLAS path), which
    /// accelerators listing an FP16-accumulate peak run faster.
    #[serde(default)]
    pub fp16_accumulate: bool,
    /// Each weight tensor is its own product (llama.cpp multiplies `wq`, `wk`, `wv`,
    /// `ffn_gate` and `ffn_up` one by one); `false` where the engine fuses a block's
    /// projections that share an input (vLLM's `qkv_proj` and `gate_up_proj`).
    #[serde(default)]
    pub product_per_tensor: bool,
    /// Fraction of the link bandwidth an all-reduce reaches (NCCL bus bandwidth).
    pub allreduce_efficiency: f64,
    /// Fixed latency of one all-reduce, seconds.
    pub allreduce_latency_seconds: f64,
    /// Where the numbers come from.
    pub source: String,
}

/// The profile of `engine` on `backend`.
///
/// # Source
/// - vLLM: `gpu_memory_utilization = 0.9` and 16-token blocks (vLLM engine
///   arguments docs); `max_num_batched_tokens = 8192` chunked prefill (vLLM
///   "Optimization and Tuning"). The pool is what the utilization leaves after
///   the weights, a profiling pass of one whole chunk and the memory torch does
///   not hold (0.35 GiB on an RTX 3090, vllm-project/vllm issue #10517); CUDA
///   graphs are captured after the pool is allocated, out of the reserve
///   (vllm/worker/worker.py: `determine_num_available_blocks`, then
///   `capture_model`).
/// - SGLang: `mem_fraction_static = 0.88`, page size 1, `chunked_prefill_size = 8192`;
///   the weights and the KV pool take the static fraction of the memory free at
///   start, the activations and CUDA graphs the rest (`profile_max_num_token`)
///   (SGLang server arguments docs).
/// - TensorRT-LLM: `kv_cache_free_gpu_mem_fraction = 0.9`, 64-token blocks,
///   `max_num_tokens = 8192` (TensorRT-LLM docs); efficiencies calibrated on
///   TensorRT-LLM's published v0.5/v0.6 A100/H100/L40S tables
///   (shared/validation/cases.json).
/// - llama.cpp: contiguous cache, `n_ubatch = 512`; CUDA factors calibrated on
///   llama-bench runs of LLaMA-7B on RTX 3090/4090 (PR #4766, Jan 2024), Metal on
///   M2 Ultra and M2 Max (issue #2850, PR #2959); macOS lets the GPU wire about
///   75% of unified memory (`recommendedMaxWorkingSetSize`), kept back as reserve.
/// - transformers: eager PyTorch, no paging, no reserve; efficiencies are estimates
///   (not calibrated); the host issues every kernel from Python, so its per-layer
///   overhead ([`EAGER_HOST_SECONDS_PER_LAYER`]) overlaps the device's work.
///
/// # Assumptions / limits
/// Runtime bytes are estimates: about 0.5 GiB of CUDA context and cuBLAS
/// workspace, plus CUDA graphs for engines that capture them before sizing
/// their pool.
pub fn profile(engine: Engine, backend: Backend) -> EngineProfile {
    let base = EngineProfile {
        engine,
        backend,
        kv_block_tokens: Some(16),
        reserve: Reserve::Total { fraction: 0.10 },
        runtime_bytes: 512 * MIB,
        comm_buffer_bytes: 512 * MIB,
        prefill_chunk_tokens: Some(8192),
        profiles_whole_chunk: false,
        // fitted by sizeup_validation::calibration (Knob::ServingMatmul16 / ServingMatmul8), as
        // shares of the accelerator's measured matmul rates (device::Device::matmul)
        matmul_efficiency_16bit: 0.81,
        matmul_efficiency_8bit: 0.77,
        memory_efficiency: 0.90,
        layer_overhead_seconds: 10e-6,
        overhead_on_host: false,
        dequantize_for_batched_matmul: false,
        expand_gqa_kv: false,
        fp16_accumulate: false,
        product_per_tensor: false,
        // NCCL's bus efficiency and base latency, as training's collectives take them
        allreduce_efficiency: crate::device::collective::BUS_EFFICIENCY,
        allreduce_latency_seconds: crate::device::collective::COLLECTIVE_BASE_SECONDS,
        source: String::new(),
    };
    match (engine, backend) {
        (Engine::Vllm, _) => EngineProfile {
            profiles_whole_chunk: true,
            source: "vLLM docs (gpu_memory_utilization 0.9, block 16, max_num_batched_tokens 8192); efficiencies shared with TensorRT-LLM's calibration".into(),
            ..base
        },
        (Engine::Sglang, _) => EngineProfile {
            kv_block_tokens: Some(1),
            reserve: Reserve::HoldsActivations { fraction: 0.12 },
            source: "SGLang server arguments (mem_fraction_static 0.88, page size 1, chunked_prefill_size 8192); efficiencies shared with TensorRT-LLM's calibration".into(),
            ..base
        },
        (Engine::Trtllm, _) => EngineProfile {
            kv_block_tokens: Some(64),
            reserve: Reserve::Free { fraction: 0.10 },
            runtime_bytes: 1024 * MIB,
            source: "TensorRT-LLM docs (kv_cache_free_gpu_mem_fraction 0.9, tokens_per_block 64, max_num_tokens 8192); efficiencies calibrated on its v0.5/v0.6 performance tables".into(),
            ..base
        },
        (Engine::LlamaCpp, Backend::Metal) => EngineProfile {
            kv_block_tokens: None,
            reserve: Reserve::Total { fraction: 0.25 },
            runtime_bytes: 256 * MIB,
            comm_buffer_bytes: 0,
            prefill_chunk_tokens: Some(512),
            // fitted by sizeup_validation::calibration (Knob::LlamaCppMetalMatmul / LlamaCppMetalMemory)
            matmul_efficiency_16bit: 0.38,
            matmul_efficiency_8bit: 0.38,
            memory_efficiency: 0.70,
            layer_overhead_seconds: 20e-6,
            product_per_tensor: true,
            source: "llama.cpp Metal, calibrated on llama-bench LLaMA-7B runs on M2 Ultra and M2 Max (issue #2850, PR #2959); macOS GPU working-set limit ~75% of unified memory".into(),
            ..base
        },
        (Engine::LlamaCpp, _) => EngineProfile {
            kv_block_tokens: None,
            reserve: Reserve::Total { fraction: 0.0 },
            comm_buffer_bytes: 0,
            prefill_chunk_tokens: Some(512),
            // fitted by sizeup_validation::calibration (Knob::LlamaCppCudaMatmul / LlamaCppCudaMemory),
            // of the FP16-accumulate peak where the card lists one
            matmul_efficiency_16bit: 0.65,
            matmul_efficiency_8bit: 0.65,
            memory_efficiency: 0.98,
            layer_overhead_seconds: 60e-6,
            dequantize_for_batched_matmul: true,
            fp16_accumulate: true,
            product_per_tensor: true,
            source: "llama.cpp CUDA, calibrated on llama-bench LLaMA-7B runs on RTX 3090 and 4090 (PR #4766, Jan 2024)".into(),
            ..base
        },
        (Engine::Transformers, _) => EngineProfile {
            kv_block_tokens: None,
            reserve: Reserve::Total { fraction: 0.0 },
            prefill_chunk_tokens: None,
            matmul_efficiency_16bit: 0.65,
            matmul_efficiency_8bit: 0.4,
            memory_efficiency: 0.75,
            layer_overhead_seconds: EAGER_HOST_SECONDS_PER_LAYER,
            overhead_on_host: true,
            expand_gqa_kv: true,
            product_per_tensor: true,
            source: "transformers generate (eager PyTorch, sdpa with repeat_kv): efficiencies are estimates; host dispatch per layer from PyTorch's GPT, Fast blog (eager Llama-7B 25.5 tok/s on A100, CPU-bound)".into(),
            ..base
        },
    }
}

impl EngineProfile {
    /// Check that fractions are fractions and times are not negative.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let reserve = self.reserve.fraction();
        for (field, v, lo_open) in [
            ("reserve fraction", reserve, false),
            (
                "matmul_efficiency_16bit",
                self.matmul_efficiency_16bit,
                true,
            ),
            ("matmul_efficiency_8bit", self.matmul_efficiency_8bit, true),
            ("memory_efficiency", self.memory_efficiency, true),
            ("allreduce_efficiency", self.allreduce_efficiency, true),
        ] {
            let ok = v.is_finite() && v <= 1.0 && if lo_open { v > 0.0 } else { v >= 0.0 };
            if !ok {
                return Err(CoreError::Invalid {
                    field,
                    value: v.to_string(),
                    expected: "a fraction between 0 and 1".into(),
                });
            }
        }
        for (field, v) in [
            ("layer_overhead_seconds", self.layer_overhead_seconds),
            ("allreduce_latency_seconds", self.allreduce_latency_seconds),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(CoreError::Invalid {
                    field,
                    value: v.to_string(),
                    expected: "a non-negative number of seconds".into(),
                });
            }
        }
        if self.kv_block_tokens == Some(0) {
            return Err(CoreError::Zero {
                field: "kv_block_tokens",
            });
        }
        if self.prefill_chunk_tokens == Some(0) {
            return Err(CoreError::Zero {
                field: "prefill_chunk_tokens",
            });
        }
        Ok(())
    }

    /// Record that the user replaced the figures named by `flags`: the source,
    /// which every assumption of the profile cites, then says so.
    pub fn mark_overridden(&mut self, flags: &[&str]) {
        if !flags.is_empty() {
            self.source = format!(
                "{} (overridden by user flag: {})",
                self.source,
                flags.join(", ")
            );
        }
    }

    /// The profile as assumptions, each with its source.
    pub fn assumptions(&self) -> Vec<Assumption> {
        let src = self.source.as_str();
        let mib = |b: u64| format!("{} MiB", b / MIB);
        let mut v = vec![
            Assumption::new("engine", format!("{} ({:?} backend)", self.engine, self.backend), src),
            Assumption::new(
                "KV cache block",
                self.kv_block_tokens
                    .map_or("contiguous".to_string(), |b| format!("{b} tokens")),
                src,
            ),
            // `1 − 0.8` prints as 0.2, not 0.19999999999999996
            match (self.reserve, (self.reserve.fraction() * 1e6).round() / 1e6) {
                (Reserve::Total { .. }, fraction) => Assumption::new(
                    "engine reserve",
                    format!("{fraction} of device memory"),
                    src,
                ),
                (Reserve::Free { .. }, fraction) => Assumption::new(
                    "engine reserve",
                    format!("{fraction} of memory free after weights"),
                    src,
                ),
                (Reserve::HoldsActivations { .. }, fraction) => Assumption::new(
                    "engine reserve",
                    format!("{fraction} of device memory, holding the activation workspace and CUDA graphs (the reserve line is what is left of it)"),
                    "SGLang python/sglang/srt/model_executor/model_runner.py profile_max_num_token: rest_memory = available_gpu_memory − total_gpu_memory · (1 − mem_fraction_static)",
                ),
            },
            Assumption::new(
                "runtime memory (context, workspaces, graphs)",
                mib(self.runtime_bytes),
                "estimate: CUDA context + cuBLAS workspace ≈ 0.5 GiB, plus CUDA graphs where the engine captures them before sizing its pool",
            ),
            Assumption::new(
                "communication buffers at tp ≥ 2",
                mib(self.comm_buffer_bytes),
                "estimate: NCCL channel buffers + custom all-reduce buffers",
            ),
            Assumption::new(
                "prefill chunk",
                match (self.prefill_chunk_tokens, self.profiles_whole_chunk) {
                    (None, _) => "whole batch".to_string(),
                    (Some(t), false) => format!("{t} tokens"),
                    (Some(t), true) => format!(
                        "{t} tokens; the pool is sized after a profiling pass of a whole chunk, so its workspace is kept back"
                    ),
                },
                src,
            ),
            Assumption::new("matmul efficiency factor (16-bit)", self.matmul_efficiency_16bit, src),
            Assumption::new("matmul efficiency factor (8-bit)", self.matmul_efficiency_8bit, src),
            Assumption::new("memory bandwidth efficiency factor", self.memory_efficiency, src),
            Assumption::new(
                "overhead per layer per forward pass",
                if self.overhead_on_host {
                    format!(
                        "{:.0} µs of host dispatch (eager), overlapped with the device: a pass takes max(device time, L × overhead); host-dependent, not fitted on any case",
                        self.layer_overhead_seconds * 1e6
                    )
                } else {
                    format!("{:.1} µs, added to the device time", self.layer_overhead_seconds * 1e6)
                },
                src,
            ),
            Assumption::new(
                "all-reduce",
                format!(
                    "{} of link bandwidth, {:.1} µs per all-reduce plus the link's per-hop latency (ring or tree, the faster), 2 per layer, not overlapped",
                    self.allreduce_efficiency,
                    self.allreduce_latency_seconds * 1e6
                ),
                "NCCL bus bandwidth ≈ 80% of NVLink (nccl-tests); hop latencies from the accelerator's node row (device::collective)",
            ),
        ];
        if self.expand_gqa_kv {
            v.push(Assumption::new(
                "grouped-query K/V before attention",
                "copied to every query head (read, write a/k copies, read)",
                "transformers sdpa_attention_forward → repeat_kv",
            ));
        }
        if self.engine == Engine::LlamaCpp {
            v.push(Assumption::new(
                "input layer",
                "the token embedding of an untied model stays in host memory (a tied one is copied to the device as the output layer)",
                "llama.cpp src/llama-model.cpp load_tensors: dev_input is the CPU; a missing output weight duplicates the token embedding",
            ));
        }
        if self.dequantize_for_batched_matmul {
            v.push(Assumption::new(
                "batched matmuls on quantized weights",
                "dequantize to f16 in memory, then cuBLAS",
                src,
            ));
        }
        if self.fp16_accumulate {
            v.push(Assumption::new(
                "16-bit matmul accumulation",
                "FP16 for FP16 and dequantized weights, at the accelerator's FP16-accumulate peak where its row lists one (GeForce cards: twice the FP32-accumulate peak); BF16 weights accumulate in FP32",
                "llama.cpp ggml-cuda: cublasGemmEx with CUBLAS_COMPUTE_16F for F16 products (BF16 with CUBLAS_COMPUTE_32F)",
            ));
        }
        if self.product_per_tensor {
            v.push(Assumption::new(
                "projections",
                "one product per weight tensor (Q, K and V apart; gate and up apart)",
                match self.engine {
                    Engine::Transformers => "transformers modeling files: q_proj, k_proj, v_proj, gate_proj and up_proj are separate nn.Linear",
                    _ => "llama.cpp src/llama-model.cpp graph builders: one ggml_mul_mat per tensor (wq, wk, wv, ffn_gate, ffn_up)",
                },
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::find;

    /// A reserve set from a utilization reads as the user typed it.
    #[test]
    fn a_reserve_from_a_utilization_prints_its_decimals() {
        let mut p = profile(Engine::Sglang, Backend::Cuda);
        p.reserve = Reserve::HoldsActivations {
            fraction: 1.0 - 0.8,
        };
        let a = p.assumptions();
        let reserve = a.iter().find(|a| a.name == "engine reserve").unwrap();
        assert!(
            reserve.value.starts_with("0.2 of device memory,"),
            "{}",
            reserve.value
        );
    }

    /// JSON spells an engine as the command line does, and reads that spelling back.
    #[test]
    fn engine_json_is_its_flag_name() {
        for e in Engine::ALL {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.name()));
            assert_eq!(serde_json::from_str::<Engine>(&json).unwrap(), e);
        }
        assert_eq!(
            serde_json::to_string(&Engine::LlamaCpp).unwrap(),
            "\"llama.cpp\""
        );
        let err = serde_json::from_str::<Engine>("\"ollama\"").unwrap_err();
        assert!(err.to_string().contains("ollama"), "{err}");
    }

    #[test]
    fn profiles_are_valid_and_parse() {
        for e in Engine::ALL {
            for b in [Backend::Cuda, Backend::Rocm, Backend::Metal] {
                profile(e, b).validate().unwrap();
            }
            assert_eq!(e.name().parse::<Engine>(), Ok(e));
        }
        assert_eq!("TensorRT-LLM".parse::<Engine>(), Ok(Engine::Trtllm));
        assert_eq!("llamacpp".parse::<Engine>(), Ok(Engine::LlamaCpp));
        assert!("tgi".parse::<Engine>().is_err());
        // vLLM keeps 1 − gpu_memory_utilization (0.9) back
        let p = Engine::Vllm.profile(find("H100-SXM").unwrap());
        assert_eq!(p.reserve, Reserve::Total { fraction: 0.10 });
        assert_eq!(p.kv_block_tokens, Some(16));
        assert_eq!(
            Engine::LlamaCpp.profile(find("M2-Ultra").unwrap()).backend,
            Backend::Metal
        );
    }
}

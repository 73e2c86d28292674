//! What serving estimates of one model share, and one replica priced once for
//! many loads.
//!
//! [`estimate`](super::estimate) builds a [`Prepared`] per call; a search over
//! serving setups builds one per model and a [`Replica`] per (accelerator,
//! tensor-parallel size, weight format, KV precision), then prices each load on
//! it with the same functions the estimate calls ([`Replica::prefill`],
//! [`Replica::decode`], [`Replica::memory`], [`schedule`]), so a setup the
//! search picks and `sizeup infer` with its flags agree to the last bit.

use std::borrow::Cow;

use super::roofline::PassWeights;
use super::stages::{self, Stage};
use super::{
    advise, cost, effective_ridge, has_tensor_path, kv_pool, max_batch, max_context, memory,
    peak_flops, roofline, schedule, stored_tensors, validate, weights, AttentionGroups, Detail,
    InferEstimate, InferRequest, KvPool, Load, Machine, MemoryPerGpu, Pass, PassTime, Phase,
    StoredTensor, Warning,
};
use crate::arch::Architecture;
use crate::assumption::Assumption;
use crate::error::{CoreError, Result};
use crate::kv::{self, KvRequest};
use crate::ops::{self, OpList};
use crate::params::{self, ParamCount};

/// What every serving estimate of one model shares, whatever the devices, the
/// format and the load: the operator list and the parameter count.
#[derive(Debug, Clone)]
pub struct Prepared<'a> {
    arch: &'a Architecture,
    // An error is kept and reported where `estimate` reported it: after the
    // request's own checks.
    model: Result<Model>,
}

#[derive(Debug, Clone)]
struct Model {
    list: OpList,
    count: ParamCount,
}

impl<'a> Prepared<'a> {
    /// Gather what `arch`'s estimates share.
    pub fn new(arch: &'a Architecture) -> Prepared<'a> {
        let model = ops::list(arch).and_then(|list| {
            let count = params::count_of(arch, &list)?;
            Ok(Model { list, count })
        });
        Prepared { arch, model }
    }

    /// The model.
    pub fn arch(&self) -> &'a Architecture {
        self.arch
    }

    fn model(&self) -> Result<&Model> {
        self.model.as_ref().map_err(Clone::clone)
    }

    /// One replica of `req` (its devices, format, KV precision and engine), to
    /// price many loads on.
    ///
    /// # Errors
    /// As [`estimate`](super::estimate) for the request's checks and the model.
    pub fn replica<'p>(&'p self, req: &'p InferRequest) -> Result<Replica<'p>> {
        validate(self.arch, req)?;
        self.replica_unchecked(req)
    }

    /// [`Prepared::replica`] with the request's weights already stored
    /// ([`stored_tensors`] of its format and options: they depend on nothing
    /// else, so a search over many devices stores each format once).
    ///
    /// # Errors
    /// As [`Prepared::replica`].
    pub fn replica_with<'p>(
        &'p self,
        req: &'p InferRequest,
        stored: &'p [StoredTensor],
    ) -> Result<Replica<'p>> {
        validate(self.arch, req)?;
        self.replica_of(req, Cow::Borrowed(stored))
    }

    pub(super) fn replica_unchecked<'p>(&'p self, req: &'p InferRequest) -> Result<Replica<'p>> {
        self.model()?;
        let stored = stored_tensors(self.arch, req.weights, &req.weight_options)?;
        self.replica_of(req, Cow::Owned(stored))
    }

    fn replica_of<'p>(
        &'p self,
        req: &'p InferRequest,
        stored: Cow<'p, [StoredTensor]>,
    ) -> Result<Replica<'p>> {
        let list = &self.model()?.list;
        let machine = machine(req);
        let weights = PassWeights::new(self.arch, list, &stored, machine.split());
        let stages = stages::stages(
            self.arch,
            &stored,
            req.pp,
            machine.split(),
            req.profile.engine,
        );
        Ok(Replica {
            arch: self.arch,
            list,
            req,
            stored,
            weights,
            stages,
            machine,
        })
    }

    /// [`estimate`](super::estimate) of this model.
    ///
    /// # Errors
    /// As [`estimate`](super::estimate).
    pub fn estimate(&self, req: &InferRequest) -> Result<InferEstimate> {
        let arch = self.arch;
        validate(arch, req)?;
        let mut warnings = Vec::new();
        let needed = req
            .prompt
            .checked_add(req.output)
            .ok_or(CoreError::Overflow {
                quantity: "tokens per request (prompt + output)",
            })?;
        let context = req.context.unwrap_or(needed);
        if context < needed {
            warnings.push(Warning::ContextShorterThanRequest { context, needed });
        }
        if context > arch.max_context {
            warnings.push(Warning::ContextBeyondModel {
                context,
                max_context: arch.max_context,
            });
        }
        let batch = req.load.requests();
        let model = self.model()?;
        let count = model.count;
        let replica = self.replica_unchecked(req)?;
        let breakdown = weights::breakdown_of(&replica.stored, req.weights)?;
        let chunk = req.profile.prefill_chunk_tokens;
        let memory = replica.memory(batch, context, chunk)?;
        let capacity = replica.capacity(batch, context, chunk)?;

        let precision = req.weights.compute_precision();
        if !has_tensor_path(&req.gpu, precision) {
            warnings.push(Warning::NoTensorPath { precision });
        }
        let one_token = kv::size(
            arch,
            &KvRequest {
                seq_len: 1,
                batch: 1,
                dtype: req.kv_dtype,
                tp: req.tp,
                block_tokens: None,
            },
        )?;
        let prefill_seqs = prefill_sequences(req.load);
        let prefill_pass = replica.prefill(prefill_seqs);
        let decode_pass = replica.decode(batch);
        let sched = schedule(
            req.load,
            req.output,
            prefill_pass.seconds,
            decode_pass.seconds,
            replica.engines(),
        );
        // `validate` checked the product and that it divides `gpus`
        let replicas = req.gpus / req.gpus_per_replica().unwrap_or(1).max(1);
        let rate = |tokens: f64, s: f64| if s > 0.0 { tokens / s } else { 0.0 };
        // a static batch's prompts are all in the pass's batches already; under
        // continuous batching each batch in flight prefills its own prompt
        let prompts_at_once = match req.load {
            Load::Batch(b) => b,
            // each batch at once prefills one prompt, while there are requests
            Load::Concurrency(c) => replica.engines().min(c),
        };
        let prefill = Phase {
            seconds: prefill_pass.seconds,
            tokens_per_sec: rate(
                prompts_at_once as f64 * req.prompt as f64,
                prefill_pass.seconds,
            ),
            bound: prefill_pass.bound(),
            breakdown: prefill_pass,
        };
        let decode = Phase {
            seconds: decode_pass.seconds,
            tokens_per_sec: rate(batch as f64, decode_pass.seconds),
            bound: decode_pass.bound(),
            breakdown: decode_pass,
        };

        let bytes_per_param = breakdown.total_bytes as f64 / count.total.max(1) as f64;
        let ridge_batch_datasheet = peak_flops(&req.gpu, precision) * bytes_per_param
            / (2.0 * req.gpu.memory_bandwidth_bytes_per_sec);
        let ridge_batch_effective = match req.detail {
            Detail::Full => effective_ridge(arch, &replica.weights, replica.machine),
            Detail::Point => None,
        };

        let moe_experts_touched_per_layer = arch.first_moe().map(|m| {
            roofline::experts_touched(
                m.num_experts as f64,
                m.experts_per_token as f64,
                batch as f64,
            )
        });

        let price = req.price_per_gpu_hour.or(req.gpu.price_per_hour_usd);
        let output_tokens_per_sec_total = sched.output_tokens_per_sec * replicas as f64;
        let cost = match price {
            Some(p) => Some(cost::cost(
                p,
                req.gpus,
                prefill.tokens_per_sec * replicas as f64,
                output_tokens_per_sec_total,
            )),
            None => {
                warnings.push(Warning::NoPrice {
                    gpu: req.gpu.name.clone(),
                });
                None
            }
        };

        let fits = memory.fits();
        let fit_advice = if fits || req.detail == Detail::Point {
            None
        } else {
            Some(advise(
                arch,
                req,
                context,
                (capacity.max_batch, capacity.max_context),
            )?)
        };

        let mut assumptions = vec![
            Assumption::new("accelerator", &req.gpu.name, &req.gpu.source),
            Assumption::new(
                "weight format",
                req.weights,
                format!(
                    "{}; storage per tensor in weight_breakdown",
                    req.weights_source.as_deref().unwrap_or("user choice")
                ),
            ),
            Assumption::new(
                "matmul precision",
                format!("{precision:?}"),
                "weight-only formats dequantize to 16 bits; fp8/int8 are W8A8",
            ),
            Assumption::new("KV cache precision", req.kv_dtype.name(), "user choice"),
            Assumption::new(
                "context for KV sizing",
                context,
                match (req.context, &req.context_source) {
                    (Some(_), Some(source)) => source.as_str(),
                    (Some(_), None) => "user flag",
                    (None, _) => "prompt + output",
                },
            ),
            Assumption::new(
                "decode context",
                // no overflow: `validate` checked prompt + output
                format!("prompt + output/2 = {}", req.prompt + req.output / 2),
                "KV read grows linearly over the output: its average",
            ),
        ];
        if let (Some(usable), Some(source)) =
            (req.gpu.usable_memory_bytes, &req.gpu.usable_memory_source)
        {
            assumptions.push(Assumption::new(
                "usable memory",
                format!(
                    "{:.2} GiB of the nominal {:.2} GiB: the engine's memory fraction is of this, the rest is a line item of its own (not usable)",
                    usable as f64 / crate::units::GIB,
                    req.gpu.memory_bytes as f64 / crate::units::GIB
                ),
                source,
            ));
        }
        assumptions.extend(crate::device::assumptions(&req.gpu));
        assumptions.extend(req.profile.assumptions());
        assumptions.extend(stages::assumptions(arch, req.pp, req.profile.engine));
        assumptions.extend(roofline::mixer_assumptions(arch));
        if arch.is_moe() {
            assumptions.push(Assumption::new(
                "MoE routing",
                "uniform: a step of B tokens reads E·(1 − (1 − e/E)^B) experts per layer",
                "expected distinct experts under uniform top-e routing",
            ));
        }
        if req.ep > 1 {
            assumptions.push(expert_parallel_assumption(
                req.ep,
                req.tp.saturating_mul(req.attention_dp),
                req.attention_dp > 1,
            ));
        }
        if req.attention_dp > 1 {
            assumptions.push(attention_dp_assumption(
                req.attention_dp,
                req.tp,
                req.profile.engine.attention_groups(),
            ));
        }
        if let Some(p) = price {
            let source = if req.price_per_gpu_hour.is_some() {
                "user flag".to_string()
            } else {
                req.gpu.price_source.clone().unwrap_or_default()
            };
            assumptions.push(Assumption::new(
                "price per GPU-hour",
                format!("${p:.2}"),
                source,
            ));
        }

        Ok(InferEstimate {
            model_type: arch.model_type.clone(),
            params_total: count.total,
            params_active: count.active,
            gpu: req.gpu.name.clone(),
            gpus: req.gpus,
            tp: req.tp,
            pp: req.pp,
            ep: req.ep,
            attention_dp: req.attention_dp,
            replicas,
            weights: req.weights,
            weight_breakdown: breakdown,
            kv_dtype: req.kv_dtype,
            kv_bytes_per_token: one_token.bytes_total,
            context,
            prompt: req.prompt,
            output: req.output,
            load: req.load,
            engine: req.profile.engine,
            memory,
            fits,
            fit_advice,
            max_batch_at_context: capacity.max_batch,
            max_context_at_batch: capacity.max_context,
            kv_pool: capacity.kv_pool,
            prefill,
            decode,
            schedule: sched,
            output_tokens_per_sec_total,
            ridge_batch_datasheet,
            ridge_batch_effective,
            moe_experts_touched_per_layer,
            cost,
            assumptions,
            warnings,
        })
    }
}

/// What a replica's passes run on: the request's device, ranks, engine and precisions.
pub(super) fn machine(req: &InferRequest) -> Machine<'_> {
    Machine {
        gpu: &req.gpu,
        tp: req.tp,
        ep: req.ep,
        dp: req.attention_dp,
        profile: &req.profile,
        precision: req.weights.compute_precision(),
        kv_dtype: req.kv_dtype,
        quantized: req.weights.is_quantized(),
        fp16_products: req.weights.fp16_products(),
    }
}

/// What a serving estimate assumes of `dp` data-parallel attention groups of `tp`
/// ranks, as `groups` runs them.
fn attention_dp_assumption(dp: u64, tp: u64, groups: Option<AttentionGroups>) -> Assumption {
    let common = format!(
        "{dp} groups of {tp} rank(s), each with whole attention, its own 1/{dp} of the replica's sequences and its own KV cache"
    );
    let exchange = format!(
        "gathers the groups' hidden states and reduce-scatters its outputs over the {dp} groups (then the tp all-reduce); a decode step takes every group's batch there (equal batches, in lockstep), a prompt its own tokens only"
    );
    if groups == Some(AttentionGroups::SharedDense) {
        Assumption::new(
            "data-parallel attention",
            format!(
                "{common}; the dense MLPs, shared experts and LM head split over all {} ranks and the token embedding whole on each; every layer's FFN {exchange}; max sequences count per group",
                dp.saturating_mul(tp)
            ),
            "SGLang --enable-dp-attention (--tp = all ranks, --dp groups): moe_dense_tp_size and enable_dp_lm_head unset; VocabParallelEmbedding(enable_tp=not is_dp_attention_enabled()) (python/sglang/srt/models/deepseek_v2.py); its --max-running-requests is the groups' sum",
        )
    } else {
        Assumption::new(
            "data-parallel attention",
            format!("{common}, and whole dense layers; every MoE layer {exchange}"),
            "vLLM --data-parallel-size with an MoE model (one engine per group; VLLM_ALL2ALL_BACKEND naive / allgather_reducescatter over the data-parallel group); TensorRT-LLM enable_attention_dp with tp 1",
        )
    }
}

/// What a serving estimate assumes of `ep` expert-parallel groups over `ranks`
/// ranks (`tp · attention_dp`), with data-parallel attention or without.
fn expert_parallel_assumption(ep: u64, ranks: u64, attention_dp: bool) -> Assumption {
    let exchange = if attention_dp {
        "the groups' tokens exchanged as data-parallel attention says"
    } else {
        "attention stays tensor-parallel and the experts' outputs are all-reduced as under tensor parallelism"
    };
    Assumption::new(
        "expert parallelism",
        format!(
            "{ep} groups of {} ranks, each holding ⌈E/{ep}⌉ whole experts; a pass waits for the busiest group: the most experts touched among its own (uniform routing, groups independent) and {:.2}× the mean routed tokens; {exchange}",
            (ranks / ep.max(1)).max(1),
            crate::device::collective::EXPERT_LOAD_IMBALANCE
        ),
        "vLLM --enable-expert-parallel and SGLang --ep-size (FusedMoE: without data-parallel attention, tokens on every rank and outputs all-reduced); the imbalance: GShard/Switch capacity factor",
    )
}

/// Sequences one prefill pass holds: the whole static batch, or one request
/// under continuous batching.
pub fn prefill_sequences(load: Load) -> u64 {
    match load {
        Load::Batch(b) => b,
        Load::Concurrency(_) => 1,
    }
}

/// One replica of a serving request: its weights stored and grouped for its
/// tensor-parallel size, and the machine they run on. Every time and memory
/// figure of [`estimate`](super::estimate) comes from these methods.
#[derive(Debug, Clone)]
pub struct Replica<'p> {
    arch: &'p Architecture,
    list: &'p OpList,
    req: &'p InferRequest,
    stored: Cow<'p, [StoredTensor]>,
    weights: PassWeights<'p>,
    // the devices of a layer split (one without), their weights kept with their
    // error, reported where the memory is asked for
    stages: Vec<Stage<'p>>,
    machine: Machine<'p>,
}

/// How much a replica holds: the largest batch at the context, the longest
/// context at the batch and the KV pool, each on the device that binds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    /// Requests that fit at the context.
    pub max_batch: u64,
    /// Context per request that fits at the batch.
    pub max_context: u64,
    /// The KV pool of the device with the fewest tokens.
    pub kv_pool: KvPool,
}

impl Replica<'_> {
    /// The request this replica serves.
    pub fn request(&self) -> &InferRequest {
        self.req
    }

    /// Batches the replica keeps in flight: `pp` where its engine pipelines a
    /// layer split ([`StageSchedule::Pipelined`]), else 1.
    pub fn batches_in_flight(&self) -> u64 {
        self.req.profile.engine.batches_in_flight(self.req.pp)
    }

    /// Batches the replica runs at once: its [batches in flight](Replica::batches_in_flight)
    /// in each of its data-parallel attention groups, each with an equal share
    /// of the requests.
    pub fn engines(&self) -> u64 {
        self.batches_in_flight()
            .saturating_mul(self.req.attention_dp.max(1))
    }

    /// The prefill of `sequences` prompts of the request's length (nothing for
    /// an empty prompt).
    ///
    /// # Formula
    /// [`super::pass_time`] of `⌈sequences / w⌉ × prompt` new tokens, none cached,
    /// `w` the [batches at once](Replica::engines): a pipelined split runs the
    /// prompts as batches at once, each through every stage, and data-parallel
    /// attention groups each run their own.
    pub fn prefill(&self, sequences: u64) -> PassTime {
        if self.req.prompt == 0 {
            return PassTime::default();
        }
        self.pass(&Pass {
            sequences: sequences.div_ceil(self.engines()),
            new_tokens: self.req.prompt,
            cached_tokens: 0,
        })
    }

    /// One decode step of `batch` sequences at the average context: the time each
    /// sequence waits for its next token.
    ///
    /// # Formula
    /// [`super::pass_time`] of `⌈batch / w⌉` sequences × 1 new token at `prompt +
    /// output/2` cached tokens each (the KV read grows linearly over the output: its
    /// average), `w` the [batches at once](Replica::engines).
    pub fn decode(&self, batch: u64) -> PassTime {
        self.pass(&Pass {
            sequences: batch.div_ceil(self.engines()),
            new_tokens: 1,
            cached_tokens: self.req.prompt.saturating_add(self.req.output / 2),
        })
    }

    /// One pass over every device of the replica ([`stages::pass_over_stages`]).
    fn pass(&self, pass: &Pass) -> PassTime {
        stages::pass_over_stages(self.arch, &self.weights, pass, self.machine, self.req.pp)
    }

    /// Memory of the fullest device with `batch` requests of `context` tokens, the
    /// activation workspace sized for prefill chunks of `chunk` tokens (`None`:
    /// the whole batch's prompts at once).
    ///
    /// # Formula
    /// [`memory::layout`] of the weights on this rank, the KV cache of `batch ×
    /// context` tokens and the workspace of `min(chunk, batch · prompt)` tokens;
    /// under a layer split, each device's own layers' weights and KV cache, and the
    /// device with the largest shortfall (else the least free memory) is shown.
    ///
    /// # Errors
    /// Those of [`kv::size`] (overflow).
    pub fn memory(&self, batch: u64, context: u64, chunk: Option<u64>) -> Result<MemoryPerGpu> {
        let kv_req = self.kv_request(batch, context);
        let mut fullest: Option<MemoryPerGpu> = None;
        for stage in &self.stages {
            let m = self.stage_memory(stage, &kv_req, chunk)?;
            let fuller = fullest.is_none_or(|f| {
                (m.shortfall_bytes, std::cmp::Reverse(m.free_bytes))
                    > (f.shortfall_bytes, std::cmp::Reverse(f.free_bytes))
            });
            if fuller {
                fullest = Some(m);
            }
        }
        // `stages` holds pp ≥ 1 devices
        fullest.ok_or(CoreError::Zero { field: "pp" })
    }

    /// The largest batch at `context`, the longest context at `batch` and the KV
    /// pool, each the least over the devices of a layer split.
    ///
    /// # Formula
    /// [`max_batch`], [`max_context`] and [`kv_pool`] of each device's layers in the
    /// memory [`Replica::memory`] leaves it for the cache; the least of each.
    ///
    /// # Errors
    /// Those of [`kv::size`] (overflow).
    pub fn capacity(&self, batch: u64, context: u64, chunk: Option<u64>) -> Result<Capacity> {
        let kv_req = self.kv_request(batch, context);
        let mut out: Option<Capacity> = None;
        for stage in &self.stages {
            let budget = self.stage_memory(stage, &kv_req, chunk)?.kv_budget_bytes();
            // each data-parallel attention group holds its own sequences in its
            // own pool: the replica holds `groups` times one group's requests
            let groups = self.req.attention_dp.max(1);
            let mut pool = kv_pool(&stage.arch, &kv_req, budget, context)?;
            pool.concurrency_at_context *= groups as f64;
            let here = Capacity {
                max_batch: max_batch(&stage.arch, &kv_req, budget)?.saturating_mul(groups),
                max_context: max_context(&stage.arch, &kv_req, budget)?,
                kv_pool: pool,
            };
            out = Some(match out {
                None => here,
                Some(c) => Capacity {
                    max_batch: c.max_batch.min(here.max_batch),
                    max_context: c.max_context.min(here.max_context),
                    kv_pool: if here.kv_pool.tokens < c.kv_pool.tokens {
                        here.kv_pool
                    } else {
                        c.kv_pool
                    },
                },
            });
        }
        out.ok_or(CoreError::Zero { field: "pp" })
    }

    /// KV blocks of `block` tokens the replica's pool holds with `batch` requests
    /// of `context` tokens (a prefill chunk of `chunk`), and the bytes per token
    /// of the device that binds; with data-parallel attention, one group's pool
    /// (its devices hold `⌈batch / groups⌉` of the requests).
    ///
    /// # Formula
    /// The least over the devices of `⌊budget / (b̄ · block)⌋`, `budget` the
    /// cache's room in [`Replica::memory`] and `b̄` the device's KV bytes of one
    /// `context`-token sequence over `context` (windows and recurrent state averaged in).
    ///
    /// # Errors
    /// Those of [`kv::size`] (overflow).
    pub fn kv_blocks(
        &self,
        batch: u64,
        context: u64,
        chunk: Option<u64>,
        block: u64,
    ) -> Result<(u64, f64)> {
        let kv_req = self.kv_request(batch, context);
        let context = context.max(1);
        let mut out: Option<(u64, f64)> = None;
        for stage in &self.stages {
            let budget = self.stage_memory(stage, &kv_req, chunk)?.kv_budget_bytes();
            let per_sequence = kv::size(
                &stage.arch,
                &KvRequest {
                    seq_len: context,
                    batch: 1,
                    block_tokens: None,
                    ..kv_req
                },
            )?
            .bytes_per_gpu;
            let per_token = per_sequence as f64 / context as f64;
            let blocks = if per_token > 0.0 {
                (budget as f64 / (per_token * block.max(1) as f64)).floor() as u64
            } else {
                u64::MAX / block.max(1)
            };
            if out.is_none_or(|(b, _)| blocks < b) {
                out = Some((blocks, per_token));
            }
        }
        out.ok_or(CoreError::Zero { field: "pp" })
    }

    /// The KV cache one device holds for `batch` of the replica's requests of
    /// `context` tokens: a data-parallel attention group's share of them.
    fn kv_request(&self, batch: u64, context: u64) -> KvRequest {
        KvRequest {
            seq_len: context.max(1),
            batch: batch.div_ceil(self.req.attention_dp.max(1)),
            dtype: self.req.kv_dtype,
            tp: self.req.tp,
            block_tokens: self.req.profile.kv_block_tokens,
        }
    }

    /// Memory of the device that holds `stage`'s layers.
    fn stage_memory(
        &self,
        stage: &Stage<'_>,
        kv_req: &KvRequest,
        chunk: Option<u64>,
    ) -> Result<MemoryPerGpu> {
        let req = self.req;
        let weights = stage.weights_bytes.clone()?;
        let kv = kv::size(&stage.arch, kv_req)?.bytes_per_gpu;
        let batch = kv_req.batch;
        let prompt_tokens = batch.saturating_mul(req.prompt.max(1));
        let chunk = chunk.map_or(prompt_tokens, |c| {
            if req.profile.profiles_whole_chunk {
                c
            } else {
                c.min(prompt_tokens)
            }
        });
        let workspace = memory::workspace_bytes_of(self.arch, self.list, chunk, batch, req.tp);
        Ok(memory::layout(
            req.gpu.memory_bytes,
            req.gpu.usable_bytes(),
            weights,
            kv,
            workspace,
            &req.profile,
            req.tp.saturating_mul(req.attention_dp),
        ))
    }
}

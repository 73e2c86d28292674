//! The parallel layout of a training run, checked against the model and the batch.
//!
//! Ranks are laid out the way Megatron-LM orders its process groups: tensor
//! parallel innermost (neighbours on one node), then context parallel, then data
//! parallel, then pipeline stages outermost. Expert parallelism is carved out of
//! the data-parallel ranks (Megatron-Core's default), so `ep` must divide `dp`.
//! Each kind of communication runs over a [`Group`] of that order ([`Layout::tp_group`]
//! and its siblings), which the device model places on nodes.

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, AttentionKind};
use crate::device::collective::Group;
use crate::error::{CoreError, Result};

/// How model states are sharded over the data-parallel ranks (Rajbhandari et al.
/// 2020, "ZeRO: memory optimizations toward training trillion parameter models").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ZeroStage {
    /// Every data-parallel rank holds everything (plain DDP).
    Zero0,
    /// Optimizer states (fp32 master included) sharded.
    Zero1,
    /// Optimizer states and gradients sharded.
    Zero2,
    /// Optimizer states, gradients and weights sharded (FSDP `FULL_SHARD`).
    Zero3,
}

impl ZeroStage {
    /// The stage from its number.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] for a number above 3.
    pub fn from_number(stage: u8) -> Result<ZeroStage> {
        match stage {
            0 => Ok(ZeroStage::Zero0),
            1 => Ok(ZeroStage::Zero1),
            2 => Ok(ZeroStage::Zero2),
            3 => Ok(ZeroStage::Zero3),
            _ => Err(CoreError::Invalid {
                field: "zero",
                value: stage.to_string(),
                expected: "0, 1, 2 or 3".into(),
            }),
        }
    }

    /// The stage's number.
    pub fn number(self) -> u8 {
        match self {
            ZeroStage::Zero0 => 0,
            ZeroStage::Zero1 => 1,
            ZeroStage::Zero2 => 2,
            ZeroStage::Zero3 => 3,
        }
    }
}

/// What the user asked for; [`Layout::resolve`] checks it and fills in `dp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LayoutRequest {
    /// Tensor-parallel size `t`.
    pub tp: u64,
    /// Pipeline-parallel stages `p`.
    pub pp: u64,
    /// Model chunks per pipeline stage (interleaved 1F1B when above 1).
    pub vpp: u64,
    /// Context-parallel size (the sequence split across ranks).
    pub cp: u64,
    /// Expert-parallel size (experts spread across data-parallel ranks).
    pub ep: u64,
    /// Data-parallel size; `None` derives it from the GPU count.
    pub dp: Option<u64>,
    /// Sequence parallelism (Korthikanti et al. 2022): norms and dropout split over `t`.
    pub sequence_parallel: bool,
    /// ZeRO stage.
    pub zero: ZeroStage,
    /// PyTorch FSDP (`FULL_SHARD`): the same sharding as ZeRO-3.
    pub fsdp: bool,
    /// Megatron's distributed optimizer: optimizer states sharded, as ZeRO-1.
    pub distributed_optimizer: bool,
}

impl Default for LayoutRequest {
    fn default() -> Self {
        LayoutRequest {
            tp: 1,
            pp: 1,
            vpp: 1,
            cp: 1,
            ep: 1,
            dp: None,
            sequence_parallel: false,
            zero: ZeroStage::Zero0,
            fsdp: false,
            distributed_optimizer: false,
        }
    }
}

/// A checked layout: every size positive and consistent with the model and the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Layout {
    /// Tensor-parallel size `t`.
    pub tp: u64,
    /// Pipeline stages `p`.
    pub pp: u64,
    /// Model chunks per stage `v` (1: plain 1F1B).
    pub vpp: u64,
    /// Context-parallel size.
    pub cp: u64,
    /// Expert-parallel size.
    pub ep: u64,
    /// Data-parallel size.
    pub dp: u64,
    /// Sequence parallelism (only meaningful when `t > 1`).
    pub sequence_parallel: bool,
    /// The effective sharding: the largest of `zero`, FSDP (3) and the distributed optimizer (1).
    pub zero: ZeroStage,
    /// The user asked for FSDP.
    pub fsdp: bool,
    /// The user asked for Megatron's distributed optimizer.
    pub distributed_optimizer: bool,
    /// Micro-batches per step and pipeline `m = B / (b · dp)`.
    pub micro_batches: u64,
}

/// What [`Layout::resolve`] checks the layout against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// GPUs in the run.
    pub gpus: u64,
    /// Sequence length `s`.
    pub seq_len: u64,
    /// Global batch `B` in sequences.
    pub global_batch: u64,
    /// Micro-batch `b` in sequences.
    pub micro_batch: u64,
}

/// The model's sizes a layout is checked against, read from the architecture once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDims {
    /// Attention heads `a` of the primary attention (0 without attention).
    pub heads: u64,
    /// Its key/value heads `k`, when it has them (not MLA).
    pub kv_heads: Option<u64>,
    /// Layers `L`.
    pub layers: u64,
    /// Routed experts `E` of an MoE model.
    pub experts: Option<u64>,
}

impl ModelDims {
    /// Read them from `arch`.
    pub fn of(arch: &Architecture) -> ModelDims {
        ModelDims {
            heads: arch.heads(),
            kv_heads: match arch.primary_attention().map(|a| a.kind) {
                Some(AttentionKind::Standard { kv_heads, .. }) => Some(kv_heads),
                _ => None,
            },
            layers: arch.num_layers(),
            experts: arch.first_moe().map(|m| m.num_experts),
        }
    }
}

fn invalid(field: &'static str, value: impl ToString, expected: String) -> CoreError {
    CoreError::Invalid {
        field,
        value: value.to_string(),
        expected,
    }
}

impl Layout {
    /// Check `req` against the model and the workload, and derive `dp` and `m`.
    ///
    /// # Formula
    /// ```text
    /// dp = gpus / (t · p · cp)      m = B / (b · dp)
    /// ```
    ///
    /// # Assumptions / limits
    /// `p` need not divide `L`: stages hold `⌈L/p⌉` or `⌊L/p⌋` layers, and the
    /// first stage (which also keeps the most activations) holds `⌈L/p⌉`; that
    /// stage sets the step time. With `v > 1` chunks, `v` must divide `⌈L/p⌉`.
    ///
    /// # Errors
    /// [`CoreError::Zero`] for a zero size; [`CoreError::Invalid`] when the product
    /// `t·p·cp·dp` is not the GPU count, `t` does not divide the attention heads
    /// or the KV heads, `p` exceeds the layers, `v` does not divide a stage's
    /// layers, `ep` does not divide the experts or `dp`, `cp` does not divide
    /// `s`, the global batch is not a multiple of `b · dp`, or the sharding flags
    /// contradict each other.
    pub fn resolve(req: &LayoutRequest, arch: &Architecture, w: &Workload) -> Result<Layout> {
        Layout::resolve_in(req, &ModelDims::of(arch), w)
    }

    /// [`Layout::resolve`] against the model's sizes read beforehand.
    ///
    /// # Errors
    /// As [`Layout::resolve`].
    pub fn resolve_in(req: &LayoutRequest, model: &ModelDims, w: &Workload) -> Result<Layout> {
        for (field, v) in [
            ("tp", req.tp),
            ("pp", req.pp),
            ("vpp", req.vpp),
            ("cp", req.cp),
            ("ep", req.ep),
            ("gpus", w.gpus),
            ("seq_len", w.seq_len),
            ("global_batch", w.global_batch),
            ("micro_batch", w.micro_batch),
        ] {
            if v == 0 {
                return Err(CoreError::Zero { field });
            }
        }
        let model_parallel = req
            .tp
            .checked_mul(req.pp)
            .and_then(|x| x.checked_mul(req.cp))
            .ok_or(CoreError::Overflow {
                quantity: "model-parallel size",
            })?;
        let dp = match req.dp {
            Some(0) => return Err(CoreError::Zero { field: "dp" }),
            Some(dp) => {
                if model_parallel.checked_mul(dp) != Some(w.gpus) {
                    return Err(invalid(
                        "dp",
                        dp,
                        format!(
                            "tp·pp·cp·dp = {}·{}·{}·{dp} to equal the {} GPUs",
                            req.tp, req.pp, req.cp, w.gpus
                        ),
                    ));
                }
                dp
            }
            None => {
                if w.gpus % model_parallel != 0 {
                    return Err(invalid(
                        "gpus",
                        w.gpus,
                        format!(
                            "a multiple of tp·pp·cp = {}·{}·{} = {model_parallel}",
                            req.tp, req.pp, req.cp
                        ),
                    ));
                }
                w.gpus / model_parallel
            }
        };

        let heads = model.heads;
        if heads % req.tp != 0 {
            return Err(invalid(
                "tp",
                req.tp,
                format!("a divisor of the {heads} attention heads"),
            ));
        }
        if let Some(kv_heads) = model.kv_heads {
            if kv_heads % req.tp != 0 {
                return Err(invalid(
                    "tp",
                    req.tp,
                    format!("a divisor of the {kv_heads} key/value heads (Megatron splits KV groups, never replicates them)"),
                ));
            }
        }
        let layers = model.layers;
        if req.pp > layers {
            return Err(invalid(
                "pp",
                req.pp,
                format!("at most the {layers} layers"),
            ));
        }
        let first_stage = layers.div_ceil(req.pp);
        if req.vpp > 1 {
            if req.pp == 1 {
                return Err(invalid(
                    "vpp",
                    req.vpp,
                    "1 without pipeline parallelism".into(),
                ));
            }
            if first_stage % req.vpp != 0 {
                return Err(invalid(
                    "vpp",
                    req.vpp,
                    format!("a divisor of the {first_stage} layers of a pipeline stage"),
                ));
            }
        }
        match model.experts {
            Some(e) if e % req.ep != 0 => {
                return Err(invalid(
                    "ep",
                    req.ep,
                    format!("a divisor of the {e} experts"),
                ))
            }
            None if req.ep > 1 => {
                return Err(invalid(
                    "ep",
                    req.ep,
                    "1 for a dense model (it has no experts)".into(),
                ))
            }
            _ => {}
        }
        if dp % req.ep != 0 {
            return Err(invalid(
                "ep",
                req.ep,
                format!("a divisor of the data-parallel size {dp} (experts are spread over data-parallel ranks)"),
            ));
        }
        if w.seq_len % req.cp != 0 {
            return Err(invalid(
                "cp",
                req.cp,
                format!("a divisor of the sequence length {}", w.seq_len),
            ));
        }
        let per_step = w.micro_batch.checked_mul(dp).ok_or(CoreError::Overflow {
            quantity: "sequences per micro-step",
        })?;
        if w.global_batch % per_step != 0 {
            return Err(invalid(
                "global_batch",
                w.global_batch,
                format!(
                    "a multiple of micro_batch · dp = {} · {dp} = {per_step}",
                    w.micro_batch
                ),
            ));
        }
        if req.fsdp && !matches!(req.zero, ZeroStage::Zero0 | ZeroStage::Zero3) {
            return Err(invalid(
                "zero",
                req.zero.number(),
                "0 or 3 with FSDP (FSDP FULL_SHARD is ZeRO-3)".into(),
            ));
        }
        let mut zero = req.zero;
        if req.fsdp {
            zero = ZeroStage::Zero3;
        }
        if req.distributed_optimizer {
            zero = zero.max(ZeroStage::Zero1);
        }
        Ok(Layout {
            tp: req.tp,
            pp: req.pp,
            vpp: req.vpp,
            cp: req.cp,
            ep: req.ep,
            dp,
            sequence_parallel: req.sequence_parallel,
            zero,
            fsdp: req.fsdp,
            distributed_optimizer: req.distributed_optimizer,
            micro_batches: w.global_batch / per_step,
        })
    }

    /// GPUs in the layout: `t · p · cp · dp`, saturating (a layout built by
    /// [`LayoutRequest`]'s check multiplies to its GPU count, checked there).
    pub fn gpus(&self) -> u64 {
        self.tp
            .saturating_mul(self.pp)
            .saturating_mul(self.cp)
            .saturating_mul(self.dp)
    }

    /// Layers on the first (fullest) pipeline stage: `⌈L/p⌉`.
    pub fn first_stage_layers(&self, arch: &Architecture) -> u64 {
        arch.num_layers().div_ceil(self.pp)
    }

    /// Layers on the last stage: `L − (p−1)·⌈L/p⌉` clamped to at least `⌊L/p⌋`.
    ///
    /// # Assumptions / limits
    /// Uneven splits put the extra layers on the earliest stages; the last stage
    /// gets `⌊L/p⌋` (it also runs the LM head and the loss).
    pub fn last_stage_layers(&self, arch: &Architecture) -> u64 {
        if self.pp == 1 {
            arch.num_layers()
        } else {
            arch.num_layers() / self.pp
        }
    }

    /// Whether sequence parallelism is in effect (asked for, and `t > 1`).
    pub fn sp_active(&self) -> bool {
        self.sequence_parallel && self.tp > 1
    }

    /// The tensor-parallel group: `t` neighbouring ranks.
    pub fn tp_group(&self) -> Group {
        Group::new(self.tp, 1)
    }

    /// The context-parallel group: `cp` ranks, `t` apart.
    pub fn cp_group(&self) -> Group {
        Group::new(self.cp, self.tp)
    }

    /// The data-parallel group: `dp` ranks, `t·cp` apart.
    pub fn dp_group(&self) -> Group {
        Group::new(self.dp, self.tp * self.cp)
    }

    /// The expert-parallel group: `ep` of the data-parallel ranks, `t·cp` apart.
    pub fn ep_group(&self) -> Group {
        Group::new(self.ep, self.tp * self.cp)
    }

    /// Ranks between neighbouring pipeline stages: `t·cp·dp`.
    pub fn pp_stride(&self) -> u64 {
        self.tp * self.cp * self.dp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shape;

    fn llama_70b() -> Architecture {
        // Llama-2-70B: 80 layers, h 8192, 64 heads, 8 KV heads, f 28672, V 32000
        Shape::llama(80, 8192, 64, 8, 28672, 32000).build().unwrap()
    }

    fn work(gpus: u64, global_batch: u64, micro_batch: u64) -> Workload {
        Workload {
            gpus,
            seq_len: 4096,
            global_batch,
            micro_batch,
        }
    }

    #[test]
    fn derives_dp_and_micro_batches() {
        let req = LayoutRequest {
            tp: 8,
            pp: 4,
            ..LayoutRequest::default()
        };
        let l = Layout::resolve(&req, &llama_70b(), &work(1024, 1024, 1)).unwrap();
        assert_eq!(l.dp, 32);
        assert_eq!(l.micro_batches, 32);
        assert_eq!(l.gpus(), 1024);
        assert_eq!(l.first_stage_layers(&llama_70b()), 20);
    }

    #[test]
    fn bad_layouts_name_the_field() {
        let arch = llama_70b();
        let field = |req: LayoutRequest, w: Workload| match Layout::resolve(&req, &arch, &w) {
            Err(CoreError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        };
        // 8·4·2 = 64 GPUs, not 100
        let r = LayoutRequest {
            tp: 8,
            pp: 4,
            dp: Some(2),
            ..LayoutRequest::default()
        };
        assert_eq!(field(r, work(100, 64, 1)), "dp");
        // 8·3 does not divide 100
        let r = LayoutRequest {
            tp: 8,
            pp: 3,
            ..LayoutRequest::default()
        };
        assert_eq!(field(r, work(100, 64, 1)), "gpus");
        // 16 does not divide the 8 KV heads
        let r = LayoutRequest {
            tp: 16,
            ..LayoutRequest::default()
        };
        assert_eq!(field(r, work(64, 64, 1)), "tp");
        // 3 does not divide the 64 heads
        let r = LayoutRequest {
            tp: 3,
            ..LayoutRequest::default()
        };
        assert_eq!(field(r, work(3, 3, 1)), "tp");
        // more stages than layers
        let r = LayoutRequest {
            pp: 81,
            ..LayoutRequest::default()
        };
        assert_eq!(field(r, work(81, 81, 1)), "pp");
        // experts on a dense model
        let r = LayoutRequest {
            ep: 2,
            ..LayoutRequest::default()
        };
        assert_eq!(field(r, work(8, 8, 1)), "ep");
        // 100 sequences are not a multiple of 2 · 8
        assert_eq!(
            field(LayoutRequest::default(), work(8, 100, 2)),
            "global_batch"
        );
        // FSDP with ZeRO-1
        let r = LayoutRequest {
            fsdp: true,
            zero: ZeroStage::Zero1,
            ..LayoutRequest::default()
        };
        assert_eq!(field(r, work(8, 8, 1)), "zero");
    }

    #[test]
    fn uneven_stages_put_the_extra_layers_first() {
        // Llama 3.1 405B: 126 layers on 16 stages (Llama Team 2024, §3.3.2)
        let arch = Shape::llama(126, 16384, 128, 8, 53248, 128256)
            .build()
            .unwrap();
        let req = LayoutRequest {
            tp: 8,
            pp: 16,
            vpp: 2,
            ..LayoutRequest::default()
        };
        let l = Layout::resolve(&req, &arch, &work(16384, 2048, 1)).unwrap();
        assert_eq!(l.first_stage_layers(&arch), 8);
        assert_eq!(l.last_stage_layers(&arch), 7);
        assert_eq!(l.dp, 128);
    }

    #[test]
    fn sharding_flags_combine() {
        let arch = llama_70b();
        let r = LayoutRequest {
            fsdp: true,
            ..LayoutRequest::default()
        };
        assert_eq!(
            Layout::resolve(&r, &arch, &work(8, 8, 1)).unwrap().zero,
            ZeroStage::Zero3
        );
        let r = LayoutRequest {
            distributed_optimizer: true,
            ..LayoutRequest::default()
        };
        assert_eq!(
            Layout::resolve(&r, &arch, &work(8, 8, 1)).unwrap().zero,
            ZeroStage::Zero1
        );
    }
}

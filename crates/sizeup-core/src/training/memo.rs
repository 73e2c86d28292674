//! Figures that many layouts of one search share, priced once.
//!
//! Within one `t·p·cp·dp` split, on one accelerator, for one request that
//! changes only in its layout fields, most of an estimate depends on a few of
//! the layout's settings:
//!
//! | figure | depends on (besides the split) |
//! | --- | --- |
//! | the step's kernels ([`StepKernels`]) | micro-batch, `ep`, sequence parallelism |
//! | a stage's states and buffers ([`StageStates`]) | `ep`, ZeRO stage, which stage |
//! | the largest layer's stored activations | micro-batch, sequence parallelism, recomputation, the eager kernels' parameter holding |
//! | a layer's data-parallel collectives ([`LayerTraffic`]) | `ep`, ZeRO stage |
//! | FLOPs per token ([`FlopsPerToken`]) | recomputation |
//!
//! A [`Memo`] keeps each figure under those settings and hands it back when they
//! recur, so a search prices the kernels of a micro-batch once for every ZeRO
//! stage, recomputation mode and pipeline interleaving that shares them. It is
//! not an approximation: the figure handed back is the value the same function
//! returned for the same inputs. [`crate::training::estimate`] runs the same code
//! with a memo that keeps nothing ([`Memo::none`]), pricing every figure afresh:
//! the reference a test holds the search's figures to, bit for bit.
//!
//! Keys are few (a split has tens of micro-batches and a handful of the other
//! settings), so each store is a vector searched in order: no hashing, and no
//! allocation once a split's figures are in.

use crate::error::Result;
use crate::training::activations::Recompute;
use crate::training::eager::Residual;
use crate::training::flops::FlopsPerToken;
use crate::training::parallel::{Layout, ZeroStage};
use crate::training::states::{GpuParams, ModelStates, Stage};
use crate::training::time::{LayerTraffic, StepKernels};

/// One stage's model states, its parameters before sharding and its
/// communication buffers, for one layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StageStates {
    /// Weights, gradients and optimizer states.
    pub states: ModelStates,
    /// Parameters on one GPU of the stage.
    pub params: GpuParams,
    /// FSDP's gathered layers or DDP's gradient buckets.
    pub communication_buffers_bytes: u64,
}

/// The split every stored figure belongs to: the whole layout but `ep`, ZeRO,
/// sequence parallelism, interleaving, micro-batch and recomputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    tp: u64,
    pp: u64,
    cp: u64,
    dp: u64,
}

/// Stored figures of one split (see the module docs). The caller keeps the
/// accelerator and every request field outside the layout fixed for the memo's
/// life; the split is checked on every [`Memo::enter`].
#[derive(Debug, Clone)]
pub(crate) struct Memo {
    keep: bool,
    split: Option<Split>,
    kernels: Store<(u64, u64, bool, Residual), StepKernels>,
    states: Store<(u64, ZeroStage, Stage), StageStates>,
    layer_bytes: Store<(u64, bool, Recompute, Option<Residual>), u64>,
    traffic: Store<(u64, ZeroStage), LayerTraffic>,
    per_token: Store<Recompute, FlopsPerToken>,
}

/// Values under keys, searched in order from just after the last one found: a
/// search asks for its micro-batches in ascending order, the order they were
/// stored in, so the next one asked for is usually the next one stored.
#[derive(Debug, Clone)]
struct Store<K, V> {
    entries: Vec<(K, V)>,
    next: usize,
}

impl<K: PartialEq, V> Store<K, V> {
    fn new() -> Self {
        Store {
            entries: Vec::new(),
            next: 0,
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.next = 0;
    }

    /// Where `key` is stored, if it is.
    fn find(&mut self, key: &K) -> Option<usize> {
        let from = self.next.min(self.entries.len());
        let (before, after) = self.entries.split_at(from);
        let i = match after.iter().position(|(k, _)| k == key) {
            Some(i) => from + i,
            None => before.iter().position(|(k, _)| k == key)?,
        };
        self.next = i + 1;
        Some(i)
    }

    /// Store `value` under `key` (absent); where it went.
    fn insert(&mut self, key: K, value: V) -> usize {
        self.entries.push((key, value));
        self.next = self.entries.len();
        self.entries.len() - 1
    }
}

impl<K: PartialEq, V: Copy> Store<K, V> {
    /// The value under `key`, made by `make` and stored if absent; with `keep`
    /// off, always made and never stored.
    fn get_or(&mut self, keep: bool, key: K, make: impl FnOnce() -> V) -> V {
        if !keep {
            return make();
        }
        match self.find(&key) {
            Some(i) => self.entries[i].1,
            None => {
                let v = make();
                self.insert(key, v);
                v
            }
        }
    }

    /// The value under `key`, made by `make` and stored if absent (an error is
    /// not stored); with `keep` off, always made and never stored.
    fn get_or_make(&mut self, keep: bool, key: K, make: impl FnOnce() -> Result<V>) -> Result<V> {
        if !keep {
            return make();
        }
        if let Some(i) = self.find(&key) {
            return Ok(self.entries[i].1);
        }
        let v = make()?;
        self.insert(key, v);
        Ok(v)
    }
}

impl Memo {
    /// A memo that keeps what it is given.
    pub fn new() -> Memo {
        Memo {
            keep: true,
            split: None,
            kernels: Store::new(),
            states: Store::new(),
            layer_bytes: Store::new(),
            traffic: Store::new(),
            per_token: Store::new(),
        }
    }

    /// A memo that keeps nothing: every figure is priced when asked for.
    pub fn none() -> Memo {
        Memo {
            keep: false,
            ..Memo::new()
        }
    }

    /// Start pricing `layout`: forget every figure when its split differs from the last one's.
    pub fn enter(&mut self, layout: &Layout) {
        let split = Split {
            tp: layout.tp,
            pp: layout.pp,
            cp: layout.cp,
            dp: layout.dp,
        };
        if self.split != Some(split) {
            self.split = Some(split);
            self.kernels.clear();
            self.states.clear();
            self.layer_bytes.clear();
            self.traffic.clear();
            self.per_token.clear();
        }
    }

    /// The step's kernels at micro-batch `b` under `layout` with eager kernels'
    /// `residual`, priced by `make` if new.
    pub fn step_kernels(
        &mut self,
        layout: &Layout,
        b: u64,
        residual: Residual,
        make: impl FnOnce() -> StepKernels,
    ) -> &StepKernels {
        let key = (b, layout.ep, layout.sp_active(), residual);
        if !self.keep {
            self.kernels.clear();
        }
        let i = match self.kernels.find(&key) {
            Some(i) => i,
            None => self.kernels.insert(key, make()),
        };
        &self.kernels.entries[i].1
    }

    /// The first stage's per-layer data-parallel collectives under `layout`, priced by `make` if new.
    pub fn layer_traffic(
        &mut self,
        layout: &Layout,
        make: impl FnOnce() -> LayerTraffic,
    ) -> LayerTraffic {
        let key = (layout.ep, layout.zero);
        self.traffic.get_or(self.keep, key, make)
    }

    /// FLOPs per token under `recompute`, counted by `make` if new.
    pub fn per_token(
        &mut self,
        recompute: Recompute,
        make: impl FnOnce() -> FlopsPerToken,
    ) -> FlopsPerToken {
        self.per_token.get_or(self.keep, recompute, make)
    }

    /// `stage`'s states under `layout`, made by `make` if new.
    pub fn stage_states(
        &mut self,
        layout: &Layout,
        stage: Stage,
        make: impl FnOnce() -> Result<StageStates>,
    ) -> Result<StageStates> {
        self.states
            .get_or_make(self.keep, (layout.ep, layout.zero, stage), make)
    }

    /// The first stage's largest per-layer activation bytes at micro-batch `b`,
    /// sequence parallelism `sp`, `recompute` and the eager kernels' parameter
    /// holding (`None` for fused kernels), made by `make` if new.
    pub fn layer_bytes(
        &mut self,
        b: u64,
        sp: bool,
        recompute: Recompute,
        eager: Option<Residual>,
        make: impl FnOnce() -> Result<u64>,
    ) -> Result<u64> {
        self.layer_bytes
            .get_or_make(self.keep, (b, sp, recompute, eager), make)
    }
}

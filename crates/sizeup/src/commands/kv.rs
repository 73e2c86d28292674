//! `sizeup kv MODEL`: KV cache per token, per sequence, per batch and per GPU.

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_core::kv::{self, KvRequest};
use sizeup_core::{Assumption, KvDtype};

use crate::cli::ModelArg;
use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::model::{self, ModelSummary};
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup kv`.
#[derive(Debug, Args, Serialize)]
pub struct KvArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelArg,
    /// Tokens per sequence (prompt + output), e.g. `32768` or `32k`
    #[arg(long, value_parser = crate::door::TOKENS, default_value = "4096")]
    pub seq_len: u64,
    /// Sequences held at once
    #[arg(long, value_parser = crate::door::SEQUENCES, default_value_t = 1)]
    pub batch: u64,
    /// Precision of the cached keys and values
    #[arg(long, default_value = "fp16", value_parser = crate::cli::parse_kv_dtype)]
    pub kv_dtype: KvDtype,
    /// Tensor-parallel GPUs sharing the cache (KV heads replicate when it exceeds them)
    #[arg(long, value_parser = crate::door::DEVICES, default_value_t = 1)]
    pub tp: u64,
    /// Paged-cache block size in tokens (vLLM: 16); omit for a contiguous cache
    #[arg(long, value_parser = crate::door::TOKENS)]
    pub block_size: Option<u64>,
}

/// What `sizeup kv` reports (JSON field names are a contract: see README.md).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct KvReport {
    /// The model and its architecture.
    pub model: ModelSummary,
    /// The request sized.
    pub request: KvRequest,
    /// Bytes one token adds across all layers (no window applied).
    pub bytes_per_token: u64,
    /// Bytes one sequence holds (sliding windows and paging applied).
    pub bytes_per_sequence: u64,
    /// Bytes the whole batch holds.
    pub bytes_total: u64,
    /// Bytes each tensor-parallel GPU holds.
    pub bytes_per_gpu: u64,
    /// KV heads each GPU caches.
    pub kv_heads_per_gpu: u64,
    /// Values cached per token per layer.
    pub elements_per_token_per_layer: u64,
    /// Bytes of recurrent and convolution state per sequence (linear-attention and
    /// state-space layers), part of `bytes_per_sequence`.
    pub state_bytes_per_sequence: u64,
    /// The window size and the layers that attend to it, if any slide.
    pub sliding_window: Option<SlidingWindow>,
    /// The cache of each kind of layer for one sequence.
    pub layers: Vec<kv::LayerCache>,
    /// Rules applied where the input was silent.
    pub assumptions: Vec<Assumption>,
}

/// A sliding window and the number of layers that use it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct SlidingWindow {
    /// Tokens a sliding layer attends to and caches.
    pub size: u64,
    /// Layers that slide.
    pub layers: u64,
}

/// Size the KV cache.
pub fn run(args: &KvArgs) -> Result<KvReport, AppError> {
    let loaded = model::load(&args.model)?;
    let request = KvRequest {
        seq_len: args.seq_len,
        batch: args.batch,
        dtype: args.kv_dtype,
        tp: args.tp,
        block_tokens: args.block_size,
    };
    let c = kv::size(&loaded.arch, &request)?;
    let layers = kv::by_layer(&loaded.arch, &request)?;
    Ok(KvReport {
        model: ModelSummary::new(&loaded),
        request,
        bytes_per_token: c.bytes_per_token,
        bytes_per_sequence: c.bytes_per_sequence,
        bytes_total: c.bytes_total,
        bytes_per_gpu: c.bytes_per_gpu,
        kv_heads_per_gpu: c.kv_heads_per_gpu,
        elements_per_token_per_layer: c.elements_per_token_per_layer,
        state_bytes_per_sequence: c.state_bytes_per_sequence,
        sliding_window: loaded
            .arch
            .sliding_window()
            .map(|(size, layers)| SlidingWindow { size, layers }),
        layers,
        assumptions: loaded
            .assumptions
            .into_iter()
            .chain(kv::assumptions(&loaded.arch))
            .collect(),
    })
}

impl Report for KvReport {
    fn view(&self, _units: ByteUnits) -> View {
        let r = &self.request;
        let mut t = Table::new(
            Some(&format!(
                "{} ({}): KV cache in {} for {} tokens × {} sequences",
                self.model.name,
                self.model.description(),
                r.dtype.name(),
                crate::humanize::grouped(r.seq_len),
                r.batch
            )),
            &[
                ("quantity", "quantity"),
                ("bytes", "bytes"),
                ("exact", "bytes_exact"),
            ],
        );
        let mut row = |name: &str, b: u64| {
            t.row(vec![
                Cell::Text(name.into()),
                Cell::Bytes(b),
                Cell::Exact(b),
            ])
        };
        row("per token", self.bytes_per_token);
        if self.state_bytes_per_sequence > 0 {
            row(
                "recurrent state per sequence",
                self.state_bytes_per_sequence,
            );
        }
        row("per sequence", self.bytes_per_sequence);
        row("whole batch", self.bytes_total);
        if r.tp > 1 {
            let split = if self.model.attention.starts_with("MLA") {
                "the latent is replicated on every GPU".to_string()
            } else {
                format!(
                    "{} of {} KV heads each",
                    self.kv_heads_per_gpu, self.model.kv_heads
                )
            };
            row(
                &format!("per GPU (tp {}, {split})", r.tp),
                self.bytes_per_gpu,
            );
        }
        let mut notes = Vec::new();
        if r.seq_len > self.model.max_context {
            notes.push(format!(
                "warning: {} tokens exceed the model's context of {} tokens",
                crate::humanize::grouped(r.seq_len),
                crate::humanize::grouped(self.model.max_context)
            ));
        }
        if let Some(w) = self.sliding_window {
            notes.push(format!(
                "{} of {} layers attend to a sliding window of {} tokens and cache at most that many",
                w.layers,
                self.model.layers,
                crate::humanize::grouped(w.size)
            ));
        }
        if let Some(b) = r.block_tokens {
            notes.push(format!(
                "paged cache: tokens rounded up to whole blocks of {b}"
            ));
        }
        notes.extend(model::assumption_notes(&self.assumptions));
        let mut tables = vec![t];
        if self.layers.len() > 1 || self.state_bytes_per_sequence > 0 {
            let mut by = Table::new(
                Some("by kind of layer, one sequence"),
                &[
                    ("layer kind", "kind"),
                    ("layers", "layers"),
                    ("values per token", "elements_per_token"),
                    ("tokens cached", "tokens_cached"),
                    ("state values", "state_elements"),
                    ("per sequence", "bytes_per_sequence"),
                ],
            );
            for l in &self.layers {
                by.row(vec![
                    Cell::Text(l.kind.clone()),
                    Cell::Count(l.layers),
                    Cell::Count(l.elements_per_token),
                    Cell::Count(l.tokens_cached),
                    Cell::Count(l.state_elements),
                    Cell::Bytes(l.bytes_per_sequence),
                ]);
            }
            tables.push(by);
        }
        View { tables, notes }
    }
}

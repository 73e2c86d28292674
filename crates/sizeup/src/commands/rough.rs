//! `sizeup rough`: the lesson's estimate, byte for byte, and its exercises.

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_core::rough::{estimate, RoughConfig, RoughEstimate};

use crate::error::AppError;
use crate::humanize::{lesson_bytes, lesson_params, ByteUnits};
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup rough`. Each takes a comma-separated list; every combination
/// of the lesson's two configurations and the listed values becomes a row.
#[derive(Debug, Args, Serialize)]
pub struct RoughArgs {
    /// Decoder blocks `L` (replaces the lesson's 24 / 48)
    #[arg(long, value_parser = crate::door::SHAPE, value_delimiter = ',')]
    pub layers: Vec<u64>,
    /// Hidden size `h` (replaces 2048 / 4096)
    #[arg(long, value_parser = crate::door::SHAPE, value_delimiter = ',')]
    pub hidden: Vec<u64>,
    /// FFN width as a multiple of `h` (lesson: 4)
    #[arg(long, value_parser = crate::door::SHAPE, value_delimiter = ',')]
    pub ffn_multiplier: Vec<u64>,
    /// Vocabulary size `V` (lesson: 50000)
    #[arg(long, value_parser = crate::door::SHAPE, value_delimiter = ',')]
    pub vocab: Vec<u64>,
    /// Key/value heads `k` (replaces 16 / 8)
    #[arg(long, value_parser = crate::door::SHAPE, value_delimiter = ',')]
    pub kv_heads: Vec<u64>,
    /// Head dimension `d` (lesson: 128)
    #[arg(long, value_parser = crate::door::SHAPE, value_delimiter = ',')]
    pub head_dim: Vec<u64>,
    /// Tokens in the KV cache `s` (replaces 4096 / 8192), e.g. `4096,16384`
    #[arg(long, value_parser = crate::door::TOKENS, value_delimiter = ',')]
    pub seq_len: Vec<u64>,
    /// Sequences in the batch `B` (lesson: 1)
    #[arg(long, value_parser = crate::door::SEQUENCES, value_delimiter = ',')]
    pub batch: Vec<u64>,
    /// Bytes per cached element (lesson: 2, fp16)
    #[arg(long, value_parser = crate::door::ELEMENT_BYTES, value_delimiter = ',')]
    pub dtype_bytes: Vec<u64>,
    /// Only this lesson configuration (`small` or `large`)
    #[arg(long, value_parser = ["small", "large"])]
    pub only: Option<String>,
}

/// One configuration and its estimate.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoughRow {
    /// The inputs.
    pub config: RoughConfig,
    /// The lesson's estimate.
    pub estimate: RoughEstimate,
}

/// What `sizeup rough` reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoughReport {
    /// One entry per combination, in input order.
    pub rows: Vec<RoughRow>,
    /// Whether any flag changed the lesson's configurations.
    #[serde(skip)]
    varied: bool,
}

/// Expand every combination of the lesson's configurations and the given values.
pub fn run(args: &RoughArgs) -> Result<RoughReport, AppError> {
    let mut configs: Vec<RoughConfig> = RoughConfig::lesson()
        .into_iter()
        .filter(|c| args.only.as_deref().is_none_or(|o| o == c.name))
        .collect();
    type Setter = fn(&mut RoughConfig, u64);
    let axes: [(&[u64], Setter); 9] = [
        (&args.layers, |c, v| c.layers = v),
        (&args.hidden, |c, v| c.hidden = v),
        (&args.ffn_multiplier, |c, v| c.ffn_multiplier = v),
        (&args.vocab, |c, v| c.vocab = v),
        (&args.kv_heads, |c, v| c.kv_heads = v),
        (&args.head_dim, |c, v| c.head_dim = v),
        (&args.seq_len, |c, v| c.seq_len = v),
        (&args.batch, |c, v| c.batch = v),
        (&args.dtype_bytes, |c, v| c.dtype_bytes = v),
    ];
    let mut varied = false;
    for (values, set) in axes {
        if values.is_empty() {
            continue;
        }
        varied = true;
        configs = configs
            .iter()
            .flat_map(|c| {
                values.iter().map(move |&v| {
                    let mut c = c.clone();
                    set(&mut c, v);
                    c
                })
            })
            .collect();
    }
    let rows = configs
        .into_iter()
        .map(|config| {
            let estimate = estimate(&config)?;
            Ok(RoughRow { config, estimate })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(RoughReport { rows, varied })
}

impl Report for RoughReport {
    fn view(&self, _units: ByteUnits) -> View {
        let mut t = Table::new(
            None,
            &[
                ("model", "model"),
                ("layers", "layers"),
                ("hidden", "hidden"),
                ("ffn×", "ffn_multiplier"),
                ("vocab", "vocab"),
                ("kv heads", "kv_heads"),
                ("head dim", "head_dim"),
                ("seq len", "seq_len"),
                ("batch", "batch"),
                ("bytes/elem", "dtype_bytes"),
                ("rough params", "rough_params"),
                ("kv cache", "kv_cache_bytes"),
            ],
        );
        for r in &self.rows {
            let c = &r.config;
            t.row(vec![
                Cell::Text(c.name.clone()),
                Cell::Exact(c.layers),
                Cell::Exact(c.hidden),
                Cell::Exact(c.ffn_multiplier),
                Cell::Exact(c.vocab),
                Cell::Exact(c.kv_heads),
                Cell::Exact(c.head_dim),
                Cell::Exact(c.seq_len),
                Cell::Exact(c.batch),
                Cell::Exact(c.dtype_bytes),
                Cell::Labeled(r.estimate.params, lesson_params(r.estimate.params)),
                Cell::Labeled(
                    r.estimate.kv_cache_bytes,
                    lesson_bytes(r.estimate.kv_cache_bytes),
                ),
            ]);
        }
        View {
            tables: vec![t],
            notes: vec![
                "rough params = L·(4h² + 2·h·(m·h) + 4h) + V·h; kv cache = L·B·s·k·d·2·bytes (the lesson's formulas; MB/GB are 1024-based as in the lesson)".into(),
            ],
        }
    }

    /// The lesson's own layout when nothing was varied, so the output matches it
    /// byte for byte; a table of every combination otherwise.
    fn custom_text(&self) -> Option<String> {
        if self.varied {
            return None;
        }
        let mut out = String::new();
        for r in &self.rows {
            out.push_str(&"-".repeat(60));
            out.push('\n');
            out.push_str(&format!("model : {}\n", r.config.name));
            out.push_str(&format!(
                "rough params: {}\n",
                lesson_params(r.estimate.params)
            ));
            out.push_str(&format!(
                "kv cache : {}\n",
                lesson_bytes(r.estimate.kv_cache_bytes)
            ));
        }
        Some(out)
    }
}

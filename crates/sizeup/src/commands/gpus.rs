//! `sizeup gpus`: the accelerator catalog, every figure with its source.

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_core::hardware::{self, Accelerator};
use sizeup_formats::file::{escape, read_text, MAX_TEXT_BYTES};

use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup gpus`.
#[derive(Debug, Args, Serialize)]
pub struct GpusArgs {
    /// Only accelerators whose name, alias or vendor contains this text
    #[arg(long)]
    pub filter: Option<String>,
    /// Also list the accelerator described in this TOML file (the catalog's fields at top level)
    #[arg(long, value_name = "FILE")]
    pub gpu_file: Option<String>,
}

/// What `sizeup gpus` reports.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(schemars::JsonSchema))]
pub struct GpusReport {
    /// The accelerators, catalog order, a user file's last.
    pub accelerators: Vec<Accelerator>,
}

/// Read a user accelerator file.
pub fn read_gpu_file(path: &str) -> Result<Accelerator, AppError> {
    let text =
        read_text(std::path::Path::new(path), MAX_TEXT_BYTES).map_err(|e| AppError::Usage {
            flag: "--gpu-file",
            value: escape(path),
            problem: e.to_string(),
            hint: None,
        })?;
    Accelerator::from_toml_str(&text).map_err(|e| AppError::Usage {
        flag: "--gpu-file",
        value: escape(path),
        problem: e.to_string(),
        hint: Some("the file holds the fields of one `sizeup gpus --format json` entry, in TOML at top level".into()),
    })
}

/// List the catalog.
pub fn run(args: &GpusArgs) -> Result<GpusReport, AppError> {
    let needle = args.filter.as_deref().map(str::to_ascii_lowercase);
    let mut accelerators: Vec<Accelerator> = hardware::catalog()
        .iter()
        .filter(|a| match &needle {
            None => true,
            Some(n) => {
                a.vendor.to_ascii_lowercase().contains(n)
                    || std::iter::once(&a.name)
                        .chain(&a.aliases)
                        .any(|s| s.to_ascii_lowercase().contains(n))
            }
        })
        .cloned()
        .collect();
    if let Some(path) = &args.gpu_file {
        accelerators.push(read_gpu_file(path)?);
    }
    Ok(GpusReport { accelerators })
}

impl Report for GpusReport {
    fn view(&self, _units: ByteUnits) -> View {
        let mut t = Table::new(
            Some("Accelerators: dense peaks (no sparsity), one-direction link bandwidth"),
            &[
                ("name", "name"),
                ("memory", "memory_bytes"),
                ("usable", "usable_memory_bytes"),
                ("bandwidth", "memory_bandwidth_bytes_per_sec"),
                ("bf16", "bf16_flops"),
                ("fp8", "fp8_flops"),
                ("int8", "int8_ops"),
                ("fp4", "fp4_flops"),
                ("link", "interconnect_bytes_per_sec"),
                ("SMs", "sm_count"),
                ("$/h", "price_per_hour_usd"),
            ],
        );
        let rate =
            |x: Option<f64>, unit: &'static str| x.map_or(Cell::Empty, |v| Cell::Number(v, unit));
        let mut sources = vec!["sources:".to_string()];
        for a in &self.accelerators {
            let p = &a.peak_flops;
            t.row(vec![
                Cell::Text(a.name.clone()),
                Cell::Bytes(a.memory_bytes),
                a.usable_memory_bytes.map_or(Cell::Empty, Cell::Bytes),
                Cell::Rate(a.memory_bandwidth_bytes_per_sec, "B/s"),
                rate_cell(p.bf16, "FLOP/s"),
                rate_cell(p.fp8, "FLOP/s"),
                rate_cell(p.int8, "OP/s"),
                rate_cell(p.fp4, "FLOP/s"),
                a.interconnect_bytes_per_sec
                    .map_or(Cell::Text("none".into()), |b| Cell::Rate(b, "B/s")),
                a.sm_count.map_or(Cell::Empty, Cell::Exact),
                rate(a.price_per_hour_usd, ""),
            ]);
            sources.push(format!("  {}: {}", a.name, a.source));
            if let Some(u) = &a.usable_memory_source {
                sources.push(format!("  {} usable memory: {u}", a.name));
            }
        }
        View {
            tables: vec![t],
            notes: sources,
        }
    }
}

fn rate_cell(x: Option<f64>, unit: &'static str) -> Cell {
    x.map_or(Cell::Empty, |v| Cell::Rate(v, unit))
}

//! `sizeup inspect PATH`: the tensors a checkpoint really holds, grouped by role.

use std::path::Path;

use clap::Args;
use serde::{Deserialize, Serialize};
use sizeup_formats::tensors::{Role, TensorTable};
use sizeup_formats::{gguf, safetensors};

use crate::error::AppError;
use crate::humanize::ByteUnits;
use crate::render::{Cell, Report, Table, View};

/// Flags of `sizeup inspect`.
#[derive(Debug, Args, Serialize)]
pub struct InspectArgs {
    /// A `.gguf` file, a `.safetensors` file or index, a checkpoint folder, or `hf:ORG/NAME[@REVISION]`
    #[arg(value_name = "PATH")]
    pub path: String,
    /// List every tensor, not only the totals per role and dtype
    #[arg(long)]
    pub tensors: bool,
}

/// What `sizeup inspect` reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct InspectReport {
    /// What was read.
    pub source: String,
    /// Every tensor (always in JSON), with totals per role and per dtype.
    pub table: TensorTable,
    /// Whether the human formats list every tensor.
    #[serde(skip)]
    list_tensors: bool,
}

fn read_table(spec: &str) -> Result<TensorTable, AppError> {
    #[cfg(feature = "hub")]
    {
        use sizeup_formats::hub::{Hub, HubConfig};
        // `hf:ORG/NAME[@REV]`, or a bare `ORG/NAME` that is not a local path
        if let Some((r, _)) = sizeup_formats::source::hub_spec(spec) {
            let r = r.map_err(sizeup_formats::FormatError::from)?;
            let fetched = Hub::new(HubConfig::from_env())
                .fetch(&r)
                .map_err(sizeup_formats::FormatError::from)?;
            return Ok(fetched.checkpoint.table);
        }
    }
    let path = Path::new(spec);
    let gguf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    let table = if gguf {
        gguf::read_path(path)
            .and_then(|f| f.tensor_table())
            .map_err(sizeup_formats::FormatError::from)?
    } else {
        safetensors::read_checkpoint(path)
            .map_err(sizeup_formats::FormatError::from)?
            .table
    };
    Ok(table)
}

/// Read the headers and tabulate the tensors.
pub fn run(args: &InspectArgs) -> Result<InspectReport, AppError> {
    Ok(InspectReport {
        source: args.path.clone(),
        table: read_table(&args.path)?,
        list_tensors: args.tensors,
    })
}

fn role_name(r: Role) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{r:?}"))
}

impl Report for InspectReport {
    fn view(&self, _units: ByteUnits) -> View {
        let t = &self.table;
        let mut roles = Table::new(
            Some(&format!("{}: {} tensors", self.source, t.tensors.len())),
            &[
                ("role", "role"),
                ("tensors", "tensors"),
                ("params", "params"),
                ("bytes", "bytes"),
            ],
        );
        for (role, totals) in &t.by_role {
            roles.row(vec![
                Cell::Text(role_name(*role)),
                Cell::Exact(totals.tensors),
                Cell::Exact(totals.params),
                Cell::Bytes(totals.bytes),
            ]);
        }
        roles.row(vec![
            Cell::Text("total (parameters)".into()),
            Cell::Exact(t.tensors.len() as u64),
            Cell::Exact(t.params),
            Cell::Bytes(t.bytes),
        ]);
        let mut dtypes = Table::new(
            Some("by dtype"),
            &[
                ("dtype", "dtype"),
                ("tensors", "tensors"),
                ("params", "params"),
                ("bytes", "bytes"),
            ],
        );
        for (dtype, totals) in &t.by_dtype {
            dtypes.row(vec![
                Cell::Text(dtype.to_string()),
                Cell::Exact(totals.tensors),
                Cell::Exact(totals.params),
                Cell::Bytes(totals.bytes),
            ]);
        }
        let mut tables = vec![roles, dtypes];
        if self.list_tensors {
            let mut list = Table::new(
                Some("tensors"),
                &[
                    ("name", "name"),
                    ("role", "role"),
                    ("dtype", "dtype"),
                    ("shape", "shape"),
                    ("params", "params"),
                    ("bytes", "bytes"),
                ],
            );
            for x in &t.tensors {
                let shape: Vec<String> = x.shape.iter().map(u64::to_string).collect();
                list.row(vec![
                    Cell::Text(x.name.clone()),
                    Cell::Text(role_name(x.role)),
                    Cell::Text(x.dtype.to_string()),
                    Cell::Text(format!("[{}]", shape.join(", "))),
                    Cell::Exact(x.params),
                    Cell::Bytes(x.bytes),
                ]);
            }
            tables.push(list);
        }
        View {
            tables,
            notes: vec![
                "packed quantized tensors count the parameters they hold; quantization scales and buffers are listed as their own roles and not counted as parameters".into(),
            ],
        }
    }
}

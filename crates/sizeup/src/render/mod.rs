//! Writers: every report becomes text here, and only here.
//!
//! A report is serialized to JSON by serde, and viewed as [`Table`]s for the
//! terminal table, Markdown and CSV, so a column added once appears in all three
//! (the drift hyperfine's hand-kept CSV columns warn about). Writers are pure:
//! they return a `String`; `main` alone decides where it goes.

mod csv;
mod markdown;
mod text;

use serde::Serialize;

use crate::humanize::{self, ByteUnits};

/// The output formats every command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for the terminal.
    #[default]
    Table,
    /// The whole report as JSON, exact base units.
    Json,
    /// The main table as CSV, exact base units.
    Csv,
    /// The tables as GitHub-flavoured Markdown.
    Markdown,
}

/// One typed cell: its exact value, humanized only by the human formats.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A count (parameters, tokens).
    Count(u64),
    /// A count shown exactly, with separators, in human formats.
    Exact(u64),
    /// Bytes.
    Bytes(u64),
    /// Seconds.
    Seconds(f64),
    /// A fraction shown as a percentage.
    Ratio(f64),
    /// A number with a unit (`tokens/s`), shown with three significant figures.
    Number(f64, &'static str),
    /// A rate shown with SI prefixes and a unit (`3.35 TB/s`, `989 TFLOP/s`).
    Rate(f64, &'static str),
    /// An exact count shown with a label of the caller's choosing (the lesson's `1.31B`).
    Labeled(u64, String),
    /// Text.
    Text(String),
    /// Nothing to show.
    Empty,
}

impl Cell {
    /// Text for people.
    pub fn human(&self, units: ByteUnits) -> String {
        match self {
            Cell::Count(n) => humanize::count(*n),
            Cell::Exact(n) => humanize::grouped(*n),
            Cell::Bytes(n) => humanize::bytes(*n, units),
            Cell::Seconds(s) => humanize::seconds(*s),
            Cell::Ratio(r) => humanize::percent(*r),
            Cell::Number(x, "") => humanize::sig3(*x),
            Cell::Number(x, unit) => format!("{} {unit}", humanize::sig3(*x)),
            Cell::Rate(x, unit) => humanize::rate(*x, unit),
            Cell::Text(t) | Cell::Labeled(_, t) => t.clone(),
            Cell::Empty => String::new(),
        }
    }

    /// Exact text for machines: base units, no rounding.
    pub fn exact(&self) -> String {
        match self {
            Cell::Count(n) | Cell::Exact(n) | Cell::Bytes(n) | Cell::Labeled(n, _) => n.to_string(),
            Cell::Seconds(x) | Cell::Ratio(x) | Cell::Number(x, _) | Cell::Rate(x, _) => {
                x.to_string()
            }
            Cell::Text(t) => t.clone(),
            Cell::Empty => String::new(),
        }
    }

    fn is_numeric(&self) -> bool {
        !matches!(self, Cell::Text(_) | Cell::Empty)
    }
}

/// A titled table: column names and typed rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Shown above the table in human formats.
    pub title: Option<String>,
    /// Column headers for human formats.
    pub columns: Vec<String>,
    /// Column names for CSV (base units in the name, `kv_cache_bytes`).
    pub keys: Vec<String>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table whose columns are `(header, csv_key)` pairs.
    pub fn new(title: Option<&str>, columns: &[(&str, &str)]) -> Table {
        Table {
            title: title.map(str::to_string),
            columns: columns.iter().map(|(c, _)| c.to_string()).collect(),
            keys: columns.iter().map(|(_, k)| k.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Append a row.
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }
}

/// A report as people see it: tables, then notes (the assumptions).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    /// The tables, main one first (CSV writes the first).
    pub tables: Vec<Table>,
    /// Lines printed after the tables: assumptions, warnings, verdicts.
    pub notes: Vec<String>,
}

/// Every command's report: serializable, and viewable as tables.
pub trait Report: Serialize {
    /// The human view, byte counts in notes and text cells written in `units`
    /// (typed `Cell::Bytes` cells are humanized by the writers).
    fn view(&self, units: ByteUnits) -> View;

    /// A command-specific table rendering, used instead of the generic one
    /// (only `rough`, which must print the lesson's own layout).
    fn custom_text(&self) -> Option<String> {
        None
    }
}

/// A writer failed (serialization of a report; never the destination).
pub type RenderError = Box<dyn std::error::Error + Send + Sync>;

/// `text` safe for a terminal: every control character but the line break shown
/// escaped (`\u{1b}`), so that a tensor name or path from a hostile file cannot
/// move the cursor, recolor or retitle the terminal it is printed to. JSON needs
/// no such step (serde escapes control characters).
pub fn printable(text: String) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Render `report` in `format`; human formats pass through [`printable`].
pub fn render<R: Report>(
    report: &R,
    format: Format,
    units: ByteUnits,
) -> Result<String, RenderError> {
    Ok(match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s
        }
        Format::Table => printable(match report.custom_text() {
            Some(text) => text,
            None => text::render(&report.view(units), units),
        }),
        Format::Markdown => printable(markdown::render(&report.view(units), units)),
        Format::Csv => printable(csv::render(&report.view(units))?),
    })
}

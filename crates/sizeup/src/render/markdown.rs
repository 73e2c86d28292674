//! GitHub-flavoured Markdown tables.

use super::{Cell, View};
use crate::humanize::ByteUnits;

/// Render tables as Markdown, numbers right-aligned, notes as a list.
pub fn render(view: &View, units: ByteUnits) -> String {
    let mut out = String::new();
    for table in &view.tables {
        if let Some(title) = &table.title {
            out.push_str(&format!("**{}**\n\n", escape(title)));
        }
        let header: Vec<String> = table.columns.iter().map(|c| escape(c)).collect();
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        let align: Vec<&str> = (0..table.columns.len())
            .map(|j| {
                if table
                    .rows
                    .iter()
                    .any(|r| r.get(j).is_some_and(Cell::is_numeric))
                {
                    "---:"
                } else {
                    "---"
                }
            })
            .collect();
        out.push_str(&format!("|{}|\n", align.join("|")));
        for row in &table.rows {
            let cells: Vec<String> = row.iter().map(|c| escape(&c.human(units))).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push('\n');
    }
    for note in &view.notes {
        out.push_str(&format!("- {}\n", escape(note.trim_start())));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

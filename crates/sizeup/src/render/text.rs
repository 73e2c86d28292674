//! Aligned columns for the terminal.

use super::{Cell, View};
use crate::humanize::ByteUnits;

/// Render tables with space-aligned columns, numbers right-aligned, then the notes.
pub fn render(view: &View, units: ByteUnits) -> String {
    let mut out = String::new();
    for (i, table) in view.tables.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(title) = &table.title {
            out.push_str(title);
            out.push('\n');
        }
        let cells: Vec<Vec<String>> = table
            .rows
            .iter()
            .map(|r| r.iter().map(|c| c.human(units)).collect())
            .collect();
        let mut widths: Vec<usize> = table.columns.iter().map(|c| c.chars().count()).collect();
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        // A column of numbers aligns right so the digits line up; a column that
        // mixes numbers and text (a key-value table) aligns left.
        let header_right: Vec<bool> = (0..table.columns.len())
            .map(|j| {
                let mut cells = table
                    .rows
                    .iter()
                    .filter_map(|r| r.get(j))
                    .filter(|c| **c != Cell::Empty);
                let first = cells.next();
                first.is_some_and(Cell::is_numeric) && cells.all(Cell::is_numeric)
            })
            .collect();
        let line = |values: &[String], right: &[bool]| -> String {
            let parts: Vec<String> = values
                .iter()
                .zip(&widths)
                .zip(right)
                .map(|((v, w), r)| {
                    let pad = w.saturating_sub(v.chars().count());
                    if *r {
                        format!("{}{v}", " ".repeat(pad))
                    } else {
                        format!("{v}{}", " ".repeat(pad))
                    }
                })
                .collect();
            format!("{}\n", parts.join("  ").trim_end())
        };
        if table.columns.iter().any(|c| !c.is_empty()) {
            out.push_str(&line(&table.columns, &header_right));
            let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
            out.push_str(&format!("{}\n", rule.join("  ")));
        }
        for row in &cells {
            out.push_str(&line(row, &header_right));
        }
    }
    if !view.notes.is_empty() {
        out.push('\n');
        for note in &view.notes {
            out.push_str(note);
            out.push('\n');
        }
    }
    out
}

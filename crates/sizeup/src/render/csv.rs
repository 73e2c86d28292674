//! CSV of the main table, exact base units.

use super::{RenderError, View};

/// Render the first table as CSV with its base-unit keys as the header.
pub fn render(view: &View) -> Result<String, RenderError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(table) = view.tables.first() {
        w.write_record(&table.keys)?;
        for row in &table.rows {
            w.write_record(row.iter().map(|c| c.exact()))?;
        }
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| e.into_error())?,
    )?)
}

//! The native half of the `sizeup` Python package: two functions over the `sizeup`
//! library. The Python layer (`python/sizeup/__init__.py`) builds the command
//! line from keyword arguments and wraps the JSON in result objects.

use pyo3::prelude::*;

/// Run one `sizeup` command line (without the program name) and return
/// `(ok, text, usage)`: the JSON report when `ok`, else the CLI's rendered error
/// and whether the command line itself was refused.
///
/// `config_name`/`config_text` lend an in-memory `config.json`: a MODEL argument
/// equal to `config_name` reads `config_text`.
#[pyfunction]
#[pyo3(signature = (args, config_name=None, config_text=None))]
fn run_json(
    py: Python<'_>,
    args: Vec<String>,
    config_name: Option<String>,
    config_text: Option<String>,
) -> (bool, String, bool) {
    let inline = match (config_name, config_text) {
        (Some(name), Some(text)) => Some(sizeup::InlineConfig { name, text }),
        _ => None,
    };
    // The estimates hold no Python object: let other Python threads run.
    py.allow_threads(|| match sizeup::run_json_with(&args, inline.as_ref()) {
        Ok(json) => (true, json, false),
        Err(failure) => (false, failure.message, failure.usage),
    })
}

/// Run the `sizeup` command line `argv` (program name first) as the binary does,
/// printing to the process's stdout and stderr; return the exit status.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.allow_threads(|| sizeup::main_with_args(argv))
}

/// The native module `sizeup._sizeup`.
#[pymodule]
fn _sizeup(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_json, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

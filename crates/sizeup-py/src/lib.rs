//! The native half of the `sizeup` Python package, a shell over the library's
//! typed surface (`sizeup::api`): keyword arguments become a command's request
//! fields (read through the same flag definitions as the command line), the
//! command runs, and its response comes back as Python objects, the data the
//! CLI prints as JSON. The Python layer (`python/sizeup/__init__.py`) wraps it
//! in typed result classes generated from [`response_schemas`].

mod from_python;
mod to_python;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;
use sizeup::api::{
    self, ByteUnits, CardRequest, Diagnostic, Estimate, GpusRequest, InferRequest, KvRequest,
    ModelsRequest, ParamsRequest, PlanServeRequest, PlanTrainRequest, SweepRequest, TrainRequest,
    CONFIG_FIELD,
};

use crate::from_python::{to_value, Other, Refused};
use crate::to_python::to_python;

/// A request's fields, by name, as [`Estimate::from_fields`] reads them.
type Fields = Vec<(String, Value)>;

/// One command the package answers.
struct Command {
    /// The request type's command (`params`; `plan train`).
    name: &'static str,
    /// Its response type, as `sizeup::api` names it (the Python class).
    response: &'static str,
    /// Read the fields, run the command, and answer in Python objects.
    call: for<'py> fn(Python<'py>, Fields) -> PyResult<Bound<'py, PyAny>>,
    /// The response's JSON Schema (a `$ref` into the generator's definitions).
    schema: fn(&mut SchemaGenerator) -> Schema,
}

/// The command of request type `T`.
const fn command<T: Answered>(response: &'static str) -> Command {
    Command {
        name: T::COMMAND,
        response,
        call: call::<T>,
        schema: |g| g.subschema_for::<T::Response>(),
    }
}

/// Every command the Python functions call.
const COMMANDS: &[Command] = &[
    command::<ParamsRequest>("ParamsResponse"),
    command::<KvRequest>("KvResponse"),
    command::<InferRequest>("InferResponse"),
    command::<TrainRequest>("TrainResponse"),
    command::<CardRequest>("CardResponse"),
    command::<PlanTrainRequest>("PlanTrainResponse"),
    command::<PlanServeRequest>("PlanServeResponse"),
    command::<SweepRequest>("SweepResponse"),
    command::<ModelsRequest>("ModelsResponse"),
    command::<GpusRequest>("GpusResponse"),
];

/// A request type the package answers, and what it does beside answering.
trait Answered: Estimate<Response: Send + JsonSchema> + Send {
    /// Act on the response where the CLI does more than print it.
    ///
    /// # Errors
    /// What the CLI reports for the same step.
    fn after(&self, _response: &Self::Response) -> Result<(), api::Error> {
        Ok(())
    }
}

impl Answered for ParamsRequest {}
impl Answered for KvRequest {}
impl Answered for InferRequest {}
impl Answered for TrainRequest {}
impl Answered for CardRequest {}
impl Answered for PlanTrainRequest {}
impl Answered for ModelsRequest {}
impl Answered for GpusRequest {}

impl Answered for SweepRequest {
    /// `chart="kv.svg"` writes the chart, as `--chart` does.
    fn after(&self, response: &Self::Response) -> Result<(), api::Error> {
        let Some(path) = &self.chart else {
            return Ok(());
        };
        let bytes = api::sweep_chart(path, self, response, ByteUnits::Binary)?;
        api::write_chart(path, &bytes)
    }
}

impl Answered for PlanServeRequest {
    /// `chart="front.svg"` writes the Pareto chart, as `--chart` does.
    fn after(&self, response: &Self::Response) -> Result<(), api::Error> {
        let Some(path) = &self.chart else {
            return Ok(());
        };
        api::write_chart(path, &api::plan_serve_chart(path, response)?)
    }
}

/// Why a call gave no response: the parts of the CLI's message.
#[derive(Debug, Serialize)]
struct Problem {
    /// The whole text, as the CLI prints it on stderr.
    message: String,
    /// The headline, without `error: `.
    error: String,
    /// The request field at fault (`tp`), when one is.
    field: Option<String>,
    /// The `Caused by:` chain.
    causes: Vec<String>,
    /// What to do.
    hints: Vec<String>,
}

impl Problem {
    fn new(d: Diagnostic, field: Option<String>) -> Problem {
        Problem {
            message: d.render(),
            error: d.error,
            field,
            causes: d.causes,
            hints: d.hints,
        }
    }
}

/// `(True, response)` or `(False, problem)` for request type `T`.
fn call<'py, T: Answered>(py: Python<'py>, fields: Fields) -> PyResult<Bound<'py, PyAny>> {
    // The estimate holds no Python object: other Python threads run meanwhile.
    let answer = py.allow_threads(move || {
        let request =
            T::from_fields(fields).map_err(|e| Problem::new(e.diagnose(), e.field.clone()))?;
        let response = request
            .estimate()
            .map_err(|e| Problem::new(e.diagnose(), e.field()))?;
        request
            .after(&response)
            .map_err(|e| Problem::new(e.diagnose(), e.field()))?;
        Ok::<_, Problem>(response)
    });
    let (ok, value) = match answer {
        Ok(response) => (true, to_python(py, &response)?),
        Err(problem) => (false, to_python(py, &problem)?),
    };
    Ok(PyTuple::new(py, [ok.into_pyobject(py)?.to_owned().into_any(), value])?.into_any())
}

/// Run `command` (`"params"`, `"plan train"`) with the request `fields` (the
/// keyword arguments: names as the flags without dashes, `config` a
/// `config.json` as a `dict`) and return `(True, response)`, or `(False,
/// problem)` where the problem holds the CLI's message in parts (`message`,
/// `error`, `field`, `causes`, `hints`).
#[pyfunction]
fn estimate<'py>(
    py: Python<'py>,
    command: &str,
    fields: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(c) = COMMANDS.iter().find(|c| c.name == command) else {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        return Err(PyValueError::new_err(format!(
            "`{command}` is not a command of the package; it has: {}",
            names.join(", ")
        )));
    };
    let mut read = Vec::with_capacity(fields.len());
    for (name, value) in fields.iter() {
        let name: String = name.extract()?;
        // a `config.json` may hold what JSON cannot (a `torch.dtype`): as its text
        let other = if name == CONFIG_FIELD {
            Other::Text
        } else {
            Other::Refuse
        };
        match to_value(&value, other) {
            Ok(v) => read.push((name, v)),
            Err(Refused::Python(e)) => return Err(e),
            Err(Refused::Type(ty)) => {
                let d = Diagnostic {
                    error: format!(
                        "`{name}` takes a string, number, boolean, path or a list of them, not a `{ty}`"
                    ),
                    causes: Vec::new(),
                    hints: Vec::new(),
                };
                let problem = to_python(py, &Problem::new(d, Some(name)))?;
                let ok = false.into_pyobject(py)?.to_owned().into_any();
                return Ok(PyTuple::new(py, [ok, problem])?.into_any());
            }
        }
    }
    (c.call)(py, read)
}

/// The JSON Schema (2020-12) of every response, for the stub generator
/// (`tools/gen_stubs.py`): `{"commands": [{"command", "response", "schema"}],
/// "$defs": {...}}`, each `schema` a `$ref` into `$defs`.
#[pyfunction]
fn response_schemas(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let commands: Vec<Value> = COMMANDS
        .iter()
        .map(|c| {
            serde_json::json!({
                "command": c.name,
                "response": c.response,
                "schema": (c.schema)(&mut generator).to_value(),
            })
        })
        .collect();
    let defs = generator.take_definitions(true);
    to_python(
        py,
        &serde_json::json!({"commands": commands, "$defs": defs}),
    )
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
    m.add_function(wrap_pyfunction!(estimate, m)?)?;
    m.add_function(wrap_pyfunction!(response_schemas, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! Keyword arguments as request fields: a Python value becomes the JSON value a
//! request is read from (`sizeup::api`), which its flag's door then checks.
//!
//! `None` is `null` (the flag left out), `bool` a boolean, `int` and `str`
//! themselves, a `float` with no fraction an integer (`tokens=1e12` is
//! `--tokens 1000000000000`), a path its text, a `list` or `tuple` an array (a
//! flag given once per item), a `dict` an object (a `config.json`).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Floats below this magnitude with no fraction are integers (2⁶³).
const INTEGRAL_FLOAT_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// A value with no JSON form.
#[derive(Debug)]
pub enum Refused {
    /// Python raised while the value was read.
    Python(PyErr),
    /// The type of the value (`set`, `object`).
    Type(String),
}

impl From<PyErr> for Refused {
    fn from(e: PyErr) -> Refused {
        Refused::Python(e)
    }
}

/// What becomes of a value with no JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Other {
    /// Refuse it: a flag's value.
    Refuse,
    /// Its `str()`: a `PretrainedConfig.to_dict()` may hold a `torch.dtype`,
    /// which `config.json` writes as its name.
    Text,
}

/// `v` as a JSON value.
///
/// # Errors
/// [`Refused::Type`] for a value with no JSON form under [`Other::Refuse`].
pub fn to_value(v: &Bound<'_, PyAny>, other: Other) -> Result<Value, Refused> {
    nested(v, other, 0)
}

/// Lists and dicts nested deeper than this are refused: serde_json's own parser
/// stops at 128 levels, and a list that holds itself would recurse forever.
const MAX_DEPTH: usize = 128;

fn nested(v: &Bound<'_, PyAny>, other: Other, depth: usize) -> Result<Value, Refused> {
    if depth > MAX_DEPTH {
        return Err(Refused::Type(format!(
            "{} nested more than {MAX_DEPTH} levels deep",
            type_name(v)
        )));
    }
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.downcast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(i.into());
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(u.into());
        }
        // beyond 64 bits: the digits, which the flag's door refuses by name
        return Ok(Value::String(v.str()?.to_cow()?.into_owned()));
    }
    if let Ok(f) = v.downcast::<PyFloat>() {
        let x = f.value();
        if x.fract() == 0.0 && x.abs() < INTEGRAL_FLOAT_LIMIT {
            #[allow(clippy::cast_possible_truncation)] // integral and inside i64
            return Ok((x as i64).into());
        }
        return Ok(match Number::from_f64(x) {
            Some(n) => Value::Number(n),
            // `inf`, `nan`: the door says what it takes instead
            None => Value::String(v.str()?.to_cow()?.into_owned()),
        });
    }
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if v.hasattr("__fspath__")? {
        let path = v.call_method0("__fspath__")?;
        return Ok(Value::String(path.str()?.to_cow()?.into_owned()));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        return v
            .try_iter()?
            .map(|item| nested(&item?, other, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Ok(d) = v.downcast::<PyDict>() {
        let mut map = Map::new();
        for (k, item) in d.iter() {
            let key = match k.downcast::<PyString>() {
                Ok(s) => s.to_cow()?.into_owned(),
                Err(_) if other == Other::Text => k.str()?.to_cow()?.into_owned(),
                Err(_) => return Err(Refused::Type(type_name(&k))),
            };
            map.insert(key, nested(&item, other, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    match other {
        Other::Text => Ok(Value::String(v.str()?.to_cow()?.into_owned())),
        Other::Refuse => Err(Refused::Type(type_name(v))),
    }
}

/// The name of `v`'s type, for a message.
fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "object".into())
}

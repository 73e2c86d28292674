//! Requests from fields: a request's fields become its command's flags, parsed
//! by the same clap definition as the command line.
//!
//! A field is named as its flag without the dashes (`--seq-len` is `seq_len`,
//! the MODEL argument is `model`, `--as` is `as`), so every door check, default
//! and conflict rule of the CLI applies to a request read from JSON unchanged.
//! A `config` field carries a `config.json` (its text or the object itself) to
//! read instead of MODEL, which then only names it.
//!
//! A field equal to its default is not passed as a flag: a request written out
//! whole (every field, defaults included) reads back as itself, even where a flag
//! may only be given beside another (`requests` beside `rate`).

use std::sync::Arc;

use clap::{ArgAction, Command};
use serde::Serializer;
use serde_json::Value;

use super::Estimate;
use crate::model::ModelSource;

/// The request field that carries a `config.json` (its text, or the object itself).
pub const CONFIG_FIELD: &str = "config";

/// The largest `config.json` a request may carry, as for a file on disk.
pub const MAX_CONFIG_BYTES: u64 = sizeup_formats::file::MAX_CONFIG_BYTES;

/// A request the flags' doors refused, named by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The field at fault (`tp`), when one is.
    pub field: Option<String>,
    /// What is wrong, as the CLI says it (flags named as typed: `--tp`).
    pub error: String,
    /// What to do.
    pub hints: Vec<String>,
    /// The `config` field holds more than [`MAX_CONFIG_BYTES`].
    pub too_large: bool,
}

impl RequestError {
    /// An error about one field.
    pub fn new(field: Option<&str>, error: String, hints: Vec<String>) -> RequestError {
        RequestError {
            field: field.map(str::to_string),
            error,
            hints,
            too_large: false,
        }
    }

    /// clap's error: its first line (which names the flag), and its tips as hints.
    fn from_clap(err: &clap::Error) -> RequestError {
        let text = err.render().to_string();
        let mut lines = text.lines();
        // the first paragraph (`the following required arguments were not
        // provided:` goes on with the flags, one a line)
        let error = lines
            .by_ref()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim_start_matches("error: ")
            .to_string();
        let hints = lines
            .filter_map(|l| l.trim().strip_prefix("tip: "))
            .map(str::to_string)
            .collect();
        // the doors build their own errors, which name the flag in the text only
        let field = match err.get(clap::error::ContextKind::InvalidArg) {
            Some(clap::error::ContextValue::String(arg)) => Some(field_name(arg)),
            _ => error
                .split_once("'--")
                .map(|(_, rest)| field_name(rest.split(['\'', ' ']).next().unwrap_or(rest))),
        };
        RequestError {
            field,
            error,
            hints,
            too_large: false,
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        for hint in &self.hints {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RequestError {}

/// `tp` for `--tp <TP>`, `seq_len` for `--seq-len`, `model` for `<MODEL>`.
pub fn field_name(arg: &str) -> String {
    let name = arg.split_whitespace().next().unwrap_or(arg);
    let name = name
        .trim_start_matches('-')
        .trim_matches(|c| c == '<' || c == '>')
        .to_ascii_lowercase();
    name.replace('-', "_")
}

/// How a field reaches the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The request field (`seq_len`).
    pub name: String,
    /// The flag (`--seq-len`), or `None` for the MODEL argument.
    pub flag: Option<String>,
    /// A switch: present or absent.
    pub switch: bool,
    /// May be given several times (a JSON array).
    pub repeated: bool,
    /// The help line.
    pub help: String,
    /// The default, as the CLI shows it.
    pub default: Option<String>,
    /// The values allowed, when the flag lists them.
    pub choices: Vec<String>,
    /// Must be given.
    pub required: bool,
}

/// The clap command of request type `T`: its flags alone, as the CLI's
/// subcommand defines them (no `--help`, `--format` or `--si`).
pub fn command<T: Estimate>() -> Command {
    let mut cmd = T::augment_args(Command::new(T::COMMAND))
        .no_binary_name(true)
        .disable_help_flag(true);
    cmd.build();
    cmd
}

/// The fields request type `T` takes, in its flags' order.
pub fn fields<T: Estimate>() -> Vec<Field> {
    fields_of(&command::<T>())
}

fn fields_of(cmd: &Command) -> Vec<Field> {
    cmd.get_arguments()
        .filter_map(|arg| {
            let name = match arg.get_long() {
                Some(long) => long.replace('-', "_"),
                None if arg.is_positional() => arg.get_id().as_str().to_string(),
                None => return None,
            };
            let action = arg.get_action();
            Some(Field {
                flag: arg.get_long().map(|l| format!("--{l}")),
                switch: matches!(action, ArgAction::SetTrue),
                repeated: matches!(action, ArgAction::Append),
                help: arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                default: Some(
                    arg.get_default_values()
                        .iter()
                        .map(|v| v.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(","),
                )
                .filter(|d| !d.is_empty() && !matches!(action, ArgAction::SetTrue)),
                choices: arg
                    .get_possible_values()
                    .iter()
                    .filter(|v| !v.is_hide_set())
                    .map(|v| v.get_name().to_string())
                    .collect(),
                required: arg.is_required_set(),
                name,
            })
        })
        .collect()
}

/// Read a request of type `T` from its fields, through its flags' doors.
pub fn parse<T: Estimate>(
    given: impl IntoIterator<Item = (String, Value)>,
) -> Result<T, RequestError> {
    let cmd = command::<T>();
    let known = fields_of(&cmd);
    let mut given: Vec<(String, Value)> = given.into_iter().collect();
    let config = match given.iter().position(|(n, _)| n == CONFIG_FIELD) {
        Some(i) if known.iter().any(|f| f.flag.is_none() && f.name == "model") => {
            Some(config_text(given.remove(i).1)?)
        }
        _ => None,
    };
    for (name, _) in &given {
        if !known.iter().any(|f| &f.name == name) {
            return Err(unknown_field::<T>(name, &known));
        }
    }
    // a field that equals its default stays out: parse once with the required
    // fields alone to learn the defaults
    let required = |name: &str| {
        known
            .iter()
            .any(|f| f.name == name && (f.required || f.flag.is_none()))
    };
    let given_required = given.iter().filter(|(n, _)| required(n)).cloned();
    let defaults = argv(&known, given_required.collect(), config.is_some())
        .ok()
        .and_then(|a| cmd.clone().try_get_matches_from(a).ok())
        .and_then(|m| T::from_arg_matches(&m).ok())
        .and_then(|t| serde_json::to_value(t).ok());
    if let Some(Value::Object(defaults)) = defaults {
        given.retain(|(n, v)| required(n) || defaults.get(n) != Some(v));
    }
    let argv = argv(&known, given, config.is_some())?;
    let matches = cmd
        .try_get_matches_from(argv)
        .map_err(|e| RequestError::from_clap(&e))?;
    let mut request = T::from_arg_matches(&matches).map_err(|e| RequestError::from_clap(&e))?;
    if let (Some(text), Some(model)) = (config, request.model_mut()) {
        model.source = ModelSource::ConfigText(text);
    }
    Ok(request)
}

/// The command line of `given` fields: flags as `--flag=value` (a value that
/// starts with `-` stays a value), then `--` and MODEL.
fn argv(
    known: &[Field],
    given: Vec<(String, Value)>,
    has_config: bool,
) -> Result<Vec<String>, RequestError> {
    let mut flags = Vec::new();
    let mut model = None;
    let mut positionals = Vec::new();
    for (name, value) in given {
        let Some(field) = known.iter().find(|f| f.name == name) else {
            continue;
        };
        let Some(flag) = &field.flag else {
            if !value.is_null() {
                let value = scalar(&name, value)?;
                match name.as_str() {
                    "model" => model = Some(value),
                    _ => positionals.push(value),
                }
            }
            continue;
        };
        let values = match value {
            Value::Array(items) if field.repeated => items,
            Value::Array(_) => {
                return Err(RequestError::new(
                    Some(&name),
                    format!("`{name}` takes one value, not a list"),
                    Vec::new(),
                ))
            }
            one => vec![one],
        };
        for value in values {
            if field.switch {
                match value {
                    Value::Bool(true) => flags.push(flag.clone()),
                    Value::Bool(false) | Value::Null => {}
                    Value::String(s) if s == "true" || s.is_empty() => flags.push(flag.clone()),
                    Value::String(s) if s == "false" => {}
                    other => {
                        return Err(RequestError::new(
                            Some(&name),
                            format!("`{name}` is a switch: give true or false, not {other}"),
                            Vec::new(),
                        ))
                    }
                }
            } else if !value.is_null() {
                flags.push(format!("{flag}={}", scalar(&name, value)?));
            }
        }
    }
    // after `--`, a value that looks like a flag stays a value
    flags.push("--".into());
    if known.iter().any(|f| f.flag.is_none() && f.name == "model") {
        let name = match (model, has_config) {
            (Some(m), _) => m,
            (None, true) => "config.json".to_string(),
            (None, false) => {
                return Err(RequestError::new(
                    Some("model"),
                    "`model` is required: a catalog name (`sizeup models` lists them), or a `config` with the config.json".into(),
                    Vec::new(),
                ))
            }
        };
        flags.push(name);
    }
    flags.extend(positionals);
    Ok(flags)
}

/// A string, number or boolean as the command line writes it.
fn scalar(name: &str, value: Value) -> Result<String, RequestError> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(RequestError::new(
            Some(name),
            format!("`{name}` takes a string, number or boolean, not {other}"),
            Vec::new(),
        )),
    }
}

/// The `config.json` a request carries: its text, or the object itself.
fn config_text(value: Value) -> Result<Arc<str>, RequestError> {
    let text = match value {
        Value::String(s) => s,
        object @ Value::Object(_) => object.to_string(),
        other => {
            return Err(RequestError::new(
                Some(CONFIG_FIELD),
                format!("`config` must hold a config.json (its text or its object), not {other}"),
                Vec::new(),
            ))
        }
    };
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(RequestError {
            too_large: true,
            ..RequestError::new(
                Some(CONFIG_FIELD),
                format!(
                    "`config` holds {} bytes, more than the {MAX_CONFIG_BYTES} a config.json may have",
                    text.len()
                ),
                Vec::new(),
            )
        });
    }
    Ok(text.into())
}

fn unknown_field<T: Estimate>(name: &str, known: &[Field]) -> RequestError {
    let mut names: Vec<&str> = known.iter().map(|f| f.name.as_str()).collect();
    if known.iter().any(|f| f.flag.is_none() && f.name == "model") {
        names.push(CONFIG_FIELD);
    }
    let nearest: Vec<String> = names
        .iter()
        .filter(|n| strsim::jaro_winkler(n, name) > 0.85)
        .map(|n| format!("`{n}`"))
        .collect();
    let mut hints = Vec::new();
    if !nearest.is_empty() {
        hints.push(format!("did you mean {}?", nearest.join(" or ")));
    }
    hints.push(format!("`{}` takes: {}", T::COMMAND, names.join(", ")));
    RequestError::new(
        Some(name),
        format!("`{name}` is not a field of `{}`", T::COMMAND),
        hints,
    )
}

/// A request field whose flag reads text (`chunked:8`, `uniform:64..512`): written
/// as that text, so that it reads back through the same flag.
pub fn text<T: std::fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// [`text`] for a flag that may be left out (`null`).
pub fn text_opt<T: std::fmt::Display, S: Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// [`text`] for a flag given once per value (a JSON array).
pub fn text_list<T: std::fmt::Display, S: Serializer>(
    values: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(ToString::to_string))
}

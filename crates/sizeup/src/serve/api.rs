//! The JSON API: a request's fields become the command line of the same command,
//! parsed by the same clap tree and run by the same `run` as the CLI.
//!
//! Flags become requests in one place: a field is named as its flag without the
//! dashes (`--seq-len` is `seq_len`, the MODEL argument is `model`), so every
//! door check, default and conflict rule of the CLI applies to HTTP unchanged,
//! and the answer is byte for byte what `sizeup COMMAND … --format json` prints.
//!
//! What a server must not do is refused here: reading its own files or the
//! network (`--gpu-file`, `--chart`, a path or Hub id as MODEL: only catalog
//! names, or a `config.json` sent in the request), and sweeping without a bound
//! (`--max-work` at most [`MAX_SWEEP_WORK`]).

use std::sync::Arc;

use clap::{ArgAction, CommandFactory, Parser};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Cli, Command, ModelArg};
use crate::diagnostics;
use crate::error::AppError;
use crate::model::ModelSource;

/// The most work one sweep request may do: points × layers per point (about
/// 0.2–0.5 µs each on one core, so a few seconds at most).
pub const MAX_SWEEP_WORK: u64 = 10_000_000;

/// The largest `config.json` a request may carry, as for a file on disk.
pub const MAX_CONFIG_BYTES: u64 = sizeup_formats::file::MAX_CONFIG_BYTES;

/// One route of the API and the command that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The route (`/api/params`).
    pub path: &'static str,
    /// The subcommand that answers (`params`; `plan train` for a nested one).
    pub command: &'static str,
    /// The report type returned, as named in the code and README.
    pub report: &'static str,
}

/// Every API route that runs a command.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        path: "/api/params",
        command: "params",
        report: "ParamsReport",
    },
    Endpoint {
        path: "/api/kv",
        command: "kv",
        report: "KvReport",
    },
    Endpoint {
        path: "/api/infer",
        command: "infer",
        report: "InferReport",
    },
    Endpoint {
        path: "/api/train",
        command: "train",
        report: "TrainReport",
    },
    Endpoint {
        path: "/api/card",
        command: "card",
        report: "CardReport",
    },
    Endpoint {
        path: "/api/sweep",
        command: "sweep",
        report: "SweepReport",
    },
    Endpoint {
        path: "/api/plan",
        command: "plan train",
        report: "PlanTrainReport",
    },
    Endpoint {
        path: "/api/plan/serve",
        command: "plan serve",
        report: "PlanServeReport",
    },
    Endpoint {
        path: "/api/models",
        command: "models",
        report: "ModelsReport",
    },
    Endpoint {
        path: "/api/gpus",
        command: "gpus",
        report: "GpusReport",
    },
];

/// Flags no request may set: output shape (the API always answers JSON) and
/// anything that reads or writes a file of the server's.
pub const REFUSED_FLAGS: &[&str] = &[
    "format",
    "si",
    "gpu_file",
    "chart",
    "chart_kind",
    "help",
    "version",
    "allow_long",
    "lengths",
];

/// The most engine steps a served simulation runs (about a second at the
/// simulator's measured 1–2.5 million steps per second); more is clamped, and the
/// report's `bounds` assumption shows the cap.
pub const MAX_SIM_STEPS: u64 = 1_000_000;

/// The clap command of `words` (`plan train`), walking nested subcommands.
pub fn subcommand<'a>(cli: &'a clap::Command, words: &str) -> Option<&'a clap::Command> {
    words
        .split(' ')
        .try_fold(cli, |cmd, word| cmd.find_subcommand(word))
}

/// The request field that carries a `config.json` (text, or the JSON object itself).
pub const CONFIG_FIELD: &str = "config";

/// A request the API refused or could not answer, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    pub status: u16,
    /// What went wrong, as the CLI says it (flags named as typed: `--tp`).
    pub error: String,
    /// The request field at fault, when one is (`tp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The `Caused by:` chain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// What to do.
    pub hints: Vec<String>,
}

impl ApiError {
    /// A 400 about one field.
    fn bad(field: Option<&str>, error: String, hints: Vec<String>) -> ApiError {
        ApiError {
            status: 400,
            error,
            field: field.map(str::to_string),
            causes: Vec::new(),
            hints,
        }
    }

    /// The error with another status.
    pub fn with_status(status: u16, error: String) -> ApiError {
        ApiError {
            status,
            error,
            field: None,
            causes: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// A command's error, rendered by the CLI's one renderer.
    fn from_app(err: &AppError) -> ApiError {
        let d = diagnostics::diagnose(err);
        let status = match err {
            AppError::Usage { .. } | AppError::Core(_) | AppError::Formats(_) => 400,
            AppError::Render(_) | AppError::Chart { .. } | AppError::Write { .. } => 500,
        };
        // `--prompt + --output` names two flags: no one field is at fault
        let field = diagnostics::flag_at_fault(err)
            .filter(|f| !f.contains(' '))
            .map(field_name);
        ApiError {
            status,
            error: d.error,
            field,
            causes: d.causes,
            hints: d.hints,
        }
    }

    /// clap's error: its first line (which names the flag), and its tips as hints.
    fn from_clap(err: &clap::Error) -> ApiError {
        let text = err.render().to_string();
        let mut lines = text.lines();
        let error = lines
            .next()
            .unwrap_or_default()
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
        ApiError {
            status: 400,
            error,
            field,
            causes: Vec::new(),
            hints,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| format!("{:?}", self.error)) + "\n"
    }
}

/// `tp` for `--tp <TP>`, `seq_len` for `--seq-len`, `model` for `<MODEL>`.
fn field_name(arg: &str) -> String {
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

/// The fields an endpoint takes, from its subcommand's clap definition.
pub fn fields(endpoint: &Endpoint) -> Vec<Field> {
    let mut cli = Cli::command();
    cli.build();
    let Some(cmd) = subcommand(&cli, endpoint.command) else {
        return Vec::new();
    };
    cmd.get_arguments()
        .filter_map(|arg| {
            let name = match arg.get_long() {
                Some(long) => long.replace('-', "_"),
                None if arg.is_positional() => arg.get_id().as_str().to_string(),
                None => return None,
            };
            if REFUSED_FLAGS.contains(&name.as_str()) {
                return None;
            }
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

/// The fields of a request, in order, from a JSON object body.
pub fn fields_from_json(body: &[u8]) -> Result<Vec<(String, Value)>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
        Ok(_) => Err(ApiError::bad(
            None,
            "the request body must be a JSON object of fields".into(),
            vec!["send e.g. `{\"model\": \"llama-3.1-8b\", \"seq_len\": \"32k\"}`".into()],
        )),
        Err(e) => Err(ApiError::bad(
            None,
            format!("the request body is not valid JSON: {e}"),
            Vec::new(),
        )),
    }
}

/// The fields of a request from a query string's pairs (all strings).
pub fn fields_from_query(pairs: Vec<(String, String)>) -> Vec<(String, Value)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// What a request asks: the command line, and the `config.json` it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `sizeup COMMAND --flag=value … --format=json -- MODEL`.
    pub argv: Vec<String>,
    /// The `config.json` text sent in the request.
    pub config: Option<Arc<str>>,
}

/// Turn a request's fields into the command line of `endpoint`'s command.
pub fn call(endpoint: &Endpoint, given: Vec<(String, Value)>) -> Result<Call, ApiError> {
    let known = fields(endpoint);
    let mut flags = Vec::new();
    let mut model = None;
    let mut config = None;
    let takes_model = known.iter().any(|f| f.flag.is_none());
    for (name, value) in given {
        if name == CONFIG_FIELD && takes_model {
            config = Some(config_text(value)?);
            continue;
        }
        let Some(field) = known.iter().find(|f| f.name == name) else {
            return Err(unknown_field(endpoint, &name, &known, takes_model));
        };
        let Some(flag) = &field.flag else {
            model = Some(scalar(&name, value)?);
            continue;
        };
        let values = match value {
            Value::Array(items) if field.repeated => items,
            Value::Array(_) => {
                return Err(ApiError::bad(
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
                        return Err(ApiError::bad(
                            Some(&name),
                            format!("`{name}` is a switch: give true or false, not {other}"),
                            Vec::new(),
                        ))
                    }
                }
            } else if !value.is_null() {
                // `--flag=value`: a value starting with `-` stays a value
                flags.push(format!("{flag}={}", scalar(&name, value)?));
            }
        }
    }
    if endpoint.command == "sweep" && !known_given(&flags, "--max-work") {
        flags.push(format!("--max-work={MAX_SWEEP_WORK}"));
    }
    let mut argv = vec!["sizeup".to_string()];
    argv.extend(endpoint.command.split(' ').map(str::to_string));
    argv.extend(flags);
    argv.push("--format=json".into());
    if takes_model {
        let name = match (model, &config) {
            (Some(m), _) => m,
            (None, Some(_)) => "config.json".to_string(),
            (None, None) => {
                return Err(ApiError::bad(
                    Some("model"),
                    "`model` is required: a catalog name (`/api/models` lists them), or send a `config` with the `config.json`".into(),
                    Vec::new(),
                ))
            }
        };
        // after `--`, a name that looks like a flag stays MODEL
        argv.push("--".into());
        argv.push(name);
    }
    Ok(Call { argv, config })
}

fn known_given(flags: &[String], flag: &str) -> bool {
    flags
        .iter()
        .any(|f| f == flag || f.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
}

/// A string, number or boolean as the command line writes it.
fn scalar(name: &str, value: Value) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(ApiError::bad(
            Some(name),
            format!("`{name}` takes a string, number or boolean, not {other}"),
            Vec::new(),
        )),
    }
}

/// The `config.json` a request carries: its text, or the object itself.
fn config_text(value: Value) -> Result<Arc<str>, ApiError> {
    let text = match value {
        Value::String(s) => s,
        object @ Value::Object(_) => object.to_string(),
        other => {
            return Err(ApiError::bad(
                Some(CONFIG_FIELD),
                format!("`config` must hold a config.json (its text or its object), not {other}"),
                Vec::new(),
            ))
        }
    };
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ApiError {
            status: 413,
            ..ApiError::bad(
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

fn unknown_field(endpoint: &Endpoint, name: &str, known: &[Field], model: bool) -> ApiError {
    let mut names: Vec<&str> = known.iter().map(|f| f.name.as_str()).collect();
    if model {
        names.push(CONFIG_FIELD);
    }
    let refused = REFUSED_FLAGS.contains(&name);
    let nearest: Vec<String> = names
        .iter()
        .filter(|n| strsim::jaro_winkler(n, name) > 0.85)
        .map(|n| format!("`{n}`"))
        .collect();
    let mut hints = Vec::new();
    if refused {
        hints.push(
            "the API answers JSON and reads no file of the server's: run the CLI for this".into(),
        );
    } else if !nearest.is_empty() {
        hints.push(format!("did you mean {}?", nearest.join(" or ")));
    }
    hints.push(format!(
        "`{}` takes: {} (`/api/openapi.json` describes each)",
        endpoint.path,
        names.join(", ")
    ));
    ApiError::bad(
        Some(name),
        if refused {
            format!("`{name}` is not available over HTTP")
        } else {
            format!("`{name}` is not a field of `{}`", endpoint.path)
        },
        hints,
    )
}

/// Answer a call: parse it as the CLI would, keep it inside what a server may
/// do, run it, and return the CLI's JSON.
pub fn answer(call: Call) -> Result<String, ApiError> {
    let mut cli = Cli::try_parse_from(&call.argv).map_err(|e| ApiError::from_clap(&e))?;
    confine(&mut cli.command, call.config)?;
    crate::run(cli).map_err(|e| ApiError::from_app(&e))
}

/// Keep a parsed command inside what a server may do: MODEL from the catalog or
/// the request only, and a bounded sweep. Every command is named, so a new one
/// (`plan`) must choose here whether and how HTTP reaches it.
fn confine(command: &mut Command, config: Option<Arc<str>>) -> Result<(), ApiError> {
    let model: &mut ModelArg = match command {
        Command::Params { args, .. } => &mut args.model,
        Command::Kv { args, .. } => &mut args.model,
        Command::Infer { args, .. } => {
            args.load.max_steps = args.load.max_steps.min(MAX_SIM_STEPS);
            &mut args.model
        }
        Command::Train { args, .. } => &mut args.model,
        Command::Card { args, .. } => &mut args.model,
        Command::Sweep { args, .. } => {
            if args.max_work > MAX_SWEEP_WORK {
                return Err(ApiError::bad(
                    Some("max_work"),
                    format!(
                        "`--max-work` = {} is above this server's limit of {MAX_SWEEP_WORK}",
                        args.max_work
                    ),
                    vec!["use fewer points, or run `sizeup sweep` on your own machine".into()],
                ));
            }
            &mut args.model
        }
        Command::Models { .. } | Command::Gpus { .. } => return Ok(()),
        // a plan refuses a space it predicts to outlast the request's deadline
        // (`allow_long` is refused above)
        Command::Plan { target, .. } => {
            target.limit_seconds(super::REQUEST_TIMEOUT.as_secs_f64());
            target.limit_simulation_steps(MAX_SIM_STEPS);
            target.model_mut()
        }
        Command::Rough { .. }
        | Command::Validate { .. }
        | Command::Inspect { .. }
        | Command::Serve { .. } => {
            return Err(ApiError::with_status(
                404,
                "this command has no API route".into(),
            ))
        }
    };
    model.source = match config {
        Some(text) => ModelSource::ConfigText(text),
        None => ModelSource::CatalogOnly,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(command: &str) -> &'static Endpoint {
        ENDPOINTS
            .iter()
            .find(|e| e.command == command)
            .expect("an endpoint")
    }

    fn given(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn fields_become_the_command_line() {
        let c = call(
            endpoint("train"),
            given(&[
                ("model", "llama-3.1-8b".into()),
                ("seq_len", "8k".into()),
                ("gpus", 8.into()),
                ("sequence_parallel", true.into()),
                ("dropout", false.into()),
                ("flash_attention", false.into()),
                ("lora_targets", serde_json::json!(["q", "v"])),
            ]),
        )
        .expect("a call");
        assert_eq!(
            c.argv,
            [
                "sizeup",
                "train",
                "--seq-len=8k",
                "--gpus=8",
                "--sequence-parallel",
                "--flash-attention=false",
                "--lora-targets=q",
                "--lora-targets=v",
                "--format=json",
                "--",
                "llama-3.1-8b"
            ]
        );
    }

    #[test]
    fn a_model_that_looks_like_a_flag_stays_the_model() {
        let c = call(endpoint("params"), given(&[("model", "--help".into())])).expect("a call");
        assert_eq!(c.argv.last().map(String::as_str), Some("--help"));
        let e = answer(c).expect_err("no such model");
        assert_eq!(e.status, 400);
    }

    #[test]
    fn refused_flags_are_not_fields() {
        for (command, field) in [
            ("infer", "gpu_file"),
            ("sweep", "chart"),
            ("infer", "lengths"),
            ("gpus", "gpu_file"),
        ] {
            let e = call(endpoint(command), given(&[(field, "/etc/passwd".into())]))
                .expect_err("refused");
            assert_eq!(e.status, 400);
            assert_eq!(e.field.as_deref(), Some(field));
            assert!(e.error.contains("not available over HTTP"), "{}", e.error);
        }
    }

    #[test]
    fn a_path_as_model_is_not_read() {
        let c = call(
            endpoint("params"),
            given(&[(
                "model",
                "../shared/fixtures/models/llama-2-7b/config.json".into(),
            )]),
        )
        .expect("a call");
        let e = answer(c).expect_err("catalog only");
        assert_eq!(e.status, 400);
        assert_eq!(e.field.as_deref(), Some("model"), "{e:?}");
        assert!(e.error.contains("only catalog names"), "{e:?}");
    }

    #[test]
    fn a_sweep_is_bounded() {
        let c = call(
            endpoint("sweep"),
            given(&[
                ("model", "llama-3.1-8b".into()),
                ("vary", "batch=1..4".into()),
            ]),
        )
        .expect("a call");
        assert!(c.argv.contains(&format!("--max-work={MAX_SWEEP_WORK}")));
        let c = call(
            endpoint("sweep"),
            given(&[
                ("model", "llama-3.1-8b".into()),
                ("vary", "batch=1..4".into()),
                ("max_work", "1e12".into()),
            ]),
        )
        .expect("a call");
        let e = answer(c).expect_err("over the limit");
        assert_eq!(e.field.as_deref(), Some("max_work"));
    }

    #[test]
    fn a_door_names_the_flag() {
        let c = call(
            endpoint("kv"),
            given(&[("model", "llama-3.1-8b".into()), ("tp", 0.into())]),
        )
        .expect("a call");
        let e = answer(c).expect_err("tp 0");
        assert_eq!(e.status, 400);
        assert_eq!(e.field.as_deref(), Some("tp"));
        assert!(e.error.contains("--tp"), "{}", e.error);
    }

    #[test]
    fn a_config_is_read_from_the_request() {
        let config = serde_json::json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 1000, "max_position_embeddings": 2048, "tie_word_embeddings": false
        });
        let c = call(endpoint("params"), given(&[("config", config)])).expect("a call");
        let json: Value = serde_json::from_str(&answer(c).expect("a report")).expect("JSON");
        assert_eq!(json["model"]["name"], "config.json");
        assert!(json["params_total"].as_u64().unwrap_or(0) > 0);
    }
}

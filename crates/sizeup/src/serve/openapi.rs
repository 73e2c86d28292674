//! The OpenAPI 3.1 document the server serves at `/api/openapi.json`, written
//! from the same clap definitions that parse the requests, so it lists exactly
//! the fields a request may send (a test walks both).

use serde_json::{json, Map, Value};

use super::api::{Endpoint, ENDPOINTS};
use crate::api::{Field, CONFIG_FIELD};

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        paths.insert(e.path.to_string(), operations(e));
    }
    paths.insert(
        super::OPENAPI_ROUTE.into(),
        json!({"get": {
            "summary": "This document",
            "operationId": "openapi",
            "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {}}}}
        }}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sizeup",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What a transformer language model costs before you train or serve it. \
                Each route runs the CLI command of the same name: fields are its flags without \
                the dashes (`--seq-len` is `seq_len`; MODEL is `model`), in a JSON object \
                (POST) or a query string (GET), and the answer is what `sizeup COMMAND \
                --format json` prints. MODEL is a catalog name; a `config.json` may be sent \
                in `config` instead. Flags that read files (`--gpu-file`, `--chart`) are not \
                available over HTTP."
        },
        "paths": paths,
        "components": {"schemas": {"Error": {
            "type": "object",
            "required": ["error", "hints"],
            "properties": {
                "error": {"type": "string", "description": "What went wrong, as the CLI says it"},
                "field": {"type": "string", "description": "The request field at fault, when one is"},
                "causes": {"type": "array", "items": {"type": "string"}},
                "hints": {"type": "array", "items": {"type": "string"}}
            }
        }}}
    })
}

/// GET with a query string and POST with a JSON object, both answered alike.
fn operations(e: &Endpoint) -> Value {
    let fields = (e.fields)();
    let takes_model = fields.iter().any(|f| f.flag.is_none());
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in &fields {
        properties.insert(f.name.clone(), schema(f));
        // with `config`, MODEL is optional (its name only)
        if f.required && f.flag.is_some() {
            required.push(f.name.clone());
        }
    }
    if takes_model {
        properties.insert(
            CONFIG_FIELD.into(),
            json!({
                "description": "A config.json (its text, or the object itself) to read instead of a catalog entry; `model` then only names it",
                "oneOf": [{"type": "string"}, {"type": "object"}]
            }),
        );
    }
    let parameters: Vec<Value> = properties
        .iter()
        .filter(|(name, _)| name.as_str() != CONFIG_FIELD)
        .map(|(name, s)| {
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(name),
                "schema": s,
                "explode": true
            })
        })
        .collect();
    let body = json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties
    });
    let responses = json!({
        "200": {
            "description": format!("The {} (`sizeup {} --format json`)", e.response, e.command),
            "content": {"application/json": {"schema": {"type": "object", "title": e.response}}}
        },
        "400": {"description": "Bad input, named by its flag", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "413": {"description": "The body is larger than the server takes", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "503": {"description": "The estimate took longer than the server allows, or the server is busy", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    });
    json!({
        "get": {
            "operationId": format!("{}_get", e.command.replace(' ', "_")),
            "summary": summary(e),
            "parameters": parameters,
            "responses": responses
        },
        "post": {
            "operationId": e.command.replace(' ', "_"),
            "summary": summary(e),
            "requestBody": {"required": false, "content": {"application/json": {"schema": body}}},
            "responses": responses
        }
    })
}

/// The clap command of `words` (`plan train`), walking nested subcommands.
fn subcommand<'a>(cli: &'a clap::Command, words: &str) -> Option<&'a clap::Command> {
    words
        .split(' ')
        .try_fold(cli, |cmd, word| cmd.find_subcommand(word))
}

fn summary(e: &Endpoint) -> String {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    subcommand(&cli, e.command)
        .and_then(|c| c.get_about().map(|a| a.to_string()))
        .unwrap_or_default()
}

/// A field's schema: switches are booleans, repeated flags arrays; other values
/// are strings or numbers, as the flag reads them (`32k`, `15.6T`, `0.4`).
fn schema(f: &Field) -> Value {
    let mut s = Map::new();
    let help = if f.flag.is_none() {
        // over HTTP, MODEL is a catalog name only
        "A catalog name (`/api/models` lists them; loosely matched, Hub ids of catalog models too), or the name shown for the `config` sent".to_string()
    } else {
        f.help.clone()
    };
    s.insert("description".into(), help.into());
    let boolean = matches!(f.default.as_deref(), Some("true" | "false"));
    if f.switch {
        s.insert("type".into(), "boolean".into());
    } else {
        let one = if f.flag.is_none() {
            json!({"type": "string"})
        } else if boolean {
            json!({"type": ["boolean", "string"], "enum": [true, false, "true", "false"]})
        } else if f.choices.is_empty() {
            json!({"type": ["string", "number"]})
        } else {
            json!({"type": "string", "enum": f.choices})
        };
        if f.repeated {
            s.insert(
                "oneOf".into(),
                json!([one, {"type": "array", "items": one}]),
            );
        } else {
            for (k, v) in one.as_object().into_iter().flatten() {
                s.insert(k.clone(), v.clone());
            }
        }
        if let Some(d) = &f.default {
            s.insert("default".into(), d.clone().into());
        }
    }
    if let Some(flag) = &f.flag {
        s.insert("x-flag".into(), flag.clone().into());
    }
    Value::Object(s)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::serve::api::REFUSED_FLAGS;

    /// Every documented field is a flag (or MODEL) of the route's command in the
    /// clap tree, and every flag of that command is documented or refused.
    #[test]
    fn the_document_matches_the_clap_tree() {
        let doc = document();
        let mut cli = crate::cli::Cli::command();
        cli.build();
        for e in ENDPOINTS {
            let cmd = subcommand(&cli, e.command).expect("a subcommand");
            let props = doc["paths"][e.path]["post"]["requestBody"]["content"]["application/json"]
                ["schema"]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{} is documented", e.path));
            for name in props.keys() {
                if name == CONFIG_FIELD {
                    assert!(cmd.get_positionals().any(|a| a.get_id() == "model"));
                    continue;
                }
                let found = cmd.get_arguments().any(|a| {
                    a.get_long().map(|l| l.replace('-', "_")).as_deref() == Some(name)
                        || (a.is_positional() && a.get_id() == name.as_str())
                });
                assert!(
                    found,
                    "{} documents `{name}`, which `sizeup {}` lacks",
                    e.path, e.command
                );
                let flag = &props[name]["x-flag"];
                if let Some(flag) = flag.as_str() {
                    let long = flag.trim_start_matches("--");
                    assert!(cmd.get_arguments().any(|a| a.get_long() == Some(long)));
                }
            }
            for a in cmd.get_arguments() {
                let name = a
                    .get_long()
                    .map(|l| l.replace('-', "_"))
                    .unwrap_or_else(|| a.get_id().to_string());
                assert!(
                    props.contains_key(&name) || REFUSED_FLAGS.contains(&name.as_str()),
                    "`{name}` of `sizeup {}` is missing from {}",
                    e.command,
                    e.path
                );
            }
            let query = doc["paths"][e.path]["get"]["parameters"]
                .as_array()
                .expect("parameters");
            assert_eq!(
                query.len() + usize::from(props.contains_key(CONFIG_FIELD)),
                props.len()
            );
        }
    }

    /// The document lists exactly the routes the server answers.
    #[test]
    fn the_document_lists_every_route() {
        let doc = document();
        let documented: Vec<&str> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .map(String::as_str)
            .collect();
        let mut routes: Vec<&str> = vec![crate::serve::OPENAPI_ROUTE];
        routes.extend(ENDPOINTS.iter().map(|e| e.path));
        let mut a = documented.clone();
        a.sort_unstable();
        routes.sort_unstable();
        assert_eq!(a, routes);
        for required in [
            "/api/params",
            "/api/kv",
            "/api/infer",
            "/api/train",
            "/api/card",
            "/api/sweep",
            "/api/models",
            "/api/gpus",
            "/api/openapi.json",
        ] {
            assert!(documented.contains(&required), "{required}");
        }
    }

    /// Refused flags stay undocumented.
    #[test]
    fn refused_flags_are_undocumented() {
        let text = document().to_string();
        for flag in ["--gpu-file", "--chart", "--format"] {
            assert!(!text.contains(&format!("\"{flag}\"")), "{flag}");
        }
        assert!(!text.contains("\"gpu_file\""));
    }
}

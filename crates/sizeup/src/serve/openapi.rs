//! The OpenAPI 3.1 document the server serves at `/api/openapi.json`. Requests
//! are written from the same clap definitions that parse them, so it lists
//! exactly the fields a request may send (a test walks both); responses are the
//! JSON Schema (2020-12, as OpenAPI 3.1 takes it) derived from the response
//! types themselves, so a field added to a report is documented with it (a test
//! checks every route's real answer against its schema).

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use super::api::{Endpoint, ENDPOINTS};
use crate::api::{Field, CONFIG_FIELD};

/// The generator of the response schemas: as the types serialize, their
/// definitions under `#/components/schemas`.
fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .for_serialize()
        .into_generator()
}

/// The document.
pub fn document() -> Value {
    let mut generator = generator();
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let response = (e.schema)(&mut generator).to_value();
        paths.insert(e.path.to_string(), operations(e, response));
    }
    let mut schemas = generator.take_definitions(true);
    schemas.insert("Error".into(), error_schema());
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
        "components": {"schemas": schemas}
    })
}

/// The body of every refused or failed request.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error", "hints"],
        "additionalProperties": false,
        "properties": {
            "error": {"type": "string", "description": "What went wrong, as the CLI says it"},
            "field": {"type": "string", "description": "The request field at fault, when one is"},
            "causes": {"type": "array", "items": {"type": "string"}},
            "hints": {"type": "array", "items": {"type": "string"}}
        }
    })
}

/// GET with a query string and POST with a JSON object, both answered alike.
fn operations(e: &Endpoint, response: Value) -> Value {
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
            "content": {"application/json": {"schema": response}}
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

/// A route's real answers against its documented response schema: every value
/// of the right type, every required property there, and no property the schema
/// does not name.
#[cfg(test)]
mod response_tests {
    use std::collections::BTreeSet;

    use serde_json::{json, Map, Value};

    use super::document;
    use crate::serve::api::ENDPOINTS;

    /// The schema a `$ref` names, or the schema itself.
    fn resolve<'a>(schema: &'a Value, schemas: &'a Map<String, Value>) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                schemas
                    .get(name)
                    .unwrap_or_else(|| panic!("`{r}` is not among the components"))
            }
            None => schema,
        }
    }

    fn is_type(value: &Value, ty: &str) -> bool {
        match ty {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_u64() || value.is_i64(),
            _ => false,
        }
    }

    /// Where `value` departs from `schema`, the object's own keys left open.
    fn departures(value: &Value, schema: &Value, s: &Map<String, Value>, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        if schema.get("$ref").is_some() {
            out.extend(departures(value, resolve(schema, s), s, at));
        }
        if let Some(ty) = schema.get("type") {
            let types: Vec<&str> = match ty {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.iter().any(|t| is_type(value, t)) {
                out.push(format!("{at}: {value} is not {types:?}"));
                return out;
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if !values.contains(value) {
                out.push(format!("{at}: {value} is not one of {values:?}"));
            }
        }
        if let Some(c) = schema.get("const") {
            if c != value {
                out.push(format!("{at}: {value} is not {c}"));
            }
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(departures(value, part, s, at));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                if !branches
                    .iter()
                    .any(|b| departures(value, b, s, at).is_empty())
                {
                    out.push(format!("{at}: {value} matches no branch of {key}"));
                }
            }
        }
        if let Value::Object(object) = value {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    out.push(format!("{at}: required `{name}` is missing"));
                }
            }
            for (k, v) in object {
                let here = format!("{at}.{k}");
                if let Some(p) = properties.and_then(|p| p.get(k)) {
                    out.extend(closed_departures(v, p, s, &here));
                } else if let Some(extra) =
                    schema.get("additionalProperties").filter(|a| a.is_object())
                {
                    out.extend(closed_departures(v, extra, s, &here));
                }
            }
        }
        if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
            for (i, v) in items.iter().enumerate() {
                out.extend(closed_departures(v, item, s, &format!("{at}[{i}]")));
            }
        }
        out
    }

    /// The property names `schema` documents for `value`: its own, its parts'
    /// and those of the branches `value` matches; `None` when it takes any key.
    fn documented(
        value: &Value,
        schema: &Value,
        s: &Map<String, Value>,
    ) -> Option<BTreeSet<String>> {
        let schema = resolve(schema, s);
        if schema
            .get("additionalProperties")
            .is_some_and(|a| a.is_object() || a == &json!(true))
        {
            return None;
        }
        let mut names: BTreeSet<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let mut parts: Vec<&Value> = schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        for key in ["anyOf", "oneOf"] {
            parts.extend(
                schema
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|b| departures(value, b, s, "").is_empty()),
            );
        }
        for part in parts {
            names.extend(documented(value, part, s)?);
        }
        Some(names)
    }

    /// [`departures`], and an object's keys that `schema` does not document.
    fn closed_departures(
        value: &Value,
        schema: &Value,
        s: &Map<String, Value>,
        at: &str,
    ) -> Vec<String> {
        let mut out = departures(value, schema, s, at);
        if let (Value::Object(object), Some(names)) = (value, documented(value, schema, s)) {
            for k in object.keys().filter(|k| !names.contains(*k)) {
                out.push(format!("{at}: `{k}` is not documented"));
            }
        }
        out
    }

    #[test]
    fn every_answer_matches_its_documented_schema() {
        let doc = document();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("components");
        let m = "llama-3.1-8b";
        let requests: &[(&str, Value)] = &[
            ("/api/params", json!({"model": m})),
            ("/api/params", json!({"model": "qwen3-30b-a3b"})),
            ("/api/kv", json!({"model": "gemma-3-27b", "seq_len": "32k"})),
            ("/api/kv", json!({"model": "mamba-2.8b"})),
            ("/api/infer", json!({"model": m})),
            ("/api/infer", json!({"model": m, "rate": 4, "requests": 60})),
            ("/api/infer", json!({"model": "llama-3.1-70b", "gpu": "L4"})),
            (
                "/api/train",
                json!({"model": m, "gpus": 8, "zero": 3, "max_seq_len": true}),
            ),
            (
                "/api/train",
                json!({"model": m, "method": "qlora", "gpu": "RTX-4090"}),
            ),
            ("/api/card", json!({"model": m, "workload": "chat"})),
            ("/api/card", json!({"model": m, "workload": "finetune"})),
            (
                "/api/sweep",
                json!({"model": m, "vary": ["batch=1..4*2", "gpu=H100-SXM,L4"]}),
            ),
            (
                "/api/sweep",
                json!({"model": m, "mode": "train", "vary": "tp=1,3", "gpus": 8}),
            ),
            (
                "/api/plan",
                json!({"model": m, "gpus": 8, "global_batch": 64, "top": 2}),
            ),
            ("/api/models", json!({"filter": "llama"})),
            ("/api/gpus", json!({})),
        ];
        let mut failures = Vec::new();
        for (path, fields) in requests {
            let e = ENDPOINTS.iter().find(|e| e.path == *path).expect("a route");
            let schema = &doc["paths"][*path]["post"]["responses"]["200"]["content"]
                ["application/json"]["schema"];
            let given = fields
                .as_object()
                .expect("fields")
                .clone()
                .into_iter()
                .collect();
            let answer = (e.answer)(given).unwrap_or_else(|err| panic!("{path}: {err:?}"));
            let answer: Value = serde_json::from_str(&answer).expect("JSON");
            failures.extend(closed_departures(&answer, schema, schemas, path));
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// A property the schema does not name is caught (the check can fail).
    #[test]
    fn an_undocumented_property_is_caught() {
        let doc = document();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("components");
        let schema = &doc["paths"]["/api/gpus"]["post"]["responses"]["200"]["content"]
            ["application/json"]["schema"];
        let ok = json!({"accelerators": []});
        assert!(closed_departures(&ok, schema, schemas, "gpus").is_empty());
        let extra = json!({"accelerators": [], "surprise": 1});
        assert_eq!(
            closed_departures(&extra, schema, schemas, "gpus"),
            ["gpus: `surprise` is not documented"]
        );
        let wrong = json!({"accelerators": "H100"});
        assert!(!closed_departures(&wrong, schema, schemas, "gpus").is_empty());
    }
}

//! The JSON API: a request's fields are read by the library surface
//! ([`crate::api`]), through the same clap definitions as the command line, and
//! answered by the same `estimate` as the CLI, so every door check, default and
//! conflict rule applies to HTTP unchanged, and the answer is byte for byte what
//! `sizeup COMMAND … --format json` prints.
//!
//! What a server must not do is refused here: reading its own files or the
//! network (`--gpu-file`, `--chart`, a path or Hub id as MODEL: only catalog
//! names, or a `config.json` sent in the request), and sweeping without a bound
//! (`--max-work` at most [`MAX_SWEEP_WORK`]).

use serde::Serialize;
use serde_json::Value;

use crate::api::{
    self, CardRequest, Estimate, Field, GpusRequest, InferRequest, KvRequest, ModelsRequest,
    ParamsRequest, PlanServeRequest, PlanTrainRequest, RequestError, SweepRequest, TrainRequest,
};
use crate::diagnostics;
use crate::error::AppError;
use crate::model::ModelSource;
use crate::render::{self, Format, Report};

/// The most work one sweep request may do: points × layers per point (about
/// 0.2–0.5 µs each on one core, so a few seconds at most).
pub const MAX_SWEEP_WORK: u64 = 10_000_000;

/// A request's fields, in order: from a JSON object or a query string.
pub type Fields = Vec<(String, Value)>;

/// One route of the API and the request type that answers it.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// The route (`/api/params`).
    pub path: &'static str,
    /// The subcommand that answers (`params`; `plan train` for a nested one).
    pub command: &'static str,
    /// The response type returned, as the library names it.
    pub response: &'static str,
    /// The fields a request may send (refused flags left out).
    pub fields: fn() -> Vec<Field>,
    /// Read a request's fields, run it and answer the CLI's JSON.
    pub answer: fn(Fields) -> Result<String, ApiError>,
    /// The response's JSON Schema (a `$ref` to the generator's definitions).
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

/// The route of request type `T`.
const fn endpoint<T>(path: &'static str, response: &'static str) -> Endpoint
where
    T: Served,
    T::Response: Report + schemars::JsonSchema,
{
    Endpoint {
        path,
        command: T::COMMAND,
        response,
        fields: served_fields::<T>,
        answer: answer::<T>,
        schema: |g| g.subschema_for::<T::Response>(),
    }
}

/// Every API route that runs a command.
pub const ENDPOINTS: &[Endpoint] = &[
    endpoint::<ParamsRequest>("/api/params", "ParamsResponse"),
    endpoint::<KvRequest>("/api/kv", "KvResponse"),
    endpoint::<InferRequest>("/api/infer", "InferResponse"),
    endpoint::<TrainRequest>("/api/train", "TrainResponse"),
    endpoint::<CardRequest>("/api/card", "CardResponse"),
    endpoint::<SweepRequest>("/api/sweep", "SweepResponse"),
    endpoint::<PlanTrainRequest>("/api/plan", "PlanTrainResponse"),
    endpoint::<PlanServeRequest>("/api/plan/serve", "PlanServeResponse"),
    endpoint::<ModelsRequest>("/api/models", "ModelsResponse"),
    endpoint::<GpusRequest>("/api/gpus", "GpusResponse"),
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
        let field = err.field();
        ApiError {
            status,
            error: d.error,
            field,
            causes: d.causes,
            hints: d.hints,
        }
    }

    /// A request the flags' doors refused.
    fn from_request(err: RequestError) -> ApiError {
        ApiError {
            status: if err.too_large { 413 } else { 400 },
            error: err.error,
            field: err.field,
            causes: Vec::new(),
            hints: err.hints,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| format!("{:?}", self.error)) + "\n"
    }
}

/// The fields of a request, in order, from a JSON object body.
pub fn fields_from_json(body: &[u8]) -> Result<Fields, ApiError> {
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
pub fn fields_from_query(pairs: Vec<(String, String)>) -> Fields {
    pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// A request type the server answers, and how it keeps it inside what a
/// server may do.
pub trait Served: Estimate {
    /// Bound a parsed request (MODEL is already kept to the catalog or the
    /// request's own `config`).
    ///
    /// # Errors
    /// A request beyond what this server computes.
    fn confine(&mut self) -> Result<(), ApiError> {
        Ok(())
    }
}

impl Served for ParamsRequest {}
impl Served for KvRequest {}
impl Served for TrainRequest {}
impl Served for CardRequest {}
impl Served for ModelsRequest {}
impl Served for GpusRequest {}

impl Served for InferRequest {
    fn confine(&mut self) -> Result<(), ApiError> {
        self.load.max_steps = self.load.max_steps.min(MAX_SIM_STEPS);
        Ok(())
    }
}

impl Served for SweepRequest {
    fn confine(&mut self) -> Result<(), ApiError> {
        if self.max_work > MAX_SWEEP_WORK {
            return Err(ApiError::bad(
                Some("max_work"),
                format!(
                    "`--max-work` = {} is above this server's limit of {MAX_SWEEP_WORK}",
                    self.max_work
                ),
                vec!["use fewer points, or run `sizeup sweep` on your own machine".into()],
            ));
        }
        Ok(())
    }
}

impl Served for PlanTrainRequest {
    /// A plan refuses a space it predicts to outlast the request's deadline
    /// (`allow_long` is refused).
    fn confine(&mut self) -> Result<(), ApiError> {
        self.time_limit_seconds = super::REQUEST_TIMEOUT.as_secs_f64();
        Ok(())
    }
}

impl Served for PlanServeRequest {
    /// As a training plan, each simulation it runs is capped at
    /// [`MAX_SIM_STEPS`], and all its simulations together must fit the
    /// deadline as well as its steady-state tier (their steps per run capped
    /// to the time left, or the plan refused).
    fn confine(&mut self) -> Result<(), ApiError> {
        self.time_limit_seconds = super::REQUEST_TIMEOUT.as_secs_f64();
        self.max_steps = self.max_steps.min(MAX_SIM_STEPS);
        self.bound_simulations = true;
        Ok(())
    }
}

/// The fields a request of type `T` may send over HTTP.
fn served_fields<T: Served>() -> Vec<Field> {
    api::fields::<T>()
        .into_iter()
        .filter(|f| !REFUSED_FLAGS.contains(&f.name.as_str()))
        .collect()
}

/// Answer a request: read it as the CLI would, keep it inside what a server
/// may do, run it, and return the CLI's JSON.
fn answer<T>(mut given: Fields) -> Result<String, ApiError>
where
    T: Served,
    T::Response: Report,
{
    if let Some((name, _)) = given
        .iter()
        .find(|(n, _)| REFUSED_FLAGS.contains(&n.as_str()))
    {
        return Err(ApiError::bad(
            Some(name),
            format!("`{name}` is not available over HTTP"),
            vec![
                "the API answers JSON and reads no file of the server's: run the CLI for this"
                    .into(),
            ],
        ));
    }
    // a sweep is bounded unless the request bounds it lower
    if T::COMMAND == "sweep" && !given.iter().any(|(n, _)| n == "max_work") {
        given.push(("max_work".into(), MAX_SWEEP_WORK.into()));
    }
    let mut request = T::from_fields(given).map_err(ApiError::from_request)?;
    if let Some(model) = request.model_mut() {
        if model.source.is_named() {
            model.source = ModelSource::CatalogOnly;
        }
    }
    request.confine()?;
    let response = request.estimate().map_err(|e| ApiError::from_app(&e))?;
    render::render(&response, Format::Json, crate::humanize::ByteUnits::Binary)
        .map_err(|e| ApiError::from_app(&AppError::Render(e)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn given(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_model_that_looks_like_a_flag_stays_the_model() {
        let r =
            ParamsRequest::from_fields(given(&[("model", "--help".into())])).expect("a request");
        assert_eq!(r.model.model, "--help");
        let e = answer::<ParamsRequest>(given(&[("model", "--help".into())]))
            .expect_err("no such model");
        assert_eq!(e.status, 400);
    }

    #[test]
    fn refused_flags_are_not_fields() {
        let refused = |e: Result<String, ApiError>, field: &str| {
            let e = e.expect_err("refused");
            assert_eq!(e.status, 400);
            assert_eq!(e.field.as_deref(), Some(field));
            assert!(e.error.contains("not available over HTTP"), "{}", e.error);
        };
        let path = || Value::from("/etc/passwd");
        refused(
            answer::<InferRequest>(given(&[("gpu_file", path())])),
            "gpu_file",
        );
        refused(answer::<SweepRequest>(given(&[("chart", path())])), "chart");
        refused(
            answer::<InferRequest>(given(&[("lengths", path())])),
            "lengths",
        );
        refused(
            answer::<GpusRequest>(given(&[("gpu_file", path())])),
            "gpu_file",
        );
        for e in ENDPOINTS {
            let names: Vec<String> = (e.fields)().into_iter().map(|f| f.name).collect();
            for refused in REFUSED_FLAGS {
                assert!(
                    !names.iter().any(|n| n == refused),
                    "{} offers {refused}",
                    e.path
                );
            }
        }
    }

    #[test]
    fn a_path_as_model_is_not_read() {
        let e = answer::<ParamsRequest>(given(&[(
            "model",
            "../shared/fixtures/models/llama-2-7b/config.json".into(),
        )]))
        .expect_err("catalog only");
        assert_eq!(e.status, 400);
        assert_eq!(e.field.as_deref(), Some("model"), "{e:?}");
        assert!(e.error.contains("only catalog names"), "{e:?}");
    }

    #[test]
    fn a_sweep_is_bounded() {
        let e = answer::<SweepRequest>(given(&[
            ("model", "llama-3.1-8b".into()),
            ("vary", "batch=1..4".into()),
            ("max_work", "1e12".into()),
        ]))
        .expect_err("over the limit");
        assert_eq!(e.field.as_deref(), Some("max_work"));
        // without `max_work`, the server's limit applies: 405 B × 126 layers × 2^20 points is over it
        let e = answer::<SweepRequest>(given(&[
            ("model", "llama-3.1-405b".into()),
            ("vary", json!(["batch=1..1024", "context=1..1m:1"])),
        ]))
        .expect_err("over the server's limit");
        assert_eq!(e.status, 400, "{e:?}");
    }

    #[test]
    fn a_door_names_the_flag() {
        let e = answer::<KvRequest>(given(&[("model", "llama-3.1-8b".into()), ("tp", 0.into())]))
            .expect_err("tp 0");
        assert_eq!(e.status, 400);
        assert_eq!(e.field.as_deref(), Some("tp"));
        assert!(e.error.contains("--tp"), "{}", e.error);
    }

    #[test]
    fn a_config_is_read_from_the_request() {
        let config = json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "vocab_size": 1000, "max_position_embeddings": 2048, "tie_word_embeddings": false
        });
        let text = answer::<ParamsRequest>(given(&[("config", config)])).expect("a report");
        let json: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(json["model"]["name"], "config.json");
        // per layer 4·64² − 2·64·32 (GQA k, v) + 3·64·128 + 2·64 norms = 36_992;
        // 2 layers + 2·1000·64 (embedding, untied head) + 64 (final norm)
        assert_eq!(json["params_total"], 2 * 36_992 + 128_000 + 64);
    }

    /// A query string repeats a repeated flag's field (`vary=…&vary=…`).
    #[test]
    fn a_repeated_query_field_is_each_value() {
        let given = fields_from_query(
            [
                ("model", "llama-3.1-8b"),
                ("vary", "batch=1..4*2"),
                ("vary", "tp=1,2"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec(),
        );
        let json: Value =
            serde_json::from_str(&answer::<SweepRequest>(given).expect("a sweep")).expect("JSON");
        assert_eq!(json["axes"].as_array().map(Vec::len), Some(2));
        // 3 batches × 2 tp
        assert_eq!(json["points"].as_array().map(Vec::len), Some(6));
    }

    #[test]
    fn a_simulation_is_clamped() {
        let mut r = InferRequest::from_fields(given(&[
            ("model", "llama-3.1-8b".into()),
            ("rate", 1.into()),
            ("max_steps", "10M".into()),
        ]))
        .expect("a request");
        r.confine().expect("confined");
        assert_eq!(r.load.max_steps, MAX_SIM_STEPS);
    }

    fn plan_serve(extra: &[(&str, Value)]) -> Vec<(String, Value)> {
        let mut pairs = vec![
            ("model", "llama-3.1-8b".into()),
            ("prompt", 2000.into()),
            ("output", 500.into()),
            ("ttft", 1.into()),
            ("tpot", 0.05.into()),
            ("gpu", json!(["H100-SXM"])),
            ("gpus", "1..4:1".into()),
            ("weights", json!(["fp8"])),
            ("kv_dtype", json!(["fp8"])),
            ("top", 2.into()),
        ];
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend(extra.iter().cloned());
        given(&pairs)
    }

    #[test]
    fn issue_12_a_served_plan_bounds_its_simulations_to_the_deadline() {
        // few requests per replica: a run's steps fit the bound even in a debug build
        let fields = || plan_serve(&[("rate", 4.into()), ("requests_per_replica", 20.into())]);
        let mut r = PlanServeRequest::from_fields(fields()).expect("a request");
        r.confine().expect("confined");
        assert!(r.bound_simulations);
        assert_eq!(r.time_limit_seconds, 30.0);
        let json: Value =
            serde_json::from_str(&answer::<PlanServeRequest>(fields()).expect("a plan"))
                .expect("JSON");
        // every run stays within the steps per run the plan settled on, so the
        // simulations' work is at most runs × that
        let per_run = json["request"]["simulation"]["max_steps"].as_u64().unwrap();
        assert!(per_run <= MAX_SIM_STEPS);
        let steps = json["plan"]["confirmed"]["steps"].as_u64().unwrap();
        let runs = json["plan"]["confirmed"]["simulated"].as_u64().unwrap()
            + json["plan"]["confirmed"]["headroom_simulations"]
                .as_u64()
                .unwrap();
        assert!(runs <= crate::commands::plan::serve::deadline::runs_at_most(2, true));
        assert!(steps <= runs * per_run);
    }

    #[test]
    fn issue_12_a_served_plan_whose_simulations_cannot_fit_names_the_fix() {
        // 100,000 requests of 100,000 output tokens, one sequence at a time: a
        // run needs 10^10 engine steps, which no machine runs in 30 s
        let e = answer::<PlanServeRequest>(plan_serve(&[
            ("rate", 0.001.into()),
            ("output", 100_000.into()),
            ("ttft", 10.into()),
            ("max_num_seqs", json!([1])),
            ("requests_per_replica", 100_000.into()),
        ]))
        .expect_err("refused");
        assert_eq!(e.status, 400);
        let body = e.body();
        assert!(body.contains("requests-per-replica"), "{body}");
        assert!(body.contains("deadline"), "{body}");
    }
}

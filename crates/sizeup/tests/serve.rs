//! `sizeup serve` end to end: the server on an ephemeral loopback port, asked
//! over plain HTTP/1.1, answers exactly what the CLI prints for the same inputs,
//! and refuses what a server must not do.
#![cfg(feature = "serve")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

mod common;
use common::shared;

/// A running `sizeup serve --port 0`, stopped when dropped.
struct Server {
    child: Child,
    address: String,
    // kept open so that the server's later writes to stdout do not fail
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sizeup"))
            .args(["serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sizeup serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the address line");
        // `sizeup serve: listening on http://127.0.0.1:PORT/ (Ctrl-C stops)`
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        Server {
            child,
            address,
            _stdout: stdout,
        }
    }

    /// Send one request; return the status, the headers and the body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("send");
        // the server may answer (413) before it has read a large body
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("a response");
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            unchunk(body)
        } else {
            body.to_string()
        };
        (status, head.to_string(), body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.request("GET", path, b"");
        (status, body)
    }

    fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let (status, _, body) = self.request("POST", path, body.to_string().as_bytes());
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// What the CLI prints for `args` (which end in `--format json`).
fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sizeup"))
        .args(args)
        .output()
        .expect("sizeup runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn every_route_answers_what_the_cli_prints() {
    let server = Server::start();
    let cases: &[(&str, Value, &[&str])] = &[
        (
            "/api/params",
            json!({"model": "llama-3.1-8b"}),
            &["params", "llama-3.1-8b"],
        ),
        (
            "/api/kv",
            json!({"model": "mixtral-8x7b-v0.1", "seq_len": "32k", "batch": 4, "tp": 2}),
            &[
                "kv",
                "mixtral-8x7b-v0.1",
                "--seq-len",
                "32k",
                "--batch",
                "4",
                "--tp",
                "2",
            ],
        ),
        (
            "/api/infer",
            json!({"model": "llama-3.1-70b", "gpu": "H100-SXM", "tp": 4, "weights": "fp8", "concurrency": 32}),
            &[
                "infer",
                "llama-3.1-70b",
                "--gpu",
                "H100-SXM",
                "--tp",
                "4",
                "--weights",
                "fp8",
                "--concurrency",
                "32",
            ],
        ),
        (
            "/api/train",
            json!({"model": "llama-3.1-8b", "gpus": 8, "zero": 1, "sequence_parallel": true, "flash_attention": false}),
            &[
                "train",
                "llama-3.1-8b",
                "--gpus",
                "8",
                "--zero",
                "1",
                "--sequence-parallel",
                "--flash-attention",
                "false",
            ],
        ),
        (
            "/api/card",
            json!({"model": "qwen3-8b", "workload": "rag"}),
            &["card", "qwen3-8b", "--workload", "rag"],
        ),
        (
            "/api/sweep",
            json!({"model": "llama-3.1-8b", "vary": ["context=1k..8k*2", "tp=1,2"]}),
            &[
                "sweep",
                "llama-3.1-8b",
                "--vary",
                "context=1k..8k*2",
                "--vary",
                "tp=1,2",
            ],
        ),
        ("/api/models", json!({}), &["models"]),
        (
            "/api/gpus",
            json!({"filter": "h100"}),
            &["gpus", "--filter", "h100"],
        ),
    ];
    for (path, body, args) in cases {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        let expected = cli(&args);
        let (status, got) = server.post(path, body);
        assert_eq!(status, 200, "POST {path}: {got}");
        assert_eq!(got, expected, "POST {path} differs from sizeup {args:?}");
    }
    // GET with a query string reads the same fields
    let (status, got) = server.get("/api/kv?model=mixtral-8x7b-v0.1&seq_len=32k&batch=4&tp=2");
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got,
        cli(&[
            "kv",
            "mixtral-8x7b-v0.1",
            "--seq-len",
            "32k",
            "--batch",
            "4",
            "--tp",
            "2",
            "--format",
            "json"
        ])
    );
    let (status, got) = server.get("/api/sweep?model=llama-3.1-8b&vary=batch%3D1..4&vary=tp%3D1,2");
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got,
        cli(&[
            "sweep",
            "llama-3.1-8b",
            "--vary",
            "batch=1..4",
            "--vary",
            "tp=1,2",
            "--format",
            "json"
        ])
    );
}

#[test]
fn a_pasted_config_reads_as_the_file_does() {
    let server = Server::start();
    let dir = shared("fixtures/models/qwen3-8b");
    let text = std::fs::read_to_string(dir.join("config.json")).expect("the fixture");
    let expected = cli(&["params", dir.to_str().expect("UTF-8"), "--format", "json"]);
    let (status, got) = server.post("/api/params", &json!({"model": "qwen3-8b", "config": text}));
    assert_eq!(status, 200, "{got}");
    assert_eq!(got, expected);
    // the object itself works too
    let object: Value = serde_json::from_str(&text).expect("JSON");
    let (status, got) = server.post("/api/kv", &json!({"config": object}));
    assert_eq!(status, 200, "{got}");
    let v: Value = serde_json::from_str(&got).expect("JSON");
    assert_eq!(v["model"]["name"], "config.json");
}

fn error(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(v["error"].is_string(), "{v}");
    assert!(v["hints"].is_array(), "{v}");
    v
}

#[test]
fn bad_input_is_a_400_naming_the_flag() {
    let server = Server::start();
    let (status, body) = server.post("/api/kv", &json!({"model": "llama-3.1-8b", "tp": 0}));
    assert_eq!(status, 400);
    let v = error(&body);
    assert_eq!(v["field"], "tp");
    assert!(v["error"].as_str().unwrap_or("").contains("--tp"), "{v}");

    // the core's own checks come back the same way, with the CLI's hints
    let (status, body) = server.post("/api/infer", &json!({"model": "llama-3.1-8b", "tp": 3}));
    assert_eq!(status, 400);
    let v = error(&body);
    assert_eq!(v["field"], "tp");
    assert!(v["error"].as_str().unwrap_or("").contains("--tp"), "{v}");
    assert!(
        !v["hints"].as_array().map(Vec::is_empty).unwrap_or(true),
        "{v}"
    );

    let (status, body) = server.post("/api/kv", &json!({"model": "llama-3.1-8b", "seq_lenn": 4}));
    assert_eq!(status, 400);
    let v = error(&body);
    assert_eq!(v["field"], "seq_lenn");
    assert!(
        v["hints"][0].as_str().unwrap_or("").contains("seq_len"),
        "{v}"
    );

    let (status, body) = server.post("/api/params", &json!({"model": "llama-3.1-8bb"}));
    assert_eq!(status, 400);
    assert!(error(&body)["hints"][0]
        .as_str()
        .unwrap_or("")
        .contains("llama-3.1-8b"));

    let (status, _, body) = server.request("POST", "/api/params", b"{not json");
    assert_eq!(status, 400, "{body}");
    error(&body);
}

#[test]
fn the_server_reads_none_of_its_own_files() {
    let server = Server::start();
    let config = shared("fixtures/models/qwen3-8b/config.json");
    let path = config.to_str().expect("UTF-8");
    // a path as MODEL is a name the catalog lacks, never a file read
    for model in [
        path,
        "../shared/fixtures/models/qwen3-8b",
        "/etc/passwd",
        "Qwen/Qwen3-8B@main",
    ] {
        let (status, body) = server.post("/api/params", &json!({"model": model}));
        assert_eq!(status, 400, "{model}: {body}");
        error(&body);
    }
    for (route, field) in [
        ("/api/infer", "gpu_file"),
        ("/api/gpus", "gpu_file"),
        ("/api/sweep", "chart"),
    ] {
        let (status, body) = server.post(route, &json!({"model": "llama-3.1-8b", field: path}));
        assert_eq!(status, 400, "{route} {field}: {body}");
        let v = error(&body);
        assert_eq!(v["field"], field);
    }
}

#[test]
fn an_oversized_body_is_a_413() {
    let server = Server::start();
    let big = vec![b' '; 11 << 20];
    let (status, _, body) = server.request("POST", "/api/params", &big);
    assert_eq!(status, 413, "{body}");
    error(&body);
}

#[test]
fn a_large_sweep_is_refused() {
    let server = Server::start();
    let (status, body) = server.post(
        "/api/sweep",
        &json!({"model": "llama-3.1-405b", "vary": ["batch=1..1024", "context=1..1m:1"]}),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.post(
        "/api/sweep",
        &json!({"model": "llama-3.1-8b", "vary": "batch=1..4", "max_work": "1e12"}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(error(&body)["field"], "max_work");
}

#[test]
fn the_page_and_the_openapi_document_are_served() {
    let server = Server::start();
    let (status, head, body) = server.request("GET", "/", b"");
    assert_eq!(status, 200);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-security-policy: default-src 'self'"));
    assert!(body.contains("<script src=\"/app.js\""));
    assert!(
        !body.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    for asset in ["/app.js", "/app.css"] {
        let (status, body) = server.get(asset);
        assert_eq!(status, 200, "{asset}");
        assert!(
            !body.contains("https://"),
            "{asset} loads nothing from elsewhere"
        );
    }
    let (status, body) = server.get("/api/openapi.json");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).expect("JSON");
    for route in [
        "/api/params",
        "/api/kv",
        "/api/infer",
        "/api/train",
        "/api/card",
        "/api/sweep",
        "/api/plan",
        "/api/plan/serve",
        "/api/models",
        "/api/gpus",
    ] {
        assert!(doc["paths"][route]["post"].is_object(), "{route}");
        // every documented route answers (the query-less GET may be a 400 for a missing model)
        let (status, _) = server.get(route);
        assert!(status == 200 || status == 400, "{route}: {status}");
    }
    let (status, body) = server.get("/api/nothing");
    assert_eq!(status, 404);
    error(&body);
}

#[test]
fn plan_serve_answers_what_the_cli_prints_but_for_its_timing() {
    let server = Server::start();
    let (status, body) = server.post(
        "/api/plan/serve",
        &json!({"model": "llama-3.1-8b", "rate": 4, "prompt": 512, "output": 128,
                "ttft": 1, "tpot": 0.05, "gpu": ["L4", "L40S"], "gpus": "1..4:1",
                "requests_per_replica": 100, "top": 2}),
    );
    assert_eq!(status, 200, "{body}");
    let mut served: Value = serde_json::from_str(&body).expect("JSON");
    // the server caps each simulation at a million steps, and lower where the
    // plan's simulations would not fit its deadline otherwise (timed here)
    let steps = served["request"]["simulation"]["max_steps"]
        .as_u64()
        .expect("steps");
    assert!(steps <= 1_000_000);
    let steps = steps.to_string();
    let mut printed: Value = serde_json::from_str(&cli(&[
        "plan",
        "serve",
        "llama-3.1-8b",
        "--rate",
        "4",
        "--prompt",
        "512",
        "--output",
        "128",
        "--ttft",
        "1",
        "--tpot",
        "0.05",
        "--gpu",
        "L4,L40S",
        "--gpus",
        "1..4:1",
        "--requests-per-replica",
        "100",
        "--top",
        "2",
        "--max-steps",
        &steps,
        "--format",
        "json",
    ]))
    .expect("JSON");
    for v in [&mut served, &mut printed] {
        v.as_object_mut().expect("an object").remove("speed");
    }
    // the served plan states its cap, when it set one
    if let Some(a) = served["assumptions"].as_array_mut() {
        a.retain(|a| a["name"] != "engine steps per simulation");
    }
    assert_eq!(served, printed);
    assert_eq!(served["rows"].as_array().map(Vec::len), Some(2));
    // the train route still answers `plan train`
    let (status, body) = server.post(
        "/api/plan",
        &json!({"model": "llama-3.1-8b", "gpus": 8, "global_batch": 64, "top": 1}),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn plan_answers_what_the_cli_prints_but_for_its_timing() {
    let server = Server::start();
    let (status, body) = server.post(
        "/api/plan",
        &json!({"model": "llama-3.1-8b", "gpus": 8, "global_batch": 64, "top": 3}),
    );
    assert_eq!(status, 200, "{body}");
    let mut served: Value = serde_json::from_str(&body).expect("JSON");
    let mut printed: Value = serde_json::from_str(&cli(&[
        "plan",
        "train",
        "llama-3.1-8b",
        "--gpus",
        "8",
        "--global-batch",
        "64",
        "--top",
        "3",
        "--format",
        "json",
    ]))
    .expect("JSON");
    // how long the search took is the only figure that may differ between two runs
    for v in [&mut served, &mut printed] {
        v.as_object_mut().expect("an object").remove("speed");
    }
    assert_eq!(served, printed);
    assert_eq!(served["rows"].as_array().map(Vec::len), Some(3));
    // consent to a long search is the user's own, not a server's
    let (status, body) = server.post(
        "/api/plan",
        &json!({"model": "llama-3.1-8b", "gpus": 8, "global_batch": 64, "allow_long": true}),
    );
    assert_eq!(status, 400, "{body}");
}

//! The Hub client against a loopback server serving files the tests wrote.
//! Nothing leaves 127.0.0.1.
#![cfg(feature = "hub")]

mod support;

use std::collections::HashMap;
use std::path::Path;

use sizeup_formats::hub::{Hub, HubConfig, HubError, HubRef, TokenSource};
use sizeup_formats::safetensors::SafetensorsError;
use support::http::{Options, Server, Source};
use support::{st_bytes, st_header, write_llama_2_7b_sharded};

const CONFIG: &str = r#"{"model_type": "llama", "hidden_size": 4096}"#;

fn hub(server: &Server, token: Option<&str>, cache: Option<&Path>) -> Hub {
    let endpoint = server.endpoint.clone();
    let token = token.map(str::to_string);
    let cache = cache.map(|p| p.display().to_string());
    Hub::new(HubConfig::from_lookup(move |k| match k {
        "HF_ENDPOINT" => Some(endpoint.clone()),
        "HF_TOKEN" => token.clone(),
        "XDG_CACHE_HOME" => cache.clone(),
        _ => None,
    }))
}

/// Serve every file of `dir` under `org/name/resolve/main/`.
fn serve_dir(dir: &Path, repo: &str) -> HashMap<String, Source> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        files.insert(
            format!("{repo}/resolve/main/{name}"),
            Source::Path(entry.path()),
        );
    }
    files.insert(
        format!("{repo}/resolve/main/config.json"),
        Source::Bytes(CONFIG.into()),
    );
    files
}

fn tiny_single_file() -> Vec<u8> {
    let (json, len) = st_header(&[("model.embed_tokens.weight", "F32", vec![10, 4])], &[]);
    st_bytes(&json, len)
}

#[test]
fn sharded_checkpoint_over_range_requests_with_token_and_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let shards = write_llama_2_7b_sharded(dir.path());
    let server = Server::start(
        serve_dir(dir.path(), "meta-llama/Llama-2-7b-hf"),
        Options {
            token: Some("hf_secret".into()),
            ..Options::default()
        },
    );
    let r = HubRef::parse("hf:meta-llama/Llama-2-7b-hf").unwrap();
    let got = hub(&server, Some("hf_secret"), Some(cache.path()))
        .fetch(&r)
        .unwrap();
    // 6_738_415_616 = shared/fixtures/models/llama-2-7b/expected.json params_total
    assert_eq!(got.checkpoint.table.params, 6_738_415_616);
    assert_eq!(got.checkpoint.table.bytes, 13_476_831_232);
    assert_eq!(got.config_json.as_deref(), Some(CONFIG));

    let requests = server.requests();
    assert!(requests
        .iter()
        .all(|q| q.authorization.as_deref() == Some("Bearer hf_secret")));
    // config, index, then per shard the 8-byte length and the header itself
    assert_eq!(requests.len(), 2 + 2 * shards.len());
    for shard in shards {
        let asked: Vec<_> = requests
            .iter()
            .filter(|q| q.path.ends_with(shard))
            .map(|q| q.range.clone().unwrap())
            .collect();
        assert_eq!(asked[0], "bytes=0-7");
        assert!(asked[1].starts_with("bytes=8-"), "{asked:?}");
        assert_eq!(asked.len(), 2);
    }

    // a second fetch is served from the cache: no request at all
    server.clear();
    let again = hub(&server, Some("hf_secret"), Some(cache.path()))
        .fetch(&r)
        .unwrap();
    assert_eq!(again.checkpoint.table, got.checkpoint.table);
    assert_eq!(server.requests(), vec![]);
    assert!(cache
        .path()
        .join("sizeup/hub")
        .join(sizeup_formats::hub::cache_folder(&server.endpoint))
        .join("meta-llama/Llama-2-7b-hf/main/model-00001-of-00002.safetensors.header")
        .is_file());
}

#[test]
fn single_file_behind_a_redirect_keeps_the_range() {
    let mut files = HashMap::new();
    files.insert(
        "org/tiny/resolve/v1/model.safetensors".to_string(),
        Source::Bytes(tiny_single_file()),
    );
    let server = Server::start(
        files,
        Options {
            redirect_safetensors: true,
            ..Options::default()
        },
    );
    let r = HubRef::parse("hf:org/tiny@v1").unwrap();
    let got = hub(&server, None, None).fetch(&r).unwrap();
    assert_eq!(got.config_json, None);
    assert_eq!(got.checkpoint.table.params, 40);
    let cdn: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.path.starts_with("/cdn/"))
        .map(|q| q.range)
        .collect();
    assert_eq!(cdn.len(), 2);
    assert_eq!(cdn[0].as_deref(), Some("bytes=0-7"));
}

#[test]
fn a_server_that_ignores_ranges_still_works() {
    let mut files = HashMap::new();
    files.insert(
        "org/tiny/resolve/main/model.safetensors".to_string(),
        Source::Bytes(tiny_single_file()),
    );
    let server = Server::start(
        files,
        Options {
            ignore_ranges: true,
            ..Options::default()
        },
    );
    let got = hub(&server, None, None)
        .fetch(&HubRef::parse("hf:org/tiny").unwrap())
        .unwrap();
    assert_eq!(got.checkpoint.table.bytes, 160);
}

#[test]
fn errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    write_llama_2_7b_sharded(dir.path());
    let gated = Server::start(
        serve_dir(dir.path(), "meta-llama/Llama-2-7b-hf"),
        Options {
            token: Some("hf_secret".into()),
            ..Options::default()
        },
    );
    let r = HubRef::parse("hf:meta-llama/Llama-2-7b-hf").unwrap();
    let err = hub(&gated, None, None).fetch(&r).unwrap_err();
    assert!(matches!(
        err,
        HubError::Unauthorized {
            status: 401,
            token: TokenSource::NotFound { .. },
            ..
        }
    ));
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");

    let empty = Server::start(HashMap::new(), Options::default());
    let err = hub(&empty, None, None).fetch(&r).unwrap_err();
    assert!(matches!(err, HubError::NoSafetensors { .. }), "{err}");

    // nothing listens on port 1 of the loopback
    let offline = Hub::new(HubConfig::from_lookup(|k| {
        (k == "HF_ENDPOINT").then(|| "http://127.0.0.1:1".into())
    }));
    let err = offline.fetch(&r).unwrap_err();
    assert!(matches!(err, HubError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("local folder"), "{err}");
}

#[test]
fn a_hostile_header_length_stops_after_eight_bytes() {
    let mut bad = (1u64 << 63).to_le_bytes().to_vec();
    bad.extend_from_slice(b"{}");
    let mut files = HashMap::new();
    files.insert(
        "org/bad/resolve/main/model.safetensors".to_string(),
        Source::Bytes(bad),
    );
    let server = Server::start(files, Options::default());
    let err = hub(&server, None, None)
        .fetch(&HubRef::parse("hf:org/bad").unwrap())
        .unwrap_err();
    let HubError::Safetensors(SafetensorsError::HeaderTooLarge { file, claimed, .. }) = &err else {
        panic!("{err:?}");
    };
    assert!(file.ends_with("/org/bad/resolve/main/model.safetensors"));
    assert_eq!(*claimed, 1 << 63);
    let ranged: Vec<_> = server
        .requests()
        .into_iter()
        .filter_map(|q| q.range)
        .collect();
    assert_eq!(ranged, vec!["bytes=0-7".to_string()]);
}

#[test]
fn the_header_cache_keeps_endpoints_apart() {
    // two endpoints serving the same repository name with different weights: the
    // second is asked, not answered from the first one's cache
    let cache = tempfile::tempdir().unwrap();
    let serve = |rows: u64| {
        let (json, len) = st_header(&[("model.embed_tokens.weight", "F32", vec![rows, 4])], &[]);
        let mut files = HashMap::new();
        files.insert(
            "org/same/resolve/main/model.safetensors".to_string(),
            Source::Bytes(st_bytes(&json, len)),
        );
        files.insert(
            "org/same/resolve/main/config.json".to_string(),
            Source::Bytes(CONFIG.into()),
        );
        Server::start(files, Options::default())
    };
    let (a, b) = (serve(10), serve(20));
    let r = HubRef::parse("hf:org/same").unwrap();
    let from_a = hub(&a, None, Some(cache.path())).fetch(&r).unwrap();
    let from_b = hub(&b, None, Some(cache.path())).fetch(&r).unwrap();
    assert_eq!(from_a.checkpoint.table.params, 40);
    assert_eq!(from_b.checkpoint.table.params, 80);
    assert!(!b.requests().is_empty());
    assert_ne!(
        sizeup_formats::hub::cache_folder(&a.endpoint),
        sizeup_formats::hub::cache_folder(&b.endpoint)
    );
    assert_eq!(
        sizeup_formats::hub::cache_folder("https://huggingface.co/"),
        "huggingface.co"
    );
}

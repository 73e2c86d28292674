//! `HF_ENDPOINT`, `HF_TOKEN`, `HF_HOME` and `XDG_CACHE_HOME` read from the real
//! environment. One test alone in its binary, since it sets process variables.
#![cfg(feature = "hub")]

mod support;

use std::collections::HashMap;

use sizeup_formats::hub::{Hub, HubConfig, HubRef};
use support::http::{Options, Server, Source};
use support::{st_bytes, st_header};

#[test]
fn environment_variables_are_honoured() {
    let (json, len) = st_header(&[("lm_head.weight", "BF16", vec![32, 8])], &[]);
    let mut files = HashMap::new();
    files.insert(
        "org/env/resolve/main/model.safetensors".to_string(),
        Source::Bytes(st_bytes(&json, len)),
    );
    let server = Server::start(
        files,
        Options {
            token: Some("hf_env".into()),
            ..Options::default()
        },
    );
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var("HF_ENDPOINT", format!("{}/", server.endpoint));
    std::env::set_var("HF_TOKEN", "hf_env");
    std::env::set_var("XDG_CACHE_HOME", cache.path());
    // an empty Hugging Face folder: never the user's real cache or token
    std::env::set_var("HF_HOME", cache.path().join("huggingface"));
    std::env::remove_var("HF_HUB_CACHE");
    std::env::remove_var("HF_HUB_OFFLINE");

    let config = HubConfig::from_env();
    assert_eq!(config.endpoint, server.endpoint);
    let got = Hub::new(config)
        .fetch(&HubRef::parse("hf:org/env").unwrap())
        .unwrap();
    assert_eq!(got.checkpoint.table.params, 256);
    assert!(cache
        .path()
        .join("sizeup/hub")
        .join(sizeup_formats::hub::cache_folder(&server.endpoint))
        .join("org/env/main/model.safetensors.header")
        .is_file());
}

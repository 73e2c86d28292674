//! Where models already are: the Hugging Face cache, the token file, offline
//! mode; and the remote load's bounds (one deadline, a shard cap, a checked
//! endpoint). Every test builds its own `HF_HOME` in a temporary folder and
//! injects its variables with `HubConfig::from_lookup`: the user's real cache,
//! token and network are never touched. Servers listen on 127.0.0.1 only.
#![cfg(feature = "hub")]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sizeup_formats::hub::{Hub, HubConfig, HubError, HubRef, Origin, TokenSource};
use sizeup_formats::source::{load_with, Source};
use sizeup_formats::FormatError;
use support::http::{Options, Server, Source as Served};
use support::{fixture_params, shared_dir, st_bytes, st_header, write_llama_2_7b_sharded};

const C1: &str = "0e9e39f249a16976918f6564b8830bc894c89659";
const C2: &str = "5206a32e0bd3067aef1ce90f5528ade7d866253f";
/// Nothing listens on port 1 of the loopback: any request there fails at once.
const NOWHERE: &str = "http://127.0.0.1:1";

fn fixture_config(name: &str) -> Vec<u8> {
    std::fs::read(
        shared_dir()
            .join("fixtures/models")
            .join(name)
            .join("config.json"),
    )
    .unwrap()
}

/// An `HF_HOME` with a cache and no token, and the variables that point at it.
struct Home {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("HF_HOME".into(), dir.path().display().to_string());
        // sizeup's own header cache, also inside the temporary folder
        vars.insert(
            "XDG_CACHE_HOME".into(),
            dir.path().join("xdg").display().to_string(),
        );
        vars.insert("HF_ENDPOINT".into(), NOWHERE.into());
        Home { dir, vars }
    }

    fn set(mut self, key: &str, value: impl Into<String>) -> Home {
        self.vars.insert(key.into(), value.into());
        self
    }

    fn offline(self) -> Home {
        self.set("HF_HUB_OFFLINE", "1")
    }

    fn config(&self) -> HubConfig {
        HubConfig::from_lookup(|k| self.vars.get(k).cloned())
    }

    /// `hub/models--ORG--NAME`.
    fn repo(&self, repo: &str) -> PathBuf {
        self.dir
            .path()
            .join("hub")
            .join(format!("models--{}", repo.replace('/', "--")))
    }

    /// A snapshot as huggingface_hub writes it: each file a blob, linked from
    /// `snapshots/<commit>/`. Returns the snapshot folder.
    fn snapshot(&self, repo: &str, commit: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
        let root = self.repo(repo);
        let snap = root.join("snapshots").join(commit);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(root.join("blobs")).unwrap();
        for (i, (name, bytes)) in files.iter().enumerate() {
            let blob = root.join("blobs").join(format!("{commit}-{i}"));
            std::fs::write(&blob, bytes).unwrap();
            link(&blob, &snap.join(name));
        }
        snap
    }

    fn reference(&self, repo: &str, rev: &str, commit: &str) {
        let refs = self.repo(repo).join("refs");
        std::fs::create_dir_all(&refs).unwrap();
        std::fs::write(refs.join(rev), commit).unwrap();
    }
}

#[cfg(unix)]
fn link(blob: &Path, at: &Path) {
    std::os::unix::fs::symlink(blob, at).unwrap();
}

#[cfg(not(unix))]
fn link(blob: &Path, at: &Path) {
    std::fs::copy(blob, at).unwrap();
}

fn first_note(loaded: &sizeup_formats::source::Loaded) -> String {
    let a = &loaded.assumptions[0];
    format!("{} = {} ({})", a.name, a.value, a.source)
}

/// The Hub error inside, through the note a bare id adds.
fn hub_error(e: FormatError) -> HubError {
    match e {
        FormatError::Hub(HubError::AsRepoId { source, .. }) => *source,
        FormatError::Hub(h) => h,
        other => panic!("not a Hub error: {other:?}"),
    }
}

#[test]
fn a_cached_model_is_sized_offline_and_says_which_copy() {
    let home = Home::new().offline();
    let repo = "meta-llama/Llama-3.1-8B-Instruct";
    let snap = home.snapshot(repo, C1, &[("config.json", fixture_config("llama-3.1-8b"))]);
    home.reference(repo, "main", C1);
    for spec in [repo, &format!("hf:{repo}")] {
        let loaded = load_with(spec, &home.config()).unwrap();
        assert_eq!(
            loaded.source,
            Source::HubCache {
                repo: repo.into(),
                revision: "main".into(),
                commit: C1.into(),
                path: snap.clone(),
            }
        );
        assert_eq!(loaded.name, repo);
        let count = sizeup_core::params::count(&loaded.arch).unwrap();
        assert_eq!(count.total, fixture_params("llama-3.1-8b"));
        let note = first_note(&loaded);
        assert!(note.starts_with("read from = "), "{note}");
        assert!(note.contains(&snap.display().to_string()), "{note}");
        assert!(note.contains(&format!("refs/main → commit {C1}")), "{note}");
        assert!(loaded.tensors.is_none());
    }
}

#[test]
fn cached_safetensors_headers_are_read_from_the_snapshot() {
    let home = Home::new().offline();
    let repo = "meta-llama/Llama-2-7b-hf";
    let snap = home.snapshot(repo, C1, &[("config.json", fixture_config("llama-2-7b"))]);
    // as the hub library lays a cache out: the shards are blobs of the repository's
    // folder, linked from the snapshot (sparse files: no gigabytes of zeros written)
    let blobs = snap.parent().unwrap().parent().unwrap().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let shards = write_llama_2_7b_sharded(&blobs);
    std::fs::copy(
        blobs.join("model.safetensors.index.json"),
        snap.join("model.safetensors.index.json"),
    )
    .unwrap();
    for shard in &shards {
        link(&blobs.join(shard), &snap.join(shard));
    }
    home.reference(repo, "main", C1);
    let loaded = load_with(&format!("hf:{repo}"), &home.config()).unwrap();
    let tensors = loaded.tensors.expect("the headers were read");
    // 6_738_415_616 = shared/fixtures/models/llama-2-7b/expected.json params_total
    assert_eq!(tensors.table.params, 6_738_415_616);

    // Hub::fetch (as `inspect` uses it) reads the same snapshot
    let fetched = Hub::new(home.config())
        .fetch(&HubRef::parse(&format!("hf:{repo}")).unwrap())
        .unwrap();
    assert!(matches!(fetched.origin, Origin::Cache(ref s) if s.commit == C1));
    assert_eq!(fetched.checkpoint.table.params, 6_738_415_616);

    // a partial download (a shard missing): the config alone, and a note saying so
    std::fs::remove_file(snap.join(shards[1])).unwrap();
    let loaded = load_with(repo, &home.config()).unwrap();
    assert!(loaded.tensors.is_none());
    assert!(loaded
        .assumptions
        .iter()
        .any(|a| a.name == "checkpoint tensors" && a.source.contains("partial")));
}

#[test]
fn a_revision_pinned_by_commit_reads_that_snapshot() {
    let home = Home::new().offline();
    let repo = "org/model";
    let mut small =
        serde_json::from_slice::<serde_json::Value>(&fixture_config("llama-3.1-8b")).unwrap();
    small["num_hidden_layers"] = 2.into();
    home.snapshot(repo, C1, &[("config.json", fixture_config("llama-3.1-8b"))]);
    let pinned = home.snapshot(repo, C2, &[("config.json", small.to_string().into_bytes())]);
    home.reference(repo, "main", C1);

    let loaded = load_with(&format!("hf:{repo}@{C2}"), &home.config()).unwrap();
    assert_eq!(loaded.arch.num_layers(), 2);
    assert!(
        matches!(&loaded.source, Source::HubCache { commit, path, .. } if commit == C2 && path == &pinned)
    );
    assert!(first_note(&loaded).contains(&format!("pinned commit {C2}")));
    let main = load_with(&format!("hf:{repo}"), &home.config()).unwrap();
    assert_eq!(main.arch.num_layers(), 32);
}

#[test]
fn a_stale_ref_is_an_error_offline_and_the_hub_answers_online() {
    let repo = "org/model";
    let home = Home::new().offline();
    home.snapshot(repo, C1, &[("config.json", fixture_config("llama-3.1-8b"))]);
    // refs/main moved on to C2, whose snapshot was never downloaded
    home.reference(repo, "main", C2);
    let err = hub_error(load_with(&format!("hf:{repo}"), &home.config()).unwrap_err());
    let HubError::StaleRef {
        commit, present, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((commit.as_str(), &present[..]), (C2, &[C1.to_string()][..]));
    let text = err.to_string();
    assert!(text.contains(&format!("hf:{repo}@{C1}")), "{text}");
    assert!(text.contains("is missing"), "{text}");

    // a stale copy of a model the catalog knows is still reported, not replaced
    let llama = "meta-llama/Meta-Llama-3.1-8B";
    home.snapshot(
        llama,
        C1,
        &[("config.json", fixture_config("llama-3.1-8b"))],
    );
    home.reference(llama, "main", C2);
    for spec in [llama.to_string(), format!("hf:{llama}")] {
        let err = hub_error(load_with(&spec, &home.config()).unwrap_err());
        assert!(matches!(err, HubError::StaleRef { .. }), "{spec}: {err:?}");
    }

    // online, the stale copy is not used: the Hub is asked for main
    let mut files = HashMap::new();
    files.insert(
        format!("{repo}/resolve/main/config.json"),
        Served::Bytes(fixture_config("llama-3.1-8b")),
    );
    let (json, len) = st_header(&[("lm_head.weight", "BF16", vec![32, 8])], &[]);
    files.insert(
        format!("{repo}/resolve/main/model.safetensors"),
        Served::Bytes(st_bytes(&json, len)),
    );
    let server = Server::start(files, Options::default());
    let online = home
        .set("HF_HUB_OFFLINE", "0")
        .set("HF_ENDPOINT", server.endpoint.clone());
    let loaded = load_with(&format!("hf:{repo}"), &online.config()).unwrap();
    assert!(matches!(loaded.source, Source::Hub { .. }));
    assert!(first_note(&loaded).contains(&server.endpoint));
}

#[test]
fn offline_without_a_cached_copy_names_hf_hub_offline_and_asks_nobody() {
    let server = Server::start(HashMap::new(), Options::default());
    let home = Home::new()
        .offline()
        .set("HF_ENDPOINT", server.endpoint.clone());
    let err = hub_error(load_with("hf:org/absent", &home.config()).unwrap_err());
    assert!(matches!(err, HubError::Offline { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("HF_HUB_OFFLINE"), "{text}");
    assert!(
        text.contains(&home.dir.path().join("hub").display().to_string()),
        "{text}"
    );
    // bare ids, inspect's fetch, and a pinned revision of a catalog model alike
    assert!(load_with("org/absent", &home.config()).is_err());
    assert!(Hub::new(home.config())
        .fetch(&HubRef::parse("hf:org/absent").unwrap())
        .is_err());
    let pinned = load_with("hf:meta-llama/Llama-3.1-8B-Instruct@v2", &home.config());
    assert!(matches!(
        pinned,
        Err(FormatError::Hub(HubError::Offline { .. }))
    ));
    assert_eq!(server.requests(), vec![]);
}

/// A gated repository: 401 unless the right token is sent.
fn gated_server() -> Server {
    let mut files = HashMap::new();
    files.insert(
        "meta-llama/Gated-8B/resolve/main/config.json".to_string(),
        Served::Bytes(fixture_config("llama-3.1-8b")),
    );
    Server::start(
        files,
        Options {
            token: Some("hf_right".into()),
            ..Options::default()
        },
    )
}

#[test]
fn a_gated_repo_is_refused_with_the_token_source_and_the_hint() {
    let server = gated_server();
    let spec = "hf:meta-llama/Gated-8B";
    let home = Home::new().set("HF_ENDPOINT", server.endpoint.clone());
    let token_file = home.dir.path().join("token");

    // no token anywhere
    let err = hub_error(load_with(spec, &home.config()).unwrap_err());
    assert!(
        matches!(
            err,
            HubError::Unauthorized {
                token: TokenSource::NotFound { .. },
                status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("no token was found"), "{text}");
    assert!(text.contains(&token_file.display().to_string()), "{text}");
    assert!(text.contains("hf auth login"), "{text}");
    assert!(
        text.contains(&format!("{}/meta-llama/Gated-8B", server.endpoint)),
        "{text}"
    );

    // the token file `hf auth login` writes, sent and refused: named, never shown
    std::fs::write(&token_file, "hf_wrong_from_file\n").unwrap();
    let err = hub_error(load_with(spec, &home.config()).unwrap_err());
    let HubError::Unauthorized { token, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        token,
        &TokenSource::File {
            path: token_file.clone()
        }
    );
    let text = err.to_string();
    assert!(text.contains("the token from the token file"), "{text}");
    assert!(!text.contains("hf_wrong_from_file"), "{text}");
    assert!(!format!("{:?}", home.config()).contains("hf_wrong_from_file"));
    assert!(server
        .requests()
        .iter()
        .any(|q| q.authorization.as_deref() == Some("Bearer hf_wrong_from_file")));

    // HF_TOKEN wins over the file
    let env = Home::new()
        .set("HF_ENDPOINT", server.endpoint.clone())
        .set("HF_TOKEN", "hf_wrong_from_env");
    std::fs::write(env.dir.path().join("token"), "hf_right").unwrap();
    let err = hub_error(load_with(spec, &env.config()).unwrap_err());
    assert!(
        err.to_string()
            .contains("the token from HF_TOKEN was refused"),
        "{err}"
    );

    // HF_TOKEN_PATH moves the file; the right token opens the gate
    let elsewhere = home.dir.path().join("secrets");
    std::fs::write(&elsewhere, "hf_right").unwrap();
    let ok = home.set("HF_TOKEN_PATH", elsewhere.display().to_string());
    assert_eq!(
        ok.config().token.map(|t| t.source),
        Some(TokenSource::File { path: elsewhere })
    );
    let err = hub_error(load_with(spec, &ok.config()).unwrap_err());
    // past the gate, the repository has no weights: a different error
    assert!(matches!(err, HubError::NoSafetensors { .. }), "{err:?}");
}

#[test]
fn a_silent_server_hits_the_one_deadline_quickly() {
    let server = Server::start(
        HashMap::new(),
        Options {
            silent: Some(Duration::from_secs(30)),
            ..Options::default()
        },
    );
    let mut config = Home::new()
        .set("HF_ENDPOINT", server.endpoint.clone())
        .config();
    config.deadline = Duration::from_millis(300);
    let started = Instant::now();
    let err = Hub::new(config.clone())
        .fetch(&HubRef::parse("hf:org/slow").unwrap())
        .unwrap_err();
    assert!(matches!(err, HubError::Deadline { .. }), "{err:?}");
    assert!(err.to_string().contains(&server.endpoint), "{err}");
    // bound, not a benchmark: far below the 30 s the server would hold us
    assert!(started.elapsed() < Duration::from_secs(10));

    // through `load`, a Hub out of time counts as unreachable: a name with a
    // catalog alias falls back to it, and the assumption says why
    let loaded = load_with("hf:meta-llama/Llama-3.1-8B-Instruct", &config).unwrap();
    assert_eq!(loaded.name, "llama-3.1-8b");
    assert!(
        first_note(&loaded).contains("unreachable"),
        "{}",
        first_note(&loaded)
    );
}

#[test]
fn a_dripping_server_is_held_to_the_same_deadline() {
    let mut files = HashMap::new();
    files.insert(
        "org/drip/resolve/main/config.json".to_string(),
        Served::Bytes(vec![b' '; 4096]),
    );
    let server = Server::start(
        files,
        Options {
            drip: Some(Duration::from_millis(20)),
            ..Options::default()
        },
    );
    let mut config = Home::new()
        .set("HF_ENDPOINT", server.endpoint.clone())
        .config();
    // each byte comes well within any per-read timeout; the whole never would
    config.deadline = Duration::from_millis(500);
    let started = Instant::now();
    let err = Hub::new(config)
        .fetch(&HubRef::parse("hf:org/drip").unwrap())
        .unwrap_err();
    assert!(matches!(err, HubError::Deadline { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// An index naming `n` distinct shards (none of them served).
fn index_with_shards(n: usize) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| {
            (
                format!("t{i}"),
                format!("model-{i:05}-of-{n:05}.safetensors").into(),
            )
        })
        .collect();
    serde_json::json!({"metadata": {}, "weight_map": map})
        .to_string()
        .into_bytes()
}

#[test]
fn an_index_with_too_many_shards_is_refused_before_any_shard_is_asked() {
    let mut files = HashMap::new();
    files.insert(
        "org/many/resolve/main/model.safetensors.index.json".to_string(),
        Served::Bytes(index_with_shards(4097)),
    );
    let server = Server::start(files, Options::default());
    let config = Home::new()
        .set("HF_ENDPOINT", server.endpoint.clone())
        .config();
    let err = Hub::new(config)
        .fetch(&HubRef::parse("hf:org/many").unwrap())
        .unwrap_err();
    assert!(
        matches!(
            err,
            HubError::TooManyShards {
                count: 4097,
                limit: 4096,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("4097 shards"), "{err}");
    assert!(server
        .requests()
        .iter()
        .all(|q| !q.path.ends_with(".safetensors")));
}

#[test]
fn shards_are_fetched_in_parallel_within_the_cap() {
    // 24 one-tensor shards
    let n = 24;
    let mut files = HashMap::new();
    let mut map = serde_json::Map::new();
    for i in 0..n {
        let shard = format!("model-{i:05}-of-{n:05}.safetensors");
        let tensor = format!("layers.{i}.weight");
        let (json, len) = st_header(&[(tensor.as_str(), "BF16", vec![4, 4])], &[]);
        files.insert(
            format!("org/wide/resolve/main/{shard}"),
            Served::Bytes(st_bytes(&json, len)),
        );
        map.insert(tensor, shard.into());
    }
    files.insert(
        "org/wide/resolve/main/model.safetensors.index.json".to_string(),
        Served::Bytes(
            serde_json::json!({"metadata": {}, "weight_map": map})
                .to_string()
                .into_bytes(),
        ),
    );
    let server = Server::start(files, Options::default());
    let mut config = Home::new()
        .set("HF_ENDPOINT", server.endpoint.clone())
        .config();
    config.cache_dir = None;
    config.parallel = 3;
    let got = Hub::new(config)
        .fetch(&HubRef::parse("hf:org/wide").unwrap())
        .unwrap();
    assert_eq!(got.checkpoint.table.params, 16 * n as u64);
    assert_eq!(got.checkpoint.files.len(), n);
    assert!(server.most_open() <= 3, "{}", server.most_open());
}

#[test]
fn a_malformed_endpoint_is_named_as_such() {
    for bad in [
        "huggingface.co",
        "https//huggingface.co",
        "http://host:port",
    ] {
        let home = Home::new().set("HF_ENDPOINT", bad);
        let err = hub_error(load_with("hf:org/model", &home.config()).unwrap_err());
        let HubError::InvalidEndpoint { value, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(value, bad);
        let text = err.to_string();
        assert!(text.contains("HF_ENDPOINT") && text.contains(bad), "{text}");
        assert!(!text.contains("cannot reach"), "{text}");
        // a misconfiguration is not hidden behind a catalog alias
        let err = load_with("hf:meta-llama/Llama-3.1-8B-Instruct", &home.config()).unwrap_err();
        assert!(
            matches!(err, FormatError::Hub(HubError::InvalidEndpoint { .. })),
            "{err:?}"
        );
    }
}

#[test]
fn hub_style_names_find_the_catalog_and_say_so() {
    let home = Home::new().offline();
    for spec in [
        "meta-llama/Llama-3.1-8B-Instruct",
        "Meta-Llama-3.1-8B-Instruct",
        "hf:meta-llama/Llama-3.1-8B-Instruct",
    ] {
        let loaded = load_with(spec, &home.config()).unwrap();
        assert_eq!(loaded.name, "llama-3.1-8b", "{spec}");
        let note = first_note(&loaded);
        assert!(
            note.starts_with("read as = catalog entry llama-3.1-8b (same architecture as its hf_id meta-llama/Meta-Llama-3.1-8B; instruction tuning does not change shapes"),
            "{note}"
        );
    }
    // an exact hf_id: the catalog answers a bare id before any network
    let server = Server::start(HashMap::new(), Options::default());
    let online = Home::new().set("HF_ENDPOINT", server.endpoint.clone());
    let loaded = load_with("meta-llama/meta-llama-3.1-8b", &online.config()).unwrap();
    assert_eq!(loaded.name, "llama-3.1-8b");
    assert!(first_note(&loaded).contains("its hf_id is"));
    assert_eq!(server.requests(), vec![]);
    // `hf:` asks the Hub itself (here: nothing there, so a 404)
    let err = load_with("hf:meta-llama/Meta-Llama-3.1-8B", &online.config()).unwrap_err();
    assert!(
        matches!(err, FormatError::Hub(HubError::NoSafetensors { .. })),
        "{err:?}"
    );
    assert!(!server.requests().is_empty());
    // a plain catalog name is read with no note at all
    assert!(load_with("llama-3.1-8b", &home.config())
        .unwrap()
        .assumptions
        .is_empty());
}

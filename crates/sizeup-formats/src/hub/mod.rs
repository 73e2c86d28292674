//! Read a model from the Hugging Face Hub without downloading its weights, and
//! from the Hugging Face cache without the network.
//!
//! `hf:ORG/NAME[@REVISION]` is looked up first in the Hugging Face cache
//! ([`cache`]): a snapshot there is read like a local folder. Otherwise, unless
//! `HF_HUB_OFFLINE` is set, [`Hub::fetch_remote`] fetches `config.json`, then
//! `model.safetensors.index.json` (or `model.safetensors`) and, for each shard,
//! only its header: an HTTP range request for the first 8 bytes (the header
//! length, and the file size from `Content-Range`), then one for the header.
//! Files are fetched from `{endpoint}/{ORG/NAME}/resolve/{REVISION}/{file}`,
//! shards [`HubConfig::parallel`] at a time, all within one deadline
//! ([`HubConfig::deadline`]) for the whole load.
//!
//! # Environment
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `HF_ENDPOINT` | the Hub's address | `https://huggingface.co` |
//! | `HF_HOME` | Hugging Face's folder | `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` |
//! | `HF_HUB_CACHE` | the model cache | `$HF_HOME/hub` |
//! | `HF_TOKEN` | access token, sent as `Authorization: Bearer …` (never forwarded on a redirect to another host) | the token file |
//! | `HF_TOKEN_PATH` | the token file `hf auth login` writes | `$HF_HOME/token` |
//! | `HF_HUB_OFFLINE` | `1`, `true`, `yes` or `on`: never use the network | off |
//! | `XDG_CACHE_HOME`, `HOME` | where sizeup keeps the headers it fetched | `~/.cache/sizeup/hub` |
//!
//! sizeup's own header cache lives in `$XDG_CACHE_HOME/sizeup/hub` (else
//! `~/.cache/sizeup/hub`), one folder per endpoint (`huggingface.co`, a mirror's
//! host), then per repository and revision: `config.json`
//! and the index as downloaded, and `<shard>.header` holding the shard's total
//! size (8 bytes, little-endian) followed by its first `8 + n` bytes. A revision
//! is cached under its name as given, so `main` is not refreshed when the
//! repository changes: pin a commit for reproducible results. Writing it is best
//! effort: a read-only cache folder does not fail a fetch. It is never written
//! into the Hugging Face cache, which holds whole files only.
//!
//! # What is the `hf-hub` crate's
//! The cache's folder names and snapshot paths ([`hf_hub::Repo::folder_name`],
//! [`hf_hub::CacheRepo::pointer_path`]). Its HTTP client downloads whole files
//! (no range reads of headers) and would bring a second HTTP stack, so the
//! requests are ours (ureq); so are the token and variable lookup, since
//! `hf_hub::Cache` reads only `HF_HOME` from the process environment and the
//! token file beside the cache, which tests could not inject and which ignores
//! `HF_TOKEN`, `HF_TOKEN_PATH` and `HF_HUB_CACHE`.
//!
//! # Source
//! huggingface_hub `constants.py` (`HF_ENDPOINT`, `HF_HOME`, `HF_HUB_CACHE`,
//! `HF_TOKEN_PATH`, `HF_HUB_OFFLINE`, `HUGGINGFACE_CO_URL_TEMPLATE`
//! = `{endpoint}/{repo_id}/resolve/{revision}/{filename}`); RFC 9110 §14 (range
//! requests, `Content-Range: bytes a-b/size`).

pub mod cache;
mod remote;
mod token;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::safetensors::{SafetensorsError, INDEX_FILE, SINGLE_FILE};

pub use cache::{Lookup, Snapshot};
pub use remote::{cache_folder, has_weights, Hub, HubCheckpoint, Origin};
pub use token::{Token, TokenSource};

/// The Hub's address when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The revision when the reference names none.
pub const DEFAULT_REVISION: &str = "main";
/// How long to wait for a connection: short, so an offline machine fails fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole remote load (config, index, every shard header) must end within
/// this: a silent or dripping server cannot hold sizeup longer. A 4096-shard
/// index at 8 requests in flight is 1024 rounds of two small reads, well inside
/// a minute on a working link.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// Most shard headers fetched at once (each is two small range requests).
pub const DEFAULT_PARALLEL: usize = 8;
/// Most shards an index may list. The largest public checkpoints have a few
/// hundred (DeepSeek-V3: 163); far more means a hostile or broken index.
pub const DEFAULT_MAX_SHARDS: usize = 4096;

/// What can go wrong finding a model in the Hugging Face cache or on the Hub.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HubError {
    /// A cached file that is not a regular file or is too large.
    #[error(transparent)]
    File(#[from] crate::file::FileError),
    /// A reference that is not `hf:ORG/NAME[@REVISION]`.
    #[error("`{spec}` is not a Hub reference: expected {expected}")]
    InvalidReference {
        /// The text given.
        spec: String,
        /// What was expected.
        expected: &'static str,
    },
    /// `HF_ENDPOINT` is set to something that is not an http(s) URL.
    #[error("HF_ENDPOINT is `{value}`, which is not a usable URL ({problem}): expected `https://host[:port][/path]`, or unset it for {DEFAULT_ENDPOINT}")]
    InvalidEndpoint {
        /// The variable's value.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// No connection, a refused connection, a protocol error.
    #[error("cannot reach the Hub at `{endpoint}` (fetching `{url}`); without network access, download the model and give its local folder instead, or use the Hugging Face cache with HF_HUB_OFFLINE=1")]
    Transport {
        /// The Hub's address.
        endpoint: String,
        /// The URL.
        url: String,
        /// What ureq reported.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The whole load took longer than its deadline.
    #[error("the Hub at `{endpoint}` did not answer within the {} s allowed for the whole load (at `{url}`)", deadline.as_secs_f64())]
    Deadline {
        /// The Hub's address.
        endpoint: String,
        /// The request under way when time ran out.
        url: String,
        /// The deadline for the whole load.
        deadline: Duration,
    },
    /// 401 or 403: a gated or private repository, or a refused token.
    #[error("`{url}` answered {status}: `{repo}` is gated or private (or absent: the Hub answers 401 for unknown names), and {}; log in with `hf auth login` (or set HF_TOKEN) as an account with access, and accept the model's license on {page}", token_note(token))]
    Unauthorized {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// `ORG/NAME`.
        repo: String,
        /// The model's page, where its license is accepted.
        page: String,
        /// Where the token sent came from, or where none was found.
        token: TokenSource,
    },
    /// 404 for a file that must exist.
    #[error("`{url}` does not exist (check the repository name and revision)")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// Any other unexpected status.
    #[error("`{url}` answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// A repository with neither a safetensors index nor `model.safetensors`.
    #[error("`{repo}` at `{revision}` has neither {INDEX_FILE} nor {SINGLE_FILE}")]
    NoSafetensors {
        /// `ORG/NAME`.
        repo: String,
        /// The revision.
        revision: String,
    },
    /// A range answer without a usable size, or shorter than asked.
    #[error("`{url}` gave an unusable answer to a range request: {detail}")]
    BadRange {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: &'static str,
    },
    /// A small file (config, index) larger than its limit.
    #[error("`{url}` is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// An index that lists more shards than sizeup reads.
    #[error("`{url}` lists {count} shards, more than the limit of {limit}")]
    TooManyShards {
        /// The index's URL.
        url: String,
        /// Distinct shard files it lists.
        count: usize,
        /// The limit ([`HubConfig::max_shards`]).
        limit: usize,
    },
    /// `config.json` that is not UTF-8.
    #[error("`{url}` is not UTF-8 text")]
    NotText {
        /// The URL.
        url: String,
    },
    /// Reading a response body failed.
    #[error("reading `{url}` failed")]
    Read {
        /// The URL.
        url: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `HF_HUB_OFFLINE` is set and the cache does not hold the model.
    #[error("`{repo}` at `{revision}` is not in the Hugging Face cache{}, and HF_HUB_OFFLINE is set, so the Hub was not asked: download it while online (`hf download {repo}`) or unset HF_HUB_OFFLINE", in_cache(cache))]
    Offline {
        /// `ORG/NAME`.
        repo: String,
        /// The revision.
        revision: String,
        /// The cache folder looked in.
        cache: Option<PathBuf>,
    },
    /// The cache's ref names a commit whose snapshot is missing (offline only:
    /// online, the Hub answers instead).
    #[error("the Hugging Face cache's `refs/{revision}` for `{repo}` names commit `{commit}`, but `{}` is missing{}", dir.display(), present_note(repo, present))]
    StaleRef {
        /// `ORG/NAME`.
        repo: String,
        /// The branch or tag.
        revision: String,
        /// The commit it names.
        commit: String,
        /// The missing snapshot folder.
        dir: PathBuf,
        /// The commits whose snapshots are present.
        present: Box<[String]>,
    },
    /// A cached snapshot with several GGUF files and no `config.json`.
    #[error("`{}` holds several GGUF files ({}) and no `config.json`: give the path of the one to read", dir.display(), files.join(", "))]
    SeveralGguf {
        /// The snapshot folder.
        dir: PathBuf,
        /// The GGUF files, sorted.
        files: Vec<String>,
    },
    /// A cached snapshot with no `config.json`, safetensors or GGUF file.
    #[error("`{}` holds neither `config.json` nor a GGUF file (a partial download?)", dir.display())]
    EmptySnapshot {
        /// The snapshot folder.
        dir: PathBuf,
    },
    /// A bare `ORG/NAME` that is no local path, read as a repository id, failed.
    #[error("`{spec}` is not a local path, so it was read as a Hugging Face repository id, and that failed")]
    AsRepoId {
        /// The text given.
        spec: String,
        /// Why the repository could not be read.
        #[source]
        source: Box<HubError>,
    },
    /// A header or index that fails its checks.
    #[error(transparent)]
    Safetensors(#[from] SafetensorsError),
}

fn token_note(token: &TokenSource) -> String {
    match token {
        TokenSource::NotFound { file: Some(path) } => format!(
            "no token was found (HF_TOKEN is unset and `{}` holds none)",
            path.display()
        ),
        TokenSource::NotFound { file: None } => {
            "no token was found (HF_TOKEN is unset)".to_string()
        }
        sent => format!("the token from {sent} was refused"),
    }
}

fn in_cache(cache: &Option<PathBuf>) -> String {
    cache
        .as_ref()
        .map(|c| format!(" `{}`", c.display()))
        .unwrap_or_default()
}

fn present_note(repo: &str, present: &[String]) -> String {
    match present.first() {
        None => " and no other snapshot is cached".to_string(),
        Some(first) => format!(
            "; cached snapshots: {}; pin one with `hf:{repo}@{first}`",
            present.join(", ")
        ),
    }
}

/// `hf:ORG/NAME[@REVISION]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubRef {
    /// `ORG/NAME`.
    pub repo: String,
    /// A branch, tag or commit (`main` when not given).
    pub revision: String,
}

impl HubRef {
    /// Whether `spec` is meant as a Hub reference (starts with `hf:`).
    pub fn is_hub(spec: &str) -> bool {
        spec.starts_with("hf:")
    }

    /// Parse `hf:ORG/NAME[@REVISION]`.
    ///
    /// # Errors
    /// [`HubError::InvalidReference`] without the prefix, without exactly one
    /// `/`, or with characters outside `A–Z a–z 0–9 . _ -` (revisions may also
    /// hold `/`), or with a `..` part.
    pub fn parse(spec: &str) -> Result<HubRef, HubError> {
        const EXPECTED: &str = "`hf:ORG/NAME` or `hf:ORG/NAME@REVISION`";
        let invalid = || HubError::InvalidReference {
            spec: spec.to_string(),
            expected: EXPECTED,
        };
        let rest = spec.strip_prefix("hf:").ok_or_else(invalid)?;
        HubRef::parse_id(rest).ok_or_else(invalid)
    }

    /// Parse a bare `ORG/NAME[@REVISION]` (no `hf:`), as the Hub writes ids;
    /// `None` when it is not one.
    pub fn parse_id(id: &str) -> Option<HubRef> {
        let (repo, revision) = match id.split_once('@') {
            Some((repo, rev)) => (repo, rev),
            None => (id, DEFAULT_REVISION),
        };
        let safe = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        let repo_ok = matches!(repo.split_once('/'), Some((org, name)) if safe(org) && safe(name));
        let rev_ok = revision.split('/').all(safe);
        (repo_ok && rev_ok).then(|| HubRef {
            repo: repo.to_string(),
            revision: revision.to_string(),
        })
    }

    /// `https://huggingface.co/ORG/NAME` on `endpoint`: where a license is accepted.
    pub fn page(&self, endpoint: &str) -> String {
        format!("{endpoint}/{}", self.repo)
    }
}

/// Where and how to reach the Hub and the Hugging Face cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Base URL, without a trailing `/` (checked when first used).
    pub endpoint: String,
    /// Bearer token for gated and private repositories (`HF_TOKEN`, else the token file).
    pub token: Option<Token>,
    /// Where the token file is looked for (`HF_TOKEN_PATH`, else `$HF_HOME/token`).
    pub token_file: Option<PathBuf>,
    /// sizeup's header cache folder (`…/sizeup`); `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// The Hugging Face cache (`HF_HUB_CACHE`, else `$HF_HOME/hub`); `None` skips it.
    pub hf_cache: Option<PathBuf>,
    /// `HF_HUB_OFFLINE`: never use the network.
    pub offline: bool,
    /// The whole remote load's deadline ([`DEFAULT_DEADLINE`]).
    pub deadline: Duration,
    /// Shard headers fetched at once ([`DEFAULT_PARALLEL`]).
    pub parallel: usize,
    /// Most shards an index may list ([`DEFAULT_MAX_SHARDS`]).
    pub max_shards: usize,
}

impl HubConfig {
    /// Read the variables of the module docs from the environment.
    pub fn from_env() -> HubConfig {
        HubConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// Build from any variable lookup (the environment, or a map in tests). Reads
    /// the token file if no `HF_TOKEN` is set; touches nothing else.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> HubConfig {
        let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let endpoint = set("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let home = set("HOME").map(PathBuf::from);
        let xdg = set("XDG_CACHE_HOME").map(PathBuf::from);
        let cache_dir = match &xdg {
            Some(dir) => Some(dir.join("sizeup")),
            None => home.as_ref().map(|h| h.join(".cache/sizeup")),
        };
        // huggingface_hub constants.py: HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface
        let hf_home = set("HF_HOME")
            .map(PathBuf::from)
            .or_else(|| xdg.as_ref().map(|d| d.join("huggingface")))
            .or_else(|| home.as_ref().map(|h| h.join(".cache/huggingface")));
        let hf_cache = set("HF_HUB_CACHE")
            .or_else(|| set("HUGGINGFACE_HUB_CACHE"))
            .map(PathBuf::from)
            .or_else(|| hf_home.as_ref().map(|h| h.join("hub")));
        let token_file = set("HF_TOKEN_PATH")
            .map(PathBuf::from)
            .or_else(|| hf_home.as_ref().map(|h| h.join("token")));
        HubConfig {
            endpoint: endpoint.trim().trim_end_matches('/').to_string(),
            token: token::find(set("HF_TOKEN"), token_file.as_deref()),
            token_file,
            cache_dir,
            hf_cache,
            offline: set("HF_HUB_OFFLINE").is_some_and(|v| is_true(&v)),
            deadline: DEFAULT_DEADLINE,
            parallel: DEFAULT_PARALLEL,
            max_shards: DEFAULT_MAX_SHARDS,
        }
    }

    /// Where the token sent comes from, or where none was found.
    pub fn token_source(&self) -> TokenSource {
        match &self.token {
            Some(t) => t.source.clone(),
            None => TokenSource::NotFound {
                file: self.token_file.clone(),
            },
        }
    }

    /// What the Hugging Face cache holds for `r` (never the network).
    pub fn lookup(&self, r: &HubRef) -> Lookup {
        match &self.hf_cache {
            Some(dir) => cache::lookup(dir, r),
            None => Lookup::Missing,
        }
    }

    /// The error for a reference the cache cannot answer while the Hub cannot be
    /// asked: [`HubError::StaleRef`] for a stale ref, else [`HubError::Offline`].
    pub fn offline_error(&self, r: &HubRef) -> HubError {
        match self.lookup(r) {
            Lookup::Stale {
                commit,
                dir,
                present,
            } => HubError::StaleRef {
                repo: r.repo.clone(),
                revision: r.revision.clone(),
                commit,
                dir,
                present: present.into(),
            },
            _ => HubError::Offline {
                repo: r.repo.clone(),
                revision: r.revision.clone(),
                cache: self.hf_cache.clone(),
            },
        }
    }

    /// Check [`HubConfig::endpoint`].
    ///
    /// # Errors
    /// [`HubError::InvalidEndpoint`] unless it is `http://` or `https://`, a host,
    /// and at most a port and a path.
    pub fn check_endpoint(&self) -> Result<(), HubError> {
        let problem = endpoint_problem(&self.endpoint);
        match problem {
            None => Ok(()),
            Some(problem) => Err(HubError::InvalidEndpoint {
                value: self.endpoint.clone(),
                problem,
            }),
        }
    }
}

/// huggingface_hub `utils/_runtime.py` `_is_true`: `1`, `ON`, `YES`, `TRUE`, any case.
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

/// What makes `endpoint` unusable as the Hub's base URL, if anything.
fn endpoint_problem(endpoint: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return Some("no `http://` or `https://` scheme");
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return Some("the scheme is not `http` or `https`");
    }
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("a query, fragment or space in it");
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        // an IPv6 literal: `[::1]` or `[::1]:8080`
        Some(inner) => match inner.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, after)) => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Some("text after the `]` of the host"),
            },
            None => return Some("an unclosed `[` in the host"),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Some("the port is not a number from 0 to 65535");
    }
    if host.is_empty() || host.contains('@') {
        return Some("no host");
    }
    match ureq::http::Uri::try_from(endpoint) {
        Ok(_) => None,
        Err(_) => Some("not a URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = HubRef::parse("hf:meta-llama/Llama-2-7b-hf").unwrap();
        assert_eq!(
            (r.repo.as_str(), r.revision.as_str()),
            ("meta-llama/Llama-2-7b-hf", "main")
        );
        let r = HubRef::parse("hf:Qwen/Qwen3-8B@refs/pr/3").unwrap();
        assert_eq!(r.revision, "refs/pr/3");
        for bad in [
            "meta-llama/x",
            "hf:x",
            "hf:a/b/c",
            "hf:../b",
            "hf:a/b@",
            "hf:a/b@x/../y",
            "hf:a b/c",
        ] {
            assert!(HubRef::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            HubRef::parse_id("meta-llama/x"),
            Some(HubRef {
                repo: "meta-llama/x".into(),
                revision: "main".into()
            })
        );
        assert_eq!(HubRef::parse_id("x"), None);
    }

    #[test]
    fn config_from_variables() {
        let c = HubConfig::from_lookup(|k| match k {
            "HOME" => Some("/home/u".into()),
            "HF_TOKEN" => Some(String::new()),
            _ => None,
        });
        assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(c.token, None);
        assert_eq!(c.cache_dir, Some(PathBuf::from("/home/u/.cache/sizeup")));
        assert_eq!(
            c.hf_cache,
            Some(PathBuf::from("/home/u/.cache/huggingface/hub"))
        );
        assert_eq!(
            c.token_file,
            Some(PathBuf::from("/home/u/.cache/huggingface/token"))
        );
        assert!(!c.offline);
        assert_eq!(c.deadline, DEFAULT_DEADLINE);

        let c = HubConfig::from_lookup(|k| match k {
            "HF_HOME" => Some("/hf".into()),
            "HF_HUB_CACHE" => Some("/models".into()),
            "HF_TOKEN_PATH" => Some("/secrets/hf".into()),
            "XDG_CACHE_HOME" => Some("/xdg".into()),
            "HF_HUB_OFFLINE" => Some("True".into()),
            _ => None,
        });
        assert_eq!(c.hf_cache, Some(PathBuf::from("/models")));
        assert_eq!(c.token_file, Some(PathBuf::from("/secrets/hf")));
        assert_eq!(c.cache_dir, Some(PathBuf::from("/xdg/sizeup")));
        assert!(c.offline);

        let c = HubConfig::from_lookup(|k| (k == "XDG_CACHE_HOME").then(|| "/xdg".into()));
        assert_eq!(c.hf_cache, Some(PathBuf::from("/xdg/huggingface/hub")));
        for off in ["0", "false", "no", ""] {
            let c = HubConfig::from_lookup(|k| (k == "HF_HUB_OFFLINE").then(|| off.into()));
            assert!(!c.offline, "{off}");
        }
    }

    #[test]
    fn endpoints_are_checked() {
        for good in [
            "https://huggingface.co",
            "http://127.0.0.1:8080",
            "https://hf-mirror.com/prefix",
            "http://[::1]:9000",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for bad in [
            "huggingface.co",
            "https//huggingface.co",
            "ftp://huggingface.co",
            "https://",
            "http://host:port",
            "http://host:99999",
            "https://hugging face.co",
            "https://h/?x=1",
        ] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn refusals_name_the_token_source_never_the_token() {
        let err = HubError::Unauthorized {
            url: "https://h/o/n/resolve/main/config.json".into(),
            status: 401,
            repo: "o/n".into(),
            page: "https://h/o/n".into(),
            token: TokenSource::NotFound {
                file: Some(PathBuf::from("/hf/token")),
            },
        };
        let text = err.to_string();
        assert!(text.contains("no token was found"), "{text}");
        assert!(text.contains("`/hf/token`"), "{text}");
        assert!(text.contains("hf auth login"), "{text}");
        assert!(text.contains("https://h/o/n"), "{text}");
        let err = HubError::Unauthorized {
            url: "u".into(),
            status: 403,
            repo: "o/n".into(),
            page: "p".into(),
            token: TokenSource::Env,
        };
        assert!(err
            .to_string()
            .contains("the token from HF_TOKEN was refused"));
    }
}

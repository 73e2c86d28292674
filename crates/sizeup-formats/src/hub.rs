//! Read a model from the Hugging Face Hub without downloading its weights.
//!
//! `hf:ORG/NAME[@REVISION]` fetches `config.json`, then
//! `model.safetensors.index.json` (or `model.safetensors`) and, for each shard,
//! only its header: an HTTP range request for the first 8 bytes (the header
//! length, and the file size from `Content-Range`), then one for the header.
//! Files are fetched from `{endpoint}/{ORG/NAME}/resolve/{REVISION}/{file}`.
//!
//! Environment: `HF_ENDPOINT` (default `https://huggingface.co`), `HF_TOKEN`
//! (sent as `Authorization: Bearer …`, never forwarded on a redirect to
//! another host), `XDG_CACHE_HOME` or `HOME` for the cache.
//!
//! The cache lives in `$XDG_CACHE_HOME/sizeup/hub` (else `~/.cache/sizeup/hub`),
//! one folder per repository and revision: `config.json` and the index as
//! downloaded, and `<shard>.header` holding the shard's total size (8 bytes,
//! little-endian) followed by its first `8 + n` bytes. A revision is cached
//! under its name as given, so `main` is not refreshed when the repository
//! changes: pin a commit for reproducible results. Writing the cache is best
//! effort: a read-only cache folder does not fail a fetch.
//!
//! # Source
//! huggingface_hub `constants.py` (`HF_ENDPOINT`, `HUGGINGFACE_CO_URL_TEMPLATE`
//! = `{endpoint}/{repo_id}/resolve/{revision}/{filename}`, `HF_TOKEN`);
//! RFC 9110 §14 (range requests, `Content-Range: bytes a-b/size`).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::safetensors::{
    assemble, check_header_len, parse_header, parse_index, Checkpoint, SafetensorsError,
    SafetensorsHeader, ShardIndex, INDEX_FILE, MAX_INDEX_BYTES, SINGLE_FILE,
};

/// The Hub's address when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The revision when the reference names none.
pub const DEFAULT_REVISION: &str = "main";
/// Largest `config.json` accepted (real ones are a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 10 << 20;
/// How long to wait for a connection: short, so an offline machine fails fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take in all.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What can go wrong talking to the Hub.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HubError {
    /// A reference that is not `hf:ORG/NAME[@REVISION]`.
    #[error("`{spec}` is not a Hub reference: expected {expected}")]
    InvalidReference {
        /// The text given.
        spec: String,
        /// What was expected.
        expected: &'static str,
    },
    /// No connection, a timeout, a protocol error.
    #[error("cannot fetch `{url}`; without network access, download the model and give its local folder instead")]
    Transport {
        /// The URL.
        url: String,
        /// What ureq reported.
        #[source]
        source: Box<ureq::Error>,
    },
    /// 401 or 403: a gated or private repository.
    #[error("`{url}` answered {status}: the repository is gated or private ({})", if *token_set { "HF_TOKEN was sent and refused" } else { "set HF_TOKEN to a token with access" })]
    Unauthorized {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Whether a token was sent.
        token_set: bool,
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
    /// A header or index that fails its checks.
    #[error(transparent)]
    Safetensors(#[from] SafetensorsError),
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
        let (repo, revision) = match rest.split_once('@') {
            Some((repo, rev)) => (repo, rev),
            None => (rest, DEFAULT_REVISION),
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
        if !repo_ok || !rev_ok {
            return Err(invalid());
        }
        Ok(HubRef {
            repo: repo.to_string(),
            revision: revision.to_string(),
        })
    }
}

/// Where and how to reach the Hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Base URL, without a trailing `/`.
    pub endpoint: String,
    /// Bearer token for gated and private repositories.
    pub token: Option<String>,
    /// Cache folder (`…/sizeup`); `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
}

impl HubConfig {
    /// Read `HF_ENDPOINT`, `HF_TOKEN`, `XDG_CACHE_HOME` and `HOME` from the environment.
    pub fn from_env() -> HubConfig {
        HubConfig::from_lookup(|k| std::env::var(k).ok())
    }

    /// Build from any variable lookup (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> HubConfig {
        let set = |k: &str| get(k).filter(|v| !v.is_empty());
        let endpoint = set("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let cache_dir = match set("XDG_CACHE_HOME") {
            Some(dir) => Some(PathBuf::from(dir).join("sizeup")),
            None => set("HOME").map(|home| PathBuf::from(home).join(".cache/sizeup")),
        };
        HubConfig {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: set("HF_TOKEN"),
            cache_dir,
        }
    }
}

/// A Hub checkpoint: its configuration text and its tensor table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubCheckpoint {
    /// The repository and revision.
    pub reference: HubRef,
    /// `config.json` as served, if the repository has one.
    pub config_json: Option<String>,
    /// The safetensors headers, assembled.
    pub checkpoint: Checkpoint,
}

/// A client for the Hub.
pub struct Hub {
    config: HubConfig,
    agent: ureq::Agent,
}

impl Hub {
    /// A client with [`CONNECT_TIMEOUT`] and [`REQUEST_TIMEOUT`].
    pub fn new(config: HubConfig) -> Hub {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("sizeup/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Hub { config, agent }
    }

    /// Fetch the configuration and every safetensors header of a repository.
    ///
    /// # Errors
    /// [`HubError`]: transport, status, missing checkpoint, or header checks.
    pub fn fetch(&self, r: &HubRef) -> Result<HubCheckpoint, HubError> {
        let config_json = match self.small_file(r, "config.json", MAX_CONFIG_BYTES)? {
            Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| HubError::NotText {
                url: self.url(r, "config.json"),
            })?),
            None => None,
        };
        let checkpoint = match self.small_file(r, INDEX_FILE, MAX_INDEX_BYTES)? {
            Some(bytes) => {
                let url = self.url(r, INDEX_FILE);
                let index: ShardIndex = parse_index(&url, &bytes)?;
                let headers = index
                    .shards()
                    .into_iter()
                    .map(|shard| Ok((shard.to_string(), self.header(r, shard)?)))
                    .collect::<Result<Vec<_>, HubError>>()?;
                assemble(&url, Some(&index), headers)?
            }
            None => {
                let header = self.header(r, SINGLE_FILE).map_err(|e| match e {
                    HubError::NotFound { .. } => HubError::NoSafetensors {
                        repo: r.repo.clone(),
                        revision: r.revision.clone(),
                    },
                    other => other,
                })?;
                assemble(
                    &self.url(r, SINGLE_FILE),
                    None,
                    vec![(SINGLE_FILE.to_string(), header)],
                )?
            }
        };
        Ok(HubCheckpoint {
            reference: r.clone(),
            config_json,
            checkpoint,
        })
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`, the revision's `/` escaped.
    pub fn url(&self, r: &HubRef, file: &str) -> String {
        let file: Vec<String> = file.split('/').map(escape).collect();
        format!(
            "{}/{}/resolve/{}/{}",
            self.config.endpoint,
            r.repo,
            escape(&r.revision),
            file.join("/")
        )
    }

    fn cache_path(&self, r: &HubRef, file: &str) -> Option<PathBuf> {
        let dir = self.config.cache_dir.as_ref()?;
        Some(
            dir.join("hub")
                .join(&r.repo)
                .join(escape(&r.revision))
                .join(file),
        )
    }

    /// A whole small file, `None` on 404.
    fn small_file(&self, r: &HubRef, file: &str, limit: u64) -> Result<Option<Vec<u8>>, HubError> {
        let cached = self.cache_path(r, file);
        if let Some(bytes) = cached.as_deref().and_then(|p| fs::read(p).ok()) {
            return Ok(Some(bytes));
        }
        let url = self.url(r, file);
        let mut resp = match self.get(&url, None)? {
            Some(resp) => resp,
            None => return Ok(None),
        };
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => HubError::TooLarge {
                    url: url.clone(),
                    limit,
                },
                other => HubError::Transport {
                    url: url.clone(),
                    source: Box::new(other),
                },
            })?;
        if let Some(p) = cached {
            store(&p, &bytes);
        }
        Ok(Some(bytes))
    }

    /// The header of one safetensors file, from the cache or by two range requests.
    fn header(&self, r: &HubRef, file: &str) -> Result<SafetensorsHeader, HubError> {
        let url = self.url(r, file);
        let cached = self.cache_path(r, &format!("{file}.header"));
        if let Some(entry) = cached.as_deref().and_then(|p| fs::read(p).ok()) {
            if let Some((total, rest)) = split_u64(&entry) {
                if let Some((claimed, json)) = split_u64(rest) {
                    if json.len() as u64 == claimed {
                        check_header_len(&url, claimed, total)?;
                        return Ok(parse_header(&url, json, total - 8 - claimed)?);
                    }
                }
            }
        }
        let (first, total) = self.range(&url, 0, 8)?;
        let claimed = split_u64(&first).map(|(n, _)| n).unwrap_or(0);
        check_header_len(&url, claimed, total)?;
        let json = if claimed == 0 {
            Vec::new()
        } else {
            self.range(&url, 8, claimed)?.0
        };
        let header = parse_header(&url, &json, total - 8 - claimed)?;
        if let Some(p) = cached {
            store(
                &p,
                &[total.to_le_bytes().as_slice(), &first, &json].concat(),
            );
        }
        Ok(header)
    }

    /// `len` bytes from `start`, and the file's total size.
    fn range(&self, url: &str, start: u64, len: u64) -> Result<(Vec<u8>, u64), HubError> {
        let bad = |detail| HubError::BadRange {
            url: url.to_string(),
            detail,
        };
        let end = start + len - 1;
        let mut resp = self
            .get(url, Some(format!("bytes={start}-{end}")))?
            .ok_or_else(|| HubError::NotFound {
                url: url.to_string(),
            })?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (skip, total) = match resp.status().as_u16() {
            206 => {
                let total = header("content-range")
                    .as_deref()
                    .and_then(content_range_total)
                    .ok_or_else(|| bad("no `Content-Range: bytes a-b/size` in a 206 answer"))?;
                (0, total)
            }
            // the server ignored the range: read the prefix of the whole file
            200 => {
                let total = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| bad("no Content-Length in a 200 answer to a range request"))?;
                (start, total)
            }
            // asked past the end: the file is shorter than a safetensors length
            416 => {
                let total = header("content-range")
                    .as_deref()
                    .and_then(content_range_total)
                    .unwrap_or(0);
                return Ok((Vec::new(), total));
            }
            status => {
                return Err(HubError::Status {
                    url: url.to_string(),
                    status,
                })
            }
        };
        if start.checked_add(len).is_none_or(|e| e > total) {
            // let the safetensors checks name the problem with the real size
            return Ok((Vec::new(), total));
        }
        let mut bytes = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(skip + len)
            .read_to_end(&mut bytes)
            .map_err(|source| HubError::Read {
                url: url.to_string(),
                source,
            })?;
        let bytes = bytes.split_off(usize::try_from(skip).unwrap_or(usize::MAX).min(bytes.len()));
        if bytes.len() as u64 != len {
            return Err(bad("fewer bytes than the range asked for"));
        }
        Ok((bytes, total))
    }

    /// GET with an optional `Range`; `None` on 404, errors on 401/403 and transport.
    fn get(
        &self,
        url: &str,
        range: Option<String>,
    ) -> Result<Option<ureq::http::Response<ureq::Body>>, HubError> {
        let mut req = self.agent.get(url);
        if let Some(range) = range {
            req = req.header("Range", range);
        }
        if let Some(token) = &self.config.token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        let resp = req.call().map_err(|source| HubError::Transport {
            url: url.to_string(),
            source: Box::new(source),
        })?;
        match resp.status().as_u16() {
            404 => Ok(None),
            status @ (401 | 403) => Err(HubError::Unauthorized {
                url: url.to_string(),
                status,
                token_set: self.config.token.is_some(),
            }),
            200 | 206 | 416 => Ok(Some(resp)),
            status => Err(HubError::Status {
                url: url.to_string(),
                status,
            }),
        }
    }
}

/// The size after the `/` of `bytes a-b/size` (or `bytes */size`).
fn content_range_total(value: &str) -> Option<u64> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    rest.rsplit_once('/')?.1.trim().parse().ok()
}

fn split_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

/// Percent-escape a path segment (RFC 3986 unreserved characters kept).
fn escape(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Write a cache entry through a temporary file; failures are ignored (module docs).
fn store(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if fs::write(&tmp, bytes).is_ok() && fs::rename(&tmp, path).is_err() {
        let _ = fs::remove_file(&tmp);
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
    }

    #[test]
    fn urls_and_ranges() {
        let hub = Hub::new(HubConfig::from_lookup(|k| {
            (k == "HF_ENDPOINT").then(|| "http://h/".into())
        }));
        let r = HubRef::parse("hf:a/b@refs/pr/1").unwrap();
        assert_eq!(
            hub.url(&r, "config.json"),
            "http://h/a/b/resolve/refs%2Fpr%2F1/config.json"
        );
        assert_eq!(
            content_range_total("bytes 0-7/13476839424"),
            Some(13_476_839_424)
        );
        assert_eq!(content_range_total("bytes */42"), Some(42));
        assert_eq!(content_range_total("bytes 0-7/*"), None);
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
    }
}

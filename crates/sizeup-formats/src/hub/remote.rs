//! The Hub over HTTP: small files whole, safetensors headers by range requests,
//! shards in parallel, one deadline for the whole load.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::cache::{Lookup, Snapshot};
use super::{HubConfig, HubError, HubRef, CONNECT_TIMEOUT};
use crate::file::{self, FileError, MAX_CONFIG_BYTES};
use crate::safetensors::{
    assemble, check_header_len, parse_header, parse_index, read_checkpoint, Checkpoint,
    SafetensorsHeader, ShardIndex, INDEX_FILE, MAX_INDEX_BYTES, SINGLE_FILE,
};

/// Where a checkpoint's files were read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A snapshot of the Hugging Face cache, with no network.
    Cache(Snapshot),
    /// The Hub (or sizeup's header cache of it).
    Remote {
        /// The Hub's address.
        endpoint: String,
    },
}

/// A Hub checkpoint: its configuration text and its tensor table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubCheckpoint {
    /// The repository and revision.
    pub reference: HubRef,
    /// `config.json`, if the repository has one.
    pub config_json: Option<String>,
    /// The safetensors headers, assembled.
    pub checkpoint: Checkpoint,
    /// Where they were read.
    pub origin: Origin,
}

/// A client for the Hub.
pub struct Hub {
    config: HubConfig,
    agent: ureq::Agent,
}

impl Hub {
    /// A client with [`CONNECT_TIMEOUT`]; each load runs under [`HubConfig::deadline`].
    pub fn new(config: HubConfig) -> Hub {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("sizeup/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Hub { config, agent }
    }

    /// Its configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The configuration and every safetensors header of a repository: from the
    /// Hugging Face cache when a snapshot there holds the weights' headers, else
    /// (unless offline) from the Hub.
    ///
    /// # Errors
    /// [`HubError::Offline`] or [`HubError::StaleRef`] offline without a cached
    /// copy; any error of [`Hub::fetch_remote`].
    pub fn fetch(&self, r: &HubRef) -> Result<HubCheckpoint, HubError> {
        let lookup = self.config.lookup(r);
        if let Lookup::Found(snapshot) = &lookup {
            if has_weights(&snapshot.dir) || self.config.offline {
                return read_snapshot(r, snapshot.clone());
            }
        }
        if self.config.offline {
            return Err(self.config.offline_error(r));
        }
        self.fetch_remote(r)
    }

    /// The configuration and every safetensors header from the Hub (or sizeup's
    /// header cache of it), never the Hugging Face cache.
    ///
    /// # Errors
    /// [`HubError`]: a malformed endpoint, transport, the deadline, status,
    /// too many shards, missing checkpoint, or header checks.
    pub fn fetch_remote(&self, r: &HubRef) -> Result<HubCheckpoint, HubError> {
        self.config.check_endpoint()?;
        let load = Load {
            hub: self,
            r,
            deadline: Instant::now() + self.config.deadline,
        };
        let config_json = match load.small_file("config.json", MAX_CONFIG_BYTES)? {
            Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| HubError::NotText {
                url: self.url(r, "config.json"),
            })?),
            None => None,
        };
        let checkpoint = match load.small_file(INDEX_FILE, MAX_INDEX_BYTES)? {
            Some(bytes) => {
                let url = self.url(r, INDEX_FILE);
                let index: ShardIndex = parse_index(&url, &bytes)?;
                let shards = index.shards();
                if shards.len() > self.config.max_shards {
                    return Err(HubError::TooManyShards {
                        url,
                        count: shards.len(),
                        limit: self.config.max_shards,
                    });
                }
                let headers = load.headers(&shards)?;
                assemble(&url, Some(&index), headers)?
            }
            None => {
                let header = load.header(SINGLE_FILE).map_err(|e| match e {
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
            origin: Origin::Remote {
                endpoint: self.config.endpoint.clone(),
            },
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

    /// Where the header cache keeps `file` of `r` fetched from this endpoint: one
    /// folder per endpoint, so a mirror's files never answer for the Hub's.
    fn cache_path(&self, r: &HubRef, file: &str) -> Option<PathBuf> {
        let dir = self.config.cache_dir.as_ref()?;
        Some(
            dir.join("hub")
                .join(cache_folder(&self.config.endpoint))
                .join(&r.repo)
                .join(escape(&r.revision))
                .join(file),
        )
    }
}

/// Whether a snapshot holds a whole safetensors checkpoint's headers: the
/// single file, or the index and every shard it lists.
pub fn has_weights(dir: &Path) -> bool {
    if dir.join(SINGLE_FILE).is_file() && !dir.join(INDEX_FILE).is_file() {
        return true;
    }
    let index_path = dir.join(INDEX_FILE);
    let Ok(bytes) = file::read_bytes(&index_path, MAX_INDEX_BYTES) else {
        return false;
    };
    match parse_index(&index_path.display().to_string(), &bytes) {
        Ok(index) => index.shards().iter().all(|s| dir.join(s).is_file()),
        Err(_) => false,
    }
}

/// A cached snapshot's config and safetensors headers, read from disk.
fn read_snapshot(r: &HubRef, snapshot: Snapshot) -> Result<HubCheckpoint, HubError> {
    let config_path = snapshot.dir.join("config.json");
    let config_json = match file::read_text(&config_path, MAX_CONFIG_BYTES) {
        Ok(text) => Some(text),
        // absent: a snapshot may hold weights only
        Err(FileError::Io { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let checkpoint = read_checkpoint(&snapshot.dir)?;
    Ok(HubCheckpoint {
        reference: r.clone(),
        config_json,
        checkpoint,
        origin: Origin::Cache(snapshot),
    })
}

/// One remote load: a repository and the instant by which it must be done.
struct Load<'a> {
    hub: &'a Hub,
    r: &'a HubRef,
    deadline: Instant,
}

impl Load<'_> {
    fn url(&self, file: &str) -> String {
        self.hub.url(self.r, file)
    }

    fn deadline_error(&self, url: &str) -> HubError {
        HubError::Deadline {
            endpoint: self.hub.config.endpoint.clone(),
            url: url.to_string(),
            deadline: self.hub.config.deadline,
        }
    }

    /// A ureq error as ours: the global timeout is the load's deadline.
    fn transport(&self, url: &str, e: ureq::Error) -> HubError {
        match e {
            ureq::Error::Timeout(ureq::Timeout::Global) => self.deadline_error(url),
            other => HubError::Transport {
                endpoint: self.hub.config.endpoint.clone(),
                url: url.to_string(),
                source: Box::new(other),
            },
        }
    }

    /// A body read error as ours: ureq reports its timeouts inside `io::Error`.
    fn read_error(&self, url: &str, source: std::io::Error) -> HubError {
        let inner = source
            .get_ref()
            .and_then(|e| e.downcast_ref::<ureq::Error>());
        if matches!(inner, Some(ureq::Error::Timeout(_)))
            || source.kind() == std::io::ErrorKind::TimedOut
        {
            return self.deadline_error(url);
        }
        HubError::Read {
            url: url.to_string(),
            source,
        }
    }

    /// Every shard's header, [`HubConfig::parallel`] at a time, in `shards` order;
    /// the first failure (in that order) stops the rest from starting.
    fn headers(&self, shards: &[&str]) -> Result<Vec<(String, SafetensorsHeader)>, HubError> {
        let workers = self.hub.config.parallel.clamp(1, shards.len().max(1));
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let slots: Mutex<Vec<Option<Result<SafetensorsHeader, HubError>>>> =
            Mutex::new(shards.iter().map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(shard) = shards.get(i) else { break };
                    let got = self.header(shard);
                    if got.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
                    slots[i] = Some(got);
                });
            }
        });
        let slots = slots.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut headers = Vec::with_capacity(shards.len());
        let mut unread = None;
        for (shard, slot) in shards.iter().zip(slots) {
            match slot {
                Some(Ok(h)) => headers.push((shard.to_string(), h)),
                Some(Err(e)) => return Err(e),
                None => unread = unread.or(Some(*shard)),
            }
        }
        // not reached: a shard is left unread only after another one failed
        match unread {
            Some(shard) => Err(self.deadline_error(&self.url(shard))),
            None => Ok(headers),
        }
    }

    /// A whole small file, `None` on 404.
    fn small_file(&self, file: &str, limit: u64) -> Result<Option<Vec<u8>>, HubError> {
        let cached = self.hub.cache_path(self.r, file);
        if let Some(bytes) = cached
            .as_deref()
            .and_then(|p| file::read_bytes(p, limit).ok())
        {
            return Ok(Some(bytes));
        }
        let url = self.url(file);
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
                other => self.transport(&url, other),
            })?;
        if let Some(p) = cached {
            store(&p, &bytes);
        }
        Ok(Some(bytes))
    }

    /// The header of one safetensors file, from the cache or by two range requests.
    fn header(&self, file: &str) -> Result<SafetensorsHeader, HubError> {
        let url = self.url(file);
        let cached = self.hub.cache_path(self.r, &format!("{file}.header"));
        // the entry: total length, header length, header (at most MAX_HEADER_BYTES)
        let entry_cap = crate::safetensors::MAX_HEADER_BYTES + 16;
        if let Some(entry) = cached
            .as_deref()
            .and_then(|p| file::read_bytes(p, entry_cap).ok())
        {
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
            .map_err(|source| self.read_error(url, source))?;
        let bytes = bytes.split_off(usize::try_from(skip).unwrap_or(usize::MAX).min(bytes.len()));
        if bytes.len() as u64 != len {
            return Err(bad("fewer bytes than the range asked for"));
        }
        Ok((bytes, total))
    }

    /// GET with an optional `Range`, within what is left of the deadline; `None`
    /// on 404, errors on 401/403 and transport.
    fn get(
        &self,
        url: &str,
        range: Option<String>,
    ) -> Result<Option<ureq::http::Response<ureq::Body>>, HubError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.deadline_error(url));
        }
        let mut req = self
            .hub
            .agent
            .get(url)
            .config()
            .timeout_global(Some(left))
            .build();
        if let Some(range) = range {
            req = req.header("Range", range);
        }
        let config = &self.hub.config;
        if let Some(token) = &config.token {
            req = req.header("Authorization", format!("Bearer {}", token.secret()));
        }
        let resp = req.call().map_err(|e| self.transport(url, e))?;
        match resp.status().as_u16() {
            404 => Ok(None),
            status @ (401 | 403) => Err(HubError::Unauthorized {
                url: url.to_string(),
                status,
                repo: self.r.repo.clone(),
                page: self.r.page(&config.endpoint),
                token: config.token_source(),
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

/// The header cache's folder for an endpoint: its URL without the scheme and the
/// trailing slash, percent-escaped into one path segment
/// (`https://huggingface.co` → `huggingface.co`, `http://127.0.0.1:8080` →
/// `127.0.0.1%3A8080`).
pub fn cache_folder(endpoint: &str) -> String {
    let bare = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .unwrap_or(endpoint)
        .trim_end_matches('/');
    escape(bare)
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
    let tmp = path.with_extension(format!(
        "tmp{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    if fs::write(&tmp, bytes).is_ok() && fs::rename(&tmp, path).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

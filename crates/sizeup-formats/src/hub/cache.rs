//! Finding a repository in the Hugging Face cache, where `transformers`,
//! `huggingface_hub` and `hf download` put it.
//!
//! The layout (huggingface_hub's, which the `hf-hub` crate also writes):
//! `{cache}/models--ORG--NAME/refs/{revision}` holds a commit hash, and
//! `{cache}/models--ORG--NAME/snapshots/{commit}/` holds the files of that commit
//! (links into `blobs/`). A revision that is itself a 40-hex commit names its
//! snapshot directly. The cache folder is `HF_HUB_CACHE`, else `$HF_HOME/hub`.
//!
//! Nothing here touches the network. Folder names and snapshot paths come from
//! the `hf-hub` crate's [`hf_hub::Cache`] and [`hf_hub::Repo`]; reading a ref
//! is ours, because `hf_hub::CacheRepo::get` neither trims the hash, nor takes a
//! commit as the revision, nor tells a missing ref from a stale one.
//!
//! # Source
//! huggingface_hub `file_download.py` (`try_to_load_from_cache`,
//! `_cache_commit_hash_for_specific_revision`) and its cache-system guide.

use std::fs;
use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};
use serde::Serialize;

use super::HubRef;

/// One commit of a repository, present in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// `{cache}/models--ORG--NAME/snapshots/{commit}`.
    pub dir: PathBuf,
    /// The commit hash.
    pub commit: String,
    /// The branch or tag resolved through `refs/`, or `None` for a pinned commit.
    pub via_ref: Option<String>,
}

/// What the cache holds for a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The snapshot of the revision.
    Found(Snapshot),
    /// Neither the ref nor (for a commit) the snapshot.
    Missing,
    /// `refs/{revision}` names a commit whose snapshot folder is gone.
    Stale {
        /// The commit the ref names.
        commit: String,
        /// The missing folder.
        dir: PathBuf,
        /// The snapshots that are present, sorted.
        present: Vec<String>,
    },
}

/// Whether `rev` is a full commit hash (40 lowercase hex digits).
pub fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `{cache}/models--ORG--NAME`.
pub fn repo_dir(cache: &Path, r: &HubRef) -> PathBuf {
    cache.join(model(r).folder_name())
}

fn model(r: &HubRef) -> Repo {
    Repo::with_revision(r.repo.clone(), RepoType::Model, r.revision.clone())
}

/// Look `r` up in the cache folder `cache`.
pub fn lookup(cache: &Path, r: &HubRef) -> Lookup {
    let repo = Cache::new(cache.to_path_buf()).repo(model(r));
    if is_commit(&r.revision) {
        let dir = repo.pointer_path(&r.revision);
        return if dir.is_dir() {
            Lookup::Found(Snapshot {
                dir,
                commit: r.revision.clone(),
                via_ref: None,
            })
        } else {
            Lookup::Missing
        };
    }
    // `refs/pr/3` nests, as huggingface_hub writes it.
    let mut ref_file = repo_dir(cache, r).join("refs");
    ref_file.extend(r.revision.split('/'));
    // a ref holds one commit hash: a few dozen bytes
    let Ok(text) = crate::file::read_text(&ref_file, 1024) else {
        return Lookup::Missing;
    };
    let commit = text.trim();
    if !is_commit(commit) {
        // not a ref huggingface_hub wrote: treat as absent rather than guess
        return Lookup::Missing;
    }
    let dir = repo.pointer_path(commit);
    if dir.is_dir() {
        Lookup::Found(Snapshot {
            dir,
            commit: commit.to_string(),
            via_ref: Some(r.revision.clone()),
        })
    } else {
        Lookup::Stale {
            commit: commit.to_string(),
            dir,
            present: snapshots(cache, r),
        }
    }
}

/// The commits with a snapshot folder, sorted.
fn snapshots(cache: &Path, r: &HubRef) -> Vec<String> {
    let mut found: Vec<String> = fs::read_dir(repo_dir(cache, r).join("snapshots"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: &str = "0123456789abcdef0123456789abcdef01234567";
    const C2: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn hub_ref(spec: &str) -> HubRef {
        HubRef::parse(spec).unwrap()
    }

    #[test]
    fn refs_commits_and_stale_refs() {
        let cache = tempfile::tempdir().unwrap();
        let repo = cache.path().join("models--org--name");
        fs::create_dir_all(repo.join("snapshots").join(C1)).unwrap();
        fs::create_dir_all(repo.join("refs/refs/pr")).unwrap();
        fs::write(repo.join("refs/main"), format!("{C1}\n")).unwrap();
        fs::write(repo.join("refs/refs/pr/3"), C2).unwrap();

        let Lookup::Found(s) = lookup(cache.path(), &hub_ref("hf:org/name")) else {
            panic!("main should resolve");
        };
        assert_eq!(s.dir, repo.join("snapshots").join(C1));
        assert_eq!(
            (s.commit.as_str(), s.via_ref.as_deref()),
            (C1, Some("main"))
        );

        let pinned = lookup(cache.path(), &hub_ref(&format!("hf:org/name@{C1}")));
        assert!(matches!(
            pinned,
            Lookup::Found(Snapshot { via_ref: None, .. })
        ));
        let absent = lookup(cache.path(), &hub_ref(&format!("hf:org/name@{C2}")));
        assert_eq!(absent, Lookup::Missing);
        assert_eq!(
            lookup(cache.path(), &hub_ref("hf:org/name@v2")),
            Lookup::Missing
        );
        assert_eq!(
            lookup(cache.path(), &hub_ref("hf:org/other")),
            Lookup::Missing
        );

        match lookup(cache.path(), &hub_ref("hf:org/name@refs/pr/3")) {
            Lookup::Stale {
                commit, present, ..
            } => {
                assert_eq!(commit, C2);
                assert_eq!(present, vec![C1.to_string()]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_full_lowercase_hashes_are_commits() {
        assert!(is_commit(C1));
        assert!(!is_commit(&C1.to_uppercase()));
        assert!(!is_commit(&C1[..39]));
        assert!(!is_commit("main"));
    }
}

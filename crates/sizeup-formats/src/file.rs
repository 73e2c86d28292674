//! Opening the files a user names: regular files only, capped before the read starts,
//! and shards held inside their checkpoint's folder.
//!
//! A FIFO or a device given as a model would block `open` or never end a read
//! (`/dev/zero`); a symlinked shard could read a file anywhere on the machine. Every
//! path sizeup reads goes through [`open_regular`] (binary headers, read by their own
//! bounded readers) or [`read_text`] (configs, indexes, accelerator and case files).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The largest `config.json` read (the largest real ones are about 100 KB).
pub const MAX_CONFIG_BYTES: u64 = 10 << 20;

/// The largest small text file read otherwise: an accelerator TOML, a cases file.
pub const MAX_TEXT_BYTES: u64 = 64 << 20;

/// Why a file was not read.
#[derive(Debug, Error)]
pub enum FileError {
    /// A FIFO, a device, a socket or a folder where a file was expected.
    #[error("`{path}` is {kind}, not a regular file")]
    NotRegular {
        /// The path as given (escaped for a terminal).
        path: String,
        /// What it is instead (`a FIFO`).
        kind: &'static str,
    },
    /// Larger than the cap for its kind.
    #[error("`{path}` is {len} bytes, more than the {limit} bytes read for such a file")]
    TooLarge {
        /// The path.
        path: String,
        /// Its length.
        len: u64,
        /// The cap.
        limit: u64,
    },
    /// A shard or file that resolves (through a symlink or `..`) outside its folder.
    #[error("`{path}` resolves to `{target}`, outside the checkpoint folder `{folder}`")]
    OutsideFolder {
        /// The path as named.
        path: String,
        /// Where it leads.
        target: String,
        /// The folder it must stay in.
        folder: String,
    },
    /// Not UTF-8 text.
    #[error("`{path}` is not UTF-8 text")]
    NotText {
        /// The path.
        path: String,
    },
    /// The operating system refused.
    #[error("cannot read `{path}`")]
    Io {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `path` for a message: control characters (terminal escapes) shown escaped.
pub fn shown(path: &Path) -> String {
    escape(&path.display().to_string())
}

/// `text` with control characters escaped (`\u{1b}`), so that a name read from a
/// hostile file or path cannot drive the terminal it is printed to.
pub fn escape(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What a non-regular file is, for the message.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Open `path` for reading if it is a regular file (after symlinks), checked before
/// `open` so that a FIFO never blocks.
///
/// # Errors
/// [`FileError::NotRegular`], or [`FileError::Io`] when it cannot be opened.
pub fn open_regular(path: &Path) -> Result<(File, u64), FileError> {
    let io = |source| FileError::Io {
        path: shown(path),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: shown(path),
            kind: kind(&meta),
        });
    }
    let file = File::open(path).map_err(io)?;
    Ok((file, meta.len()))
}

/// Read a regular file of at most `limit` bytes as text; a UTF-8 byte-order mark
/// is dropped.
///
/// # Errors
/// [`FileError`] naming the path: not a regular file, too large, not UTF-8, or
/// unreadable.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    let bytes = read_bytes(path, limit)?;
    let text = String::from_utf8(bytes).map_err(|_| FileError::NotText { path: shown(path) })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Read a regular file of at most `limit` bytes whole.
///
/// # Errors
/// [`FileError`] naming the path: not a regular file, too large, or unreadable.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let (file, len) = open_regular(path)?;
    if len > limit {
        return Err(FileError::TooLarge {
            path: shown(path),
            len,
            limit,
        });
    }
    // a file that grows while it is read stops at the cap
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            path: shown(path),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: shown(path),
            len: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// The folder a checkpoint's files may resolve into: the checkpoint folder itself,
/// or for a Hugging Face cache snapshot (`models--ORG--NAME/snapshots/<commit>`),
/// whose files are symlinks to `../../blobs/<hash>`, the repository's cache folder.
fn allowed_root(folder: &Path) -> &Path {
    let repo = folder
        .parent()
        .filter(|p| p.file_name().is_some_and(|n| n == "snapshots"))
        .and_then(Path::parent)
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("models--"))
        });
    repo.unwrap_or(folder)
}

/// `folder/name`, required to resolve (symlinks and `..` followed) inside `folder`
/// (inside the repository's cache folder for a Hugging Face cache snapshot).
///
/// # Errors
/// [`FileError::OutsideFolder`], or [`FileError::Io`] when either path cannot be
/// resolved (a missing shard).
pub fn inside(folder: &Path, name: &str) -> Result<PathBuf, FileError> {
    let path = folder.join(name);
    let folder = allowed_root(folder);
    let resolve = |p: &Path| {
        p.canonicalize().map_err(|source| FileError::Io {
            path: shown(p),
            source,
        })
    };
    let root = resolve(folder)?;
    let target = resolve(&path)?;
    if !target.starts_with(&root) {
        return Err(FileError::OutsideFolder {
            path: shown(&path),
            target: shown(&target),
            folder: shown(&root),
        });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_is_dropped_and_a_cap_holds() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, "\u{feff}{\"a\": 1}").unwrap();
        assert_eq!(read_text(&p, 100).unwrap(), "{\"a\": 1}");
        let err = read_text(&p, 4).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "`{}` is 11 bytes, more than the 4 bytes read for such a file",
                p.display()
            )
        );
    }

    #[test]
    fn folders_and_devices_are_refused_before_open() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_text(dir.path(), 100).unwrap_err().to_string();
        assert!(err.ends_with("is a folder, not a regular file"), "{err}");
        #[cfg(unix)]
        {
            let err = read_text(Path::new("/dev/zero"), 100)
                .unwrap_err()
                .to_string();
            assert_eq!(err, "`/dev/zero` is a device, not a regular file");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo on this system: nothing to test
        }
        let err = read_text(&fifo, 100).unwrap_err().to_string();
        assert!(err.ends_with("is a FIFO, not a regular file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_folder_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&secret, dir.path().join("shard.safetensors")).unwrap();
        std::fs::write(dir.path().join("ok.safetensors"), "x").unwrap();
        assert!(inside(dir.path(), "ok.safetensors").is_ok());
        let err = inside(dir.path(), "shard.safetensors").unwrap_err();
        assert!(matches!(err, FileError::OutsideFolder { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_snapshot_may_link_to_its_blobs_but_not_beyond() {
        let cache = tempfile::tempdir().unwrap();
        let repo = cache.path().join("models--org--name");
        let snap = repo.join("snapshots/abc");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::write(repo.join("blobs/h1"), "x").unwrap();
        std::fs::write(cache.path().join("elsewhere"), "x").unwrap();
        std::os::unix::fs::symlink("../../blobs/h1", snap.join("a.safetensors")).unwrap();
        std::os::unix::fs::symlink("../../../elsewhere", snap.join("b.safetensors")).unwrap();
        assert!(inside(&snap, "a.safetensors").is_ok());
        assert!(matches!(
            inside(&snap, "b.safetensors"),
            Err(FileError::OutsideFolder { .. })
        ));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\n");
        assert_eq!(escape("plain"), "plain");
    }
}

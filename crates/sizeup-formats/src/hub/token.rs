//! The Hub token, found the way `huggingface_hub` finds it.
//!
//! `HF_TOKEN` first; else the token file: `HF_TOKEN_PATH`, else `$HF_HOME/token`
//! (what `hf auth login` writes). The value is a secret: it is sent as
//! `Authorization: Bearer …` and nowhere else. [`Token`]'s `Debug` hides it, and
//! errors name only where it came from.
//!
//! # Source
//! huggingface_hub `constants.py` (`HF_TOKEN_PATH` = `$HF_HOME/token`) and
//! `utils/_auth.py` (`get_token`: the variable before the file, blank means none).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Largest token file read (a token is about 40 bytes; this only guards the read).
const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// Where the token sent came from, or where none was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenSource {
    /// The `HF_TOKEN` variable.
    Env,
    /// A token file (`HF_TOKEN_PATH`, or `$HF_HOME/token`).
    File {
        /// The file read.
        path: PathBuf,
    },
    /// No token: `HF_TOKEN` unset and no token in the file (never a [`Token`]'s source).
    NotFound {
        /// The token file looked for, if any.
        file: Option<PathBuf>,
    },
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env => f.write_str("HF_TOKEN"),
            TokenSource::File { path } => write!(f, "the token file `{}`", path.display()),
            TokenSource::NotFound { .. } => f.write_str("no token"),
        }
    }
}

/// A Hub access token and where it was found. `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    secret: String,
    /// Where it was found.
    pub source: TokenSource,
}

impl Token {
    /// A token read from `source`.
    pub fn new(secret: impl Into<String>, source: TokenSource) -> Token {
        Token {
            secret: secret.into(),
            source,
        }
    }

    /// The value, for the `Authorization` header only.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<hidden>")
            .field("source", &self.source)
            .finish()
    }
}

/// `HF_TOKEN` if set and not blank, else the first line of `file` if it holds one.
pub(crate) fn find(env_token: Option<String>, file: Option<&Path>) -> Option<Token> {
    if let Some(t) = env_token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        return Some(Token::new(t, TokenSource::Env));
    }
    let path = file?;
    let text = read_small(path)?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| {
        Token::new(
            line,
            TokenSource::File {
                path: path.to_path_buf(),
            },
        )
    })
}

/// A small text file, or `None` when absent, unreadable, too large or not UTF-8.
fn read_small(path: &Path) -> Option<String> {
    crate::file::read_text(path, MAX_TOKEN_FILE_BYTES).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_wins_and_blank_means_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "hf_file\n").unwrap();
        let t = find(Some("hf_env".into()), Some(&file)).unwrap();
        assert_eq!((t.secret(), &t.source), ("hf_env", &TokenSource::Env));
        let t = find(Some("  ".into()), Some(&file)).unwrap();
        assert_eq!(t.secret(), "hf_file");
        assert_eq!(t.source, TokenSource::File { path: file.clone() });
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(find(None, Some(&file)), None);
        assert_eq!(find(None, Some(&dir.path().join("absent"))), None);
    }

    #[test]
    fn debug_hides_the_secret() {
        let t = Token::new("hf_very_secret", TokenSource::Env);
        let shown = format!("{t:?}");
        assert!(!shown.contains("hf_very_secret"), "{shown}");
        assert!(shown.contains("<hidden>"));
    }
}

//! A progress bar on stderr for sweeps over many points.
//!
//! It shows only when asked for and when stderr is a terminal, so piped or
//! redirected output, CI logs and tests never see it; stdout stays data only.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar, or nothing when hidden.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` steps, drawn on stderr when `enabled` and stderr is
    /// a terminal; hidden otherwise (every method is then a no-op).
    pub fn new(total: u64, enabled: bool) -> Progress {
        Progress::with_terminal(total, enabled && std::io::stderr().is_terminal())
    }

    fn with_terminal(total: u64, visible: bool) -> Progress {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} points ({eta} left)")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress { bar }
    }

    /// Name what is being swept (`seq_len`).
    pub fn set_prefix(&self, prefix: &str) {
        self.bar.set_prefix(prefix.to_string());
    }

    /// One more point done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Points done so far.
    #[cfg(test)]
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Whether anything is drawn.
    #[cfg(test)]
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_bars_are_hidden_but_count() {
        let p = Progress::new(3, false);
        assert!(p.is_hidden());
        p.set_prefix("seq_len");
        p.inc();
        p.inc();
        assert_eq!(p.position(), 2);
        p.finish();
    }

    #[test]
    fn no_terminal_no_bar() {
        let p = Progress::with_terminal(10, false);
        assert!(p.is_hidden());
        p.inc();
        assert_eq!(p.position(), 1);
    }
}

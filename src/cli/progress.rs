//! Progress bars for the long-running operator tools (import, export):
//! an `indicatif` bar with messages, MB and time left, drawn only when
//! stderr is a terminal; otherwise nothing is drawn and reports are plain
//! lines on stderr. Owns only the display; never decides anything.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over a known number of bytes, or nothing.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    messages: u64,
}

impl Progress {
    /// A bar over `total_bytes`, if stderr is a terminal.
    pub(super) fn new(total_bytes: u64, what: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total_bytes);
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {msg} {decimal_bytes}/{decimal_total_bytes} ({decimal_bytes_per_sec}, {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(what.to_owned());
            bar
        });
        Progress { bar, messages: 0 }
    }

    /// One message of `bytes` done.
    pub(super) fn message(&mut self, bytes: u64) {
        self.messages += 1;
        if let Some(b) = &self.bar {
            b.inc(bytes);
            b.set_message(format!("{} messages", self.messages));
        }
    }

    /// Prints a line above the bar (or plainly on stderr).
    pub(super) fn report(&self, line: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar.
    pub(super) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

//! What the user sees on standard error while it works: a progress bar on a terminal
//! (indicatif), plain phase lines otherwise, nothing with `--quiet`.

use std::fmt;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

/// The progress reporter (shared by the worker threads).
#[derive(Debug)]
pub struct Progress {
    quiet: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// A reporter; `terminal` draws bars.
    pub fn new(quiet: bool, terminal: bool) -> Self {
        Self {
            quiet,
            terminal,
            bar: Mutex::new(None),
        }
    }

    /// One line: `debootstrap-rs: text`.
    pub fn phase(&self, text: fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
        let line = format!("debootstrap-rs: {text}");
        match self.bar.lock().expect("bar").as_ref() {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Start a bar of `len` steps (a no-op without a terminal).
    pub fn start(&self, len: u64, what: &str) {
        if self.quiet || !self.terminal {
            return;
        }
        let b = ProgressBar::new(len);
        b.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        b.set_prefix(what.to_owned());
        *self.bar.lock().expect("bar") = Some(b);
    }

    /// Advance the bar by one, naming what was done.
    pub fn step(&self, msg: &str) {
        if let Some(b) = self.bar.lock().expect("bar").as_ref() {
            b.set_message(msg.to_owned());
            b.inc(1);
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("bar").take() {
            b.finish_and_clear();
        }
    }
}

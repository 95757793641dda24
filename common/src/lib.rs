//! The small crate the toolkit's tools share. Linux only.
//!
//! Five modules and nothing else (see ARCHITECTURE.md): [`exit`] (exit codes and the
//! one-line error report), [`trace`] (the strace-style `-v` output), [`json`] (one object
//! per line), [`units`] (`512M`, `1G`, `max`) and [`words`] (`--batch` lines split as sh
//! does). Code moves in here only when a second tool needs it.

pub mod exit;
pub mod json;
pub mod pty;
pub mod trace;
pub mod units;
pub mod words;

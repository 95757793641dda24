//! The small crate the toolkit's tools share. Linux only.
//!
//! Only what two or more tools need (see ARCHITECTURE.md), no cargo features:
//!
//! - [`exit`]: exit codes and the one-line error report; [`trace`]: the strace-style
//!   `-v` output; [`json`]: one object per line; [`units`]: `512M`, `1G`, `max`;
//!   [`words`]: `--batch` lines split as sh does.
//! - The chain-loader core: [`cli`] (clap errors as one getopt line, getopt_long's
//!   prefixes, the main scaffold and its stdout policy), [`exec`] (exec with the signal
//!   state a command expects), [`supervise`] (waiting, signal forwarding, the PID-1
//!   reaper, one convention for signal deaths), [`sys`] (the traced system calls two
//!   tools make; with each tool's `sys.rs`, the only home of `unsafe`), [`nsfs`]
//!   (namespace files and `ip netns` names), [`pidfile`] (written atomically), [`seccomp`] (the container's syscall
//!   filter, assembled in classic BPF); [`pty`] (pseudo-terminals, raw mode, lxc-console's
//!   keys, a relay) for ptyhold and nsenter-rs.
//! - [`describe`]: `TOOL --toolkit-describe-clap`, the clap definition as JSON, from
//!   which xtask makes the man pages and shell completions.

/// The allocator of the musl builds: dlmalloc, which keeps the memory a tool frees for its
/// next allocations. musl's own (mallocng) gives each emptied group back to the kernel at
/// once, and a tool's start-up (clap's parser built and dropped) then costs dozens of
/// mmap/munmap pairs, each munmap a TLB flush: a fifth of ptyhold's start on a VM.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

pub mod cli;
pub mod describe;
pub mod exec;
pub mod exit;
pub mod json;
pub mod nsfs;
pub mod pidfile;
pub mod pty;
pub mod seccomp;
pub mod supervise;
pub mod sys;
pub mod trace;
pub mod units;
pub mod words;

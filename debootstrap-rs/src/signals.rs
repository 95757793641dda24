//! SIGINT, SIGTERM and SIGHUP end a run cleanly: the handler only records the signal,
//! which the download and unpack loops poll; the run then stops with "interrupted by
//! SIGNAME" (exit 128+N: 130, 143, 129, as a shell reports a death by that signal),
//! removing its temporary files. The cache stays valid at every instant by construction
//! (files appear under their real name only when verified), so even SIGKILL is safe.

use std::sync::atomic::{AtomicI32, Ordering};

/// The first terminating signal that arrived (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: one atomic compare-and-swap; the first signal is the one told.
    let _ = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// Install the handlers (once, from main).
pub fn install() {
    crate::sys::set_signal_handlers(on_signal);
}

/// True once a terminating signal arrived.
pub fn interrupted() -> bool {
    SIGNAL.load(Ordering::Relaxed) != 0
}

/// The signal that interrupted the run (SIGINT when none was recorded: an interruption
/// seen another way, EINTR, reads as Ctrl-C).
pub fn which() -> nix::sys::signal::Signal {
    nix::sys::signal::Signal::try_from(SIGNAL.load(Ordering::Relaxed))
        .unwrap_or(nix::sys::signal::Signal::SIGINT)
}

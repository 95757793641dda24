//! SIGINT, SIGTERM and SIGHUP end a run cleanly: the handler only sets a flag, which
//! the download and unpack loops poll; the run then stops with "interrupted" (exit 130),
//! removing its temporary files. The cache stays valid at every instant by construction
//! (files appear under their real name only when verified), so even SIGKILL is safe.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Install the handlers (once, from main).
pub fn install() {
    crate::sys::set_signal_handlers(on_signal);
}

/// True once a terminating signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

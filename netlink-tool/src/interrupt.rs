//! SIGINT, SIGTERM and SIGHUP stop a run cleanly. The handlers only note the signal (an
//! atomic store, async-signal-safe); the work checks the note between its kernel calls
//! ([`check`]), and a command that changes state then rolls back what it made, as it does
//! on an error, and ends with 128 + N (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
//! A request already sent is waited for (its answer says whether it was done), so the
//! rollback knows exactly what exists. SIGKILL cannot be caught: what it can leave is
//! described by the pending connection record (see `connect`).
//!
//! The same idea as debootstrap-rs's `signals.rs`; a candidate for `common`.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::Signal;

use crate::error::Error;

/// The signal that arrived (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a run.
pub const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

extern "C" fn on_signal(sig: libc::c_int) {
    // Async-signal-safe: one atomic operation. The first signal is the one reported.
    let _ = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// Install the handlers (once, from `main`, before anything is changed).
pub fn install() {
    for sig in SIGNALS {
        let _ = crate::sys::set_handler(sig, on_signal);
    }
}

/// The signal that arrived, if any.
pub fn pending() -> Option<Signal> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// `Err(Error::Interrupted)` once a stopping signal arrived: the caller stops here.
pub fn check() -> Result<(), Error> {
    match pending() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}

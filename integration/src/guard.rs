//! Cleanup that runs on drop, panic or not: the guard exists before the resource it
//! cleans up, so a test that fails halfway still leaves the machine as it found it.

use std::fmt;

/// Runs its closure once when dropped.
pub struct Guard<F: FnOnce()> {
    cleanup: Option<F>,
}

impl<F: FnOnce()> Guard<F> {
    /// A guard that calls `cleanup` when it goes out of scope.
    pub fn new(cleanup: F) -> Self {
        Self {
            cleanup: Some(cleanup),
        }
    }

    /// Give up the cleanup (the resource was handed to another owner).
    pub fn disarm(mut self) {
        self.cleanup = None;
    }
}

impl<F: FnOnce()> Drop for Guard<F> {
    fn drop(&mut self) {
        if let Some(f) = self.cleanup.take() {
            f();
        }
    }
}

impl<F: FnOnce()> fmt::Debug for Guard<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("armed", &self.cleanup.is_some())
            .finish()
    }
}

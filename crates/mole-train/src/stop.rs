//! A process-wide request to stop training early (set by the command line on Ctrl-C). Schedules
//! that can stop cleanly poll it; what was already written stays in the run directory.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks running schedules to stop after the step they are taking; returns whether a stop had
/// already been requested (a second request).
pub fn request_stop() -> bool {
    STOP.swap(true, Ordering::SeqCst)
}

/// Whether a stop was requested.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

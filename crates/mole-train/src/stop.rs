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

/// Withdraws a stop request (an embedding that caught one and returned, e.g. the Python
/// package after a `KeyboardInterrupt`, trains again later in the same process).
pub fn clear_stop() {
    STOP.store(false, Ordering::SeqCst);
}

/// Training was stopped on request between two steps.
#[derive(Debug, thiserror::Error)]
#[error(
    "interrupted: the run directory keeps everything up to the last finished epoch (continue with --resume)"
)]
pub struct Interrupted;

/// `Err(Interrupted)` when a stop was requested: the sequential, simultaneous and graph
/// schedules call it between steps and return, leaving the last epoch's snapshot in place.
pub fn check() -> Result<(), Interrupted> {
    if stop_requested() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

//! Schedules decide *when* each module takes a step on which batch; they never touch the maths.
//!
//! - [`SequentialSchedule`]: module 1 for all its epochs, frozen; module 2 on its outputs; …;
//!   then the head (MOLE).
//! - [`SimultaneousSchedule`]: every module takes one step on every batch, lowest first, each on
//!   the detached output of the module below (the HSIC reference code); then extra head epochs.
//! - [`AsyncSchedule`]: one worker thread per module and the head, connected by bounded buffers
//!   of activation batches; then extra head epochs.

mod async_;
pub(crate) mod frozen;
mod head;
pub(crate) mod pipeline_plan;
mod sequential;
mod simultaneous;
pub(crate) mod stages;

#[cfg(feature = "mpi")]
pub use async_::mpi::run_worker_rank;
pub use async_::{AsyncReport, AsyncSchedule, StepHook, WorkerStats, worker_threads};
pub use sequential::SequentialSchedule;
pub use simultaneous::SimultaneousSchedule;

use crate::session::Session;
use mole_nn::Features;

/// The order of local steps.
pub trait Schedule {
    /// Name as in configs (`sequential`, …).
    fn name(&self) -> &'static str;
    /// Trains the session's network.
    fn run(&self, session: &mut Session<'_>) -> anyhow::Result<()>;
}

/// One step of learner `k` (module `k`, or the head when `k` is the number of modules) on the
/// batch of training rows `idx` with inputs `x`, its loss recorded.
fn learner_step(s: &mut Session<'_>, k: usize, idx: &[usize], x: Features) -> anyhow::Result<()> {
    crate::stop::check()?;
    let target = s.target_for(idx, std::iter::once(&s.net.learner(k).objective));
    let (_, diag) = s.net.learner_mut(k).step(x, &target)?;
    if k == 0 {
        s.samples_seen += idx.len() as u64;
    }
    s.record_loss(k, diag["loss"]);
    Ok(())
}

/// Intra-op threads of each of `workers` pipeline workers on `cores` cores, the first (where
/// the pipeline starts) first: the cores shared out evenly (at least 1 each) and one more for
/// the first worker, which every other one waits on.
fn share_cores(cores: usize, workers: usize) -> Vec<usize> {
    let even = (cores / workers.max(1)).max(1);
    (0..workers)
        .map(|k| even + usize::from(k == 0 && cores > 1))
        .collect()
}

/// The text of a thread's panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

//! `mole train --schedule async --distributed mpi` under `mpirun`: rank 0 runs the ordinary
//! command (data, feeder, evaluation, run directory); every other rank runs its group of
//! workers and reports to rank 0.

use mole_train::TrainConfig;

/// Initialises MPI (threads may call it concurrently), then runs `root` on rank 0 and the
/// workers elsewhere. An error on any rank is printed with the rank and ends the whole job
/// (exit code 2 for bad input, else 1): the other ranks would wait forever.
#[cfg(feature = "mpi")]
pub fn run(
    cfg: TrainConfig,
    root: impl FnOnce(TrainConfig) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use mpi::traits::Communicator;
    let (universe, threading) = mpi::initialize_with_threading(mpi::Threading::Multiple)
        .context("MPI was already initialised")?;
    let world = universe.world();
    let rank = world.rank();
    if threading != mpi::Threading::Multiple {
        eprintln!(
            "error: this MPI library gives threading level {threading:?}; the async schedule \
             needs MPI_THREAD_MULTIPLE"
        );
        world.abort(1);
    }
    let result = if rank == 0 {
        root(cfg)
    } else {
        mole_train::schedule::run_worker_rank(&cfg).with_context(|| format!("MPI rank {rank}"))
    };
    if let Err(e) = &result {
        eprintln!("error: {}", crate::error_message(e));
        world.abort(if crate::is_bad_input(e) { 2 } else { 1 });
    }
    drop(universe);
    Ok(())
}

/// Without the `mpi` feature: a clear error (exit code 2).
#[cfg(not(feature = "mpi"))]
pub fn run(
    _cfg: TrainConfig,
    _root: impl FnOnce(TrainConfig) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    Err(mole_train::config::ConfigError::Invalid(
        "async.distributed = \"mpi\": this mole was built without MPI; rebuild with \
         `cargo build --features mpi` (needs libopenmpi-dev openmpi-bin libclang-dev)"
            .into(),
    )
    .into())
}

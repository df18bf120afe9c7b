//! `mole._mole`: the native half of the `mole` Python package. The Python half
//! (`python/mole/`) checks and converts the arguments; this half computes.
//!
//! - [`measure`]: the dependence measures of `mole measure` (matrix-based Rényi entropies,
//!   mutual information, total correlation, HSIC, nHSIC) on numpy arrays.
//! - [`train`]: a run of `mole train` on numpy arrays (rows, or one graph with labelled nodes)
//!   or on a named dataset, with the keys of the TOML config; the default rules of `mole train`
//!   fill in the rest and the run directory is written as by the command line. Training runs
//!   on its own thread without the interpreter; the caller polls it, so Ctrl-C reaches Python
//!   and stops the run after the current step.
//!
//! Every entry point checks its arguments itself (a `ValueError` naming the argument) and runs
//! the computation under [`guard`], so that no Rust panic reaches the interpreter as a
//! `PanicException`.

mod measure;
mod train;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A `ValueError` with this message.
pub(crate) fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `f`, turning a panic into a `RuntimeError` (a bug: the arguments were checked before).
pub(crate) fn guard<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(PyRuntimeError::new_err(format!(
            "{what}: internal error in mole (please report it): {}",
            panic_message(payload.as_ref())
        ))),
    }
}

/// The native module.
#[pymodule]
fn _mole(m: &Bound<'_, PyModule>) -> PyResult<()> {
    measure::register(m)?;
    train::register(m)?;
    Ok(())
}

//! Step profile: wall time per learner and phase (forward, Gram matrices, estimator, backward,
//! optimiser, evaluation), each phase counted *exclusive* of the phases nested in it.
//!
//! Off by default; [`enable`] turns it on for the process. A phase is timed by holding the guard
//! [`scope`] returns; when profiling is off `scope` is one relaxed atomic load and the guard does
//! nothing. The backends here execute eagerly, so the time between a guard's creation and its
//! drop is the time of the tensor work issued inside it.
//!
//! ```
//! use mole_info::profile::{self, Phase};
//! profile::enable();
//! profile::set_learner("module 1");
//! {
//!     let _g = profile::scope(Phase::Gram);
//!     // ... build a Gram matrix ...
//! }
//! let entries = profile::take();
//! assert_eq!(entries[0].phase, Phase::Gram);
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Where a step's time goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Assembling a batch: gathering rows, augmentation, moving it to the device.
    Data,
    /// The learner's layers, forward.
    Forward,
    /// Kernel (Gram) matrices and pairwise distances, forward.
    Gram,
    /// The estimator on the Gram matrices: eigendecompositions, linear solves, host copies,
    /// the exact gradients the surrogate trick injects.
    Estimator,
    /// The rest of the loss (cross-entropy, combining terms, diagnostics).
    Loss,
    /// Autodiff's backward pass (layers and Gram matrices).
    Backward,
    /// The optimiser's update.
    Optimizer,
    /// Accuracies, dependence measures and metrics rows between epochs.
    Evaluation,
    /// Snapshots, checkpoints and caches of frozen modules' outputs.
    Bookkeeping,
}

impl Phase {
    /// Every phase, in report order.
    pub const ALL: [Phase; 9] = [
        Phase::Data,
        Phase::Forward,
        Phase::Gram,
        Phase::Estimator,
        Phase::Loss,
        Phase::Backward,
        Phase::Optimizer,
        Phase::Evaluation,
        Phase::Bookkeeping,
    ];

    /// Lower-case name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Data => "data",
            Phase::Forward => "forward",
            Phase::Gram => "gram",
            Phase::Estimator => "estimator",
            Phase::Loss => "loss",
            Phase::Backward => "backward",
            Phase::Optimizer => "optimizer",
            Phase::Evaluation => "evaluation",
            Phase::Bookkeeping => "bookkeeping",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<BTreeMap<(String, Phase), (f64, u64)>> = Mutex::new(BTreeMap::new());

thread_local! {
    static LEARNER: RefCell<String> = const { RefCell::new(String::new()) };
    /// Seconds spent in nested scopes, one accumulator per open scope.
    static NESTED: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    /// Open scopes of a phase that takes in everything inside it.
    static ABSORBING: Cell<usize> = const { Cell::new(0) };
}

/// Turns profiling on for the whole process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// True when profiling is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Names the learner (`module 1`, `head`, …) the calling thread's phases are charged to.
pub fn set_learner(name: &str) {
    if enabled() {
        LEARNER.with(|l| {
            let mut l = l.borrow_mut();
            l.clear();
            l.push_str(name);
        });
    }
}

/// A timed phase; its exclusive time is recorded when it is dropped.
#[must_use = "the phase is timed until the guard is dropped"]
pub struct Scope {
    phase: Phase,
    start: Option<Instant>,
}

impl Phase {
    /// Evaluation and bookkeeping take in the phases nested in them (the Gram matrices and
    /// estimators of the dependence measures between epochs are evaluation, not training).
    fn absorbs(self) -> bool {
        matches!(self, Phase::Evaluation | Phase::Bookkeeping)
    }
}

/// Starts timing `phase` on this thread (a no-op guard when profiling is off, or inside an
/// evaluation or bookkeeping phase).
pub fn scope(phase: Phase) -> Scope {
    if !enabled() || ABSORBING.with(Cell::get) > 0 {
        return Scope { phase, start: None };
    }
    if phase.absorbs() {
        ABSORBING.with(|a| a.set(a.get() + 1));
    }
    NESTED.with(|n| n.borrow_mut().push(0.0));
    Scope {
        phase,
        start: Some(Instant::now()),
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let Some(start) = self.start else { return };
        if self.phase.absorbs() {
            ABSORBING.with(|a| a.set(a.get().saturating_sub(1)));
        }
        let total = start.elapsed().as_secs_f64();
        let nested = NESTED.with(|n| {
            let mut n = n.borrow_mut();
            let inner = n.pop().unwrap_or(0.0);
            if let Some(parent) = n.last_mut() {
                *parent += total;
            }
            inner
        });
        let learner = LEARNER.with(|l| l.borrow().clone());
        let mut totals = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
        let e = totals.entry((learner, self.phase)).or_insert((0.0, 0));
        e.0 += (total - nested).max(0.0);
        e.1 += 1;
    }
}

/// Time recorded for one learner and phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The learner (`module 1`, `head`, or empty for time outside any learner).
    pub learner: String,
    /// The phase.
    pub phase: Phase,
    /// Exclusive wall seconds.
    pub seconds: f64,
    /// How many times the phase was entered.
    pub calls: u64,
}

/// Everything recorded so far (ordered by learner, then phase), and clears it.
pub fn take() -> Vec<Entry> {
    let mut totals = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *totals)
        .into_iter()
        .map(|((learner, phase), (seconds, calls))| Entry {
            learner,
            phase,
            seconds,
            calls,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Nested scopes are charged exclusively: the outer phase gets its time less the inner's,
    /// and each phase goes to the learner named on its thread.
    #[test]
    fn nested_phases_are_exclusive_and_per_learner() {
        enable();
        let _ = take();
        std::thread::spawn(|| {
            set_learner("module 7");
            let _outer = scope(Phase::Backward);
            std::thread::sleep(Duration::from_millis(30));
            {
                let _inner = scope(Phase::Estimator);
                std::thread::sleep(Duration::from_millis(60));
            }
        })
        .join()
        .unwrap();
        let e: Vec<Entry> = take()
            .into_iter()
            .filter(|e| e.learner == "module 7")
            .collect();
        assert_eq!(e.len(), 2, "{e:?}");
        let get = |p: Phase| e.iter().find(|x| x.phase == p).unwrap().seconds;
        let (outer, inner) = (get(Phase::Backward), get(Phase::Estimator));
        assert!(inner >= 0.059, "inner {inner}");
        // Inclusive it would be ≥ 90 ms.
        assert!(
            (0.029..0.085).contains(&outer),
            "outer {outer} excludes the inner 60 ms"
        );
        assert!(e.iter().all(|x| x.calls == 1));

        // Inside an evaluation, an estimator is evaluation time.
        std::thread::spawn(|| {
            set_learner("module 8");
            let _outer = scope(Phase::Evaluation);
            let _inner = scope(Phase::Estimator);
            std::thread::sleep(Duration::from_millis(20));
        })
        .join()
        .unwrap();
        let e: Vec<Entry> = take()
            .into_iter()
            .filter(|e| e.learner == "module 8")
            .collect();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].phase, Phase::Evaluation);
        assert!(e[0].seconds >= 0.019);
    }
}

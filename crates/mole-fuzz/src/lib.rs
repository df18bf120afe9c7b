//! Fuzzing on the stable toolchain: mutation of a seed corpus taken from the real files in
//! `shared/datasets`, one harness per parser and decoder that reads outside data.
//!
//! Each execution of a harness is checked for three things: it does not panic (the panic is
//! caught and the input saved), it does not hang (a watchdog aborts after [`HANG_SECONDS`] and
//! saves the input), and it allocates at most [`Target::bound`] bytes beyond what it held
//! before (counted per thread by [`alloc::ThreadCountingAlloc`], when the binary installs it).
//!
//! The engine keeps a mutated input in the corpus when it produced an outcome not seen before
//! (`Ok`, or an error whose message, digits removed, is new): a cheap stand-in for coverage
//! that pulls the corpus past the first check of each parser.

pub mod alloc;
pub mod engine;
pub mod files;
pub mod mutate;
pub mod targets;

pub use engine::{Crash, FuzzOptions, FuzzReport, fuzz, replay};
pub use targets::{Target, targets};

/// An execution running longer than this is a hang.
pub const HANG_SECONDS: u64 = 10;

//! Helpers shared by the integration tests of mole-train.
#![allow(dead_code)]

mod temp;

pub use temp::temp_dir;

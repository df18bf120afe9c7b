//! mole-train

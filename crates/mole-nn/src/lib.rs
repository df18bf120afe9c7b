//! mole-nn

//! mole-data

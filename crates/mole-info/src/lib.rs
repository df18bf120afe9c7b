//! mole-info

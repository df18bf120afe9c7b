//! mole-report

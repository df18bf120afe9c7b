//! `mole compare RUN_DIR...`: one table and one accuracy/time chart for several runs.

use clap::Args;
use std::path::PathBuf;

/// Flags of `mole compare`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Run directories written by `mole train` (each needs summary.json).
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// Folder for compare.md, compare.csv, compare.png and compare.svg.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

/// Runs `mole compare`: prints the markdown table and writes the files.
pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let c = mole_report::compare::compare_runs(&args.run_dirs, &args.out)?;
    print!("{}", c.markdown);
    for f in &c.files {
        eprintln!("wrote {}", f.display());
    }
    Ok(())
}

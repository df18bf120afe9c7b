//! `mole report RUN_DIR`: pictures and `report.html` from a run directory (never trains).

use clap::Args;
use mole_report::{ReportOptions, TsneOptions};
use std::path::{Path, PathBuf};

/// Flags of `mole report`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The run directory written by `mole train`.
    pub run_dir: PathBuf,
    #[command(flatten)]
    pub tsne: TsneArgs,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

/// t-SNE settings, shared by `mole report` and `mole train --report`.
#[derive(Args, Debug, Clone)]
pub struct TsneArgs {
    /// t-SNE perplexity (lowered to (n−1)/3 for small samples).
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f32,
    /// t-SNE iterations (Barnes-Hut); fewer is faster and coarser.
    #[arg(long, default_value_t = 1000)]
    pub tsne_epochs: usize,
    /// Barnes-Hut θ (> 0).
    #[arg(long, default_value_t = 0.5)]
    pub theta: f32,
    /// Points per t-SNE picture (a class-balanced subset of the saved embeddings).
    #[arg(long, default_value_t = 1000)]
    pub points: usize,
    /// Seed of the t-SNE initialisation.
    #[arg(long, default_value_t = 0)]
    pub tsne_seed: u64,
    /// Skip the t-SNE pictures (curves, information plane and page only).
    #[arg(long)]
    pub no_tsne: bool,
}

impl Default for TsneArgs {
    fn default() -> Self {
        let o = ReportOptions::default();
        TsneArgs {
            perplexity: o.tsne.perplexity,
            tsne_epochs: o.tsne.epochs,
            theta: o.tsne.theta,
            points: o.max_points,
            tsne_seed: o.tsne.seed,
            no_tsne: o.skip_tsne,
        }
    }
}

impl TsneArgs {
    /// The report options these flags ask for.
    pub fn options(&self) -> ReportOptions {
        ReportOptions {
            tsne: TsneOptions {
                perplexity: self.perplexity,
                epochs: self.tsne_epochs,
                theta: self.theta,
                seed: self.tsne_seed,
            },
            max_points: self.points,
            skip_tsne: self.no_tsne,
        }
    }
}

/// Makes the report of `dir` and prints where it is and the silhouette scores.
pub fn report_dir(dir: &Path, opts: &ReportOptions, quiet: bool) -> anyhow::Result<()> {
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("report: {line}");
        }
    };
    let r = mole_report::make_report(dir, opts, &mut progress)?;
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    if !r.tsne.is_empty() {
        println!("| picture | points | dims | silhouette 2-D | silhouette original | t-SNE s |");
        println!("|---|---|---|---|---|---|");
        for t in &r.tsne {
            let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
            println!(
                "| {} | {} | {} | {} | {} | {:.1} |",
                t.name,
                t.points,
                t.dimensions,
                f(t.silhouette_tsne),
                f(t.silhouette_original),
                t.seconds
            );
        }
    }
    println!("report: {}", r.html.display());
    Ok(())
}

/// Runs `mole report`.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    report_dir(&args.run_dir, &args.tsne.options(), args.quiet)
}

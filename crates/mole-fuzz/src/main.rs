//! `mole-fuzz [TARGET…] --seconds N`: fuzzes the named harnesses (all by default) and prints
//! executions, corpus, outcomes and crashes; exit code 1 when any input crashed.

use clap::Parser;
use mole_fuzz::alloc::ThreadCountingAlloc;
use mole_fuzz::{FuzzOptions, fuzz, targets};
use std::path::PathBuf;

#[global_allocator]
static ALLOC: ThreadCountingAlloc<std::alloc::System> = ThreadCountingAlloc(std::alloc::System);

/// Fuzz mole's parsers and decoders.
#[derive(Parser)]
struct Args {
    /// Harnesses to run (default: all); `--list` names them.
    targets: Vec<String>,
    /// Seconds per harness.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Seed of the mutations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where crashing inputs are saved.
    #[arg(long, default_value = "fuzz-crashes")]
    crashes: PathBuf,
    /// `shared/datasets` (the seed corpus).
    #[arg(long)]
    datasets: Option<PathBuf>,
    /// Prints every new outcome (accepted, or a new kind of refusal) as it is found.
    #[arg(long)]
    show_outcomes: bool,
    /// Lists the harnesses.
    #[arg(long)]
    list: bool,
}

fn main() {
    let args = Args::parse();
    let all = targets();
    if args.list {
        for t in &all {
            println!("{:10}  {}", t.name, t.about);
        }
        return;
    }
    let unknown: Vec<&String> = args
        .targets
        .iter()
        .filter(|n| !all.iter().any(|t| t.name == n.as_str()))
        .collect();
    if !unknown.is_empty() {
        eprintln!("error: no harness named {unknown:?} (mole-fuzz --list)");
        std::process::exit(2);
    }
    let datasets = args.datasets.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets")
    });
    let mut crashed = false;
    println!(
        "| harness | executions | exec/s | corpus | outcomes | accepted | peak / bound | crashes |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for t in all
        .iter()
        .filter(|t| args.targets.is_empty() || args.targets.iter().any(|n| n == t.name))
    {
        let r = fuzz(
            t,
            &FuzzOptions {
                seed: args.seed,
                executions: None,
                seconds: args.seconds,
                datasets: datasets.clone(),
                crash_dir: Some(args.crashes.clone()),
                stop_at_crash: false,
                show_outcomes: args.show_outcomes,
            },
        );
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {:.3} | {} |",
            r.target,
            r.executions,
            r.executions as f64 / r.seconds.max(1e-9),
            r.corpus,
            r.outcomes,
            r.accepted,
            r.worst_bound_share,
            r.crashes.len()
        );
        for c in &r.crashes {
            crashed = true;
            eprintln!(
                "{}: {} ({}), saved to {}",
                r.target,
                c.kind,
                c.message.lines().next().unwrap_or(""),
                c.saved
                    .as_ref()
                    .map_or("nowhere".into(), |p| p.display().to_string())
            );
        }
    }
    if crashed {
        std::process::exit(1);
    }
}

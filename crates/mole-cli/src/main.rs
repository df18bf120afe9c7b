//! `mole`: train networks module by module with local information-theoretic objectives.

mod bench_async;
mod bench_cmd;
mod bench_steps;
mod compare_cmd;
mod measure;
mod mpi_cmd;
mod presets;
mod profile_table;
mod report_cmd;
mod train_cmd;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the local objectives allocate and free Gram matrices and
/// eigen-decomposition buffers of a few MiB every step, which glibc keeps resident once its
/// dynamic mmap threshold has risen past them (MOLE's peak RSS in `mole bench memory` fell from
/// 476 to 297 MiB). Wrapped in a counter of the live heap, which `summary.json` reports.
#[global_allocator]
static GLOBAL: mole_train::memory::CountingAlloc<mimalloc::MiMalloc> =
    mole_train::memory::CountingAlloc(mimalloc::MiMalloc);

/// Modular local learning: MOLE (matrix-based Rényi mutual information) and the HSIC
/// bottleneck, with backprop on the same architecture as the baseline.
#[derive(Parser, Debug)]
#[command(name = "mole", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network module by module (or with backprop) and write a run directory.
    Train(Box<train_cmd::TrainArgs>),
    /// Measure entropy, mutual information and HSIC between column groups of a CSV file.
    Measure(measure::MeasureArgs),
    /// Benchmark throughput and memory of methods and schedules (one process per configuration).
    Bench(bench_cmd::BenchArgs),
    /// Pictures (t-SNE, information plane, learning curves) and report.html from a run directory.
    Report(report_cmd::ReportArgs),
    /// One table and one accuracy/time chart comparing several run directories.
    Compare(compare_cmd::CompareArgs),
}

/// Exit code for bad input (files, configs, specs); other failures exit with 1.
const EXIT_BAD_INPUT: i32 = 2;

fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<mole_data::DataError>()
            || c.is::<mole_train::config::ConfigError>()
            || c.is::<mole_train::network::BuildError>()
            || c.is::<mole_nn::SpecError>()
            || c.is::<mole_train::run::RunDirError>()
            || c.is::<mole_train::resume::ResumeError>()
            || c.is::<mole_train::snapshot::SnapshotError>()
            || c.is::<measure::InputError>()
            || c.downcast_ref::<mole_report::ReportError>()
                .is_some_and(|r| r.is_bad_input())
    })
}

/// The error and its causes joined by ": ", as anyhow's `{:#}`, except that a cause whose text
/// the message already ends with is not repeated (errors such as `DataError::Io` show their
/// source in their own text: "file: No such file or directory (os error 2)").
fn error_message(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if message.is_empty() {
            message = text;
        } else if !message.ends_with(&text) {
            message = format!("{message}: {text}");
        }
    }
    message
}

/// Returns mimalloc's freed pages to the OS (before the training-memory window starts).
fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointers; it only walks mimalloc's own heaps.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() {
    mole_train::memory::set_memory_release(release_free_memory);
    let args: Vec<String> = std::env::args().collect();
    // `mole` alone and `mole train` alone run the default job (MOLE vs BP on digits).
    let no_arguments = args.len() <= 2;
    let cli = if args.len() == 1 {
        Cli::parse_from(["mole", "train"])
    } else {
        Cli::parse()
    };
    let result = match &cli.command {
        Command::Train(a) => train_cmd::run(a, no_arguments),
        Command::Measure(a) => measure::run(a),
        Command::Bench(a) => bench_cmd::run(a),
        Command::Report(a) => report_cmd::run(a),
        Command::Compare(a) => compare_cmd::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {}", error_message(&e));
        std::process::exit(if is_bad_input(&e) { EXIT_BAD_INPUT } else { 1 });
    }
}

#[cfg(test)]
mod tests {
    use super::error_message;
    use anyhow::Context;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e: anyhow::Error = mole_data::DataError::io("d/x.txt", io).into();
        assert_eq!(error_message(&e), "d/x.txt: no such file");
        // Context and causes not in the text are kept, in order.
        let e = e.context("loading dataset 'x'");
        assert_eq!(
            error_message(&e),
            "loading dataset 'x': d/x.txt: no such file"
        );
        let e: anyhow::Result<()> = Err(anyhow::anyhow!("inner")).context("outer");
        assert_eq!(error_message(&e.unwrap_err()), "outer: inner");
    }
}

//! `mole bench async` and `mole bench async-scaling`: the async schedule against the
//! simultaneous one (same method, model, batch size and epochs), run back to back in one
//! invocation so that the ratio holds even on a shared machine.

use crate::bench_cmd::{BenchArgs, Row, run_config};
use std::path::Path;

fn num(s: &serde_json::Value, k: &str) -> f64 {
    s[k].as_f64().unwrap_or(f64::NAN)
}

/// `async.json` of a run directory, if the run was async.
fn async_report(out: &Path, label: &str) -> Option<serde_json::Value> {
    let dir = out.join(label.replace([' ', '/'], "-"));
    let text = std::fs::read_to_string(dir.join("async.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn sum_workers(report: &serde_json::Value, key: &str) -> u64 {
    report["workers"]
        .as_array()
        .map(|ws| ws.iter().map(|w| w[key].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// `mole train` flags of the async schedule with `buffer` buffers.
fn async_args<'a>(method: &'a str, buffer: &'a str) -> Vec<&'a str> {
    vec![
        "--method",
        method,
        "--schedule",
        "async",
        "--buffer",
        buffer,
    ]
}

/// One epoch over the training set, BP against the async schedule on the same cores, `--repeat`
/// rounds (BP, then async, in each): no head epoch after the async one (its head trains
/// alongside the modules, so one pass over the data gives a trained network, as BP's epoch
/// does). Evaluation is outside the timed training in both.
fn epoch_against_bp(
    args: &BenchArgs,
    out: &Path,
    method: &str,
    model: &str,
) -> anyhow::Result<String> {
    let mut table = format!(
        "\nOne epoch, async {method} (`--buffer block --head-epochs 0`: the head trains alongside the modules) against BP on the same cores, {} round(s), BP first in each:\n\n| round | BP samples/s | async samples/s | async × BP | BP test accuracy | async test accuracy |\n|---|---|---|---|---|---|\n",
        args.repeat
    );
    let mut ratios = Vec::new();
    for round in 1..=args.repeat {
        let dir = out.join(format!("epoch-round-{round}"));
        let bp = run_config(args, &dir, "bp epoch", &["--method", "bp"], model)?;
        let asy = run_config(
            args,
            &dir,
            &format!("{method} async epoch"),
            &[
                async_args(method, "block").as_slice(),
                &["--head-epochs", "0"],
            ]
            .concat(),
            model,
        )?;
        let (b, a) = (
            num(&bp.summary, "samples_per_second"),
            num(&asy.summary, "samples_per_second"),
        );
        ratios.push(a / b);
        table += &format!(
            "| {round} | {b:.0} | {a:.0} | {:.2} | {:.4} | {:.4} |\n",
            a / b,
            num(&bp.summary, "test_accuracy"),
            num(&asy.summary, "test_accuracy"),
        );
    }
    table += &format!(
        "\nMedian async × BP over the rounds: **{:.2}**.\n",
        crate::bench_steps::median(ratios)
    );
    Ok(table)
}

/// Runs the suite and returns the markdown table.
pub fn run(args: &BenchArgs, out: &Path, scaling: bool) -> anyhow::Result<String> {
    let method = args.method.as_str();
    let mut table;
    if !scaling {
        let model = args
            .model
            .clone()
            .unwrap_or_else(|| "mlp:256,256,256".into());
        let configs: Vec<(String, Vec<&str>)> = vec![
            (
                format!("{method} simultaneous"),
                vec!["--method", method, "--schedule", "simultaneous"],
            ),
            (format!("{method} async block"), async_args(method, "block")),
            (
                format!("{method} async replay"),
                async_args(method, "replay"),
            ),
        ];
        let rows: Vec<Row> = configs
            .iter()
            .map(|(label, extra)| run_config(args, out, label, extra, &model))
            .collect::<anyhow::Result<_>>()?;
        let base = num(&rows[0].summary, "samples_per_second");
        table = format!(
            "Async vs simultaneous on {} ({model}), batch {}, {} epoch(s) + 1 head epoch\n\n| configuration | samples/s | × simultaneous | test accuracy | mean staleness | reused | dropped |\n|---|---|---|---|---|---|---|\n",
            args.dataset, args.batch_size, args.epochs
        );
        for r in &rows {
            let s = &r.summary;
            let rep = async_report(out, &r.label);
            let (stale, reused, dropped) = match &rep {
                Some(a) => (
                    format!("{:.2}", num(a, "mean_staleness")),
                    sum_workers(a, "reused").to_string(),
                    sum_workers(a, "dropped_by_buffer").to_string(),
                ),
                None => ("0 (by construction)".into(), "-".into(), "-".into()),
            };
            table += &format!(
                "| {} | {:.0} | {:.2} | {:.4} | {stale} | {reused} | {dropped} |\n",
                r.label,
                num(s, "samples_per_second"),
                num(s, "samples_per_second") / base,
                num(s, "test_accuracy"),
            );
        }
        table += &epoch_against_bp(args, out, method, &model)?;
        if !args.mpi_ranks.is_empty() {
            table += "\nUnder MPI (rank 0 feeds and evaluates, ranks 1.. hold the modules; transport share = time inside MPI sends and receives / wall time of the worker ranks):\n\n| configuration | samples/s | × simultaneous | test accuracy | transport share | serialisation share | MB sent by rank 0 |\n|---|---|---|---|---|---|---|\n";
        }
        for &ranks in &args.mpi_ranks {
            let label = format!("{method} async mpi {ranks} ranks");
            let launcher: Vec<String> = [
                "mpirun",
                "--allow-run-as-root",
                "--oversubscribe",
                "--mca",
                "mpi_yield_when_idle",
                "1",
                "-np",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([ranks.to_string()])
            .collect();
            let extra = [
                "--method",
                method,
                "--schedule",
                "async",
                "--distributed",
                "mpi",
            ];
            let r = crate::bench_cmd::run_config_launched(
                args, out, &label, &extra, &model, &launcher,
            )?;
            let s = &r.summary;
            let mpi = async_report(out, &label)
                .map(|a| a["mpi"].clone())
                .unwrap_or_default();
            table += &format!(
                "| {} | {:.0} | {:.2} | {:.4} | {:.3} | {:.4} | {:.0} |\n",
                r.label,
                num(s, "samples_per_second"),
                num(s, "samples_per_second") / base,
                num(s, "test_accuracy"),
                num(&mpi, "transport_share"),
                num(&mpi, "serialize_share"),
                mpi["per_rank"][0]["bytes_sent"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    / 1e6,
            );
        }
    } else {
        table = format!(
            "Scaling with the number of modules on {} (MLP of width 256, one layer per module, {method}), batch {}, {} epoch(s)\n\n| modules | simultaneous samples/s | async samples/s | × | mean staleness | accuracy simultaneous | accuracy async |\n|---|---|---|---|---|---|---|\n",
            args.dataset, args.batch_size, args.epochs
        );
        for depth in 1..=4 {
            let model = format!("mlp:{}", vec!["256"; depth].join(","));
            let sim_label = format!("{method} simultaneous {depth}");
            let async_label = format!("{method} async {depth}");
            let sim = run_config(
                args,
                out,
                &sim_label,
                &["--method", method, "--schedule", "simultaneous"],
                &model,
            )?;
            let asy = run_config(
                args,
                out,
                &async_label,
                &["--method", method, "--schedule", "async"],
                &model,
            )?;
            let stale = async_report(out, &async_label)
                .map(|a| num(&a, "mean_staleness"))
                .unwrap_or(f64::NAN);
            table += &format!(
                "| {depth} | {:.0} | {:.0} | {:.2} | {stale:.2} | {:.4} | {:.4} |\n",
                num(&sim.summary, "samples_per_second"),
                num(&asy.summary, "samples_per_second"),
                num(&asy.summary, "samples_per_second") / num(&sim.summary, "samples_per_second"),
                num(&sim.summary, "test_accuracy"),
                num(&asy.summary, "test_accuracy"),
            );
        }
    }
    table += &format!(
        "\n{} cores available; the machine may be shared, compare ratios from one invocation.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    Ok(table)
}

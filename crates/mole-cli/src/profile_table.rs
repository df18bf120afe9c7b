//! `--profile`: the step profile of a run (`mole_info::profile`) as a table and as
//! `profile.json` in the run directory.

use anyhow::Context;
use mole_info::profile::{Entry, Phase};
use std::collections::BTreeMap;
use std::path::Path;

/// Seconds per phase of one learner, and its steps (optimiser updates).
struct Learner {
    seconds: BTreeMap<Phase, f64>,
    steps: u64,
}

fn by_learner(entries: &[Entry]) -> BTreeMap<String, Learner> {
    let mut out: BTreeMap<String, Learner> = BTreeMap::new();
    for e in entries {
        let name = if e.learner.is_empty() {
            "(outside learners)".to_string()
        } else {
            e.learner.clone()
        };
        let l = out.entry(name).or_insert(Learner {
            seconds: BTreeMap::new(),
            steps: 0,
        });
        *l.seconds.entry(e.phase).or_default() += e.seconds;
        if e.phase == Phase::Optimizer {
            l.steps += e.calls;
        }
    }
    out
}

/// Markdown table: one row per learner, each phase's seconds with its share of `wall` (the
/// run's wall time), the learner's total and its milliseconds per step; a last row for the
/// time no phase covered (setup, final evaluation, writing results).
pub fn table(entries: &[Entry], wall: f64) -> String {
    let learners = by_learner(entries);
    let mut s = String::from("| learner | steps |");
    for p in Phase::ALL {
        s += &format!(" {} |", p.name());
    }
    s += " total | ms/step |\n|---|---|";
    s += &"---|".repeat(Phase::ALL.len() + 2);
    s.push('\n');
    let share = |x: f64| format!("{x:.2} s ({:.0} %)", 100.0 * x / wall.max(1e-9));
    let mut covered = 0.0;
    for (name, l) in &learners {
        let total: f64 = l.seconds.values().sum();
        covered += total;
        s += &format!("| {name} | {} |", l.steps);
        for p in Phase::ALL {
            match l.seconds.get(&p) {
                Some(&x) => s += &format!(" {} |", share(x)),
                None => s += " — |",
            }
        }
        let per_step = if l.steps > 0 {
            format!("{:.1}", 1e3 * total / l.steps as f64)
        } else {
            "—".into()
        };
        s += &format!(" {} | {per_step} |\n", share(total));
    }
    s += &format!(
        "| untimed | |{} {} | |\n",
        " |".repeat(Phase::ALL.len()),
        share((wall - covered).max(0.0))
    );
    s
}

/// `profile.json`: wall seconds and, per learner and phase, exclusive seconds and calls.
pub fn write_json(dir: &Path, entries: &[Entry], wall: f64) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "learner": e.learner,
                "phase": e.phase.name(),
                "seconds": e.seconds,
                "calls": e.calls,
            })
        })
        .collect();
    let json = serde_json::json!({ "wall_seconds": wall, "phases": rows });
    let path = dir.join("profile.json");
    mole_train::run::write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The phases of a training step (evaluation and bookkeeping are not: `samples/s` excludes
/// them too).
const STEP_PHASES: [Phase; 7] = [
    Phase::Data,
    Phase::Forward,
    Phase::Gram,
    Phase::Estimator,
    Phase::Loss,
    Phase::Backward,
    Phase::Optimizer,
];

/// `mole bench profile`: for each configuration, milliseconds per training batch in each step
/// phase, summed over its learners (a batch of the sequential schedule is counted once per
/// module, as a batch passes through every module in the simultaneous one), from the
/// `profile.json` each run wrote.
pub fn batch_table(
    rows: &[crate::bench_cmd::Row],
    out: &Path,
    model: &str,
    args: &crate::bench_cmd::BenchArgs,
) -> anyhow::Result<String> {
    let mut t = format!(
        "Step profile on {} ({model}), batch {}: milliseconds per training batch by phase, summed over the learners (share of the step); the simultaneous schedule with its learners taking turns (`--pipeline off`), since a pipeline's phases overlap in time\n\n| configuration |",
        args.dataset, args.batch_size
    );
    for p in STEP_PHASES {
        t += &format!(" {} |", p.name());
    }
    t += " step ms | × BP |\n|---|";
    t += &"---|".repeat(STEP_PHASES.len() + 2);
    t.push('\n');
    let mut bp_step = None;
    for r in rows {
        let path = out
            .join(r.label.replace([' ', '/'], "-"))
            .join("profile.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let mut seconds = BTreeMap::<&str, f64>::new();
        for e in json["phases"].as_array().into_iter().flatten() {
            if e["learner"].as_str().unwrap_or_default().is_empty() {
                continue; // set-up outside any learner (width rules on the data)
            }
            let phase = e["phase"].as_str().unwrap_or_default();
            *seconds.entry(phase).or_default() += e["seconds"].as_f64().unwrap_or(0.0);
        }
        // Batches of one epoch: samples seen / batch size, per epoch.
        let samples = r.summary["samples_per_second"].as_f64().unwrap_or(0.0)
            * r.summary["train_seconds"].as_f64().unwrap_or(0.0);
        let batches = (samples / args.batch_size as f64).round().max(1.0);
        let per = |p: Phase| 1e3 * seconds.get(p.name()).copied().unwrap_or(0.0) / batches;
        let step: f64 = STEP_PHASES.iter().map(|&p| per(p)).sum();
        let bp = *bp_step.get_or_insert(step);
        t += &format!("| {} |", r.label);
        for p in STEP_PHASES {
            t += &format!(
                " {:.1} ({:.0} %) |",
                per(p),
                100.0 * per(p) / step.max(1e-12)
            );
        }
        t += &format!(" {step:.1} | {:.2} |\n", step / bp.max(1e-12));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(learner: &str, phase: Phase, seconds: f64, calls: u64) -> Entry {
        Entry {
            learner: learner.into(),
            phase,
            seconds,
            calls,
        }
    }

    /// Shares are of the wall time, steps are optimiser calls, and the rest is "untimed".
    #[test]
    fn table_shares_steps_and_untimed_time() {
        let e = vec![
            entry("module 1", Phase::Forward, 1.0, 10),
            entry("module 1", Phase::Estimator, 2.0, 10),
            entry("module 1", Phase::Optimizer, 1.0, 10),
            entry("head", Phase::Optimizer, 0.5, 5),
        ];
        let t = table(&e, 10.0);
        let row = |name: &str| {
            t.lines()
                .find(|l| l.starts_with(&format!("| {name} ")))
                .unwrap()
                .to_string()
        };
        let m1 = row("module 1");
        assert!(m1.contains("| 10 |"), "{m1}");
        assert!(m1.contains("2.00 s (20 %)"), "{m1}");
        assert!(m1.contains("4.00 s (40 %) | 400.0 |"), "{m1}");
        assert!(row("head").contains("0.50 s (5 %) | 100.0 |"));
        assert!(row("untimed").contains("5.50 s (55 %)"), "{t}");
    }
}

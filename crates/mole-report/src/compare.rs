//! `mole compare RUN_DIR...`: one table (markdown and CSV) and one accuracy/time chart.

use crate::ReportError;
use crate::fsutil::write_atomic;
use crate::plots::compare::{Bar, CompareChart};
use crate::plots::save;
use crate::run_dir::RunData;
use std::path::{Path, PathBuf};

/// One run's line in the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// Short name: `method (directory name)`.
    pub label: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Fields of `summary.json` (`None` = not recorded).
    pub dataset: Option<String>,
    /// Training method.
    pub method: Option<String>,
    /// Schedule.
    pub schedule: Option<String>,
    /// Model spec.
    pub model: Option<String>,
    /// Test accuracy in [0, 1].
    pub test_accuracy: Option<f64>,
    /// Train accuracy in [0, 1].
    pub train_accuracy: Option<f64>,
    /// Training seconds.
    pub train_seconds: Option<f64>,
    /// Training throughput.
    pub samples_per_second: Option<f64>,
    /// Peak resident memory in MiB.
    pub peak_rss_mib: Option<f64>,
    /// Silhouette (2-D t-SNE) of the last module, from `silhouette.csv` if `mole report` ran.
    pub last_silhouette: Option<f64>,
}

/// The comparison and the files it was written to.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// One row per run, in the order given.
    pub rows: Vec<CompareRow>,
    /// The markdown table (also in `compare.md`).
    pub markdown: String,
    /// Files written: `compare.md`, `compare.csv`, `compare.png`, `compare.svg`.
    pub files: Vec<PathBuf>,
}

/// Silhouette of the last `tsne_module_<k>` row of `silhouette.csv`, if any.
fn last_silhouette(dir: &Path) -> Result<Option<f64>, ReportError> {
    let p = dir.join("silhouette.csv");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Ok(None);
    };
    let mut best: Option<(usize, f64)> = None;
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let k = cells
            .first()
            .and_then(|c| c.strip_prefix("tsne_module_"))
            .and_then(|c| c.strip_suffix(".png"));
        if let (Some(k), Some(s)) = (k, cells.get(3)) {
            let k: usize = k.parse().map_err(|_| {
                ReportError::corrupt(&p, format!("bad picture name '{}'", cells[0]))
            })?;
            if s.is_empty() {
                continue;
            }
            let s: f64 = s.parse().map_err(|_| {
                ReportError::corrupt(&p, format!("silhouette '{s}' is not a number"))
            })?;
            if best.is_none_or(|(b, _)| k > b) {
                best = Some((k, s));
            }
        }
    }
    Ok(best.map(|(_, s)| s))
}

fn row(dir: &Path) -> Result<CompareRow, ReportError> {
    let run = RunData::load_without_embeddings(dir)?;
    if run.summary.is_none() {
        return Err(ReportError::corrupt(
            dir.join("summary.json"),
            "not found (a comparison needs each run's summary)",
        ));
    }
    Ok(CompareRow {
        label: run.label(),
        dir: dir.to_path_buf(),
        dataset: run.summary_str("dataset"),
        method: run.method(),
        schedule: run.summary_str("schedule"),
        model: run.summary_str("model"),
        test_accuracy: run.summary_f64("test_accuracy"),
        train_accuracy: run.summary_f64("train_accuracy"),
        train_seconds: run.summary_f64("train_seconds"),
        samples_per_second: run.summary_f64("samples_per_second"),
        peak_rss_mib: run.summary_f64("peak_rss_bytes").map(|b| b / 1048576.0),
        last_silhouette: last_silhouette(dir)?,
    })
}

const HEADER: [&str; 12] = [
    "run",
    "dataset",
    "method",
    "schedule",
    "model",
    "test accuracy",
    "train accuracy",
    "train s",
    "samples/s",
    "peak RSS MiB",
    "silhouette last module",
    "dir",
];

fn cells(r: &CompareRow) -> Vec<String> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let f = |v: Option<f64>, d: usize| v.map_or(String::new(), |v| format!("{v:.d$}"));
    vec![
        r.label.clone(),
        s(&r.dataset),
        s(&r.method),
        s(&r.schedule),
        s(&r.model),
        f(r.test_accuracy, 4),
        f(r.train_accuracy, 4),
        f(r.train_seconds, 1),
        f(r.samples_per_second, 0),
        f(r.peak_rss_mib, 0),
        f(r.last_silhouette, 3),
        r.dir.display().to_string(),
    ]
}

fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_string()
    }
}

/// Compares the runs in `dirs` and writes `compare.{md,csv,png,svg}` into `out` (created if
/// needed). Every run needs a `summary.json`.
pub fn compare_runs(dirs: &[PathBuf], out: &Path) -> Result<Comparison, ReportError> {
    if dirs.is_empty() {
        return Err(ReportError::Options(
            "mole compare needs at least one run directory".into(),
        ));
    }
    let rows = dirs.iter().map(|d| row(d)).collect::<Result<Vec<_>, _>>()?;
    let mut md = format!(
        "| {} |\n|{}\n",
        HEADER.join(" | "),
        "---|".repeat(HEADER.len())
    );
    let mut csv = HEADER
        .iter()
        .map(|h| h.replace(' ', "_").replace('/', "_per_"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for r in &rows {
        let c = cells(r);
        md.push_str(&format!(
            "| {} |\n",
            c.iter()
                .map(|c| c.replace('|', "\\|"))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        csv.push_str(&(c.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",") + "\n"));
    }
    let datasets: std::collections::BTreeSet<_> =
        rows.iter().filter_map(|r| r.dataset.clone()).collect();
    if datasets.len() > 1 {
        md.push_str(&format!(
            "\nNote: these runs use different datasets ({}); their accuracies are not comparable.\n",
            datasets.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| ReportError::io(out, e))?;
    let mut files = Vec::new();
    for (name, text) in [("compare.md", &md), ("compare.csv", &csv)] {
        let p = out.join(name);
        write_atomic(&p, text.as_bytes())?;
        files.push(p);
    }
    let chart = CompareChart {
        title: "Test accuracy and training time".into(),
        bars: rows
            .iter()
            .map(|r| Bar {
                label: format!("{} · {}", r.label, r.dataset.clone().unwrap_or_default()),
                accuracy: r.test_accuracy,
                seconds: r.train_seconds,
            })
            .collect(),
    };
    let (png, svg) = save(&chart, &out.join("compare"))?;
    files.extend([png, svg]);
    Ok(Comparison {
        rows,
        markdown: md,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("a"), "a");
        assert_eq!(csv_cell("mlp:1,2"), "\"mlp:1,2\"");
        assert_eq!(csv_cell("x\"y"), "\"x\"\"y\"");
    }

    #[test]
    fn empty_list_and_missing_summary_are_errors() {
        assert!(compare_runs(&[], Path::new("/tmp")).is_err());
        let d = std::env::temp_dir().join(format!(
            "mole-report-compare-nosummary-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("metrics.csv"), "epoch,stage,module,layer\n").unwrap();
        let e = compare_runs(std::slice::from_ref(&d), &d).unwrap_err();
        assert!(e.to_string().contains("summary.json: not found"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

//! `mole report RUN_DIR`: t-SNE pictures with silhouette scores, the information plane, learning
//! curves and `report.html`, all written into the run directory.

use crate::ReportError;
use crate::embeddings::Matrix;
use crate::figures::{PlaneMeasure, curves, info_plane};
use crate::fsutil::write_atomic;
use crate::html::{FoldLink, Page, PageImage, Table, render};
use crate::plots::save;
use crate::plots::scatter::ScatterPlot;
use crate::run_dir::RunData;
use crate::sample::balanced_indices;
use crate::silhouette::silhouette;
use crate::tsne::{TsneOptions, tsne_2d};
use std::path::{Path, PathBuf};

/// Settings of `mole report`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// t-SNE settings (perplexity, iterations, θ, seed).
    pub tsne: TsneOptions,
    /// Points per t-SNE picture: a class-balanced subset of the embeddings file when it has more.
    pub max_points: usize,
    /// Skip t-SNE (the slow part): no `tsne_*` pictures.
    pub skip_tsne: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            tsne: TsneOptions::default(),
            max_points: 1000,
            skip_tsne: false,
        }
    }
}

/// One t-SNE picture and its scores.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneResult {
    /// `input` or `module_<k>`.
    pub name: String,
    /// Points in the picture.
    pub points: usize,
    /// Dimension of the embedded representation.
    pub dimensions: usize,
    /// Silhouette of the classes in the 2-D t-SNE embedding (what the picture shows).
    pub silhouette_tsne: Option<f64>,
    /// Silhouette of the classes in the original representation (Euclidean, all dimensions).
    pub silhouette_original: Option<f64>,
    /// Perplexity used.
    pub perplexity: f32,
    /// Seconds of the t-SNE fit.
    pub seconds: f64,
}

/// What `mole report` wrote and noticed.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every file written (PNG, SVG, CSV, HTML).
    pub files: Vec<PathBuf>,
    /// t-SNE results, input first.
    pub tsne: Vec<TsneResult>,
    /// Missing inputs and skipped pictures, one sentence each.
    pub notes: Vec<String>,
    /// The page.
    pub html: PathBuf,
}

/// `method · dataset · model` from `summary.json` (or the directory name).
fn run_title(run: &RunData) -> String {
    let parts: Vec<String> = ["method", "dataset", "model"]
        .iter()
        .filter_map(|k| run.summary_str(k))
        .collect();
    if parts.is_empty() {
        run.label()
    } else {
        parts.join(" · ")
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
}

fn png_of(path: &Path) -> Result<Vec<u8>, ReportError> {
    std::fs::read(path).map_err(|e| ReportError::io(path, e))
}

/// The runs inside a run directory: the `fold_K` folders of a cross-validated run (`mole train
/// --folds K` on graphs), in fold order, and the `sigma_<σ>` branches of a σ-combined HSIC
/// network, in order of σ; as (folder name, path). Empty for any other run.
pub fn sub_runs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(u8, f64, String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_str()?.to_string();
            let (group, key) = if let Some(k) = name.strip_prefix("fold_") {
                (0, k.parse::<usize>().ok()? as f64)
            } else {
                (1, name.strip_prefix("sigma_")?.parse::<f64>().ok()?)
            };
            e.path().is_dir().then(|| (group, key, name, e.path()))
        })
        .collect();
    found.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).expect("finite keys"));
    found.into_iter().map(|(_, _, n, p)| (n, p)).collect()
}

/// Makes the report of the run directory `dir`. `progress` receives one line per step.
///
/// A run with runs inside it ([`sub_runs`]: the folds of a cross-validated run, the branches of
/// a σ-combined network) gets one report per inner run, in its folder, and a page of its own
/// with their test accuracies and links to their pages (a cross-validated run's own
/// `metrics.csv` has no rows: the folds have them). The t-SNE results and notes of the inner
/// runs are returned too, named `fold_K/…` or `sigma_<σ>/…`.
pub fn make_report(
    dir: &Path,
    opts: &ReportOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, ReportError> {
    let run = RunData::load(dir)?;
    let title = run_title(&run);
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut images = Vec::new();
    let mut tsne = Vec::new();

    // Each run inside this one (folds, σ branches), then the run's own page.
    let mut folds = Vec::new();
    for (name, sub_dir) in sub_runs(dir) {
        let r = make_report(&sub_dir, opts, &mut |line| {
            progress(&format!("{name}/{line}"))
        })?;
        files.extend(r.files);
        notes.extend(r.notes.into_iter().map(|n| format!("{name}: {n}")));
        tsne.extend(r.tsne.into_iter().map(|t| TsneResult {
            name: format!("{name}/{}", t.name),
            ..t
        }));
        let test_accuracy = RunData::load_without_embeddings(&sub_dir)
            .ok()
            .and_then(|f| f.summary_f64("test_accuracy"));
        folds.push(FoldLink {
            page: format!("{name}/report.html"),
            name,
            test_accuracy,
        });
    }
    let fold_tsne = tsne.len();

    // Learning curves and information plane (metrics.csv).
    match &run.metrics {
        None => notes.push(
            "metrics.csv not found: no learning curves and no information plane.".to_string(),
        ),
        Some(rows) if rows.is_empty() && !folds.is_empty() => {}
        Some(rows) => {
            let (png, svg) = save(&curves(rows, &title), &dir.join("curves"))?;
            images.push(PageImage {
                caption: "Module objectives per epoch, head cross-entropy, and train (dashed) vs test (solid) accuracy.".into(),
                file: "curves.png".into(),
                png: png_of(&png)?,
            });
            files.extend([png, svg]);
            let method = run.method();
            let measure = PlaneMeasure::for_method(method.as_deref());
            let fig = info_plane(rows, measure, &title).or_else(|| {
                // An HSIC run without nHSIC (or the reverse) still gets whichever pair exists.
                let other = if measure == PlaneMeasure::Nhsic {
                    PlaneMeasure::MutualInformation
                } else {
                    PlaneMeasure::Nhsic
                };
                info_plane(rows, other, &title)
            });
            match fig {
                None => notes.push(
                    "metrics.csv has no I(X;T)/I(T;Y) or nHSIC values: no information plane."
                        .into(),
                ),
                Some(fig) => {
                    let (png, svg) = save(&fig, &dir.join("information_plane"))?;
                    images.push(PageImage {
                        caption: format!(
                            "{} against {}, one trajectory per module over its epochs.",
                            fig.x_desc, fig.y_desc
                        ),
                        file: "information_plane.png".into(),
                        png: png_of(&png)?,
                    });
                    files.extend([png, svg]);
                }
            }
            progress("curves.png, information_plane.png");
        }
    }

    // t-SNE pictures (embeddings.safetensors).
    match (&run.embeddings, opts.skip_tsne) {
        (None, _) if !folds.is_empty() => {}
        (None, _) => notes.push(
            "embeddings.safetensors not found: no t-SNE pictures and no silhouette scores.".into(),
        ),
        (Some(_), true) => notes.push("t-SNE skipped (--no-tsne).".into()),
        (Some(e), false) => {
            let idx = balanced_indices(&e.labels, opts.max_points);
            let labels: Vec<usize> = idx.iter().map(|&i| e.labels[i]).collect();
            let reps: Vec<(String, String, &Matrix)> =
                std::iter::once(("input".to_string(), "raw input".to_string(), &e.input))
                    .chain(
                        e.modules
                            .iter()
                            .map(|(k, m)| (format!("module_{k}"), format!("module {k} output"), m)),
                    )
                    .collect();
            for (name, what, m) in reps {
                let m = m.select(&idx);
                let fit = tsne_2d(&m, &opts.tsne)?;
                let s2 = silhouette(&fit.points, 2, &labels);
                let so = silhouette(&m.data, m.cols, &labels);
                let fig = ScatterPlot {
                    title: format!("t-SNE of the {what} ({}-D): {title}", m.cols),
                    subtitle: format!(
                        "{} test points, class-balanced · perplexity {} · silhouette {} in 2-D, {} in {}-D",
                        m.rows,
                        fit.perplexity,
                        fmt_opt(s2, 3),
                        fmt_opt(so, 3),
                        m.cols
                    ),
                    points: fit.points,
                    labels: labels.clone(),
                };
                let (png, svg) = save(&fig, &dir.join(format!("tsne_{name}")))?;
                progress(&format!(
                    "tsne_{name}.png: {:.1} s, silhouette {}",
                    fit.seconds,
                    fmt_opt(s2, 3)
                ));
                images.push(PageImage {
                    caption: format!(
                        "t-SNE of the {what}, coloured by class; silhouette {} (2-D).",
                        fmt_opt(s2, 3)
                    ),
                    file: format!("tsne_{name}.png"),
                    png: png_of(&png)?,
                });
                files.extend([png, svg]);
                tsne.push(TsneResult {
                    name,
                    points: m.rows,
                    dimensions: m.cols,
                    silhouette_tsne: s2,
                    silhouette_original: so,
                    perplexity: fit.perplexity,
                    seconds: fit.seconds,
                });
            }
            let mut csv = String::from(
                "picture,points,dimensions,silhouette_tsne,silhouette_original,perplexity,tsne_seconds\n",
            );
            for t in &tsne[fold_tsne..] {
                csv.push_str(&format!(
                    "tsne_{}.png,{},{},{},{},{},{:.3}\n",
                    t.name,
                    t.points,
                    t.dimensions,
                    t.silhouette_tsne
                        .map_or(String::new(), |v| format!("{v:.6}")),
                    t.silhouette_original
                        .map_or(String::new(), |v| format!("{v:.6}")),
                    t.perplexity,
                    t.seconds
                ));
            }
            let p = dir.join("silhouette.csv");
            write_atomic(&p, csv.as_bytes())?;
            files.push(p);
        }
    }
    if run.summary.is_none() {
        notes.push("summary.json not found (training did not finish?): no summary table.".into());
    }
    if run.config.is_none() {
        notes.push("config.toml not found: the config is not shown.".into());
    }

    let mut page = page(&run, &title, &tsne[fold_tsne..], &notes, images);
    page.folds = folds;
    let html = dir.join("report.html");
    write_atomic(&html, render(&page).as_bytes())?;
    files.push(html.clone());
    Ok(Report {
        files,
        tsne,
        notes,
        html,
    })
}

fn page(
    run: &RunData,
    title: &str,
    tsne: &[TsneResult],
    notes: &[String],
    images: Vec<PageImage>,
) -> Page {
    let mut summary = vec![("run directory".to_string(), run.dir.display().to_string())];
    if let Some(s) = run.summary.as_ref().and_then(|s| s.as_object()) {
        for (k, v) in s {
            if k == "modules" {
                continue;
            }
            let text = match (k.as_str(), v) {
                (k, serde_json::Value::Number(n)) if k.ends_with("accuracy") => {
                    fmt_opt(n.as_f64().map(|a| a * 100.0), 2) + " %"
                }
                ("peak_rss_bytes", serde_json::Value::Number(n)) => {
                    format!("{:.0} MiB", n.as_f64().unwrap_or(0.0) / 1048576.0)
                }
                ("train_seconds", serde_json::Value::Number(n)) => {
                    format!("{:.2} s", n.as_f64().unwrap_or(0.0))
                }
                (_, serde_json::Value::Number(n)) if n.is_f64() => {
                    format!("{:.3}", n.as_f64().unwrap_or(0.0))
                }
                (_, serde_json::Value::String(s)) => s.clone(),
                (_, serde_json::Value::Null) => "–".into(),
                (_, v) => v.to_string(),
            };
            summary.push((k.replace('_', " "), text));
        }
    }
    let mut modules = Table::default();
    if let Some(ms) = run
        .summary
        .as_ref()
        .and_then(|s| s.get("modules"))
        .and_then(|m| m.as_array())
    {
        modules.header = [
            "module",
            "layers",
            "objective",
            "steps",
            "loss",
            "I(X;T) bits",
            "I(T;Y) bits",
            "nHSIC(X;T)",
            "nHSIC(T;Y)",
        ]
        .map(String::from)
        .to_vec();
        for m in ms {
            let num = |k: &str| fmt_opt(m.get(k).and_then(|v| v.as_f64()), 4);
            let raw = |k: &str| {
                m.get(k).map_or("–".to_string(), |v| {
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                })
            };
            modules.rows.push(vec![
                raw("index"),
                raw("layers"),
                raw("objective"),
                raw("steps"),
                num("loss"),
                num("i_tx"),
                num("i_ty"),
                num("nhsic_tx"),
                num("nhsic_ty"),
            ]);
        }
    }
    let silhouettes = Table {
        header: [
            "picture",
            "points",
            "dimensions",
            "silhouette (2-D t-SNE)",
            "silhouette (original space)",
            "t-SNE seconds",
        ]
        .map(String::from)
        .to_vec(),
        rows: tsne
            .iter()
            .map(|t| {
                vec![
                    t.name.replace('_', " "),
                    t.points.to_string(),
                    t.dimensions.to_string(),
                    fmt_opt(t.silhouette_tsne, 3),
                    fmt_opt(t.silhouette_original, 3),
                    format!("{:.1}", t.seconds),
                ]
            })
            .collect(),
    };
    Page {
        title: format!("mole report: {title}"),
        summary,
        modules,
        silhouettes,
        notes: notes.to_vec(),
        images,
        config: run.config.clone(),
        folds: Vec::new(),
    }
}

//! A report from a hand-made run directory: any rows (images, nodes, pooled graphs), missing
//! files said plainly, valid PNG and HTML.

use mole_report::embeddings::{Embeddings, Matrix, to_safetensors};
use mole_report::{ReportOptions, TsneOptions, make_report};
use std::path::{Path, PathBuf};

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mole-report-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Width and height of a PNG file, checking the signature and the IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

/// 120 "nodes" in 3 classes: the input mixes the classes, module 1 separates them.
fn embeddings() -> Embeddings {
    let n = 120;
    let mut state = 42u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let input: Vec<f32> = (0..n * 8).map(|_| noise()).collect();
    let module: Vec<f32> = labels
        .iter()
        .flat_map(|&c| (0..4).map(move |d| if d == c { 5.0 } else { 0.0 }))
        .map(|v| v + noise())
        .collect();
    Embeddings {
        input: Matrix {
            rows: n,
            cols: 8,
            data: input,
        },
        modules: vec![(
            1,
            Matrix {
                rows: n,
                cols: 4,
                data: module,
            },
        )],
        labels,
    }
}

const METRICS: &str =
    "epoch,stage,module,layer,loss,i_tx,i_ty,nhsic_tx,nhsic_ty,train_accuracy,test_accuracy,seconds
1,module,1,1,-1.5,0.02,0.09,13.8,4.7,,,0.1
2,module,1,1,-1.8,0.04,0.19,16.6,5.7,,,0.5
1,head,2,0,1.14,,,,,0.94,0.91,3.4
";

#[test]
fn report_of_a_run_without_summary_or_config_says_so_and_draws_everything_else() {
    let dir = temp("nosummary");
    std::fs::write(
        dir.join("embeddings.safetensors"),
        to_safetensors(&embeddings()),
    )
    .unwrap();
    std::fs::write(dir.join("metrics.csv"), METRICS).unwrap();
    let opts = ReportOptions {
        tsne: TsneOptions {
            epochs: 300,
            ..TsneOptions::default()
        },
        ..ReportOptions::default()
    };
    let mut lines = Vec::new();
    let r = make_report(&dir, &opts, &mut |l| lines.push(l.to_string())).unwrap();
    for f in ["tsne_input", "tsne_module_1", "information_plane", "curves"] {
        let (w, h) = png_size(&dir.join(format!("{f}.png")));
        assert!(w >= 800 && h >= 500, "{f}: {w}x{h}");
        let svg = std::fs::read_to_string(dir.join(format!("{f}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{f}.svg"
        );
    }
    assert_eq!(r.tsne.len(), 2);
    let (input, module) = (&r.tsne[0], &r.tsne[1]);
    assert_eq!(
        (input.points, input.dimensions, module.dimensions),
        (120, 8, 4)
    );
    assert!(
        module.silhouette_original.unwrap() > input.silhouette_original.unwrap() + 0.5,
        "separated classes must score higher: {r:?}"
    );
    assert!(module.silhouette_tsne.unwrap() > input.silhouette_tsne.unwrap());
    assert!(
        r.notes.iter().any(|n| n.contains("summary.json not found")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes.iter().any(|n| n.contains("config.toml not found")),
        "{:?}",
        r.notes
    );
    let html = std::fs::read_to_string(&r.html).unwrap();
    assert!(html.contains("summary.json not found"));
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        4,
        "four pictures embedded"
    );
    let csv = std::fs::read_to_string(dir.join("silhouette.csv")).unwrap();
    assert!(
        csv.starts_with("picture,points,dimensions,silhouette_tsne") && csv.lines().count() == 3,
        "{csv}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_without_embeddings_notes_it_and_writes_no_tsne() {
    let dir = temp("noemb");
    std::fs::write(dir.join("metrics.csv"), METRICS).unwrap();
    std::fs::write(
        dir.join("summary.json"),
        r#"{"dataset":"digits","method":"mole","test_accuracy":0.9}"#,
    )
    .unwrap();
    let r = make_report(&dir, &ReportOptions::default(), &mut |_| {}).unwrap();
    assert!(r.tsne.is_empty() && !dir.join("tsne_input.png").exists());
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("embeddings.safetensors not found"))
    );
    let html = std::fs::read_to_string(&r.html).unwrap();
    assert!(
        html.contains("embeddings.safetensors not found") && html.contains("90.00 %"),
        "accuracy shown in %"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_embeddings_are_an_error_naming_the_file() {
    let dir = temp("corrupt");
    std::fs::write(dir.join("embeddings.safetensors"), b"not safetensors").unwrap();
    let e = make_report(&dir, &ReportOptions::default(), &mut |_| {}).unwrap_err();
    assert!(e.is_bad_input());
    assert!(
        e.to_string()
            .contains("embeddings.safetensors: not a safetensors file"),
        "{e}"
    );
    assert!(!dir.join("report.html").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cross_validated_run_gets_a_report_per_fold_and_a_page_linking_them() {
    // As `mole train --folds 2` writes it: the folds' runs in fold_K, a summary with their
    // accuracies and a metrics.csv without rows at the top.
    let dir = temp("folds");
    let header = METRICS.lines().next().unwrap();
    std::fs::write(dir.join("metrics.csv"), format!("{header}\n")).unwrap();
    std::fs::write(
        dir.join("summary.json"),
        r#"{"method":"mole","dataset":"mutag","test_accuracy":0.85,"fold_test_accuracies":[0.8,0.9]}"#,
    )
    .unwrap();
    for (k, acc) in [(1, 0.8), (2, 0.9)] {
        let fold = dir.join(format!("fold_{k}"));
        std::fs::create_dir_all(&fold).unwrap();
        std::fs::write(fold.join("metrics.csv"), METRICS).unwrap();
        std::fs::write(
            fold.join("summary.json"),
            format!(r#"{{"method":"mole","test_accuracy":{acc}}}"#),
        )
        .unwrap();
        std::fs::write(
            fold.join("embeddings.safetensors"),
            to_safetensors(&embeddings()),
        )
        .unwrap();
    }
    let opts = ReportOptions {
        tsne: TsneOptions {
            epochs: 250,
            ..TsneOptions::default()
        },
        ..ReportOptions::default()
    };
    let mut lines = Vec::new();
    let r = make_report(&dir, &opts, &mut |l| lines.push(l.to_string())).unwrap();
    for k in [1, 2] {
        let fold = dir.join(format!("fold_{k}"));
        for f in [
            "report.html",
            "curves.png",
            "information_plane.png",
            "tsne_module_1.png",
        ] {
            assert!(fold.join(f).is_file(), "fold {k}: {f}");
        }
    }
    let names: Vec<&str> = r.tsne.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fold_1/input",
            "fold_1/module_1",
            "fold_2/input",
            "fold_2/module_1"
        ]
    );
    assert!(lines.iter().any(|l| l.starts_with("fold_2/")), "{lines:?}");
    // The top page: the folds with their accuracies and links, no empty pictures of its own.
    assert!(!dir.join("curves.png").exists() && !dir.join("silhouette.csv").exists());
    assert!(
        !r.notes
            .iter()
            .any(|n| n.contains("no learning curves")
                || n.contains("embeddings.safetensors not found")),
        "{:?}",
        r.notes
    );
    let html = std::fs::read_to_string(&r.html).unwrap();
    for needle in [
        "<h2>Folds</h2>",
        "<td>fold_1</td>",
        "<a href=\"fold_1/report.html\">",
        "<a href=\"fold_2/report.html\">",
        "80.00 %",
        "90.00 %",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    assert_eq!(html.matches("data:image/png;base64,").count(), 0);
}

#[test]
fn runs_inside_a_run_are_its_folds_in_fold_order_then_its_branches_in_order_of_sigma() {
    let dir = temp("subruns");
    for d in [
        "fold_10",
        "fold_2",
        "sigma_10",
        "sigma_2.5",
        "weights",
        "fold_x",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("fold_3"), "a file, not a run").unwrap();
    let names: Vec<String> = mole_report::report::sub_runs(&dir)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["fold_2", "fold_10", "sigma_2.5", "sigma_10"]);
}

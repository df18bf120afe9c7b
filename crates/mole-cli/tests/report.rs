//! `mole report`, `mole train --report` and `mole compare` end to end on real data, and their
//! answers to bad input.

mod common;
use common::*;
use std::path::Path;

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

/// `silhouette.csv` as (picture, silhouette in 2-D t-SNE, silhouette in the original space).
fn silhouettes(dir: &Path) -> Vec<(String, f64, f64)> {
    let text = std::fs::read_to_string(dir.join("silhouette.csv")).expect("silhouette.csv written");
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].to_string(),
                c[3].parse().unwrap(),
                c[4].parse().unwrap(),
            )
        })
        .collect()
}

fn check_page(dir: &Path, pictures: &[&str]) {
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(
        html.matches("<figure>").count(),
        pictures.len(),
        "one figure per picture"
    );
    for p in pictures {
        let (w, h) = png_size(&dir.join(format!("{p}.png")));
        assert!(w >= 800 && h >= 500, "{p}.png is {w}x{h}");
        assert!(dir.join(format!("{p}.svg")).is_file(), "{p}.svg");
        assert!(
            html.contains(&format!("href=\"{p}.png\"")),
            "{p} not on the page"
        );
    }
    assert!(
        !html.contains("src=\"http"),
        "the page must open without a server or network"
    );
}

#[test]
fn mnist_mole_training_makes_the_last_module_cluster_better_than_the_input() {
    let dir = temp_dir("report-mnist").join("run");
    let out = run(mole()
        .args([
            "train",
            "--dataset",
            "mnist",
            "--group",
            "1,1,1",
            "--epochs",
            "1",
            "--head-epochs",
            "1",
            "--quiet",
            "--report",
        ])
        .args(["--tsne-epochs", "500", "--data-dir"])
        .arg(datasets())
        .arg("--out")
        .arg(&dir));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("report: {}", dir.join("report.html").display())),
        "{stdout}"
    );
    check_page(
        &dir,
        &[
            "curves",
            "information_plane",
            "tsne_input",
            "tsne_module_1",
            "tsne_module_2",
            "tsne_module_3",
        ],
    );
    let s = silhouettes(&dir);
    let names: Vec<&str> = s.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "tsne_input.png",
            "tsne_module_1.png",
            "tsne_module_2.png",
            "tsne_module_3.png"
        ]
    );
    let (input, last) = (&s[0], &s[3]);
    assert!(
        last.1 > input.1,
        "2-D t-SNE silhouette: last module {} <= input {}",
        last.1,
        input.1
    );
    assert!(
        last.2 > input.2,
        "original-space silhouette: last module {} <= input {}",
        last.2,
        input.2
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("dataset = &quot;mnist&quot;"),
        "config.toml on the page"
    );
}

#[test]
fn digits_mole_hsic_bp_reports_and_comparison() {
    let base = temp_dir("report-compare");
    let mut dirs = Vec::new();
    for method in ["mole", "hsic", "bp"] {
        let dir = base.join(method);
        let out = run(mole()
            .args([
                "train",
                "--method",
                method,
                "--group",
                "1,1,1",
                "--epochs",
                "2",
                "--head-epochs",
                "1",
                "--quiet",
                "--out",
            ])
            .arg(&dir));
        assert!(out.status.success(), "{}", text(&out).1);
        let out = run(mole()
            .args([
                "report",
                "--quiet",
                "--points",
                "150",
                "--tsne-epochs",
                "300",
            ])
            .arg(&dir));
        let (_, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        // Backprop trains the whole network as one module: one module picture.
        let modules: &[&str] = if method == "bp" {
            &["tsne_module_1"]
        } else {
            &["tsne_module_1", "tsne_module_2", "tsne_module_3"]
        };
        let pictures: Vec<&str> = ["curves", "information_plane", "tsne_input"]
            .iter()
            .chain(modules)
            .copied()
            .collect();
        check_page(&dir, &pictures);
        let s = silhouettes(&dir);
        assert_eq!(s.len(), 1 + modules.len());
        assert!(
            s.iter()
                .all(|r| (-1.0..=1.0).contains(&r.1) && (-1.0..=1.0).contains(&r.2)),
            "{s:?}"
        );
        let csv = std::fs::read_to_string(dir.join("silhouette.csv")).unwrap();
        assert!(
            csv.lines()
                .skip(1)
                .all(|l| l.split(',').nth(1) == Some("150")),
            "--points caps the sample: {csv}"
        );
        dirs.push(dir);
    }
    // HSIC runs plot the nHSIC pair, the others mutual information in bits.
    let svg = std::fs::read_to_string(base.join("hsic/information_plane.svg")).unwrap();
    assert!(svg.contains("nHSIC(X;T)"), "HSIC plane axis");
    let svg = std::fs::read_to_string(base.join("mole/information_plane.svg")).unwrap();
    assert!(svg.contains("I(X;T) (bits)"), "MOLE plane axis");
    let out = run(mole().arg("compare").args(&dirs).arg("--out").arg(&base));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for m in ["mole", "hsic", "bp"] {
        assert!(
            stdout.contains(&format!("| {m} ({m}) | digits | {m} |")),
            "{m} row missing:\n{stdout}"
        );
    }
    let csv = std::fs::read_to_string(base.join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("run,dataset,method,schedule,model,test_accuracy"));
    assert!(std::fs::read_to_string(base.join("compare.md")).unwrap() == stdout);
    let (w, _) = png_size(&base.join("compare.png"));
    assert!(w >= 1000);
}

#[test]
fn bad_run_directories_exit_2_naming_the_file() {
    let base = temp_dir("report-bad");
    let missing = base.join("nope");
    let out = run(mole().arg("report").arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: {}: not a run directory (no such directory)",
            missing.display()
        )
    );

    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(mole().arg("report").arg(&empty));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("not a run directory (none of metrics.csv"),
        "{}",
        text(&out).1
    );

    let corrupt = base.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(
        corrupt.join("metrics.csv"),
        "epoch,stage,module,layer\n1,module,x,1\n",
    )
    .unwrap();
    let out = run(mole().arg("report").arg(&corrupt));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out).1;
    assert!(
        stderr.contains("metrics.csv: line 2: module 'x' is not a whole number"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    // A run with only metrics: a page, and the missing embeddings said on stderr and the page.
    std::fs::write(
        corrupt.join("metrics.csv"),
        "epoch,stage,module,layer,loss\n1,module,1,1,0.5\n",
    )
    .unwrap();
    let out = run(mole().arg("report").arg(&corrupt));
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(
        text(&out)
            .1
            .contains("note: embeddings.safetensors not found"),
        "{}",
        text(&out).1
    );

    let out = run(mole().arg("compare").arg(&corrupt));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("summary.json: not found"),
        "{}",
        text(&out).1
    );
}

#[test]
fn a_cross_validated_graph_run_is_reported_fold_by_fold() {
    let dir = temp_dir("report-folds");
    let out = dir.join("cv");
    let o = run(mole()
        .args(["train", "--quiet", "--dataset", "mutag", "--folds", "2"])
        .args([
            "--epochs",
            "2",
            "--head-epochs",
            "2",
            "--report",
            "--no-tsne",
        ])
        .arg("--data-dir")
        .arg(datasets())
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", text(&o).1);
    for k in [1, 2] {
        check_page(
            &out.join(format!("fold_{k}")),
            &["curves", "information_plane"],
        );
    }
    check_page(&out, &[]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<a href=\"fold_1/report.html\">")
            && html.contains("<a href=\"fold_2/report.html\">"),
        "the folds are linked"
    );
}

#[test]
fn a_sigma_combined_run_is_reported_with_each_branch() {
    let dir = temp_dir("report-sigmas");
    let out = dir.join("sg");
    let o = run(mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            "digits",
            "--method",
            "hsic",
        ])
        .args(["--sigmas", "2,5", "--epochs", "2", "--head-epochs", "2"])
        .args(["--report", "--no-tsne", "--out"])
        .arg(&out));
    assert!(o.status.success(), "{}", text(&o).1);
    for branch in ["sigma_2", "sigma_5"] {
        check_page(&out.join(branch), &["curves", "information_plane"]);
    }
    // The combined network's own curves (its format layer), and the branches linked.
    check_page(&out, &["curves"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<h2>σ branches</h2>")
            && html.contains("<a href=\"sigma_2/report.html\">")
            && html.contains("<a href=\"sigma_5/report.html\">"),
        "the branches are linked"
    );
}

//! `mole measure` on the real iris file, and its exit code on bad input.

mod common;
use common::*;

#[test]
fn measure_on_iris_reports_every_key_in_range() {
    let iris = datasets().join("uci/iris.csv");
    let out = run(mole().arg("measure").arg(&iris).args([
        "--header",
        "--x",
        "0..4",
        "--y",
        "4",
        "--y-labels",
    ]));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for key in [
        "entropy_x",
        "entropy_y",
        "joint_entropy",
        "mutual_information",
        "normalized_mutual_information",
        "hsic",
        "nhsic",
        "samples",
        "alpha",
        "sigma_x",
        "sigma_y",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    let f = |k: &str| v[k].as_f64().unwrap();
    assert_eq!(v["samples"].as_u64(), Some(150));
    assert_eq!(f("alpha"), 2.0);
    // Three balanced classes under the delta kernel: S(Y) = log2(3) exactly.
    assert!((f("entropy_y") - 3f64.log2()).abs() < 1e-4, "{v}");
    // 0 < I(X;Y) <= min(S(X), S(Y)); the species are strongly dependent on the measurements.
    let mi = f("mutual_information");
    assert!(
        mi > 0.5 && mi <= f("entropy_y") + 1e-6 && mi <= f("entropy_x") + 1e-6,
        "{v}"
    );
    let nmi = f("normalized_mutual_information");
    assert!(nmi > 0.0 && nmi <= 1.0, "{v}");
    // Joint entropy is at least each marginal and at most log2(n).
    let j = f("joint_entropy");
    assert!(
        j >= f("entropy_x") - 1e-6 && j >= f("entropy_y") - 1e-6 && j <= 150f64.log2() + 1e-6,
        "{v}"
    );
    assert!(f("hsic") > 0.0 && f("nhsic") > 0.0);
    assert!(f("sigma_x") > 0.0);
    assert!(
        v["sigma_y"].is_null(),
        "labels use the delta kernel, no width"
    );
}

#[test]
fn measure_rejects_bad_input_with_exit_code_2() {
    let iris = datasets().join("uci/iris.csv");
    // Without --header the first line's class names are not numbers.
    let out = run(mole()
        .arg("measure")
        .arg(&iris)
        .args(["--x", "0..4", "--y", "4"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("iris.csv"), "{}", text(&out).1);
    let out = run(mole()
        .arg("measure")
        .arg(&iris)
        .args(["--header", "--x", "0..9", "--y", "4"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(mole().args(["measure", "/nonexistent.csv", "--x", "0", "--y", "1"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("/nonexistent.csv"));
}

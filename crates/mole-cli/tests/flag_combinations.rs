//! Flags combine freely: random combinations of valid-looking flags on tiny data either train
//! (exit 0) or are refused with a one-line error (exit 2) — never a panic (exit 101), never
//! another code. The draws are seeded; a failure prints the command to rerun.

mod common;
use common::*;

/// SplitMix64: a fixed sequence of draws, without a dependency.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

/// Flags and the values drawn for them; at most one of each per command.
const FLAGS: &[(&str, &[&str])] = &[
    ("--method", &["bp", "mole", "hsic", "simpred"]),
    ("--schedule", &["sequential", "simultaneous", "async"]),
    (
        "--model",
        &[
            "mlp:8",
            "mlp:8,8,8",
            "cnn:4",
            "gcn:8",
            "gin:8,8",
            "seq:dense(4),dense(4)",
            "seq:conv(4),gap,dense(4)",
            "mlp:0",
        ],
    ),
    ("--group", &["1", "1,1", "2,1", "0", "1,1,1,1"]),
    ("--alpha", &["0.5", "1.01", "2", "1", "-1"]),
    ("--batch-size", &["1", "2", "8", "64", "0"]),
    ("--lr", &["0.01", "0", "-1"]),
    ("--head-lr", &["0.1"]),
    ("--lr-schedule", &["constant", "cosine", "step"]),
    ("--optimizer", &["sgd", "adam"]),
    ("--val-fraction", &["0.2", "0.9", "1.0", "0"]),
    ("--test-fraction", &["0.5", "0.99"]),
    ("--label-column", &["auto", "1", "5", "label", "0"]),
    ("--standardize", &["true", "false"]),
    ("--lambda-x", &["0.5", "0", "-0.5"]),
    ("--lambda-h", &["0.3", "0"]),
    ("--module-lambda-x", &["0.1,0.2", "0.1"]),
    ("--sigma-t", &["median", "scaled:0.5", "knn", "2", "bogus"]),
    ("--sigma-x", &["median", "1"]),
    ("--unit-sphere", &["true"]),
    ("--eigen-precision", &["f32", "f64", "f16"]),
    ("--lambda-ce", &["0.3", "1", "2"]),
    ("--projection", &["true"]),
    ("--local-pool", &["std", "mean", "max"]),
    ("--kernel", &["linear", "cosine", "rbf"]),
    ("--ensemble-heads", &["true", "false"]),
    ("--augment-cutout", &["4", "100"]),
    ("--lr-steps", &["0.5", "1.5"]),
    ("--beta", &["0", "500"]),
    ("--sigma", &["5", "0"]),
    ("--sigmas", &["2,5", "0"]),
    ("--pooled", &["true"]),
    ("--train-samples", &["10", "1", "0"]),
    ("--test-samples", &["5", "0"]),
    ("--augment-crop", &["2", "40"]),
    ("--augment-flip", &["true"]),
    ("--buffer", &["block", "replay"]),
    ("--buffer-size", &["1", "0"]),
    ("--max-reuse", &["0", "3"]),
    ("--threads-per-module", &["1", "0"]),
    ("--pipeline", &["auto", "on", "off", "true"]),
    ("--weight-decay", &["0.0005"]),
    ("--dropout", &["0.5", "1"]),
    ("--readout", &["sum", "max", "bogus"]),
    ("--folds", &["2", "1"]),
    ("--head", &["gcn", "linear"]),
    ("--x-nodes", &["all", "labelled"]),
    ("--eval-every", &["1", "0"]),
    ("--batch-norm", &["false"]),
    ("--joint-target", &["label+input", "label+aggregate"]),
    ("--activation", &["relu", "tanh", "bogus"]),
    ("--dry-run", &[]),
    ("--baseline", &[]),
];

#[test]
fn random_flag_combinations_train_or_are_refused_never_panic() {
    let dir = temp_dir("flag-combinations");
    // A longer search: MOLE_FLAG_DRAWS=500 MOLE_FLAG_SEED=7 cargo test --test flag_combinations
    let env = |k: &str, default: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut d = Draws(env("MOLE_FLAG_SEED", 20261204));
    // iris as a CSV too, where --label-column applies (the named sets refuse it).
    let iris_csv = format!("csv:{}", datasets_dir().join("uci/iris.csv").display());
    let datasets = ["iris", "digits", "cora", "mutag", "wine", iris_csv.as_str()];
    let mut outcomes = [0usize; 2];
    for i in 0..env("MOLE_FLAG_DRAWS", 36) {
        let mut args: Vec<String> = vec!["train".into(), "--quiet".into()];
        args.extend(["--dataset".into(), d.pick(&datasets).into()]);
        // Short runs: few epochs and, for the big sets, a subset.
        args.extend([
            "--epochs".into(),
            "1".into(),
            "--head-epochs".into(),
            "1".into(),
        ]);
        let mut chosen: Vec<usize> = (0..2 + d.below(5)).map(|_| d.below(FLAGS.len())).collect();
        chosen.sort_unstable();
        chosen.dedup();
        for k in chosen {
            let (flag, values) = FLAGS[k];
            if values.is_empty() {
                args.push(flag.into());
            } else {
                args.push(format!("{flag}={}", d.pick(values)));
            }
        }
        let out = dir.join(format!("run{i}"));
        // Every other run on two threads: the simultaneous schedule's pipeline engages there.
        let o = run(mole()
            .env("RAYON_NUM_THREADS", if i % 2 == 0 { "1" } else { "2" })
            .args(&args)
            .arg("--data-dir")
            .arg(datasets_dir())
            .arg("--out")
            .arg(&out));
        let (_, stderr) = text(&o);
        let cmd = format!("mole {}", args.join(" "));
        match o.status.code() {
            Some(0) => outcomes[0] += 1,
            Some(2) => {
                outcomes[1] += 1;
                // One line saying what is wrong (clap adds its usage line and a hint).
                let msg = stderr.trim();
                assert!(
                    msg.starts_with("error") && msg.lines().count() <= 5,
                    "{cmd}: a refusal is a short error, got:\n{msg}"
                );
            }
            code => panic!("{cmd}: exit {code:?}\n{stderr}"),
        }
    }
    eprintln!("{} trained, {} refused", outcomes[0], outcomes[1]);
    // Both outcomes occur: the draws reach training and refusals.
    assert!(outcomes[0] >= 3 && outcomes[1] >= 3, "{outcomes:?}");
}

fn datasets_dir() -> std::path::PathBuf {
    datasets()
}

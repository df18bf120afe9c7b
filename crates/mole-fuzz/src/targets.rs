//! One harness per parser and decoder that reads outside data, each with its seed corpus (cut
//! from the real files in `shared/datasets`), its dictionary and its allocation bound.
//!
//! A harness returns `Ok` when the input was accepted and `Err(message)` when it was refused
//! with an error; a panic is a bug. Path-based loaders get their files in a scratch directory.

use crate::files::{join, scratch, split, write_all};
use mole_data::graph::GraphData;
use mole_data::registry::{DataOptions, load, load_graph};
use mole_data::{HeaderMode, LabelColumn};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// A fuzz harness.
pub struct Target {
    /// Its name (`mole-fuzz NAME`).
    pub name: &'static str,
    /// What it reads, and through which function.
    pub about: &'static str,
    /// The seed corpus, from `shared/datasets`.
    pub seeds: fn(&Path) -> Vec<Vec<u8>>,
    /// Tokens the mutator inserts (keys, separators, magic bytes).
    pub dictionary: &'static [&'static [u8]],
    /// One execution.
    pub run: fn(&[u8]) -> Result<(), String>,
    /// The most bytes one execution may allocate for this input.
    pub bound: fn(&[u8]) -> usize,
}

const MIB: usize = 1 << 20;
/// deflate's largest compression ratio: a gzip member inflates at most about 1,032-fold.
const GZIP_RATIO: usize = 1032;

fn is_gzip(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

/// The size `b` may inflate to (itself, or 1,032× when it is gzip).
fn inflated(b: &[u8]) -> usize {
    if is_gzip(b) {
        b.len() * GZIP_RATIO
    } else {
        b.len()
    }
}

fn gunzip(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_default();
    if !is_gzip(&raw) {
        return raw;
    }
    let mut out = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out);
    out
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(b);
    e.finish().unwrap_or_default()
}

fn first_lines(text: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n').take(n) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

// ---- IDX -------------------------------------------------------------------------------------

/// The first `n` items of an IDX file, its header rewritten to say so.
fn idx_prefix(bytes: &[u8], n: u32) -> Vec<u8> {
    if bytes.len() < 4 {
        return Vec::new();
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    let item: usize = (1..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap_or([0; 4])))
        .map(|d| d as usize)
        .product();
    let mut out = bytes[..header].to_vec();
    out[4..8].copy_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&bytes[header..header + item * n as usize]);
    out
}

fn idx_seeds(datasets: &Path) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for set in ["mnist", "fashion-mnist"] {
        let images = idx_prefix(
            &gunzip(&datasets.join(set).join("t10k-images-idx3-ubyte.gz")),
            3,
        );
        let labels = idx_prefix(
            &gunzip(&datasets.join(set).join("t10k-labels-idx1-ubyte.gz")),
            3,
        );
        seeds.push(join(&[&images, &labels]));
        seeds.push(join(&[&gzip(&images), &gzip(&labels)]));
    }
    seeds
}

fn idx_run(input: &[u8]) -> Result<(), String> {
    let parts = split(input, 2);
    let dir = scratch("idx");
    write_all(&dir, &[("images", parts[0]), ("labels", parts[1])]);
    let d = mole_data::idx::read_idx_images(&dir.join("images"), &dir.join("labels"), 10)
        .map_err(err)?;
    let _ = d.class_counts();
    Ok(())
}

fn idx_bound(input: &[u8]) -> usize {
    // The inflated bytes, a copy, and 4-byte floats of them (×2 for a vector's growth).
    let parts = split(input, 2);
    16 * parts.iter().map(|p| inflated(p)).sum::<usize>() + 4 * MIB
}

// ---- CSV -------------------------------------------------------------------------------------

fn csv_seeds(datasets: &Path) -> Vec<Vec<u8>> {
    let uci = datasets.join("uci");
    let iris = std::fs::read(uci.join("iris.csv")).unwrap_or_default();
    vec![
        iris.clone(),
        gzip(&iris),
        first_lines(
            &std::fs::read(uci.join("wine_data.csv")).unwrap_or_default(),
            20,
        ),
        first_lines(
            &std::fs::read(uci.join("breast_cancer.csv")).unwrap_or_default(),
            12,
        ),
        first_lines(&gunzip(&uci.join("digits.csv.gz")), 12),
    ]
}

fn csv_run(input: &[u8]) -> Result<(), String> {
    let dir = scratch("csv");
    write_all(&dir, &[("data.csv", input)]);
    let name = format!("csv:{}", dir.join("data.csv").display());
    let mut last = Ok(());
    for header in [HeaderMode::Auto, HeaderMode::Present, HeaderMode::Absent] {
        let opts = DataOptions {
            header,
            standardize: Some(true),
            ..DataOptions::default()
        };
        last = load(&name, &opts).map(|_| ()).map_err(err);
    }
    // The label by number and by header name (the seeds' first column, and one of theirs).
    for label in [LabelColumn::Number(1), LabelColumn::Name("label".into())] {
        let opts = DataOptions {
            label_column: label,
            ..DataOptions::default()
        };
        let _ = load(&name, &opts);
    }
    last
}

fn csv_bound(input: &[u8]) -> usize {
    // Per field of ≥ 2 bytes: a 16-byte slice while the line is split, a float, the split's copy.
    64 * inflated(input) + 4 * MIB
}

// ---- CIFAR-10 --------------------------------------------------------------------------------

fn cifar_seeds(datasets: &Path) -> Vec<Vec<u8>> {
    let b =
        std::fs::read(datasets.join("cifar10-sample/test_batch_first20.bin")).unwrap_or_default();
    let r = mole_data::cifar::RECORD;
    vec![
        b[..(2 * r).min(b.len())].to_vec(),
        b[..r.min(b.len())].to_vec(),
    ]
}

fn cifar_run(input: &[u8]) -> Result<(), String> {
    mole_data::cifar::parse_cifar_batch(input, Path::new("fuzz.bin"))
        .map(|_| ())
        .map_err(err)
}

fn cifar_bound(input: &[u8]) -> usize {
    8 * input.len() + MIB
}

// ---- LINQS -----------------------------------------------------------------------------------

fn linqs_seeds(datasets: &Path) -> Vec<Vec<u8>> {
    let cora = datasets.join("cora");
    let content = std::fs::read_to_string(cora.join("cora.content")).unwrap_or_default();
    let cites = std::fs::read_to_string(cora.join("cora.cites")).unwrap_or_default();
    let mut seeds = Vec::new();
    for n in [40, 8] {
        let lines: Vec<&str> = content.lines().take(n).collect();
        let ids: std::collections::HashSet<&str> = lines
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let kept: Vec<&str> = cites
            .lines()
            .filter(|l| l.split_whitespace().all(|id| ids.contains(id)))
            .collect();
        // Shorter feature vectors than Cora's 1,433 keep the executions fast.
        let short: Vec<String> = lines
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let keep = f.len().saturating_sub(2).min(24);
                let mut out = vec![f[0]];
                out.extend(&f[1..1 + keep]);
                out.push(f[f.len() - 1]);
                out.join("\t")
            })
            .collect();
        let mut cites_text = kept.join("\n");
        if cites_text.is_empty() {
            // Few Cora papers cite each other among the first lines: chain them.
            let v: Vec<&&str> = ids.iter().collect();
            cites_text = v
                .windows(2)
                .map(|w| format!("{}\t{}", w[0], w[1]))
                .collect::<Vec<_>>()
                .join("\n");
        }
        seeds.push(join(&[short.join("\n").as_bytes(), cites_text.as_bytes()]));
    }
    seeds
}

fn graph_checks(d: &GraphData) {
    match d {
        GraphData::Nodes(n) => {
            let s = n.split(20, 500, 1000, 7);
            let _ = (s.train.len(), n.graph.csr());
        }
        GraphData::Graphs(g) => {
            let folds = mole_data::graph::stratified_folds(&g.labels, g.num_classes, 10, 7);
            if let Some(first) = folds.iter().find(|f| !f.is_empty()) {
                let _ = g.merge(first);
            }
        }
    }
}

fn linqs_run(input: &[u8]) -> Result<(), String> {
    let parts = split(input, 2);
    let dir = scratch("linqs");
    write_all(&dir, &[("g.content", parts[0]), ("g.cites", parts[1])]);
    let name = format!("linqs:{}", dir.join("g").display());
    let d = load_graph(&name, &DataOptions::default()).map_err(err)?;
    graph_checks(&d);
    Ok(())
}

fn text_bound(input: &[u8]) -> usize {
    // Node ids in a map, features as floats, edges both ways with a CSR copy.
    128 * input.len() + 4 * MIB
}

// ---- TU --------------------------------------------------------------------------------------

const TU_FILES: [&str; 6] = [
    "A",
    "graph_indicator",
    "graph_labels",
    "node_labels",
    "node_attributes",
    "edge_labels",
];

fn tu_seeds(datasets: &Path) -> Vec<Vec<u8>> {
    let dir = datasets.join("tu/MUTAG");
    let read =
        |s: &str| std::fs::read_to_string(dir.join(format!("MUTAG_{s}.txt"))).unwrap_or_default();
    let indicator = read("graph_indicator");
    let graphs = 4;
    let nodes = indicator
        .lines()
        .take_while(|l| l.trim().parse::<usize>().is_ok_and(|g| g <= graphs))
        .count();
    let (a, edge_labels): (Vec<String>, Vec<String>) = read("A")
        .lines()
        .zip(read("edge_labels").lines())
        .filter(|(l, _)| {
            l.split(',')
                .all(|x| x.trim().parse::<usize>().is_ok_and(|v| v <= nodes))
        })
        .map(|(l, e)| (l.to_string(), e.to_string()))
        .unzip();
    let take = |s: String, n: usize| s.lines().take(n).collect::<Vec<_>>().join("\n");
    let ind = take(indicator.clone(), nodes);
    let gl = take(read("graph_labels"), graphs);
    let nl = take(read("node_labels"), nodes);
    let attributes: String = nl
        .lines()
        .map(|l| format!("{}.5, -1.25", l.trim()))
        .collect::<Vec<_>>()
        .join("\n");
    let parts = |attr: &str, labels: &str| {
        join(&[
            a.join("\n").as_bytes(),
            ind.as_bytes(),
            gl.as_bytes(),
            labels.as_bytes(),
            attr.as_bytes(),
            edge_labels.join("\n").as_bytes(),
        ])
    };
    vec![
        parts("", &nl),
        parts(&attributes, &nl),
        parts(&attributes, ""),
    ]
}

fn tu_run(input: &[u8]) -> Result<(), String> {
    let parts = split(input, TU_FILES.len());
    let dir = scratch("tu").join("FZ");
    let _ = std::fs::create_dir_all(&dir);
    let names: Vec<String> = TU_FILES.iter().map(|s| format!("FZ_{s}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(parts).collect();
    write_all(&dir, &files);
    let name = format!("tu:{}", dir.display());
    let d = load_graph(&name, &DataOptions::default()).map_err(err)?;
    graph_checks(&d);
    Ok(())
}

// ---- TOML config -----------------------------------------------------------------------------

fn config_seeds(_: &Path) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    seeds.sort();
    if let Ok(t) = mole_train::config::TrainConfig::default().to_toml() {
        seeds.push(t.into_bytes());
    }
    seeds
}

const CONFIG_WORDS: &[&[u8]] = &[
    b"\nmethod = \"hsic\"\n",
    b"\nmethod = \"bp\"\n",
    b"\nschedule = \"async\"\n",
    b"\nschedule = \"sequential\"\n",
    b"\nmodel = \"gcn:64\"\n",
    b"\nmodel = \"mlp:\"\n",
    b"\nmodel = \"seq:conv(3),res(k=0),gap,dense(0)\"\n",
    b"\ngroup = [0]\n",
    b"\ngroup = []\n",
    b"\nepochs = 0\n",
    b"\nbatch_size = 0\n",
    b"\nbatch_size = 1\n",
    b"\nval_fraction = 1.0\n",
    b"\nfolds = 1\n",
    b"\nlr = -1\n",
    b"\nhead_epochs = 0\n",
    b"\n[mole]\n",
    b"\n[hsic]\n",
    b"alpha = 1.0\n",
    b"alpha = 0\n",
    b"sigmas = [0.0]\n",
    b"sigmas = []\n",
    b"beta = -1\n",
    b"lambda_h = 2\n",
    b"module_lambda_x = [1, 2, 3]\n",
    b"sigma_t = \"median\"\n",
    b"sigma_t = \"scaled:-1\"\n",
    b"x_nodes = \"all\"\n",
    b"joint_target = \"label+input\"\n",
    b"\nbuffer = \"replay\"\n",
    b"\ndistributed = \"mpi\"\n",
    b"\naugment_crop = 99\n",
    b"\nhead = \"gcn\"\n",
    b"\nreadout = \"max\"\n",
    b"\ndropout = 1.0\n",
    b"nan",
    b"inf",
    b"[",
    b"]",
    b"\"",
    b"=",
    b"[[x]]\n",
    b"\n",
    b"#",
];

fn config_run(input: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(input).map_err(err)?;
    let cfg = mole_train::config::TrainConfig::from_toml(text).map_err(err)?;
    cfg.validate().map_err(err)?;
    let spec: mole_nn::ModelSpec = cfg.model.parse().map_err(err)?;
    let groups = cfg.module_groups(spec.layers.len());
    mole_train::network::group_sizes(spec.layers.len(), &groups).map_err(err)?;
    let _ = (cfg.lr(), cfg.head_lr(), cfg.schedule());
    cfg.to_toml().map_err(err)?;
    Ok(())
}

fn config_bound(input: &[u8]) -> usize {
    256 * input.len() + 4 * MIB
}

// ---- snapshots and checkpoints (--resume) ----------------------------------------------------

fn tiny_network() -> mole_train::network::Network {
    let cfg = mole_train::config::TrainConfig {
        model: "mlp:4".into(),
        ..Default::default()
    };
    let device = burn::tensor::Device::flex().autodiff();
    mole_train::network::Network::build(&cfg, &[3], 2, &device, None)
        .expect("mlp:4 on 3 features builds")
}

fn snapshot_seeds(_: &Path) -> Vec<Vec<u8>> {
    use mole_train::snapshot::{Progress, Snapshot, VERSION, write};
    let net = tiny_network();
    let learners: Vec<&mole_train::module::LocalModule> =
        net.modules.iter().chain(&net.head).collect();
    let dir = scratch("snapshot-seed");
    let Ok(run) = mole_train::run::RunDir::create(&dir.join("run")) else {
        return Vec::new();
    };
    let snap = Snapshot {
        progress: Progress {
            version: VERSION,
            plan: "fuzz".into(),
            epochs_done: 2,
            round: 2,
            samples_seen: 40,
            head_trained: false,
            metrics_rows: 2,
            seconds: [0.5.into(), 0.1.into()],
            last_accuracy: [0.5.into(), 0.25.into()],
            losses: vec![(0, 1.5.into(), 3)],
            steps: learners.iter().map(|m| m.steps).collect(),
            ids: learners
                .iter()
                .map(|m| mole_train::params::param_ids(&m.stage))
                .collect(),
            kept: None,
            since: 0,
        },
        weights: learners
            .iter()
            .map(|m| mole_train::params::flat_params(&m.stage))
            .collect(),
        optimizers: learners
            .iter()
            .map(|m| m.optimizer_state().unwrap_or_default())
            .collect(),
        kept: Vec::new(),
    };
    if write(&run, &snap).is_err() {
        return Vec::new();
    }
    std::fs::read(dir.join("run").join(mole_train::snapshot::FILE))
        .map(|b| vec![b])
        .unwrap_or_default()
}

fn snapshot_run(input: &[u8]) -> Result<(), String> {
    let dir = scratch("snapshot");
    write_all(&dir, &[(mole_train::snapshot::FILE, input)]);
    let snap = mole_train::snapshot::read(&dir).map_err(err)?;
    // What `Session::resume_from` does with it, on a network of the same plan.
    let mut net = tiny_network();
    let learners = net.modules.len() + usize::from(net.head.is_some());
    if snap.weights.len() != learners {
        return Err("another number of learners".into());
    }
    let stages = net.modules.iter_mut().chain(net.head.as_mut());
    for (k, m) in stages.enumerate() {
        let stage = std::mem::replace(&mut m.stage, mole_train::module::Stage::empty());
        m.stage = mole_train::params::load_flat_params_with_ids(
            stage,
            &snap.weights[k],
            &snap.progress.ids[k],
        )?;
        m.load_optimizer_state(snap.optimizers[k].clone())
            .map_err(err)?;
    }
    Ok(())
}

fn checkpoint_seeds(_: &Path) -> Vec<Vec<u8>> {
    let net = tiny_network();
    let dir = scratch("checkpoint-seed");
    let Ok(run) = mole_train::run::RunDir::create(&dir.join("run")) else {
        return Vec::new();
    };
    if mole_train::session::checkpoint(&run, &net, mole_train::session::Trained::All, 3).is_err() {
        return Vec::new();
    }
    let w = dir.join("run/weights");
    let module = std::fs::read(w.join("module_1.safetensors")).unwrap_or_default();
    let head = std::fs::read(w.join("head.safetensors")).unwrap_or_default();
    vec![join(&[&module, &head])]
}

fn checkpoint_run(input: &[u8]) -> Result<(), String> {
    let parts = split(input, 2);
    let dir = scratch("checkpoint");
    write_all(
        &dir,
        &[
            ("weights/module_1.safetensors", parts[0]),
            ("weights/head.safetensors", parts[1]),
        ],
    );
    let net = tiny_network();
    mole_train::resume::checkpoint_epoch(&net, &dir).map_err(err)?;
    mole_train::resume::load_checkpoints(net, &dir).map_err(err)?;
    Ok(())
}

fn tensor_bound(input: &[u8]) -> usize {
    // The file read, its header's JSON, the floats and the network built for them.
    16 * input.len() + 16 * MIB
}

const SAFETENSORS_WORDS: &[&[u8]] = &[
    b"\"dtype\":\"F32\"",
    b"\"dtype\":\"U8\"",
    b"\"shape\":[]",
    b"\"shape\":[4294967295,4294967295]",
    b"\"data_offsets\":[0,0]",
    b"\"__metadata__\":{}",
    b"\"progress\"",
    b"\"epoch\":\"0\"",
    b"\"phase\":\"head\"",
    b"\"ids\":[]",
    b"\"steps\":[]",
    b"\"weights.0\"",
    b"\"optimizer.0\"",
    b"\"kept\":null",
    b"18446744073709551615",
];

// ---- MPI wire format -------------------------------------------------------------------------

fn wire_seeds(_: &Path) -> Vec<Vec<u8>> {
    use mole_train::transport::{ActivationBatch, Message, wire::encode};
    let batch = |inputs: bool| {
        Message::Batch(ActivationBatch {
            epoch: 2,
            batch_id: 5,
            shape: vec![2, 3],
            values: vec![0.5, -1.0, 2.0, 0.0, 1e-3, 7.0],
            labels: vec![1, 0],
            inputs: inputs.then(|| vec![1.0, 2.0, 3.0, 4.0]),
            version: 9,
            reuse: 0,
        })
    };
    vec![
        encode(&batch(true)),
        encode(&batch(false)),
        encode(&Message::EndEpoch {
            epoch: 3,
            batches: 12,
        }),
        encode(&Message::End),
    ]
}

fn wire_run(input: &[u8]) -> Result<(), String> {
    use mole_train::transport::wire::{decode, encode};
    let m = decode(input)?;
    // What decodes re-encodes to bytes that decode to the same message.
    let again = encode(&m);
    let back = decode(&again).map_err(|e| format!("BUG: re-encoded message refused: {e}"))?;
    assert_eq!(encode(&back), again, "encode ∘ decode is not stable");
    Ok(())
}

fn wire_bound(input: &[u8]) -> usize {
    // The message and its re-encoding, twice.
    8 * input.len() + MIB
}

// ---- run directories (mole report / compare) -------------------------------------------------

fn run_dir_seeds(_: &Path) -> Vec<Vec<u8>> {
    let metrics = format!(
        "{}\n1,module,1,2,0.5,1.2,2.1,0.1,0.2,0.9,0.8,,0.5\n1,head,,,0.3,,,,,0.95,0.9,0.91,0.7\n",
        mole_train::run::METRICS_HEADER
    );
    let summary = br#"{"method":"mole","dataset":"digits","test_accuracy":0.9,"train_seconds":1.5,"epochs":1,"modules":1}"#;
    let config = mole_train::config::TrainConfig::default()
        .to_toml()
        .unwrap_or_default();
    let tensors = vec![
        ("module_1".to_string(), vec![2, 2], vec![0.0, 1.0, 2.0, 3.0]),
        ("labels".to_string(), vec![2], vec![0.0, 1.0]),
    ];
    let mut meta = BTreeMap::new();
    meta.insert("method".to_string(), "mole".to_string());
    let emb = mole_train::run::to_safetensors(&tensors, meta);
    vec![join(&[
        metrics.as_bytes(),
        summary,
        config.as_bytes(),
        &emb,
    ])]
}

fn run_dir_run(input: &[u8]) -> Result<(), String> {
    let parts = split(input, 4);
    let dir = scratch("run-dir");
    write_all(
        &dir,
        &[
            ("metrics.csv", parts[0]),
            ("summary.json", parts[1]),
            ("config.toml", parts[2]),
            ("embeddings.safetensors", parts[3]),
        ],
    );
    let run = mole_report::RunData::load(&dir).map_err(err)?;
    let _ = (run.label(), run.method(), run.summary_f64("test_accuracy"));
    Ok(())
}

const RUN_WORDS: &[&[u8]] = &[
    b",module,",
    b",head,",
    b",all,",
    b"\"test_accuracy\":",
    b"\"method\":",
    b"null",
    b"{}",
    b"[]",
    b"1e999",
    b"-",
    b",,,,",
    b"\"module_1\"",
    b"\"labels\"",
    b"\"dtype\":\"F64\"",
];

const TEXT_WORDS: &[&[u8]] = &[
    b",",
    b"\t",
    b" ",
    b"\n",
    b"\r\n",
    b"nan",
    b"-1",
    b"0",
    b"1e40",
    b"\"",
    b"label",
    b"#",
    b"\xef\xbb\xbf",
    b"\xff",
];

/// Every harness.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "idx",
            about: "IDX images + labels, raw or gzip (mole_data::idx::read_idx_images)",
            seeds: idx_seeds,
            dictionary: &[
                b"\x00\x00\x08\x03",
                b"\x00\x00\x08\x01",
                b"\x1f\x8b\x08",
                b"\xff\xff\xff\xff",
            ],
            run: idx_run,
            bound: idx_bound,
        },
        Target {
            name: "csv",
            about: "csv:PATH under every header mode, raw or gzip (mole_data::registry::load)",
            seeds: csv_seeds,
            dictionary: TEXT_WORDS,
            run: csv_run,
            bound: csv_bound,
        },
        Target {
            name: "cifar",
            about: "CIFAR-10 binary batches (mole_data::cifar::parse_cifar_batch)",
            seeds: cifar_seeds,
            dictionary: &[b"\x0a", b"\x09", b"\x00"],
            run: cifar_run,
            bound: cifar_bound,
        },
        Target {
            name: "linqs",
            about: "LINQS .content + .cites, then the node split (linqs:PREFIX, cora)",
            seeds: linqs_seeds,
            dictionary: TEXT_WORDS,
            run: linqs_run,
            bound: text_bound,
        },
        Target {
            name: "tu",
            about: "TU Dortmund folders with and without node attributes, then folds and batches (tu:DIR, mutag)",
            seeds: tu_seeds,
            dictionary: TEXT_WORDS,
            run: tu_run,
            bound: text_bound,
        },
        Target {
            name: "config",
            about: "TOML configs: parse, validate, model spec, grouping (TrainConfig::from_toml)",
            seeds: config_seeds,
            dictionary: CONFIG_WORDS,
            run: config_run,
            bound: config_bound,
        },
        Target {
            name: "snapshot",
            about: "weights/snapshot.safetensors read by --resume and loaded into a network",
            seeds: snapshot_seeds,
            dictionary: SAFETENSORS_WORDS,
            run: snapshot_run,
            bound: tensor_bound,
        },
        Target {
            name: "checkpoint",
            about: "weights/module_K.safetensors and head.safetensors read by --resume (async)",
            seeds: checkpoint_seeds,
            dictionary: SAFETENSORS_WORDS,
            run: checkpoint_run,
            bound: tensor_bound,
        },
        Target {
            name: "wire",
            about: "the MPI wire format (mole_train::transport::wire::decode)",
            seeds: wire_seeds,
            dictionary: &[
                b"\x00",
                b"\x01",
                b"\x02",
                b"\xff\xff\xff\xff\xff\xff\xff\xff",
            ],
            run: wire_run,
            bound: wire_bound,
        },
        Target {
            name: "run-dir",
            about: "run directories read by mole report and mole compare (RunData::load)",
            seeds: run_dir_seeds,
            dictionary: RUN_WORDS,
            run: run_dir_run,
            bound: tensor_bound,
        },
    ]
}

//! `mole train` on numpy arrays or a named dataset.
//!
//! [`plan`] reads the config (a TOML file, a resumed run's `config.toml`, and the keys given
//! in Python, which override both), builds the data, applies the default rules of `mole train`
//! to what neither gives and checks that the network can be built: every mistake is a
//! `ValueError` before anything is written. [`Plan::start`] opens the run directory (as the
//! command line does: created, or reopened to resume) and trains on a thread of its own;
//! [`Job`] is polled from Python, which keeps Ctrl-C working: `Job::stop` asks the schedule to
//! stop between two steps (`mole_train::stop`), the run directory keeping its last finished
//! epoch for a resume.

use crate::{guard, panic_message, value_error};
use mole_data::graph::{Graph, GraphData, GraphSet, NodeDataset, NodeSplit};
use mole_data::{Dataset, SampleShape, Split};
use mole_train::config::{ConfigError, Distributed, ScheduleKind, TrainConfig};
use mole_train::defaults::{DataKind, DataProfile, Given, Origin};
use mole_train::snapshot::ResumePoint;
use mole_train::{RunDir, Summary};
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where the keys given in Python come from, in `config.toml`'s comments.
const ARGUMENTS: &str = "mole.train() arguments";

/// The data of a run.
enum Data {
    /// Rows (vectors or images).
    Rows(Split),
    /// A graph dataset; for node-level data with a split given from Python, that split
    /// (otherwise the seeded split of `mole train`).
    Graph(GraphData, Option<NodeSplit>),
}

/// How the run directory is opened.
#[derive(Clone, Copy, Debug)]
enum Open {
    /// A new run.
    Create,
    /// A resumed run of the sequential or simultaneous schedule: `metrics.csv` cut back to the
    /// rows its snapshot counted.
    Reopen(usize),
    /// A resumed async run after this epoch.
    Resume(usize),
}

/// A resolved run, ready to start.
struct Prepared {
    cfg: TrainConfig,
    data: Data,
    open: Open,
    quiet: bool,
}

/// `ValueError` of a config error: a parse error's message without the line of the generated
/// text, prefixed by the key or file it concerns.
fn config_error(prefix: &str, e: &ConfigError) -> PyErr {
    match e {
        ConfigError::Parse { message, .. } => {
            let message = strip_line(message);
            value_error(format!("{prefix}: {message}"))
        }
        other => value_error(other),
    }
}

/// `line 3: unknown field` → `unknown field`.
fn strip_line(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix("line ")
        && let Some((digits, tail)) = rest.split_once(": ")
        && digits.chars().all(|c| c.is_ascii_digit())
    {
        return tail;
    }
    message
}

/// Deep merge: `over`'s keys replace `base`'s; tables merge key by key.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The table of one dotted key (`mole.alpha`) with `value`.
fn single(key: &str, value: toml::Value) -> toml::Table {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut table = toml::Table::new();
    table.insert(last.to_string(), value);
    for part in parts.into_iter().rev() {
        let mut outer = toml::Table::new();
        outer.insert(part.to_string(), toml::Value::Table(table));
        table = outer;
    }
    table
}

/// The value of a dotted key in a table.
fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

fn read_text(path: &Path) -> PyResult<String> {
    std::fs::read_to_string(path).map_err(|e| value_error(format!("{}: {e}", path.display())))
}

/// The config: `resume`'s `config.toml` or `config_file` (or the defaults), then the keys
/// given in Python (`overrides`, a JSON object of nested tables); and the keys the user gave.
fn read_config(
    config_file: Option<&str>,
    overrides: &str,
    resume: Option<&Path>,
) -> PyResult<(TrainConfig, Given)> {
    let mut given = Given::new();
    let base = match (resume, config_file) {
        (Some(_), Some(_)) => {
            return Err(value_error(
                "config: a resumed run's base config is its own config.toml; pass no config \
                 file with resume (keyword arguments still override it)",
            ));
        }
        (Some(dir), None) => Some(dir.join("config.toml")),
        (None, Some(p)) => Some(PathBuf::from(p)),
        (None, None) => None,
    };
    let json: serde_json::Value = serde_json::from_str(overrides).map_err(value_error)?;
    let over: toml::Table = match toml::Value::try_from(json) {
        Ok(toml::Value::Table(t)) => t,
        Ok(_) => return Err(value_error("config: expected a mapping of config keys")),
        Err(e) => return Err(value_error(format!("config: {e}"))),
    };
    if let Some(dir) = resume {
        if lookup(&over, "out").is_some() {
            return Err(value_error(
                "out: a resumed run continues in its own directory; pass no out with resume",
            ));
        }
        if !dir.join("config.toml").is_file() {
            return Err(value_error(format!(
                "resume: {} has no config.toml (not a run directory of mole)",
                dir.display()
            )));
        }
    }
    let mut table = toml::Table::new();
    if let Some(path) = &base {
        let text = read_text(path)?;
        TrainConfig::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => {
                value_error(format!("config file {}: {message}", path.display()))
            }
            other => value_error(other),
        })?;
        table = text
            .parse()
            .map_err(|e| value_error(format!("config file {}: {e}", path.display())))?;
        let origin = Origin::File(path.display().to_string());
        for key in mole_train::defaults::keys_of(&text) {
            given.insert(key, origin.clone());
        }
    }
    // Each key alone first, so that an unknown key or a wrong type names the key.
    for key in mole_train::defaults::toml_keys(&over) {
        let value = lookup(&over, &key)
            .cloned()
            .unwrap_or(toml::Value::Boolean(false));
        let text = toml::to_string(&single(&key, value)).map_err(value_error)?;
        TrainConfig::from_toml(&text).map_err(|e| config_error(&key, &e))?;
        given.insert(key, Origin::File(ARGUMENTS.into()));
    }
    merge(&mut table, over);
    let text = toml::to_string(&table).map_err(value_error)?;
    let mut cfg = TrainConfig::from_toml(&text).map_err(|e| config_error("config", &e))?;
    if let Some(dir) = resume {
        cfg.out = Some(dir.to_path_buf());
    }
    if cfg.async_.distributed == Distributed::Mpi {
        return Err(value_error(
            "async.distributed: \"mpi\" runs under mpirun with the mole binary; from Python \
             the async schedule runs on threads (\"local\")",
        ));
    }
    cfg.validate().map_err(value_error)?;
    Ok((cfg, given))
}

/// Class labels: non-negative, and (with `classes`) below it.
fn labels(
    y: &PyReadonlyArray1<'_, i64>,
    name: &str,
    classes: Option<usize>,
) -> PyResult<Vec<usize>> {
    let mut out = Vec::with_capacity(y.len());
    for (i, &v) in y.as_array().iter().enumerate() {
        if v < 0 {
            return Err(value_error(format!(
                "{name}: labels must be class indices >= 0, got {v} at index {i}"
            )));
        }
        if let Some(c) = classes
            && v as u64 >= c as u64
        {
            return Err(value_error(format!(
                "{name}: label {v} at index {i} is out of range: the training labels have \
                 classes 0..{}",
                c - 1
            )));
        }
        out.push(v as usize);
    }
    Ok(out)
}

/// The number of classes of training labels (largest + 1), at least 2 and at most the number
/// of labels.
fn classes_of(y: &[usize], name: &str) -> PyResult<usize> {
    let classes = y.iter().max().map_or(0, |&m| m + 1);
    if classes < 2 {
        return Err(value_error(format!(
            "{name}: at least two classes are needed (labels 0 and 1 at least)"
        )));
    }
    if classes > y.len() {
        return Err(value_error(format!(
            "{name}: the largest label {} exceeds the number of samples ({}); labels are class \
             indices 0..C-1",
            classes - 1,
            y.len()
        )));
    }
    Ok(classes)
}

/// The values of a float32 array in row-major order (any layout), when all are finite; else
/// the sample of the first other. `row` is the number of values per sample.
fn finite_values<'a>(
    values: impl ExactSizeIterator<Item = &'a f32>,
    row: usize,
    name: &str,
) -> PyResult<Vec<f32>> {
    let row = row.max(1);
    let mut out = Vec::with_capacity(values.len());
    for (i, &v) in values.enumerate() {
        if !v.is_finite() {
            return Err(value_error(format!(
                "{name}: contains NaN or infinite values (first in sample {}: {v})",
                i / row
            )));
        }
        out.push(v);
    }
    Ok(out)
}

/// The sample shape of an array `[n, …]`: 2-d rows are vectors, 3-d `[n, h, w]` one-channel
/// images, 4-d `[n, c, h, w]` images.
fn sample_shape(shape: &[usize], name: &str) -> PyResult<SampleShape> {
    let s = match *shape {
        [_, d] => SampleShape::Vector(d),
        [_, h, w] => SampleShape::Image {
            channels: 1,
            height: h,
            width: w,
        },
        [_, c, h, w] => SampleShape::Image {
            channels: c,
            height: h,
            width: w,
        },
        _ => {
            return Err(value_error(format!(
                "{name}: expected 2-d [samples, features], 3-d [samples, height, width] or 4-d \
                 [samples, channels, height, width] features, got shape {shape:?}"
            )));
        }
    };
    if s.is_empty() {
        return Err(value_error(format!(
            "{name}: samples of no features (shape {shape:?})"
        )));
    }
    Ok(s)
}

/// Rows from Python: the training arrays and the test arrays, or (without test arrays) a
/// stratified seeded `test_fraction` of the training arrays, as `mole train` splits datasets
/// that have no test set; then the `train_samples` / `test_samples` subsets.
fn rows(
    x_train: PyReadonlyArrayDyn<'_, f32>,
    y_train: PyReadonlyArray1<'_, i64>,
    test: Option<(PyReadonlyArrayDyn<'_, f32>, PyReadonlyArray1<'_, i64>)>,
    cfg: &TrainConfig,
) -> PyResult<Split> {
    let shape = sample_shape(x_train.shape(), "x_train")?;
    if x_train.shape()[0] != y_train.len() {
        return Err(value_error(format!(
            "y_train: {} labels for {} samples of x_train",
            y_train.len(),
            x_train.shape()[0]
        )));
    }
    let y = labels(&y_train, "y_train", None)?;
    let classes = classes_of(&y, "y_train")?;
    let train = Dataset::new(
        finite_values(x_train.as_array().iter(), shape.len(), "x_train")?,
        y,
        shape,
        classes,
    );
    let mut split = match test {
        Some((x_test, y_test)) => {
            let test_shape = sample_shape(x_test.shape(), "x_test")?;
            if test_shape != shape {
                return Err(value_error(format!(
                    "x_test: samples of shape {:?}, but x_train has {:?}",
                    &x_test.shape()[1..],
                    &x_train.shape()[1..]
                )));
            }
            if x_test.shape()[0] != y_test.len() {
                return Err(value_error(format!(
                    "y_test: {} labels for {} samples of x_test",
                    y_test.len(),
                    x_test.shape()[0]
                )));
            }
            if y_test.len() == 0 {
                return Err(value_error("x_test: no samples"));
            }
            let y = labels(&y_test, "y_test", Some(classes))?;
            let test = Dataset::new(
                finite_values(x_test.as_array().iter(), shape.len(), "x_test")?,
                y,
                shape,
                classes,
            );
            Split {
                train,
                test,
                val: None,
            }
        }
        None => {
            if cfg.test_fraction <= 0.0 {
                return Err(value_error(
                    "x_test: not given, and test_fraction = 0 leaves no test samples",
                ));
            }
            mole_data::split::stratified_split(&train, cfg.test_fraction, cfg.seed)
        }
    };
    if split.train.len() < 2 || split.test.is_empty() {
        return Err(value_error(format!(
            "x_train: {} training and {} test samples are too few",
            split.train.len(),
            split.test.len()
        )));
    }
    // As `mole_train::data::load_rows`.
    if let Some(n) = cfg.train_samples.filter(|&n| n < split.train.len()) {
        let idx = mole_train::batches::balanced_sample(&split.train, n, cfg.seed);
        split.train = split.train.subset(&idx);
    }
    if let Some(n) = cfg.test_samples.filter(|&n| n < split.test.len()) {
        let idx = mole_train::batches::balanced_sample(&split.test, n, cfg.seed ^ 0x7e57);
        split.test = split.test.subset(&idx);
    }
    Ok(split)
}

/// Node indices of one part of the split: in range and without repeats.
fn node_indices(idx: &PyReadonlyArray1<'_, i64>, nodes: usize, name: &str) -> PyResult<Vec<usize>> {
    let mut seen = vec![false; nodes];
    let mut out = Vec::with_capacity(idx.len());
    for &v in idx.as_array().iter() {
        if v < 0 || v as u64 >= nodes as u64 {
            return Err(value_error(format!(
                "{name}: node {v} is out of range for {nodes} nodes"
            )));
        }
        let v = v as usize;
        if std::mem::replace(&mut seen[v], true) {
            return Err(value_error(format!("{name}: node {v} appears twice")));
        }
        out.push(v);
    }
    Ok(out)
}

/// The node pairs of columns `columns` of an edge array `[2, E]`, each id checked against
/// `nodes`; `out_of_range(id, column)` is the message otherwise.
fn node_pairs(
    edge: numpy::ndarray::ArrayView2<'_, i64>,
    columns: std::ops::Range<usize>,
    nodes: usize,
    out_of_range: impl Fn(i64, usize) -> String,
) -> PyResult<Vec<(usize, usize)>> {
    columns
        .map(|j| {
            let (a, b) = (edge[[0, j]], edge[[1, j]]);
            match [a, b]
                .into_iter()
                .find(|&v| v < 0 || v as u64 >= nodes as u64)
            {
                Some(v) => Err(value_error(out_of_range(v, j))),
                None => Ok((a as usize, b as usize)),
            }
        })
        .collect()
}

/// One graph with labelled nodes, from Python: features `[N, F]`, edges `[2, E]` (read as
/// undirected, as the LINQS loader reads citations), labels `[N]`, and optionally the node
/// indices of the training, validation and test parts.
#[allow(clippy::type_complexity)]
fn nodes(
    features: PyReadonlyArray2<'_, f32>,
    edges: PyReadonlyArray2<'_, i64>,
    y: PyReadonlyArray1<'_, i64>,
    parts: Option<(
        PyReadonlyArray1<'_, i64>,
        Option<PyReadonlyArray1<'_, i64>>,
        PyReadonlyArray1<'_, i64>,
    )>,
) -> PyResult<(NodeDataset, Option<NodeSplit>)> {
    let [n, dim] = [features.shape()[0], features.shape()[1]];
    if n < 2 || dim == 0 {
        return Err(value_error(format!(
            "features: expected [nodes, features] with at least two nodes and one feature, got \
             shape {:?}",
            features.shape()
        )));
    }
    if y.len() != n {
        return Err(value_error(format!(
            "labels: {} labels for {n} nodes",
            y.len()
        )));
    }
    let e = edges.shape();
    if e[0] != 2 {
        return Err(value_error(format!(
            "edge_index: expected shape [2, edges], got {e:?}"
        )));
    }
    let pairs = node_pairs(edges.as_array(), 0..e[1], n, |v, j| {
        format!("edge_index: node {v} (edge {j}) is out of range for {n} nodes")
    })?;
    let labels = labels(&y, "labels", None)?;
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    if classes < 2 || classes > n {
        return Err(value_error(format!(
            "labels: class indices 0..C-1 with 2 <= C <= nodes are needed, got the largest \
             label {}",
            classes as i64 - 1
        )));
    }
    let values = finite_values(features.as_array().iter(), dim, "features")?;
    let data = NodeDataset {
        graph: Graph::undirected(n, &pairs),
        features: values,
        dim,
        labels,
        num_classes: classes,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
    };
    let split = match parts {
        None => None,
        Some((train, val, test)) => {
            let train = node_indices(&train, n, "train_mask")?;
            let validation = match &val {
                Some(v) => node_indices(v, n, "val_mask")?,
                None => Vec::new(),
            };
            let test = node_indices(&test, n, "test_mask")?;
            if train.is_empty() || test.is_empty() {
                return Err(value_error(
                    "train_mask, test_mask: both must select at least one node",
                ));
            }
            let mut part = vec![""; n];
            for (name, idx) in [
                ("train_mask", &train),
                ("val_mask", &validation),
                ("test_mask", &test),
            ] {
                for &i in idx {
                    if !part[i].is_empty() {
                        return Err(value_error(format!(
                            "{}, {name}: node {i} is in both",
                            part[i]
                        )));
                    }
                    part[i] = name;
                }
            }
            Some(NodeSplit {
                train,
                validation,
                test,
            })
        }
    };
    Ok((data, split))
}

/// Many labelled graphs from Python (checked graph by graph in `mole.train_graphs`, again
/// here): node features of all graphs stacked `[N, F]`, the node count of every graph
/// `[G]`, edges `[2, E]` as node ids local to their graph (read as undirected, as the TU loader
/// reads `DS_A.txt`), the edge count of every graph `[G]` and one class per graph `[G]`.
fn graph_set(
    features: PyReadonlyArray2<'_, f32>,
    sizes: PyReadonlyArray1<'_, i64>,
    edges: PyReadonlyArray2<'_, i64>,
    edge_counts: PyReadonlyArray1<'_, i64>,
    y: PyReadonlyArray1<'_, i64>,
) -> PyResult<GraphSet> {
    let [n, dim] = [features.shape()[0], features.shape()[1]];
    let sizes = sizes.as_array();
    let counts = edge_counts.as_array();
    let g = sizes.len();
    if g < 2 || dim == 0 || counts.len() != g || y.len() != g {
        return Err(value_error(format!(
            "graphs: expected at least two graphs with one node feature or more, and one label \
             per graph; got {g} graphs, {} labels, {dim} features",
            y.len()
        )));
    }
    if sizes.iter().any(|&k| k < 1) || sizes.iter().sum::<i64>() != n as i64 {
        return Err(value_error(
            "graphs: every graph needs at least one node, and the node counts must add up to \
             the stacked features' rows",
        ));
    }
    let e = edges.shape();
    if e[0] != 2 || counts.iter().any(|&c| c < 0) || counts.iter().sum::<i64>() != e[1] as i64 {
        return Err(value_error(format!(
            "graphs: edges of shape [2, edges] whose per-graph counts add up to the edges are \
             needed, got shape {e:?}"
        )));
    }
    let labels = labels(&y, "labels", None)?;
    let classes = classes_of(&labels, "labels")?;
    let values = finite_values(features.as_array().iter(), dim, "features")?;
    let edge = edges.as_array();
    let (mut graphs, mut rows) = (Vec::with_capacity(g), Vec::with_capacity(g));
    let (mut node, mut next) = (0usize, 0usize);
    for (k, (&size, &count)) in sizes.iter().zip(counts.iter()).enumerate() {
        let size = size as usize;
        let pairs = node_pairs(edge, next..next + count as usize, size, |v, _| {
            format!("graphs[{k}]: edge_index node {v} is out of range for {size} nodes")
        })?;
        next += count as usize;
        graphs.push(Graph::undirected(size, &pairs));
        rows.push(values[node * dim..(node + size) * dim].to_vec());
        node += size;
    }
    Ok(GraphSet {
        graphs,
        features: rows,
        dim,
        labels,
        num_classes: classes,
    })
}

/// The epoch of the async checkpoints in `dir` for a network of `cfg` on `data`.
fn resume_epoch(cfg: &TrainConfig, data: &Split, dir: &Path) -> anyhow::Result<usize> {
    let device = burn::tensor::Device::flex().autodiff();
    let net = mole_train::Network::build(
        cfg,
        &mole_train::train::input_shape(data),
        data.train.num_classes,
        &device,
        None,
    )?;
    Ok(mole_train::resume::checkpoint_epoch(&net, dir)?)
}

/// Resolves the config for `data` (rows and graph data as `mole train` does) and, with
/// `resume`, how the run continues.
fn prepare(
    mut cfg: TrainConfig,
    given: &Given,
    data: Data,
    resume: bool,
    quiet: bool,
) -> anyhow::Result<Prepared> {
    let profile = match &data {
        Data::Rows(split) => mole_train::data::row_profile(split),
        Data::Graph(GraphData::Nodes(d), Some(split)) => DataProfile {
            kind: DataKind::NodeLevel,
            train_items: split.train.len(),
            classes: d.num_classes,
            features: d.dim,
            unit_range: d.features.iter().all(|v| (0.0..=1.0).contains(v)),
        },
        Data::Graph(g, _) => mole_train::data::graph_profile(g, cfg.folds),
    };
    mole_train::defaults::check_kind_keys(&cfg, given, profile.kind)?;
    let provenance = mole_train::defaults::resolve(&mut cfg, given, &profile)?;
    cfg.provenance = Some(provenance);
    if cfg.out.is_none() {
        cfg.out = Some(mole_train::run::default_run_dir(""));
    }
    cfg.validate()?;
    let data = match data {
        Data::Rows(split) => {
            let split = mole_train::data::finish_rows(split, &cfg);
            mole_train::train::check(&cfg, &split)?;
            Data::Rows(split)
        }
        Data::Graph(g, split) => {
            if given.contains_key("val_fraction")
                && cfg.val_fraction > 0.0
                && matches!(g, GraphData::Nodes(_))
            {
                return Err(ConfigError::Invalid(
                    "val_fraction: node-level tasks validate on the validation nodes (the \
                     split's 500, or val_mask); leave it unset"
                        .into(),
                )
                .into());
            }
            mole_train::graph::check_graph(&cfg, &g)?;
            Data::Graph(g, split)
        }
    };
    let dir = cfg.out.clone().expect("set above");
    let mut open = Open::Create;
    if resume {
        match &data {
            Data::Graph(g, _) => {
                cfg.resume_snapshot = true;
                cfg.validate()?;
                if matches!(g, GraphData::Nodes(_)) {
                    let point = ResumePoint::of(&dir, false)?;
                    open = Open::Reopen(point.metrics_rows);
                    if !quiet {
                        eprintln!("{}", point.message(&dir));
                    }
                } else if !quiet {
                    eprintln!(
                        "resuming {}: finished folds are kept, the fold cut short continues",
                        dir.display()
                    );
                }
            }
            Data::Rows(split) => {
                if cfg.schedule() == ScheduleKind::Async {
                    cfg.resume_epoch = resume_epoch(&cfg, split, &dir)?;
                    cfg.validate()?;
                    open = Open::Resume(cfg.resume_epoch);
                    if !quiet {
                        eprintln!(
                            "resuming {} after epoch {} of {}",
                            dir.display(),
                            cfg.resume_epoch,
                            cfg.epochs
                        );
                    }
                } else {
                    cfg.resume_snapshot = true;
                    cfg.validate()?;
                    let point = ResumePoint::of(&dir, !cfg.hsic.sigmas.is_empty())?;
                    open = Open::Reopen(point.metrics_rows);
                    if !quiet {
                        eprintln!("{}", point.message(&dir));
                    }
                }
            }
        }
    }
    Ok(Prepared {
        cfg,
        data,
        open,
        quiet,
    })
}

/// Trains a prepared run into its directory (on the training thread).
fn run(p: Prepared) -> anyhow::Result<Summary> {
    let Prepared {
        cfg,
        data,
        open,
        quiet,
    } = p;
    let dir = cfg.out.clone().expect("resolved");
    let mut run = match open {
        Open::Create => RunDir::create(&dir)?,
        Open::Reopen(rows) => RunDir::reopen(&dir, rows)?,
        Open::Resume(epoch) => RunDir::resume(&dir, epoch)?,
    };
    let method = format!("{:?}", cfg.method).to_lowercase();
    let schedule = format!("{:?}", cfg.schedule()).to_lowercase();
    match data {
        Data::Rows(split) => {
            if !quiet {
                eprintln!(
                    "training {method} on {} ({} train / {} test), model {}, {schedule} \
                     schedule -> {}",
                    cfg.dataset,
                    split.train.len(),
                    split.test.len(),
                    cfg.model,
                    dir.display()
                );
            }
            mole_train::train(&cfg, &split, &mut run, quiet)
        }
        Data::Graph(g, split) => {
            if !quiet {
                eprintln!(
                    "training {method} on {}, model {}, {schedule} schedule -> {}",
                    cfg.dataset,
                    cfg.model,
                    dir.display()
                );
            }
            match split {
                Some(split) => mole_train::graph::train_nodes(&cfg, &g, split, &mut run, quiet),
                None => mole_train::graph::train_graph(&cfg, &g, &mut run, quiet),
            }
        }
    }
}

/// Held by the training thread of the run in progress (see [`Plan::start`]) and while a run is
/// checked: both draw from the device's generator, one per process.
static ONE_RUN: Mutex<()> = Mutex::new(());

/// A resolved run that has not started yet.
#[pyclass(module = "mole._mole", frozen)]
pub struct Plan {
    prepared: Mutex<Option<Prepared>>,
    config: String,
    out: PathBuf,
}

#[pymethods]
impl Plan {
    /// The resolved config as `config.toml` will hold it (each value with its origin).
    fn config(&self) -> String {
        self.config.clone()
    }

    /// The run directory.
    fn out(&self) -> String {
        self.out.display().to_string()
    }

    /// Starts training on a thread of its own; the returned [`Job`] is polled.
    fn start(&self) -> PyResult<Job> {
        let prepared = self
            .prepared
            .lock()
            .map_err(|_| PyRuntimeError::new_err("plan: poisoned lock"))?
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("plan: this run was started already"))?;
        let handle = std::thread::Builder::new()
            .name("mole-train".into())
            .stack_size(64 << 20)
            .spawn(move || {
                // One run at a time in a process: the device's generator is one per process
                // and every run seeds it (at the start and at every epoch), so two runs at once
                // would draw each other's numbers.
                let _one = ONE_RUN.lock().unwrap_or_else(|e| e.into_inner());
                mole_train::stop::clear_stop();
                run(prepared)
            })
            .map_err(|e| {
                PyRuntimeError::new_err(format!("cannot start the training thread: {e}"))
            })?;
        Ok(Job {
            handle: Mutex::new(Some(handle)),
            out: self.out.clone(),
        })
    }
}

/// A run in progress on its own thread.
#[pyclass(module = "mole._mole", frozen)]
pub struct Job {
    handle: Mutex<Option<JoinHandle<anyhow::Result<Summary>>>>,
    out: PathBuf,
}

impl Job {
    fn finished(&self) -> bool {
        self.handle
            .lock()
            .map(|h| h.as_ref().is_none_or(|h| h.is_finished()))
            .unwrap_or(true)
    }
}

#[pymethods]
impl Job {
    /// Waits up to `seconds` without the interpreter; true once training has ended.
    fn wait(&self, py: Python<'_>, seconds: f64) -> bool {
        let until = Instant::now() + Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
        py.detach(|| {
            while !self.finished() {
                let now = Instant::now();
                if now >= until {
                    return false;
                }
                std::thread::sleep((until - now).min(Duration::from_millis(20)));
            }
            true
        })
    }

    /// Asks the run to stop after its current step.
    fn stop(&self) {
        mole_train::stop::request_stop();
    }

    /// Waits for the end of the run and returns `summary.json`'s text; a failed run raises
    /// `RuntimeError` with the cause.
    fn finish(&self, py: Python<'_>) -> PyResult<String> {
        let handle = self
            .handle
            .lock()
            .map_err(|_| PyRuntimeError::new_err("job: poisoned lock"))?
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("job: finished already"))?;
        let result = py.detach(|| handle.join());
        mole_train::stop::clear_stop();
        let out = self.out.display();
        match result {
            Ok(Ok(summary)) => serde_json::to_string(&summary)
                .map_err(|e| PyRuntimeError::new_err(format!("run {out}: summary: {e}"))),
            Ok(Err(e)) => Err(PyRuntimeError::new_err(format!("run {out}: {e:#}"))),
            Err(payload) => Err(PyRuntimeError::new_err(format!(
                "run {out}: internal error in mole (please report it): {}",
                panic_message(payload.as_ref())
            ))),
        }
    }
}

/// The config keys of a call: `config_file` (a TOML file, or None), `overrides` (JSON object of
/// nested tables, the keyword arguments), `resume` (a run directory to continue, or None).
struct Settings {
    config_file: Option<String>,
    overrides: String,
    resume: Option<String>,
    quiet: bool,
}

/// Resolves a run. `data` is `("rows", x_train, y_train, x_test, y_test)` (float32 features,
/// int64 labels, the test arrays possibly None), `("nodes", features, edge_index, labels,
/// train, val, test)` (float32 `[N, F]`, int64 `[2, E]`, int64 `[N]`, int64 node indices or
/// None), `("graphs", features, sizes, edge_index, edge_counts, labels)` (float32 `[N, F]`,
/// int64 `[G]`, int64 `[2, E]` local node ids, int64 `[G]`, int64 `[G]`: see [`graph_set`]) or
/// `("named",)` (the config's `dataset` is loaded as `mole train` loads it).
#[pyfunction]
#[pyo3(signature = (data, config_file, overrides, resume, quiet))]
fn plan(
    py: Python<'_>,
    data: &Bound<'_, PyTuple>,
    config_file: Option<String>,
    overrides: String,
    resume: Option<String>,
    quiet: bool,
) -> PyResult<Plan> {
    let s = Settings {
        config_file,
        overrides,
        resume,
        quiet,
    };
    guard("train", || plan_guarded(py, data, s))
}

fn plan_guarded(py: Python<'_>, data: &Bound<'_, PyTuple>, s: Settings) -> PyResult<Plan> {
    let resume = s.resume.as_deref().map(Path::new);
    let (mut cfg, mut given) = read_config(s.config_file.as_deref(), &s.overrides, resume)?;
    let kind: String = data.get_item(0)?.extract()?;
    // Arrays: `dataset` only names them (in config.toml and summary.json).
    let name = match kind.as_str() {
        "rows" => Some("arrays"),
        "nodes" => Some("graph"),
        "graphs" => Some("graphs"),
        _ => None,
    };
    if let Some(name) = name
        && !given.contains_key("dataset")
    {
        cfg.dataset = name.into();
        given.insert("dataset".into(), Origin::File(ARGUMENTS.into()));
    }
    let data = match kind.as_str() {
        "rows" => {
            let test = if data.get_item(3)?.is_none() {
                None
            } else {
                Some((data.get_item(3)?.extract()?, data.get_item(4)?.extract()?))
            };
            Data::Rows(rows(
                data.get_item(1)?.extract()?,
                data.get_item(2)?.extract()?,
                test,
                &cfg,
            )?)
        }
        "nodes" => {
            let parts = if data.get_item(4)?.is_none() {
                None
            } else {
                let val = data.get_item(5)?;
                let val = if val.is_none() {
                    None
                } else {
                    Some(val.extract()?)
                };
                Some((
                    data.get_item(4)?.extract()?,
                    val,
                    data.get_item(6)?.extract()?,
                ))
            };
            let (d, split) = nodes(
                data.get_item(1)?.extract()?,
                data.get_item(2)?.extract()?,
                data.get_item(3)?.extract()?,
                parts,
            )?;
            Data::Graph(GraphData::Nodes(d), split)
        }
        "graphs" => {
            let set = graph_set(
                data.get_item(1)?.extract()?,
                data.get_item(2)?.extract()?,
                data.get_item(3)?.extract()?,
                data.get_item(4)?.extract()?,
                data.get_item(5)?.extract()?,
            )?;
            Data::Graph(GraphData::Graphs(set), None)
        }
        "named" => {
            let cfg = cfg.clone();
            py.detach(move || -> PyResult<Data> {
                guard("train", || {
                    if mole_data::is_graph_dataset(&cfg.dataset) {
                        let g = mole_train::graph::load_graph_data(&cfg).map_err(value_error)?;
                        Ok(Data::Graph(g, None))
                    } else {
                        let rows = mole_train::data::load_rows(&cfg)
                            .map_err(|e| value_error(format!("dataset: {e:#}")))?;
                        Ok(Data::Rows(rows))
                    }
                })
            })?
        }
        other => return Err(value_error(format!("unknown data kind '{other}'"))),
    };
    let quiet = s.quiet;
    let is_resume = resume.is_some();
    let prepared = py.detach(move || {
        // Checking a run builds its network, which draws from the device's generator: not
        // while another run trains (see `ONE_RUN`).
        let _one = ONE_RUN.lock().unwrap_or_else(|e| e.into_inner());
        guard("train", || {
            prepare(cfg, &given, data, is_resume, quiet).map_err(|e| value_error(format!("{e:#}")))
        })
    })?;
    let config = prepared.cfg.to_toml().map_err(value_error)?;
    let out = prepared.cfg.out.clone().expect("resolved");
    Ok(Plan {
        prepared: Mutex::new(Some(prepared)),
        config,
        out,
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_class::<Plan>()?;
    m.add_class::<Job>()?;
    Ok(())
}

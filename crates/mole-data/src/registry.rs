//! Named datasets and where they are looked for.
//!
//! `digits` is embedded in the binary (the default dataset). Every other named dataset lives in
//! `<data-dir>/<folder>/` under the file names of its original distribution (see
//! `shared/datasets/README.md`). The data directory defaults to `../shared/datasets` when it
//! exists, else `./data`.

use crate::csv::{HeaderMode, LabelColumn, read_csv, read_labelled_csv};
use crate::error::{DataError, Result};
use crate::idx::read_idx_images;
use crate::split::stratified_split;
use crate::{Dataset, Split};
use std::path::{Path, PathBuf};

/// The 8×8 optdigits set (1,797 samples, 64 features 0–16, 10 classes), gzip CSV, embedded.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

/// How a dataset is loaded and split.
#[derive(Clone, Debug)]
pub struct DataOptions {
    /// Where the named datasets live; `None` means [`default_data_dir`].
    pub data_dir: Option<PathBuf>,
    /// Fraction of samples held out for testing, for datasets without a test split.
    pub test_fraction: f64,
    /// Seed of the split.
    pub seed: u64,
    /// `Some(true)`: standardise features with training-set statistics (images per channel,
    /// `x' = (x − μ_c) / σ_c`, not per pixel); `None` or `Some(false)`: the values as stored
    /// (the training crate's default rules decide, from the data).
    pub standardize: Option<bool>,
    /// Header handling for `csv:PATH`.
    pub header: HeaderMode,
    /// Which column of `csv:PATH` holds the label.
    pub label_column: LabelColumn,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            data_dir: None,
            test_fraction: 0.2,
            seed: 0,
            standardize: None,
            header: HeaderMode::Auto,
            label_column: LabelColumn::Auto,
        }
    }
}

/// `../shared/datasets` when it exists, else `./data`.
pub fn default_data_dir() -> PathBuf {
    let shared = PathBuf::from("../shared/datasets");
    if shared.is_dir() {
        shared
    } else {
        PathBuf::from("data")
    }
}

impl DataOptions {
    /// The data directory in use.
    pub fn dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }
}

/// The names `load` accepts, for help texts.
pub const NAMED_DATASETS: &[&str] = &[
    "digits",
    "iris",
    "wine",
    "breast-cancer",
    "mnist",
    "fashion-mnist",
    "cifar10",
];

/// Loads a named dataset (or `csv:PATH`) and returns its train/test split.
pub fn load(name: &str, opts: &DataOptions) -> Result<Split> {
    let dir = opts.dir();
    let split = match name {
        "digits" => {
            let path = Path::new("<embedded digits.csv.gz>");
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::GzDecoder::new(DIGITS_CSV_GZ),
                &mut text,
            )
            .map_err(|e| DataError::io(path, e))?;
            let mut d = crate::csv::parse_labelled_csv(&text, path, HeaderMode::Absent)?;
            d.features.iter_mut().for_each(|v| *v /= 16.0);
            stratified_split(&d, opts.test_fraction, opts.seed)
        }
        "iris" | "wine" | "breast-cancer" => {
            let file = match name {
                "iris" => "iris.csv",
                "wine" => "wine_data.csv",
                _ => "breast_cancer.csv",
            };
            let path = find(
                name,
                &[dir.join("uci").join(file), dir.join(name).join(file)],
                uci_hint(file),
            )?;
            let d = read_labelled_csv(&path, HeaderMode::Auto)?;
            stratified_split(&d, opts.test_fraction, opts.seed)
        }
        "mnist" | "fashion-mnist" => load_idx_pair(name, &dir)?,
        "cifar10" => crate::cifar::load_cifar10(&dir)?,
        other => {
            if let Some(path) = other.strip_prefix("csv:") {
                let d = read_csv(Path::new(path), opts.header, &opts.label_column)?;
                stratified_split(&d, opts.test_fraction, opts.seed)
            } else {
                return Err(DataError::Unknown(other.to_string()));
            }
        }
    };
    let mut split = split;
    if opts.standardize == Some(true) {
        crate::split::standardize_split(&mut split);
    }
    Ok(split)
}

fn uci_hint(file: &str) -> String {
    format!(
        "Put the scikit-learn/UCI CSV '{file}' (first line n_samples,n_features,class names) there, or pass --data-dir."
    )
}

/// Returns the first existing path, or a [`DataError::Missing`] listing them all.
pub fn find(name: &str, candidates: &[PathBuf], hint: String) -> Result<PathBuf> {
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| DataError::Missing {
            name: name.to_string(),
            looked: candidates.to_vec(),
            hint,
        })
}

/// Finds `base` or `base.gz` in `folder`.
fn find_idx(name: &str, folder: &Path, base: &str) -> Result<PathBuf> {
    find(
        name,
        &[folder.join(format!("{base}.gz")), folder.join(base)],
        format!(
            "Download the four original IDX files ({base}.gz and its siblings) into {} or pass --data-dir.",
            folder.display()
        ),
    )
}

fn load_idx_pair(name: &str, dir: &Path) -> Result<Split> {
    let folder = dir.join(name);
    let load = |images: &str, labels: &str| -> Result<Dataset> {
        read_idx_images(
            &find_idx(name, &folder, images)?,
            &find_idx(name, &folder, labels)?,
            10,
        )
    };
    Ok(Split {
        train: load("train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
        test: load("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
        val: None,
    })
}

/// True when `name` names a graph dataset (`cora`, `mutag`, `linqs:DIR/NAME`, `tu:DIR`), which
/// [`load_graph`] reads instead of [`load`].
pub fn is_graph_dataset(name: &str) -> bool {
    matches!(name, "cora" | "mutag") || name.starts_with("linqs:") || name.starts_with("tu:")
}

/// Loads a graph dataset: `cora` (`<data-dir>/cora/cora.{content,cites}`, features
/// row-normalised), `mutag` (`<data-dir>/tu/MUTAG/`), `linqs:DIR/NAME` (row-normalised) or
/// `tu:DIR`.
pub fn load_graph(name: &str, opts: &DataOptions) -> Result<crate::graph::GraphData> {
    use crate::graph::GraphData;
    let dir = opts.dir();
    let linqs = |prefix: &Path| -> Result<GraphData> {
        let mut d = crate::linqs::read_linqs(prefix)?;
        d.row_normalize();
        Ok(GraphData::Nodes(d))
    };
    match name {
        "cora" => {
            let content = find(
                name,
                &[dir.join("cora").join("cora.content")],
                "Put the LINQS files cora.content and cora.cites there, or pass --data-dir.".into(),
            )?;
            linqs(&content.with_extension(""))
        }
        "mutag" => {
            let folder = dir.join("tu").join("MUTAG");
            find(
                name,
                &[folder.join("MUTAG_A.txt")],
                "Put the TU Dortmund MUTAG files (MUTAG_A.txt, …) there, or pass --data-dir."
                    .into(),
            )?;
            Ok(GraphData::Graphs(crate::tu::read_tu(&folder)?))
        }
        other => {
            if let Some(prefix) = other.strip_prefix("linqs:") {
                linqs(Path::new(prefix))
            } else if let Some(folder) = other.strip_prefix("tu:") {
                Ok(GraphData::Graphs(crate::tu::read_tu(Path::new(
                    folder.trim_end_matches('/'),
                ))?))
            } else {
                Err(DataError::Unknown(other.to_string()))
            }
        }
    }
}

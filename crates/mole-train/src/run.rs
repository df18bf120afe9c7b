//! The run directory: resolved config, `metrics.csv` (appended and flushed row by row, so a run
//! that fails midway keeps what it measured), weights (safetensors), embeddings and
//! `summary.json`. Files other than the metrics are written atomically (temp file + rename).

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temp file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Header of `metrics.csv`.
pub const METRICS_HEADER: &str = "epoch,stage,module,layer,loss,i_tx,i_ty,nhsic_tx,nhsic_ty,train_accuracy,test_accuracy,val_accuracy,seconds";

/// One row of `metrics.csv`: a layer's measures after an epoch of the module that owns it
/// (`stage = module`), or the head after one of its epochs (`stage = head`, layer 0).
#[derive(Clone, Debug, Default)]
pub struct MetricRow {
    /// 1-based epoch of the stage.
    pub epoch: usize,
    /// `module` or `head`.
    pub stage: &'static str,
    /// 1-based module index (the head is `modules + 1`).
    pub module: usize,
    /// 1-based layer index in the network (0 for the head).
    pub layer: usize,
    /// Mean training loss of the module over the epoch.
    pub loss: f64,
    /// Dependence measures on the evaluation batch (NaN when not measured).
    pub dependence: Option<crate::evaluate::Dependence>,
    /// Head accuracy on the training subset (NaN before the head has trained).
    pub train_accuracy: f64,
    /// Head accuracy on the test set (NaN before the head has trained).
    pub test_accuracy: f64,
    /// Wall-clock seconds since training started.
    pub seconds: f64,
    /// Head accuracy on the validation rows (NaN when there are none, or before the head has
    /// trained).
    pub val_accuracy: f64,
}

fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v:.6}")
    }
}

/// `runs/YYYYMMDD-HHMMSS{suffix}` (UTC, now): where `mole train` and the Python package put a run
/// given no output directory.
pub fn default_run_dir(suffix: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    PathBuf::from(format!(
        "runs/{y:04}{m:02}{d:02}-{:02}{:02}{:02}{suffix}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// An open run directory.
pub struct RunDir {
    /// Its path.
    pub path: PathBuf,
    metrics: std::fs::File,
    rows: usize,
}

/// The run directory could not be created or written.
#[derive(Debug, thiserror::Error)]
#[error("run directory {path}: {source}")]
pub struct RunDirError {
    /// The path.
    pub path: PathBuf,
    /// Cause.
    pub source: std::io::Error,
}

impl RunDir {
    /// Creates the directory (and `weights/`) and starts `metrics.csv`.
    pub fn create(path: &Path) -> Result<RunDir, RunDirError> {
        let err = |source| RunDirError {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path.join("weights")).map_err(err)?;
        let mut metrics = std::fs::File::create(path.join("metrics.csv")).map_err(err)?;
        writeln!(metrics, "{METRICS_HEADER}").map_err(err)?;
        Ok(RunDir {
            path: path.to_path_buf(),
            metrics,
            rows: 0,
        })
    }

    /// Reopens an existing run directory to continue it after `epoch`: `metrics.csv` keeps its
    /// header and the rows of the schedule's epochs 1..=`epoch` (rewritten atomically: rows of
    /// a later, unfinished epoch and of the head's extra epochs go), then grows as usual.
    pub fn resume(path: &Path, epoch: usize) -> Result<RunDir, RunDirError> {
        let err = |source| RunDirError {
            path: path.to_path_buf(),
            source,
        };
        let file = path.join("metrics.csv");
        let text = std::fs::read_to_string(&file).map_err(err)?;
        let mut kept = Vec::new();
        let mut last = 0;
        for line in text.lines().skip(1) {
            let e: usize = line
                .split(',')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(usize::MAX);
            // The head's extra epochs count from 1 again: the schedule's rows end there.
            if e > epoch || e < last {
                break;
            }
            last = e;
            kept.push(line);
        }
        Self::continue_with(path, &kept)
    }

    /// Reopens an existing run directory to continue it from a snapshot that counted `rows`
    /// data rows of `metrics.csv`: the header and those rows stay (rewritten atomically; rows
    /// of the epoch that was cut short go), then the file grows as usual.
    pub fn reopen(path: &Path, rows: usize) -> Result<RunDir, RunDirError> {
        let err = |source| RunDirError {
            path: path.to_path_buf(),
            source,
        };
        let file = path.join("metrics.csv");
        let text = std::fs::read_to_string(&file).map_err(err)?;
        let mut lines = text.lines();
        if lines.next() != Some(METRICS_HEADER) {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "metrics.csv does not start with mole's header",
            )));
        }
        let body: Vec<&str> = lines.take(rows).collect();
        if body.len() < rows {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "metrics.csv has {} rows, the snapshot counted {rows}",
                    body.len()
                ),
            )));
        }
        Self::continue_with(path, &body)
    }

    /// Rewrites `metrics.csv` of `path` atomically as the header and `rows`, then opens it for
    /// appending: the common end of [`RunDir::resume`] and [`RunDir::reopen`].
    fn continue_with(path: &Path, rows: &[&str]) -> Result<RunDir, RunDirError> {
        let err = |source| RunDirError {
            path: path.to_path_buf(),
            source,
        };
        let file = path.join("metrics.csv");
        let mut kept = format!("{METRICS_HEADER}\n");
        for line in rows {
            kept += line;
            kept.push('\n');
        }
        write_atomic(&file, kept.as_bytes()).map_err(err)?;
        let metrics = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .map_err(err)?;
        Ok(RunDir {
            path: path.to_path_buf(),
            metrics,
            rows: rows.len(),
        })
    }

    /// Data rows written to `metrics.csv` so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row to `metrics.csv` and flushes it.
    pub fn append(&mut self, r: &MetricRow) -> std::io::Result<()> {
        let d = r.dependence.clone().unwrap_or(crate::evaluate::Dependence {
            i_tx: f64::NAN,
            i_ty: f64::NAN,
            nhsic_tx: f64::NAN,
            nhsic_ty: f64::NAN,
        });
        writeln!(
            self.metrics,
            "{},{},{},{},{},{},{},{},{},{},{},{},{:.3}",
            r.epoch,
            r.stage,
            r.module,
            r.layer,
            num(r.loss),
            num(d.i_tx),
            num(d.i_ty),
            num(d.nhsic_tx),
            num(d.nhsic_ty),
            num(r.train_accuracy),
            num(r.test_accuracy),
            num(r.val_accuracy),
            r.seconds
        )?;
        self.rows += 1;
        self.metrics.flush()
    }

    /// Writes `name` in the run directory atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        write_atomic(&self.path.join(name), bytes)
    }
}

/// Collects a module's float parameters (and batch-norm running statistics) as
/// `(path, shape, values)`. burn calls `enter_module`/`exit_module` around every field, the
/// parameter's own field name included, so the stack is the parameter's path.
struct ParamCollector {
    path: Vec<String>,
    out: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl ModuleVisitor for ParamCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (shape, values) = crate::batches::to_host(param.val().without_autodiff());
        self.out.push((self.path.join("."), shape, values));
    }
}

/// Every float parameter of `module`, named by its path (e.g. `blocks.0.linear.weight`).
pub fn named_params<M: Module>(module: &M) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut c = ParamCollector {
        path: Vec::new(),
        out: Vec::new(),
    };
    // `valid()` syncs batch norm's running statistics (the latest update is held per thread).
    module.valid().visit(&mut c);
    c.out
}

/// Serialises named f32 arrays to the safetensors format.
pub fn to_safetensors(
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    metadata: BTreeMap<String, String>,
) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b).expect("consistent view"),
            )
        })
        .collect();
    let meta = (!metadata.is_empty()).then(|| metadata.into_iter().collect());
    safetensors::serialize(views, meta).expect("serialisable tensors")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use mole_nn::{Activation, DenseConfig};

    #[test]
    fn named_params_lists_every_parameter_with_its_path_and_values() {
        let device = Device::flex();
        let block = DenseConfig {
            d_input: 3,
            d_output: 2,
            batch_norm: true,
            affine: true,
            activation: Activation::Relu,
        }
        .init(&device);
        let params = named_params(&block);
        let shapes: BTreeMap<String, Vec<usize>> = params
            .iter()
            .map(|(n, s, v)| {
                assert_eq!(v.len(), s.iter().product::<usize>(), "{n}");
                (n.clone(), s.clone())
            })
            .collect();
        assert_eq!(shapes["linear.weight"], vec![3, 2]);
        assert_eq!(shapes["linear.bias"], vec![2]);
        for name in ["gamma", "beta", "running_mean", "running_var"] {
            assert_eq!(shapes[&format!("norm.{name}")], vec![2], "{shapes:?}");
        }
        // The values are the parameters' own.
        let (_, _, w) = &params[params.iter().position(|p| p.0 == "linear.weight").unwrap()];
        let direct = crate::batches::to_host(block.linear.weight.val()).1;
        assert_eq!(w, &direct);
    }
}

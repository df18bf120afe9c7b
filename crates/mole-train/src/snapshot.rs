//! The whole training state after an epoch, in one file written atomically:
//! `weights/snapshot.safetensors`. It holds every learner's weights with their parameter ids,
//! each learner's optimiser state (Adam's moments), the position in the schedule (epochs
//! done, over all stages), the kept epoch of early stopping with its weights, the loss sums of
//! the epochs since the last metrics row and how many metrics rows were written.
//!
//! `mole train --resume RUN_DIR` continues a sequential or simultaneous run (its head phase
//! included) from it: `metrics.csv` is cut back to the rows the snapshot counts, the schedule
//! skips the epochs done, and since the batches, augmentation draws and dropout masks of an
//! epoch are functions of the seed and the epoch's position alone, the resumed run computes
//! what the uninterrupted one would have. Because the file is replaced in one rename, a kill at
//! any moment leaves either the previous snapshot or the new one, never a mixture.

use crate::early_stop::KeptEpoch;
use crate::run::{RunDir, write_atomic};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the snapshot lives in a run directory.
pub const FILE: &str = "weights/snapshot.safetensors";

/// Training time per unit of snapshot-writing time at least between two snapshots.
pub const SNAPSHOT_SPACING: u32 = 20;

/// When the schedules write their end-of-epoch snapshot: after an epoch once the time since
/// the last snapshot was written is at least [`SNAPSHOT_SPACING`] times what writing it took
/// (the first epoch always). Writing therefore takes at most about 1/21 of a run, and a run
/// killed loses at most that many times one snapshot's writing of work (milliseconds to a
/// second), which `--resume` does again to the same numbers. With epochs of a few steps (MUTAG's
/// folds: an epoch is five batches) a snapshot after every epoch had been a sixth of the run.
#[derive(Debug, Default)]
pub struct SnapshotPacer {
    /// When the last snapshot was finished and what writing it took.
    last: Option<(std::time::Instant, std::time::Duration)>,
}

impl SnapshotPacer {
    /// Whether a snapshot is due now.
    pub fn due(&self) -> bool {
        self.due_at(std::time::Instant::now())
    }

    /// Whether a snapshot is due at `now`.
    pub fn due_at(&self, now: std::time::Instant) -> bool {
        self.last
            .is_none_or(|(end, cost)| now.saturating_duration_since(end) >= cost * SNAPSHOT_SPACING)
    }

    /// Records a snapshot whose writing began at `started` and ended now.
    pub fn wrote(&mut self, started: std::time::Instant) {
        self.wrote_between(started, std::time::Instant::now());
    }

    /// Records a snapshot written from `started` to `ended`.
    pub fn wrote_between(&mut self, started: std::time::Instant, ended: std::time::Instant) {
        self.last = Some((ended, ended.saturating_duration_since(started)));
    }
}
/// Format version written into the metadata.
pub const VERSION: u32 = 1;

/// A snapshot that cannot be resumed from.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SnapshotError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// An `f64` stored by its bits, so that NaN survives JSON and sums resume exactly.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Bits(u64);

impl From<f64> for Bits {
    fn from(v: f64) -> Bits {
        Bits(v.to_bits())
    }
}

impl From<Bits> for f64 {
    fn from(b: Bits) -> f64 {
        f64::from_bits(b.0)
    }
}

/// The kept epoch without its weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeptRecord {
    /// `module`, `all` or `head`.
    pub stage: String,
    /// Its 1-based epoch within the stage.
    pub epoch: usize,
    /// Validation accuracy and loss, train and test accuracy.
    pub scores: [Bits; 4],
}

impl KeptRecord {
    /// The record of `k`.
    pub fn of(k: &KeptEpoch) -> KeptRecord {
        KeptRecord {
            stage: k.stage.to_string(),
            epoch: k.epoch,
            scores: [
                k.val_accuracy.into(),
                k.val_loss.into(),
                k.train_accuracy.into(),
                k.test_accuracy.into(),
            ],
        }
    }

    /// Back to a [`KeptEpoch`] (weights empty; see `KeepBest::restored`).
    pub fn epoch(&self) -> Result<KeptEpoch, String> {
        let stage = match self.stage.as_str() {
            "module" => "module",
            "all" => "all",
            "head" => "head",
            other => return Err(format!("kept stage '{other}' (module, all or head)")),
        };
        let [va, vl, tr, te] = self.scores.map(f64::from);
        Ok(KeptEpoch {
            stage,
            epoch: self.epoch,
            val_accuracy: va,
            val_loss: vl,
            train_accuracy: tr,
            test_accuracy: te,
            ..Default::default()
        })
    }
}

/// Where the schedule stands and the session's running totals.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Progress {
    /// [`VERSION`].
    pub version: u32,
    /// What the run is: method, schedule, model, grouping, epochs, batch and seed. A resumed
    /// run must have the same plan.
    pub plan: String,
    /// Epochs finished, counted over every stage of the schedule (modules, then the head).
    pub epochs_done: usize,
    /// Epochs begun (the augmentation round).
    pub round: u64,
    /// Samples that entered the first trained stage.
    pub samples_seen: u64,
    /// Whether the head has taken a step.
    pub head_trained: bool,
    /// Data rows of `metrics.csv` when the snapshot was written.
    pub metrics_rows: usize,
    /// Seconds since training started, and of them in evaluation.
    pub seconds: [Bits; 2],
    /// Last measured head accuracies (train probe, test).
    pub last_accuracy: [Bits; 2],
    /// Loss sums since the last metrics row: (learner, sum, count).
    pub losses: Vec<(usize, Bits, usize)>,
    /// Steps taken by each learner.
    pub steps: Vec<u64>,
    /// Each learner's parameter ids in visiting order (its optimiser state's keys).
    pub ids: Vec<Vec<u64>>,
    /// The kept epoch of early stopping, and the evaluations offered since.
    pub kept: Option<KeptRecord>,
    /// Evaluations since the kept one.
    pub since: usize,
}

/// A snapshot: progress, and per learner its weights, optimiser state and kept weights.
pub struct Snapshot {
    /// Position and totals.
    pub progress: Progress,
    /// Flat weights of each learner (modules, then the head).
    pub weights: Vec<Vec<f32>>,
    /// Optimiser state of each learner (burnpack bytes).
    pub optimizers: Vec<Vec<u8>>,
    /// The kept epoch's flat weights, per learner (empty when nothing is kept).
    pub kept: Vec<Vec<f32>>,
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `snap` to the run directory's [`FILE`] atomically.
///
/// # Errors
/// When the file cannot be written (the previous snapshot is then intact).
pub fn write(run: &RunDir, snap: &Snapshot) -> anyhow::Result<()> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (k, w) in snap.weights.iter().enumerate() {
        owned.push((
            format!("weights.{k}"),
            Dtype::F32,
            vec![w.len()],
            le_bytes(w),
        ));
    }
    for (k, o) in snap.optimizers.iter().enumerate() {
        owned.push((
            format!("optimizer.{k}"),
            Dtype::U8,
            vec![o.len()],
            o.clone(),
        ));
    }
    for (k, w) in snap.kept.iter().enumerate() {
        owned.push((format!("kept.{k}"), Dtype::F32, vec![w.len()], le_bytes(w)));
    }
    let views = owned
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("snapshot: {e}"))?;
    let progress = serde_json::to_string(&snap.progress)?;
    let meta = HashMap::from([("progress".to_string(), progress)]);
    let bytes =
        safetensors::serialize(views, Some(meta)).map_err(|e| anyhow::anyhow!("snapshot: {e}"))?;
    write_atomic(&run.path.join(FILE), &bytes)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", run.path.join(FILE).display()))
}

/// Whether the run directory `dir` holds a snapshot (`weights/snapshot.safetensors`).
pub fn exists(dir: &Path) -> bool {
    dir.join(FILE).is_file()
}

/// Where a run of the sequential or simultaneous schedule continues from (`--resume`): the
/// `metrics.csv` rows its snapshot counted, and what to tell the user.
#[derive(Clone, Debug, PartialEq)]
pub struct ResumePoint {
    /// Rows of `metrics.csv` to keep.
    pub metrics_rows: usize,
    /// Epochs finished over all stages; `None` for a σ-combined run killed in its branches
    /// (no snapshot of its own yet: each branch continues from its own).
    pub epochs_done: Option<usize>,
}

impl ResumePoint {
    /// The resume point of the run directory `dir`; a σ-combined run (`sigma_combined`) without
    /// a snapshot of its own keeps no rows (its rows, the head's, come after the branches).
    ///
    /// # Errors
    /// A missing (other runs), truncated or foreign snapshot, named in the message.
    pub fn of(dir: &Path, sigma_combined: bool) -> Result<ResumePoint, SnapshotError> {
        if sigma_combined && !exists(dir) {
            return Ok(ResumePoint {
                metrics_rows: 0,
                epochs_done: None,
            });
        }
        let p = read(dir)?.progress;
        Ok(ResumePoint {
            metrics_rows: p.metrics_rows,
            epochs_done: Some(p.epochs_done),
        })
    }

    /// "resuming DIR after N finished epochs …" (or how a σ-combined run goes on).
    pub fn message(&self, dir: &Path) -> String {
        match self.epochs_done {
            Some(n) => format!(
                "resuming {} after {n} finished epochs (modules and head together)",
                dir.display()
            ),
            None => format!(
                "resuming {}: each sigma branch continues from its snapshot, then the format layer",
                dir.display()
            ),
        }
    }
}

/// Reads the snapshot of the run directory `dir`.
///
/// # Errors
/// A missing, truncated or foreign file, named in the message.
pub fn read(dir: &Path) -> Result<Snapshot, SnapshotError> {
    let path = dir.join(FILE);
    let fail = |message: String| SnapshotError {
        path: path.clone(),
        message,
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        fail(if e.kind() == std::io::ErrorKind::NotFound {
            "missing: nothing to resume from (no epoch of this run finished?)".into()
        } else {
            e.to_string()
        })
    })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| fail(e.to_string()))?;
    let text = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("progress"))
        .ok_or_else(|| fail("no progress in its metadata".into()))?;
    let progress: Progress =
        serde_json::from_str(text).map_err(|e| fail(format!("progress: {e}")))?;
    if progress.version != VERSION {
        return Err(fail(format!(
            "format version {} (this mole reads {VERSION})",
            progress.version
        )));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(e.to_string()))?;
    let learners = progress.ids.len();
    if progress.steps.len() != learners {
        return Err(fail(format!(
            "progress counts steps of {} learners and parameter ids of {learners}",
            progress.steps.len()
        )));
    }
    let floats = |name: &str| -> Result<Option<Vec<f32>>, SnapshotError> {
        let Ok(view) = st.tensor(name) else {
            return Ok(None);
        };
        if view.dtype() != Dtype::F32 {
            return Err(fail(format!("tensor {name} is not f32")));
        }
        Ok(Some(
            view.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    };
    let mut weights = Vec::with_capacity(learners);
    let mut optimizers = Vec::with_capacity(learners);
    let mut kept = Vec::new();
    for k in 0..learners {
        weights.push(
            floats(&format!("weights.{k}"))?
                .ok_or_else(|| fail(format!("no weights of learner {k}")))?,
        );
        let o = st
            .tensor(&format!("optimizer.{k}"))
            .map_err(|_| fail(format!("no optimiser state of learner {k}")))?;
        if o.dtype() != Dtype::U8 {
            return Err(fail(format!("optimizer.{k} is not u8")));
        }
        optimizers.push(o.data().to_vec());
        if let Some(w) = floats(&format!("kept.{k}"))? {
            kept.push(w);
        }
    }
    if progress.kept.is_some() && kept.len() != learners {
        return Err(fail("a kept epoch without its weights".into()));
    }
    Ok(Snapshot {
        progress,
        weights,
        optimizers,
        kept,
    })
}

/// The plan a snapshot must share with the run that resumes it.
pub fn plan(cfg: &crate::config::TrainConfig, learners: usize) -> String {
    format!(
        "method {:?}, schedule {:?}, model {}, {learners} learners, epochs {}, head_epochs {}, \
         batch_size {}, seed {}",
        cfg.method,
        cfg.schedule(),
        cfg.model,
        cfg.epochs,
        cfg.head_epochs,
        cfg.batch_size,
        cfg.seed
    )
    .to_lowercase()
}

/// The running totals a schedule keeps besides the network, as a snapshot stores them.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Epochs finished over every stage.
    pub epochs_done: usize,
    /// Epochs begun (the augmentation and dropout round).
    pub round: u64,
    /// Samples (or labelled items) that entered the first trained stage.
    pub samples_seen: u64,
    /// Whether the head has taken a step.
    pub head_trained: bool,
    /// Seconds since training started, and of them in evaluation.
    pub seconds: [f64; 2],
    /// Last measured head accuracies (train, test).
    pub last_accuracy: (f64, f64),
    /// Loss sums since the last metrics row, per learner: (sum, count).
    pub losses: std::collections::BTreeMap<usize, (f64, usize)>,
}

/// The snapshot of `net` and `totals` after an epoch of a run planned by `cfg`.
///
/// # Errors
/// When a learner's optimiser state cannot be serialised.
pub fn capture(
    cfg: &crate::config::TrainConfig,
    net: &crate::network::Network,
    run: &RunDir,
    totals: &Totals,
    keep: &crate::early_stop::KeepBest,
) -> anyhow::Result<Snapshot> {
    let learners: Vec<&crate::module::LocalModule> = net.modules.iter().chain(&net.head).collect();
    let mut weights = Vec::with_capacity(learners.len());
    let mut optimizers = Vec::with_capacity(learners.len());
    let mut ids = Vec::with_capacity(learners.len());
    for m in &learners {
        weights.push(crate::params::flat_params(&m.stage));
        optimizers.push(m.optimizer_state()?);
        ids.push(crate::params::param_ids(&m.stage));
    }
    let progress = Progress {
        version: VERSION,
        plan: plan(cfg, learners.len()),
        epochs_done: totals.epochs_done,
        round: totals.round,
        samples_seen: totals.samples_seen,
        head_trained: totals.head_trained,
        metrics_rows: run.rows(),
        seconds: totals.seconds.map(Bits::from),
        last_accuracy: [totals.last_accuracy.0.into(), totals.last_accuracy.1.into()],
        losses: totals
            .losses
            .iter()
            .map(|(&k, &(sum, n))| (k, sum.into(), n))
            .collect(),
        steps: learners.iter().map(|m| m.steps).collect(),
        ids,
        kept: keep.kept().map(KeptRecord::of),
        since: keep.since,
    };
    Ok(Snapshot {
        progress,
        weights,
        optimizers,
        kept: keep.kept_params().map(<[_]>::to_vec).unwrap_or_default(),
    })
}

/// Loads `snap` into `net` (weights with their parameter ids, optimiser states, step counts)
/// and returns the totals and the early-stopping state it recorded.
///
/// # Errors
/// A snapshot of another plan (method, schedule, model, epochs, batch, seed) or one that does
/// not fit the network.
pub fn restore(
    cfg: &crate::config::TrainConfig,
    net: &mut crate::network::Network,
    snap: Snapshot,
) -> anyhow::Result<(Totals, crate::early_stop::KeepBest)> {
    let p = snap.progress;
    let learners = net.modules.len() + usize::from(net.head.is_some());
    let plan = plan(cfg, learners);
    if p.plan != plan {
        anyhow::bail!(
            "--resume: the snapshot is of another plan ({}); this run is {plan}",
            p.plan
        );
    }
    if snap.weights.len() != learners || p.ids.len() != learners || p.steps.len() != learners {
        anyhow::bail!(
            "--resume: the snapshot holds {} learners, this run has {learners}",
            snap.weights.len()
        );
    }
    let stages = net.modules.iter_mut().chain(net.head.as_mut());
    for (k, m) in stages.enumerate() {
        let stage = std::mem::replace(&mut m.stage, crate::module::Stage::empty());
        m.stage = crate::params::load_flat_params_with_ids(stage, &snap.weights[k], &p.ids[k])
            .map_err(|e| anyhow::anyhow!("--resume: {}: {e}", m.name))?;
        m.load_optimizer_state(snap.optimizers[k].clone())?;
        m.steps = p.steps[k];
    }
    let kept = match &p.kept {
        Some(r) => Some((
            r.epoch().map_err(|e| anyhow::anyhow!("--resume: {e}"))?,
            snap.kept,
        )),
        None => None,
    };
    let keep = crate::early_stop::KeepBest::restored(kept, p.since);
    let totals = Totals {
        epochs_done: p.epochs_done,
        round: p.round,
        samples_seen: p.samples_seen,
        head_trained: p.head_trained,
        seconds: p.seconds.map(f64::from),
        last_accuracy: (p.last_accuracy[0].into(), p.last_accuracy[1].into()),
        losses: p
            .losses
            .iter()
            .map(|&(k, sum, n)| (k, (f64::from(sum), n)))
            .collect(),
    };
    Ok((totals, keep))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Without a snapshot a σ-combined run starts its rows afresh (its branches have their own);
    /// any other run has nothing to resume from, and the error names the file.
    #[test]
    fn a_run_without_a_snapshot_resumes_only_if_sigma_combined() {
        let dir = std::env::temp_dir().join(format!("mole-resume-point-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let point = ResumePoint::of(&dir, true).unwrap();
        assert_eq!(
            point,
            ResumePoint {
                metrics_rows: 0,
                epochs_done: None
            }
        );
        assert!(point.message(&dir).contains("each sigma branch"));
        let e = ResumePoint::of(&dir, false).unwrap_err().to_string();
        assert!(e.contains("snapshot.safetensors"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The first epoch writes; then the next snapshot waits for twenty times the last one's
    /// writing time, measured from its end, and follows the latest cost.
    #[test]
    fn snapshots_are_spaced_by_twenty_times_their_cost() {
        let mut pacer = SnapshotPacer::default();
        let t0 = Instant::now();
        assert!(pacer.due_at(t0));
        let ms = Duration::from_millis;
        pacer.wrote_between(t0, t0 + ms(10));
        let end = t0 + ms(10);
        assert!(!pacer.due_at(end));
        assert!(!pacer.due_at(end + ms(199)));
        assert!(pacer.due_at(end + ms(200)));
        // A cheaper write shortens the wait.
        pacer.wrote_between(end + ms(200), end + ms(201));
        assert!(!pacer.due_at(end + ms(220)));
        assert!(pacer.due_at(end + ms(221)));
    }
}

//! The simultaneous schedule as a pipeline of threads (`pipeline`): the numbers of the learners
//! taking turns, row for row; when it stays serial; and a failing stage's error.
//!
//! Each run is made inside a two-thread rayon pool, so the pipeline engages whatever the
//! machine's core count.

use mole_train::config::{Method, OptimizerKind, PipelineMode, ScheduleKind, TrainConfig};
use mole_train::train::{load_data, train_with};
use mole_train::{RunDir, Summary};
use std::path::PathBuf;
use std::sync::Mutex;

mod common;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("mole-pipeline", name)
}

fn config(method: Method, pipeline: PipelineMode) -> TrainConfig {
    TrainConfig {
        dataset: "digits".into(),
        model: "mlp:64,64,64".into(),
        group: vec![1, 1, 1],
        method,
        schedule: Some(ScheduleKind::Simultaneous),
        pipeline,
        epochs: 3,
        head_epochs: 1,
        batch_size: 128,
        eval_samples: 256,
        embedding_samples: 50,
        ..TrainConfig::default()
    }
}

/// One run at a time: a run seeds the device's generator and then draws the initial weights from
/// it, so two tests of this binary training at once could interleave their draws.
static ONE_RUN: Mutex<()> = Mutex::new(());

/// Trains `cfg` in a pool of two threads; the run directory's metrics without the seconds.
fn train_on_two_threads(cfg: &TrainConfig, name: &str) -> (anyhow::Result<Summary>, String) {
    let _one = ONE_RUN.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir(name);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let result = pool.install(|| {
        let data = load_data(cfg)?;
        let mut run = RunDir::create(&dir)?;
        train_with(cfg, &data, &mut run, true, None)
    });
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap_or_default();
    let without_seconds = metrics
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest))
        .collect::<Vec<_>>()
        .join("\n");
    (result, without_seconds)
}

#[test]
fn the_pipeline_gives_the_numbers_of_the_learners_taking_turns() {
    for method in [Method::Mole, Method::Hsic] {
        let name = format!("{method:?}");
        let (piped, piped_rows) =
            train_on_two_threads(&config(method, PipelineMode::On), &format!("{name}-on"));
        let (serial, serial_rows) =
            train_on_two_threads(&config(method, PipelineMode::Off), &format!("{name}-off"));
        let (piped, serial) = (piped.unwrap(), serial.unwrap());
        // Three modules and the head in two stages (one per thread), cut where their timed
        // steps balance.
        let stages = piped.pipeline_stages.clone().expect("pipelined");
        assert_eq!(stages.len(), 2, "{name}: {stages:?}");
        assert_eq!(stages.iter().sum::<usize>(), 4, "{name}: {stages:?}");
        assert_eq!(serial.pipeline_stages, None, "{name}");
        // 3 epochs × (3 modules + head) rows and the head epoch's row.
        assert_eq!(piped_rows.lines().count(), 1 + 3 * 4 + 1, "{piped_rows}");
        assert_eq!(piped_rows, serial_rows, "{name}: metrics differ");
        assert_eq!(piped.test_accuracy, serial.test_accuracy, "{name}");
        assert!(piped.test_accuracy > 0.8, "{name}: {}", piped.test_accuracy);
        let steps = |s: &Summary| s.modules.iter().map(|m| m.steps).collect::<Vec<_>>();
        assert_eq!(steps(&piped), steps(&serial), "{name}");
        assert_eq!(
            steps(&piped),
            vec![3 * 12; 3],
            "{name}: 12 batches per epoch"
        );
    }
}

/// `auto` times a few batches each way and keeps the faster: whichever it keeps, the numbers are
/// those of the learners taking turns. Epochs too short to decide on keep the turns.
#[test]
fn auto_keeps_the_numbers_and_short_epochs_keep_the_turns() {
    let (auto, auto_rows) = train_on_two_threads(&config(Method::Hsic, PipelineMode::Auto), "auto");
    let (_, off_rows) = train_on_two_threads(&config(Method::Hsic, PipelineMode::Off), "auto-off");
    let auto = auto.unwrap();
    assert_eq!(auto_rows, off_rows);
    if let Some(stages) = &auto.pipeline_stages {
        assert_eq!(
            (stages.len(), stages.iter().sum::<usize>()),
            (2, 4),
            "{stages:?}"
        );
    }
    // Batches of 512: three per epoch, nine in the run, too few to time the learners in turn
    // and then put the pipeline on trial for eight batches: no pipeline is reported.
    let mut cfg = config(Method::Hsic, PipelineMode::Auto);
    cfg.batch_size = 512;
    let (short, _) = train_on_two_threads(&cfg, "auto-short");
    assert_eq!(short.unwrap().pipeline_stages, None);
}

#[test]
fn dropout_and_a_single_learner_keep_the_serial_loop() {
    let mut cfg = config(Method::Mole, PipelineMode::On);
    cfg.epochs = 1;
    cfg.dropout = 0.1;
    let (s, _) = train_on_two_threads(&cfg, "dropout");
    assert_eq!(s.unwrap().pipeline_stages, None);
    let mut cfg = config(Method::Bp, PipelineMode::On);
    cfg.epochs = 1;
    let (s, _) = train_on_two_threads(&cfg, "bp");
    assert_eq!(s.unwrap().pipeline_stages, None);
}

/// The head (the last stage) diverges while the modules upstream keep sending batches: the run
/// ends with the head's error, without a deadlock, and keeps the epochs finished before.
#[test]
fn a_failing_last_stage_ends_the_run_with_its_error() {
    let mut cfg = config(Method::Mole, PipelineMode::On);
    cfg.optimizer = OptimizerKind::Sgd;
    cfg.lr = Some(0.01);
    cfg.head_lr = Some(1e300);
    let (result, rows) = train_on_two_threads(&cfg, "diverging-head");
    let msg = format!("{:#}", result.unwrap_err());
    assert!(msg.contains("head") && msg.contains("loss became"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    assert!(rows.starts_with("epoch,stage"), "{rows}");
}

//! When the simultaneous schedule's learners run as a pipeline ([`super::stages`]) and when
//! they take turns: decided as the run goes, from the times of both on the run's own batches.

use super::stages::StagePools;
use crate::config::PipelineMode;
use std::time::Instant;

/// Batches of the run that go in turn first: the first pays for allocations and caches, the
/// others are timed (their time per batch is what a pipeline must beat, and the learners' step
/// times on the last of them draw the stages).
pub(crate) const CALIBRATION_BATCHES: usize = 5;

/// Batches `pipeline = "auto"` runs as a pipeline, in whole rests of epochs (starts and drains
/// included), before it compares their time per batch with the calibration's.
pub(crate) const TRIAL_BATCHES: usize = 8;

/// Whether `learners` can run as a pipeline, and on how many cores: at least two learners, at
/// least two threads in the process's rayon pool (`RAYON_NUM_THREADS=1` keeps the serial
/// loop), `mode` not `off` and no dropout (see the module docs).
pub(crate) fn pipeline_cores(learners: usize, mode: PipelineMode, dropout: f64) -> Option<usize> {
    let cores = rayon::current_num_threads();
    (mode != PipelineMode::Off && learners >= 2 && cores >= 2 && dropout <= 0.0).then_some(cores)
}

/// How the simultaneous schedule runs its learners, decided as the run goes
/// ([`PipelinePlan::next_chunk`]): the first [`CALIBRATION_BATCHES`] in turn, timed; then the
/// stages drawn from the learners' times, and (`auto`) a trial of at least [`TRIAL_BATCHES`]
/// as a pipeline, in whole rests of epochs — the rest of the current epoch when that many are
/// left in it, else the next epochs; then whichever ran faster per batch, for the rest of the
/// run. Small steps, whose products already fill the cores or whose hand-offs cost more than
/// the overlap saves, keep taking turns. The numbers are the same either way.
pub(crate) enum PipelinePlan {
    /// Timing the learners in turn: batches seen, seconds of the timed ones, the last step
    /// times.
    Calibrating {
        cores: usize,
        mode: PipelineMode,
        seen: usize,
        seconds: f64,
        costs: Vec<f64>,
    },
    /// The pipeline on trial against `in_turn` seconds per batch.
    Trial {
        pools: StagePools,
        in_turn: f64,
        batches: usize,
        seconds: f64,
    },
    /// Decided: a pipeline of these stages.
    Pipelined(StagePools),
    /// Decided (or no pipeline can run): the learners take turns.
    InTurn,
}

impl PipelinePlan {
    /// The plan for `learners`: [`PipelinePlan::InTurn`] unless [`pipeline_cores`] allows a
    /// pipeline and, for `auto`, no step profile is being taken.
    pub(crate) fn new(learners: usize, mode: PipelineMode, dropout: f64) -> Self {
        // A step profile (`--profile`) times each learner's phases, which a pipeline would run
        // side by side: `auto` takes turns then, an explicit `on` still pipelines.
        let mode = match mode {
            PipelineMode::Auto if mole_info::profile::enabled() => PipelineMode::Off,
            other => other,
        };
        match pipeline_cores(learners, mode, dropout) {
            Some(cores) => PipelinePlan::Calibrating {
                cores,
                mode,
                seen: 0,
                seconds: 0.0,
                costs: Vec::new(),
            },
            None => PipelinePlan::InTurn,
        }
    }

    /// The next run of batches out of `remaining` in the current epoch (`epoch_start`: none of
    /// it has run yet): whether they go through the pipeline, and how many.
    fn next_chunk(&mut self, remaining: usize, epoch_start: bool) -> anyhow::Result<(bool, usize)> {
        let ready = match self {
            PipelinePlan::Calibrating { seen, .. } => {
                *seen >= CALIBRATION_BATCHES && (epoch_start || remaining >= TRIAL_BATCHES)
            }
            _ => false,
        };
        if ready
            && let PipelinePlan::Calibrating {
                cores,
                mode,
                seen,
                seconds,
                costs,
            } = std::mem::replace(self, PipelinePlan::InTurn)
        {
            let pools = StagePools::balanced(&costs, cores)?;
            *self = match mode {
                PipelineMode::Auto => PipelinePlan::Trial {
                    pools,
                    in_turn: seconds / (seen - 1) as f64,
                    batches: 0,
                    seconds: 0.0,
                },
                PipelineMode::On | PipelineMode::Off => PipelinePlan::Pipelined(pools),
            };
        }
        Ok(match self {
            PipelinePlan::Calibrating { seen: 0, .. } => (false, 1),
            PipelinePlan::Calibrating { seen, .. } if *seen < CALIBRATION_BATCHES => {
                (false, (CALIBRATION_BATCHES - *seen).min(remaining))
            }
            PipelinePlan::Calibrating { .. } | PipelinePlan::InTurn => (false, remaining),
            PipelinePlan::Trial { .. } | PipelinePlan::Pipelined(_) => (true, remaining),
        })
    }

    /// Runs an epoch's `items` (batches, graph steps) in the runs the plan asks for: `run`
    /// trains the learners on each run, through the pipeline's stages when it is given them,
    /// else in turn, and returns the learners' step times on its last item when they took
    /// turns; the plan records each run's time.
    pub(crate) fn run_epoch<T>(
        &mut self,
        mut items: Vec<T>,
        mut run: impl FnMut(Option<&StagePools>, Vec<T>) -> anyhow::Result<Option<Vec<f64>>>,
    ) -> anyhow::Result<()> {
        let mut epoch_start = true;
        while !items.is_empty() {
            let (pipelined, count) = self.next_chunk(items.len(), epoch_start)?;
            epoch_start = false;
            let chunk: Vec<T> = items.drain(..count).collect();
            let start = Instant::now();
            let pools = if pipelined { self.pools() } else { None };
            let costs = run(pools, chunk)?;
            self.record(count, start.elapsed().as_secs_f64(), costs);
        }
        Ok(())
    }

    /// The stages, while the pipeline runs or is on trial.
    fn pools(&self) -> Option<&StagePools> {
        match self {
            PipelinePlan::Trial { pools, .. } | PipelinePlan::Pipelined(pools) => Some(pools),
            PipelinePlan::Calibrating { .. } | PipelinePlan::InTurn => None,
        }
    }

    /// Learners per stage once the pipeline is kept.
    pub(crate) fn stages(&self) -> Option<Vec<usize>> {
        match self {
            PipelinePlan::Pipelined(pools) => Some(pools.groups().to_vec()),
            _ => None,
        }
    }

    /// Records a chunk [`PipelinePlan::next_chunk`] asked for: `batches` in `seconds`, with the
    /// learners' step times on its last batch when they took turns.
    fn record(&mut self, batches: usize, seconds: f64, step_costs: Option<Vec<f64>>) {
        match self {
            PipelinePlan::Calibrating {
                seen,
                seconds: timed,
                costs,
                ..
            } => {
                if *seen > 0 {
                    *timed += seconds;
                }
                *seen += batches;
                if let Some(c) = step_costs {
                    *costs = c;
                }
            }
            PipelinePlan::Trial {
                in_turn,
                batches: n,
                seconds: s,
                ..
            } => {
                *n += batches;
                *s += seconds;
                if *n >= TRIAL_BATCHES {
                    let faster = *s / (*n as f64) < *in_turn;
                    let old = std::mem::replace(self, PipelinePlan::InTurn);
                    if let (true, PipelinePlan::Trial { pools, .. }) = (faster, old) {
                        *self = PipelinePlan::Pipelined(pools);
                    }
                }
            }
            PipelinePlan::Pipelined(_) | PipelinePlan::InTurn => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CALIBRATION_BATCHES, PipelinePlan};
    use crate::config::PipelineMode;

    /// Runs `plan` over epochs of `per_epoch` batches for `epochs`, each batch taking `in_turn`
    /// seconds in turn and `piped` through the pipeline; the chunks it asked for.
    fn drive(
        plan: &mut PipelinePlan,
        per_epoch: usize,
        epochs: usize,
        in_turn: f64,
        piped: f64,
    ) -> Vec<(bool, usize)> {
        let mut chunks = Vec::new();
        for _ in 0..epochs {
            let (mut rest, mut start) = (per_epoch, true);
            while rest > 0 {
                let (pipelined, n) = plan.next_chunk(rest, start).unwrap();
                start = false;
                let per = if pipelined { piped } else { in_turn };
                let costs = (!pipelined).then(|| vec![3.0, 1.0, 0.5]);
                plan.record(n, per * n as f64, costs);
                chunks.push((pipelined, n));
                rest -= n;
            }
        }
        chunks
    }

    fn on_two_threads<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(f)
    }

    #[test]
    fn auto_times_the_turns_tries_the_pipeline_and_keeps_the_faster() {
        on_two_threads(|| {
            // A long epoch: warm-up, four timed batches, the rest of the epoch on trial.
            let mut plan = PipelinePlan::new(3, PipelineMode::Auto, 0.0);
            let chunks = drive(&mut plan, 100, 2, 2.0, 1.5);
            assert_eq!(
                chunks,
                vec![
                    (false, 1),
                    (false, CALIBRATION_BATCHES - 1),
                    (true, 95),
                    (true, 100)
                ]
            );
            // Stages drawn from the step times: module 1 | module 2 + head.
            assert_eq!(plan.stages(), Some(vec![1, 2]));
            // A slower pipeline is dropped after its trial.
            let mut plan = PipelinePlan::new(3, PipelineMode::Auto, 0.0);
            let chunks = drive(&mut plan, 100, 2, 2.0, 2.5);
            assert_eq!(chunks[3], (false, 100));
            assert_eq!(plan.stages(), None);
            // Short epochs: the calibration finishes its epoch in turn; the trial takes whole
            // epochs until it has seen eight batches.
            let mut plan = PipelinePlan::new(3, PipelineMode::Auto, 0.0);
            let chunks = drive(&mut plan, 3, 6, 2.0, 1.0);
            let piped: Vec<bool> = chunks.iter().map(|c| c.0).collect();
            assert_eq!(piped, [false, false, false, false, true, true, true, true]);
            assert_eq!(
                chunks
                    .iter()
                    .filter(|c| c.0)
                    .map(|c| c.1)
                    .take(3)
                    .sum::<usize>(),
                9
            );
            assert_eq!(plan.stages(), Some(vec![1, 2]));
        });
    }

    #[test]
    fn on_skips_the_trial_and_off_or_one_learner_or_dropout_keep_the_turns() {
        on_two_threads(|| {
            let mut plan = PipelinePlan::new(3, PipelineMode::On, 0.0);
            let chunks = drive(&mut plan, 100, 1, 1.0, 9.0);
            assert_eq!(chunks, vec![(false, 1), (false, 4), (true, 95)]);
            assert_eq!(plan.stages(), Some(vec![1, 2]));
            for mut plan in [
                PipelinePlan::new(3, PipelineMode::Off, 0.0),
                PipelinePlan::new(1, PipelineMode::On, 0.0),
                PipelinePlan::new(3, PipelineMode::On, 0.1),
            ] {
                assert_eq!(drive(&mut plan, 50, 2, 1.0, 0.1), vec![(false, 50); 2]);
                assert_eq!(plan.stages(), None);
            }
        });
        // One thread: no pipeline.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| {
            let mut plan = PipelinePlan::new(3, PipelineMode::On, 0.0);
            assert_eq!(drive(&mut plan, 20, 1, 1.0, 0.1), vec![(false, 20)]);
        });
    }
}

//! What the `async` schedule measured: per worker, the batches it trained on, reuse and drops,
//! the exactly-once check under `block`, and the staleness of its inputs. Written to
//! `async.json` in the run directory.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Counters of one worker.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkerStats {
    /// `module 1`, …, `head`.
    pub name: String,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Distinct batches trained on (first uses), over all epochs.
    pub batches_used: u64,
    /// Steps on a batch already trained on (replay).
    pub reused: u64,
    /// Batches that left the data feeder but never reached this worker's training (replay
    /// drops anywhere upstream, or the end of an epoch), over all epochs.
    pub missing: u64,
    /// First uses of a batch id already used in the same epoch (must be 0).
    pub duplicates: u64,
    /// Batches dropped by this worker's input buffer before it used them.
    pub dropped_by_buffer: u64,
    /// Mean over steps of (upstream worker's steps when this worker trained on a batch) −
    /// (upstream worker's steps when it computed the batch): how many updates old the weights
    /// that produced the input were. 0 for module 1, whose input is the data.
    pub mean_staleness: f64,
    /// Largest staleness seen.
    pub max_staleness: u64,
    #[serde(skip)]
    pub(crate) staleness_sum: u64,
    #[serde(skip)]
    pub(crate) epoch_ids: HashSet<u32>,
}

impl WorkerStats {
    /// Records one step on batch `batch_id` with input staleness `lag`; `first_use` is false
    /// for a replayed batch.
    pub(crate) fn record_step(&mut self, batch_id: u32, first_use: bool, lag: u64) {
        self.steps += 1;
        self.staleness_sum += lag;
        self.max_staleness = self.max_staleness.max(lag);
        if first_use {
            self.batches_used += 1;
            if !self.epoch_ids.insert(batch_id) {
                self.duplicates += 1;
            }
        } else {
            self.reused += 1;
        }
    }

    /// Closes an epoch in which the feeder sent `batches` batches.
    pub(crate) fn end_epoch(&mut self, batches: u32) {
        self.missing += u64::from(batches).saturating_sub(self.epoch_ids.len() as u64);
        self.epoch_ids.clear();
    }

    /// Fills the mean once training is over.
    pub(crate) fn finish(&mut self, dropped_by_buffer: u64) {
        self.dropped_by_buffer = dropped_by_buffer;
        self.mean_staleness = if self.steps == 0 {
            0.0
        } else {
            self.staleness_sum as f64 / self.steps as f64
        };
    }
}

/// Contents of `async.json`.
#[derive(Clone, Debug, Serialize)]
pub struct AsyncReport {
    /// `local` (threads) — the transport the batches crossed.
    pub transport: &'static str,
    /// `block` or `replay`.
    pub buffer: String,
    /// Batches per buffer.
    pub buffer_size: usize,
    /// Times a batch may be trained on (replay).
    pub max_reuse: usize,
    /// Intra-op threads each worker ran with, lowest first, the head last.
    pub threads_per_worker: Vec<usize>,
    /// Batches the data feeder sent per epoch.
    pub batches_per_epoch: u32,
    /// Epochs completed.
    pub epochs: usize,
    /// Mean of the workers' mean staleness, modules 2.. and the head.
    pub mean_staleness: f64,
    /// Per worker, lowest first, the head last.
    pub workers: Vec<WorkerStats>,
    /// `--distributed mpi`: where the time of every rank went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpi: Option<MpiReport>,
}

/// Time and traffic of an MPI run, per rank.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MpiReport {
    /// Ranks of the job (rank 0 feeds the data and evaluates).
    pub ranks: usize,
    /// Rank 0 first.
    pub per_rank: Vec<RankTimes>,
    /// Σ (send + receive seconds) / Σ wall seconds over the worker ranks: the share of their
    /// time spent in the transport (waiting for a neighbour included).
    pub transport_share: f64,
    /// Σ serialisation seconds / Σ wall seconds over the worker ranks (encode and decode only).
    pub serialize_share: f64,
}

/// One rank's time in the transport.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RankTimes {
    /// MPI rank.
    pub rank: usize,
    /// Workers it ran (`data feeder` on rank 0).
    pub workers: Vec<String>,
    /// Seconds from its first to its last message.
    pub wall_seconds: f64,
    /// Seconds inside sends of the activation stream.
    pub send_seconds: f64,
    /// Seconds inside receives of the activation stream (waiting included).
    pub recv_seconds: f64,
    /// Seconds encoding and decoding messages.
    pub serialize_seconds: f64,
    /// Bytes sent downstream.
    pub bytes_sent: u64,
    /// Bytes received from upstream.
    pub bytes_received: u64,
}

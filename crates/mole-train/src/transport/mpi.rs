//! Links between async workers on different MPI ranks (cargo feature `mpi`).
//!
//! Messages are [`super::wire`] bytes sent with blocking point-to-point calls on the world
//! communicator, tag [`TAG_STREAM`] for the activation stream. A blocking send waits for its
//! receiver once MPI's small eager buffer is full, so an MPI link has `block` semantics:
//! nothing is dropped and every batch is used exactly once. The time spent in `send` and
//! `recv` (waiting included) and the bytes moved are counted per link ([`LinkClock`]).

use super::wire::{decode, encode};
use super::{Inbox, LinkStats, Message, Outbox, TransportError};
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Destination, Source};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Tag of the activation stream between neighbouring ranks.
pub const TAG_STREAM: i32 = 11;
/// Tag of worker-rank reports to rank 0 (snapshots, failures, final weights and counters).
pub const TAG_REPORT: i32 = 12;
/// Tag of rank 0's run description to the worker ranks.
pub const TAG_SETUP: i32 = 13;

/// Time and bytes of one side of a link.
#[derive(Default, Debug)]
pub struct LinkClock {
    /// Nanoseconds inside send/recv calls (waiting for the peer included).
    pub nanos: AtomicU64,
    /// Bytes moved.
    pub bytes: AtomicU64,
    /// Nanoseconds encoding or decoding messages.
    pub serialize_nanos: AtomicU64,
}

impl LinkClock {
    fn add(&self, start: Instant, bytes: usize) {
        self.nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn add_serialize(&self, start: Instant) {
        self.serialize_nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Seconds inside send/recv calls.
    pub fn seconds(&self) -> f64 {
        self.nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// Seconds encoding or decoding.
    pub fn serialize_seconds(&self) -> f64 {
        self.serialize_nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// Bytes moved.
    pub fn byte_count(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Sends the stream to rank `dest`.
pub struct MpiOutbox {
    /// Receiving rank.
    pub dest: i32,
    /// Where the time goes.
    pub clock: Arc<LinkClock>,
}

impl Outbox for MpiOutbox {
    fn send(&mut self, msg: Message) -> Result<(), TransportError> {
        let encoding = Instant::now();
        let bytes = encode(&msg);
        self.clock.add_serialize(encoding);
        let start = Instant::now();
        SimpleCommunicator::world()
            .process_at_rank(self.dest)
            .send_with_tag(&bytes[..], TAG_STREAM);
        self.clock.add(start, bytes.len());
        Ok(())
    }
}

/// Receives the stream from rank `src`.
pub struct MpiInbox {
    /// Sending rank.
    pub src: i32,
    /// Where the time goes.
    pub clock: Arc<LinkClock>,
    /// The newest sender version seen (the sender's step count when it computed the batch):
    /// staleness across ranks is measured against it, a lower bound of the true lag.
    pub upstream_version: Arc<AtomicU64>,
}

impl Inbox for MpiInbox {
    fn recv(&mut self) -> Result<Message, TransportError> {
        let start = Instant::now();
        let (bytes, _) = SimpleCommunicator::world()
            .process_at_rank(self.src)
            .receive_vec_with_tag::<u8>(TAG_STREAM);
        self.clock.add(start, bytes.len());
        let decoding = Instant::now();
        let msg = decode(&bytes).map_err(TransportError::Corrupt)?;
        self.clock.add_serialize(decoding);
        if let Message::Batch(b) = &msg {
            self.upstream_version.fetch_max(b.version, Ordering::SeqCst);
        }
        Ok(msg)
    }

    fn stats(&self) -> LinkStats {
        LinkStats::default()
    }
}

//! How activation batches travel from one worker of the `async` schedule to the next.
//!
//! A [`Message`] is plain data (shapes, `f32` buffers, labels, counters) so that the same message
//! can cross an in-process channel ([`local`]) or a process boundary. The schedule only sees the
//! [`Outbox`] / [`Inbox`] traits.

pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod wire;

/// A batch of activations of one module, as it travels to the next.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationBatch {
    /// 1-based epoch of the data feeder that produced the batch.
    pub epoch: u32,
    /// Index of the batch within its epoch (0-based).
    pub batch_id: u32,
    /// Shape of `values`: `[n, d]` or `[n, c, h, w]`.
    pub shape: Vec<usize>,
    /// Row-major activations (for the first module: the network inputs).
    pub values: Vec<f32>,
    /// Class of every row.
    pub labels: Vec<u32>,
    /// The network inputs of the rows, flattened to `[n, input_width]`, when an objective scores
    /// against X (HSIC; MOLE with `lambda_x ≠ 0`).
    pub inputs: Option<Vec<f32>>,
    /// The sender's step count right after the step whose forward computed `values` (the
    /// version of its weights; staleness is how far the sender has moved on since).
    pub version: u64,
    /// Times the receiver has already trained on this batch (set by the transport; 0 = first use).
    pub reuse: u32,
}

impl ActivationBatch {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }
}

/// What a worker receives or sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A batch to train on.
    Batch(ActivationBatch),
    /// The sender has sent every batch of `epoch`; `batches` of them left the data feeder.
    EndEpoch {
        /// 1-based epoch.
        epoch: u32,
        /// Batches the feeder sent in that epoch.
        batches: u32,
    },
    /// No more messages: training is over (or was stopped).
    End,
}

/// Why a message could not be passed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The other side went away before the end of the stream (it failed or was stopped).
    #[error("the {0} worker is gone (it failed or was stopped)")]
    Disconnected(&'static str),
    /// Bytes from another process that are not a message.
    #[error("a corrupt message: {0}")]
    Corrupt(String),
}

/// The sending end of a link between two workers.
pub trait Outbox: Send {
    /// Sends a message; may block under back-pressure, never under `replay`.
    fn send(&mut self, msg: Message) -> Result<(), TransportError>;
}

/// The receiving end of a link between two workers.
pub trait Inbox: Send {
    /// The next message to act on; blocks until there is one.
    fn recv(&mut self) -> Result<Message, TransportError>;
    /// Counters of this link so far.
    fn stats(&self) -> LinkStats;
}

/// What happened on one link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStats {
    /// Batches handed to the receiver again (replay).
    pub reused: u64,
    /// Batches dropped before the receiver ever used them (replay, full buffer or end of epoch).
    pub dropped: u64,
}

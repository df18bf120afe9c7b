//! In-process links between worker threads: a bounded channel (`block`) or a replay ring
//! (`replay`).

use super::{ActivationBatch, Inbox, LinkStats, Message, Outbox, TransportError};
use crate::config::BufferPolicy;
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// A link of the given policy holding `capacity` batches; `max_reuse` applies to `replay`.
pub fn link(
    policy: BufferPolicy,
    capacity: usize,
    max_reuse: usize,
) -> (Box<dyn Outbox>, Box<dyn Inbox>) {
    match policy {
        BufferPolicy::Block => {
            let (tx, rx) = block_link(capacity);
            (Box::new(tx), Box::new(rx))
        }
        BufferPolicy::Replay => {
            let (tx, rx) = replay_link(capacity, max_reuse);
            (Box::new(tx), Box::new(rx))
        }
    }
}

/// Sending end of a `block` link.
pub struct BlockSender(SyncSender<Message>);
/// Receiving end of a `block` link.
pub struct BlockReceiver(Receiver<Message>);

/// A lossless bounded channel: `send` blocks while `capacity` messages wait.
pub fn block_link(capacity: usize) -> (BlockSender, BlockReceiver) {
    let (tx, rx) = sync_channel(capacity.max(1));
    (BlockSender(tx), BlockReceiver(rx))
}

impl Outbox for BlockSender {
    fn send(&mut self, msg: Message) -> Result<(), TransportError> {
        self.0
            .send(msg)
            .map_err(|_| TransportError::Disconnected("downstream"))
    }
}

impl Inbox for BlockReceiver {
    fn recv(&mut self) -> Result<Message, TransportError> {
        self.0
            .recv()
            .map_err(|_| TransportError::Disconnected("upstream"))
    }

    fn stats(&self) -> LinkStats {
        LinkStats::default()
    }
}

struct Ring {
    capacity: usize,
    max_reuse: u32,
    /// Batches with the number of times each was handed out, oldest first.
    entries: VecDeque<(ActivationBatch, u32)>,
    /// Epoch ends not yet delivered, in order.
    marks: VecDeque<(u32, u32)>,
    /// The last epoch whose end was delivered: its batches are no longer handed out.
    closed_epoch: u32,
    end: bool,
    sender_gone: bool,
    receiver_gone: bool,
    stats: LinkStats,
}

type Shared = Arc<(Mutex<Ring>, Condvar)>;

fn lock(shared: &Shared) -> MutexGuard<'_, Ring> {
    // A poisoned lock means a peer panicked while holding it; the ring itself is still
    // consistent (every mutation is a single push/pop), so carry on and let the peer's own
    // failure be reported.
    shared.0.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sending end of a `replay` link.
pub struct ReplaySender(Shared);
/// Receiving end of a `replay` link.
pub struct ReplayReceiver(Shared);

/// A ring of `capacity` batches: `send` never blocks (the oldest batch is dropped when full);
/// `recv` returns the freshest unused batch of the current epoch, else the epoch's end when one
/// was sent, else reuses the freshest batch (each at most `max_reuse` times in all), else waits.
pub fn replay_link(capacity: usize, max_reuse: usize) -> (ReplaySender, ReplayReceiver) {
    let ring = Ring {
        capacity: capacity.max(1),
        max_reuse: max_reuse.max(1) as u32,
        entries: VecDeque::new(),
        marks: VecDeque::new(),
        closed_epoch: 0,
        end: false,
        sender_gone: false,
        receiver_gone: false,
        stats: LinkStats::default(),
    };
    let shared: Shared = Arc::new((Mutex::new(ring), Condvar::new()));
    (ReplaySender(shared.clone()), ReplayReceiver(shared))
}

impl Outbox for ReplaySender {
    fn send(&mut self, msg: Message) -> Result<(), TransportError> {
        let mut r = lock(&self.0);
        if r.receiver_gone {
            return Err(TransportError::Disconnected("downstream"));
        }
        match msg {
            Message::Batch(b) => {
                if r.entries.len() >= r.capacity
                    && let Some((_, uses)) = r.entries.pop_front()
                    && uses == 0
                {
                    r.stats.dropped += 1;
                }
                r.entries.push_back((b, 0));
            }
            Message::EndEpoch { epoch, batches } => r.marks.push_back((epoch, batches)),
            Message::End => r.end = true,
        }
        drop(r);
        self.0.1.notify_all();
        Ok(())
    }
}

impl Drop for ReplaySender {
    fn drop(&mut self) {
        lock(&self.0).sender_gone = true;
        self.0.1.notify_all();
    }
}

impl Ring {
    /// Index of the freshest batch that may be handed out now, preferring unused ones.
    fn pick(&self, unused_only: bool) -> Option<usize> {
        let limit = self.marks.front().map(|m| m.0);
        (0..self.entries.len()).rev().find(|&i| {
            let (b, uses) = &self.entries[i];
            b.epoch > self.closed_epoch
                && limit.is_none_or(|m| b.epoch <= m)
                && (!unused_only || *uses == 0)
        })
    }

    fn take(&mut self, i: usize) -> ActivationBatch {
        let uses = self.entries[i].1;
        if uses > 0 {
            self.stats.reused += 1;
        }
        if uses + 1 >= self.max_reuse {
            let (mut b, _) = self.entries.remove(i).expect("index in range");
            b.reuse = uses;
            b
        } else {
            self.entries[i].1 += 1;
            let mut b = self.entries[i].0.clone();
            b.reuse = uses;
            b
        }
    }
}

impl Inbox for ReplayReceiver {
    fn recv(&mut self) -> Result<Message, TransportError> {
        let mut r = lock(&self.0);
        loop {
            if let Some(i) = r.pick(true) {
                return Ok(Message::Batch(r.take(i)));
            }
            if let Some((epoch, batches)) = r.marks.pop_front() {
                r.closed_epoch = epoch;
                let before = r.entries.len();
                let mut unused = 0;
                r.entries.retain(|(b, uses)| {
                    let stale = b.epoch <= epoch;
                    unused += u64::from(stale && *uses == 0);
                    !stale
                });
                debug_assert!(r.entries.len() <= before);
                r.stats.dropped += unused;
                return Ok(Message::EndEpoch { epoch, batches });
            }
            if let Some(i) = r.pick(false) {
                return Ok(Message::Batch(r.take(i)));
            }
            if r.end {
                return Ok(Message::End);
            }
            if r.sender_gone {
                return Err(TransportError::Disconnected("upstream"));
            }
            r = self.0.1.wait(r).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn stats(&self) -> LinkStats {
        lock(&self.0).stats
    }
}

impl Drop for ReplayReceiver {
    fn drop(&mut self) {
        lock(&self.0).receiver_gone = true;
        self.0.1.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(epoch: u32, id: u32) -> Message {
        Message::Batch(ActivationBatch {
            epoch,
            batch_id: id,
            shape: vec![1, 1],
            values: vec![id as f32],
            labels: vec![0],
            inputs: None,
            version: 0,
            reuse: 0,
        })
    }

    fn id(m: Message) -> (u32, u32) {
        match m {
            Message::Batch(b) => (b.batch_id, b.reuse),
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    #[test]
    fn block_link_is_lossless_and_in_order_and_reports_a_gone_peer() {
        let (mut tx, mut rx) = block_link(2);
        let t = std::thread::spawn(move || {
            for i in 0..50 {
                tx.send(batch(1, i)).unwrap();
            }
            tx.send(Message::End).unwrap();
        });
        let got: Vec<u32> = (0..50).map(|_| id(rx.recv().unwrap()).0).collect();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        assert_eq!(rx.recv().unwrap(), Message::End);
        t.join().unwrap();
        assert_eq!(
            rx.recv(),
            Err(TransportError::Disconnected("upstream")),
            "a vanished sender is an error, not an end"
        );
        let (mut tx, rx) = block_link(1);
        drop(rx);
        assert_eq!(
            tx.send(batch(1, 0)),
            Err(TransportError::Disconnected("downstream"))
        );
    }

    #[test]
    fn replay_link_never_blocks_prefers_fresh_batches_and_bounds_reuse() {
        let (mut tx, mut rx) = replay_link(3, 2);
        for i in 0..5 {
            tx.send(batch(1, i)).unwrap(); // never blocks: 0 and 1 are dropped
        }
        assert_eq!(rx.stats().dropped, 2);
        assert_eq!(id(rx.recv().unwrap()), (4, 0), "freshest first");
        assert_eq!(id(rx.recv().unwrap()), (3, 0));
        assert_eq!(id(rx.recv().unwrap()), (2, 0));
        // Nothing unused: reuse instead of waiting, each batch at most twice in all.
        let again: Vec<(u32, u32)> = (0..3).map(|_| id(rx.recv().unwrap())).collect();
        assert_eq!(again, vec![(4, 1), (3, 1), (2, 1)]);
        assert_eq!(rx.stats().reused, 3);
        tx.send(Message::EndEpoch {
            epoch: 1,
            batches: 5,
        })
        .unwrap();
        tx.send(batch(2, 0)).unwrap();
        // Epoch 2's batch waits until epoch 1's end is delivered.
        assert_eq!(
            rx.recv().unwrap(),
            Message::EndEpoch {
                epoch: 1,
                batches: 5
            }
        );
        assert_eq!(id(rx.recv().unwrap()), (0, 0));
        assert_eq!(id(rx.recv().unwrap()), (0, 1));
        tx.send(Message::End).unwrap();
        assert_eq!(rx.recv().unwrap(), Message::End);
        drop(tx);
        let (_, mut rx2) = replay_link(1, 1);
        assert_eq!(rx2.recv(), Err(TransportError::Disconnected("upstream")));
    }
}

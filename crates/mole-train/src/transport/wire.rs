//! Messages as bytes, for transports that cross a process boundary (MPI).
//!
//! Little-endian, length-prefixed: a kind byte, then the fields in declaration order. A batch
//! carries its shape, values, labels and (optionally) the network inputs, so a receiver needs
//! nothing else to train on it.

use super::{ActivationBatch, Message};

/// Appends little-endian fields to a byte buffer.
#[derive(Default)]
pub struct Writer {
    /// The bytes so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes.push(v);
        self
    }
    /// A `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend(v.to_le_bytes());
        self
    }
    /// A `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend(v.to_le_bytes());
        self
    }
    /// An `f64`.
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.bytes.extend(v.to_le_bytes());
        self
    }
    /// A length-prefixed `f32` slice.
    pub fn f32s(&mut self, v: &[f32]) -> &mut Self {
        self.u64(v.len() as u64);
        self.bytes.reserve(v.len() * 4);
        for x in v {
            self.bytes.extend(x.to_le_bytes());
        }
        self
    }
    /// A length-prefixed `u32` slice.
    pub fn u32s(&mut self, v: &[u32]) -> &mut Self {
        self.u64(v.len() as u64);
        for x in v {
            self.bytes.extend(x.to_le_bytes());
        }
        self
    }
    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.bytes.extend(s.as_bytes());
        self
    }
}

/// Reads what a [`Writer`] wrote; every read checks the length.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads from the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| {
            format!(
                "a truncated message ({} bytes, needed {} more at offset {})",
                self.bytes.len(),
                n,
                self.at
            )
        })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    /// An `f64`.
    pub fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn len(&mut self, width: usize) -> Result<usize, String> {
        let n = self.u64()? as usize;
        if n.saturating_mul(width) > self.bytes.len() - self.at {
            return Err(format!("a length of {n} past the end of the message"));
        }
        Ok(n)
    }
    /// A length-prefixed `f32` slice.
    pub fn f32s(&mut self) -> Result<Vec<f32>, String> {
        let n = self.len(4)?;
        Ok(self
            .take(n * 4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
    /// A length-prefixed `u32` slice.
    pub fn u32s(&mut self) -> Result<Vec<u32>, String> {
        let n = self.len(4)?;
        Ok(self
            .take(n * 4)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<String, String> {
        let n = self.len(1)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), String> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(format!(
                "{} unread bytes at the end of a message",
                self.bytes.len() - self.at
            ))
        }
    }
}

const BATCH: u8 = 0;
const END_EPOCH: u8 = 1;
const END: u8 = 2;

/// `msg` as bytes.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut w = Writer::default();
    match msg {
        Message::Batch(b) => {
            w.u8(BATCH)
                .u32(b.epoch)
                .u32(b.batch_id)
                .u64(b.version)
                .u32(b.reuse);
            w.u64(b.shape.len() as u64);
            for &d in &b.shape {
                w.u64(d as u64);
            }
            w.f32s(&b.values).u32s(&b.labels);
            match &b.inputs {
                Some(x) => w.u8(1).f32s(x),
                None => w.u8(0),
            };
        }
        Message::EndEpoch { epoch, batches } => {
            w.u8(END_EPOCH).u32(*epoch).u32(*batches);
        }
        Message::End => {
            w.u8(END);
        }
    }
    w.bytes
}

/// The message [`encode`] wrote, or why `bytes` is not one.
pub fn decode(bytes: &[u8]) -> Result<Message, String> {
    let mut r = Reader::new(bytes);
    let msg = match r.u8()? {
        BATCH => {
            let (epoch, batch_id, version, reuse) = (r.u32()?, r.u32()?, r.u64()?, r.u32()?);
            let dims = r.len(8)?;
            let shape = (0..dims)
                .map(|_| r.u64().map(|d| d as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let values = r.f32s()?;
            let size = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            if size != Some(values.len()) {
                return Err(format!(
                    "a batch of shape {shape:?} with {} values",
                    values.len()
                ));
            }
            let labels = r.u32s()?;
            let inputs = match r.u8()? {
                0 => None,
                _ => Some(r.f32s()?),
            };
            Message::Batch(ActivationBatch {
                epoch,
                batch_id,
                shape,
                values,
                labels,
                inputs,
                version,
                reuse,
            })
        }
        END_EPOCH => Message::EndEpoch {
            epoch: r.u32()?,
            batches: r.u32()?,
        },
        END => Message::End,
        k => return Err(format!("unknown message kind {k}")),
    };
    r.finish()?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(inputs: bool) -> Message {
        Message::Batch(ActivationBatch {
            epoch: 3,
            batch_id: 7,
            shape: vec![2, 1, 2, 2],
            values: (0..8).map(|i| i as f32 * 0.5 - 1.0).collect(),
            labels: vec![4, 9],
            inputs: inputs.then(|| vec![1.0, -2.0, 3.5, f32::MIN_POSITIVE]),
            version: u64::MAX - 1,
            reuse: 2,
        })
    }

    #[test]
    fn every_message_round_trips() {
        for m in [
            batch(true),
            batch(false),
            Message::EndEpoch {
                epoch: 2,
                batches: 12,
            },
            Message::End,
        ] {
            assert_eq!(decode(&encode(&m)).unwrap(), m);
        }
    }

    #[test]
    fn truncated_or_padded_bytes_are_errors() {
        let bytes = encode(&batch(true));
        for cut in [0, 1, 10, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(decode(&padded).unwrap_err().contains("unread"));
        assert!(decode(&[9]).unwrap_err().contains("unknown message kind"));
    }
}

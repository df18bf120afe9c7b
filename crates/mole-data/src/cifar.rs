//! The CIFAR-10 binary format: records of 1 label byte followed by 1024 red, 1024 green and
//! 1024 blue bytes (32×32, row-major), 3,073 bytes each.

use crate::error::{DataError, Result};
use crate::{Dataset, SampleShape, Split};
use std::path::{Path, PathBuf};

/// Bytes in one CIFAR-10 record.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// Reads one CIFAR-10 binary batch file into a dataset of 3×32×32 images scaled to [0, 1].
pub fn read_cifar_batch(path: &Path) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_cifar_batch(&bytes, path)
}

/// Parses the bytes of a CIFAR-10 binary batch; `path` is used in error messages.
pub fn parse_cifar_batch(bytes: &[u8], path: &Path) -> Result<Dataset> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::format(
            path,
            None,
            format!(
                "length {} is not a positive multiple of the {RECORD}-byte CIFAR-10 record",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut features = Vec::with_capacity(n * (RECORD - 1));
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(DataError::format(
                path,
                Some(i + 1),
                format!("label {} of record {} is outside 0..9", rec[0], i + 1),
            ));
        }
        labels.push(rec[0] as usize);
        features.extend(rec[1..].iter().map(|&b| b as f32 / 255.0));
    }
    let shape = SampleShape::Image {
        channels: 3,
        height: 32,
        width: 32,
    };
    Ok(Dataset::new(features, labels, shape, 10))
}

fn concat(parts: Vec<Dataset>) -> Dataset {
    let mut it = parts.into_iter();
    let mut first = it.next().expect("at least one batch");
    for d in it {
        first.features.extend(d.features);
        first.labels.extend(d.labels);
    }
    first
}

/// Loads CIFAR-10 from `<dir>/cifar-10-batches-bin/` or `<dir>/cifar10/`: the training batches
/// `data_batch_1.bin` … `data_batch_5.bin` that are present and `test_batch.bin`.
pub fn load_cifar10(dir: &Path) -> Result<Split> {
    let folders: Vec<PathBuf> = vec![dir.join("cifar-10-batches-bin"), dir.join("cifar10")];
    let Some(folder) = folders.iter().find(|f| f.join("test_batch.bin").is_file()) else {
        return Err(DataError::Missing {
            name: "cifar10".into(),
            looked: folders.iter().map(|f| f.join("test_batch.bin")).collect(),
            hint: "Unpack the official 'CIFAR-10 binary version' archive there (cifar-10-batches-bin/), or pass --data-dir.".into(),
        });
    };
    let mut train = Vec::new();
    for i in 1..=5 {
        let p = folder.join(format!("data_batch_{i}.bin"));
        if p.is_file() {
            train.push(read_cifar_batch(&p)?);
        }
    }
    if train.is_empty() {
        return Err(DataError::Missing {
            name: "cifar10".into(),
            looked: vec![folder.join("data_batch_1.bin")],
            hint: "No training batch (data_batch_N.bin) found next to test_batch.bin.".into(),
        });
    }
    Ok(Split {
        train: concat(train),
        test: read_cifar_batch(&folder.join("test_batch.bin"))?,
        val: None,
    })
}

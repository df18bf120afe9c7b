//! The IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed).
//!
//! Header: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions,
//! then one big-endian u32 per dimension; the data follow, row-major.

use crate::error::{DataError, Result};
use std::io::Read;
use std::path::Path;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug)]
pub struct IdxArray {
    /// Size of each dimension.
    pub dims: Vec<usize>,
    /// Row-major values.
    pub data: Vec<u8>,
}

/// Reads a whole file, transparently gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, None, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX file of unsigned bytes.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let bytes = read_maybe_gz(path)?;
    parse_idx(&bytes, path)
}

/// Parses IDX bytes; `path` is only used in error messages.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(DataError::format(
            path,
            None,
            "file too short for an IDX header",
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::format(
            path,
            None,
            format!(
                "bad IDX magic {:02x}{:02x}{:02x}{:02x}: expected 0000 08 0N",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(DataError::format(
            path,
            None,
            format!(
                "IDX element type 0x{:02x} is not supported (only 0x08, unsigned byte)",
                bytes[2]
            ),
        ));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 || ndim > 4 {
        return Err(DataError::format(
            path,
            None,
            format!("IDX header declares {ndim} dimensions"),
        ));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(DataError::format(
            path,
            None,
            "file too short for its IDX header",
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let actual = bytes.len() - header;
    let expected = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let Some(_) = expected.filter(|&n| n == actual) else {
        let expected = expected.map_or("more than 2^64".to_string(), |n| n.to_string());
        return Err(DataError::format(
            path,
            None,
            format!(
                "IDX header declares dimensions {:?} = {expected} values but the file holds {actual}{}",
                dims,
                if actual < dims.iter().map(|&d| d as f64).product::<f64>() as usize {
                    " (truncated file)"
                } else {
                    " (trailing data)"
                }
            ),
        ));
    };
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads an IDX image file and its label file into a dataset of images scaled to [0, 1].
pub fn read_idx_images(images: &Path, labels: &Path, num_classes: usize) -> Result<crate::Dataset> {
    let img = read_idx(images)?;
    let lab = read_idx(labels)?;
    if img.dims.len() != 3 {
        return Err(DataError::format(
            images,
            None,
            format!(
                "expected a 3-dimensional IDX image array [n, rows, cols], found {:?}",
                img.dims
            ),
        ));
    }
    if lab.dims.len() != 1 {
        return Err(DataError::format(
            labels,
            None,
            format!(
                "expected a 1-dimensional IDX label array, found {:?}",
                lab.dims
            ),
        ));
    }
    if img.dims[0] != lab.dims[0] {
        return Err(DataError::format(
            labels,
            None,
            format!(
                "{} labels for {} images in {}",
                lab.dims[0],
                img.dims[0],
                images.display()
            ),
        ));
    }
    let mut y = Vec::with_capacity(lab.data.len());
    for (i, &l) in lab.data.iter().enumerate() {
        if l as usize >= num_classes {
            return Err(DataError::format(
                labels,
                Some(i + 1),
                format!(
                    "label {l} of record {} is outside 0..{}",
                    i + 1,
                    num_classes - 1
                ),
            ));
        }
        y.push(l as usize);
    }
    let x = img.data.iter().map(|&b| b as f32 / 255.0).collect();
    let shape = crate::SampleShape::Image {
        channels: 1,
        height: img.dims[1],
        width: img.dims[2],
    };
    Ok(crate::Dataset::new(x, y, shape, num_classes))
}

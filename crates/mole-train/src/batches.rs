//! Turning dataset rows into tensors, and the order batches come in.

use burn::tensor::{Device, Tensor, TensorData};
use mole_data::{Dataset, SampleShape};
use mole_nn::Features;

/// The rows `indices` of `data` as a tensor batch: `Flat [n, d]` for vectors, `Grid [n, c, h, w]`
/// for images.
pub fn features(data: &Dataset, indices: &[usize], device: &Device) -> Features {
    let d = data.shape.len();
    let mut v = Vec::with_capacity(indices.len() * d);
    for &i in indices {
        v.extend_from_slice(data.sample(i));
    }
    rows_to_features(v, indices.len(), &data.shape, device)
}

/// `n` rows of shape `shape`, row-major in `values`, as a tensor batch: `Flat [n, d]` for
/// vectors, `Grid [n, c, h, w]` for images.
pub fn rows_to_features(
    values: Vec<f32>,
    n: usize,
    shape: &SampleShape,
    device: &Device,
) -> Features {
    match *shape {
        SampleShape::Vector(d) => {
            Features::Flat(Tensor::from_data(TensorData::new(values, [n, d]), device))
        }
        SampleShape::Image {
            channels,
            height,
            width,
        } => Features::Grid(Tensor::from_data(
            TensorData::new(values, [n, channels, height, width]),
            device,
        )),
    }
}

/// Like [`features`], with the seeded crop/flip/cutout augmentation of round `round` applied to
/// every image row (vector rows are returned unchanged).
pub fn augmented_features(
    data: &Dataset,
    indices: &[usize],
    device: &Device,
    augment: &crate::config::AugmentSettings,
    seed: u64,
    round: u64,
) -> Features {
    let SampleShape::Image {
        channels,
        height,
        width,
    } = data.shape
    else {
        return features(data, indices, device);
    };
    if !augment.enabled() {
        return features(data, indices, device);
    }
    let mut v = Vec::with_capacity(indices.len() * data.shape.len());
    let plan = mole_data::augment::AugmentPlan {
        pad: augment.crop,
        flip: augment.flip,
        cutout: augment.cutout,
        size: [height, width],
    };
    let chw = [channels, height, width];
    for &i in indices {
        let d = mole_data::augment::draw(seed, round, i, &plan);
        let start = v.len();
        mole_data::augment::augment_image(data.sample(i), chw, augment.crop, d, &mut v);
        mole_data::augment::apply_cutout(&mut v[start..], chw, augment.cutout, d);
    }
    let n = indices.len();
    Features::Grid(Tensor::from_data(
        TensorData::new(v, [n, channels, height, width]),
        device,
    ))
}

/// Labels of the rows `indices`.
pub fn labels(data: &Dataset, indices: &[usize]) -> Vec<usize> {
    indices.iter().map(|&i| data.labels[i]).collect()
}

/// Minibatches of a seeded permutation of `0..n` for one epoch. The last, smaller batch is
/// dropped when it has fewer than 2 rows (a Gram matrix needs two samples).
pub fn epoch_batches(n: usize, batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let perm =
        mole_data::split::permutation(n, seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64));
    perm.chunks(batch_size)
        .filter(|c| c.len() >= 2)
        .map(<[usize]>::to_vec)
        .collect()
}

/// A class-balanced sample of at most `count` row indices of `data` (round-robin over classes,
/// seeded), used for evaluation batches and embeddings.
pub fn balanced_sample(data: &Dataset, count: usize, seed: u64) -> Vec<usize> {
    let perm = mole_data::split::permutation(data.len(), seed);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.num_classes];
    for i in perm {
        by_class[data.labels[i]].push(i);
    }
    let mut out = Vec::with_capacity(count.min(data.len()));
    let mut round = 0;
    while out.len() < count.min(data.len()) {
        for members in &by_class {
            if let Some(&i) = members.get(round)
                && out.len() < count
            {
                out.push(i);
            }
        }
        round += 1;
    }
    out
}

/// Flattens features to `[n, d]` without autodiff, for kernels on the input.
pub fn flat_input(x: &Features) -> Tensor<2> {
    x.clone().without_autodiff().flat()
}

/// Copies a tensor to the host as (shape, row-major f32 values).
pub fn to_host<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let shape = t.dims().to_vec();
    let values = t
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("tensor data converted to f32");
    (shape, values)
}

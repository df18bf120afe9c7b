//! Evaluation: head accuracy, the class-balanced permutation ("unformatted") accuracy of the
//! HSIC code, and per-layer dependence measures on a fixed batch.

use crate::batches::{features, labels};
use crate::network::Network;
use burn::tensor::{Device, Tensor};
use mole_data::Dataset;
use mole_info::{
    Centering, GaussianKernel, KernelWidth, LabelKernel, MutualInformation, NHSIC_EPSILON,
    NhsicFactor, ShiftedGram, joint_entropy, renyi_entropy,
};
use mole_nn::Features;

/// Rows per inference chunk.
pub const EVAL_CHUNK: usize = 1000;

/// Argmax of every row.
pub fn argmax_rows(t: Tensor<2>) -> Vec<usize> {
    let [n, c] = t.dims();
    let v = crate::batches::to_host(t).1;
    (0..n)
        .map(|i| {
            let row = &v[i * c..(i + 1) * c];
            let mut best = 0;
            for j in 1..c {
                if row[j] > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Runs `f` on the dataset in chunks and concatenates the outputs' rows (host f32, row-major).
pub fn map_dataset(
    data: &Dataset,
    device: &Device,
    mut f: impl FnMut(Features) -> Tensor<2>,
) -> (Vec<f32>, usize) {
    let mut out = Vec::new();
    let mut width = 0;
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(EVAL_CHUNK) {
        let t = f(features(data, chunk, device));
        if out.is_empty() {
            // The whole result at once: no regrowth copies of a training set's outputs.
            width = t.dims()[1];
            out.reserve_exact(data.len() * width);
        }
        out.extend(crate::batches::to_host(t).1);
    }
    (out, width)
}

/// Fraction of `data` the network (modules, then head) classifies correctly.
pub fn accuracy(net: &Network, data: &Dataset, device: &Device) -> f64 {
    accuracy_and_loss(net, data, device).0
}

/// Accuracy and mean cross-entropy (nats) of the network's class scores on `data`:
/// `−(1/n) Σ_i log softmax(z_i)_{y_i}`.
pub fn accuracy_and_loss(net: &Network, data: &Dataset, device: &Device) -> (f64, f64) {
    let (logits, c) = map_dataset(data, device, |x| net.predict(x));
    scores_accuracy_and_loss(&logits, c, &data.labels)
}

/// Accuracy and mean cross-entropy of row-major class scores `logits` (`c` per row).
pub fn scores_accuracy_and_loss(logits: &[f32], c: usize, labels: &[usize]) -> (f64, f64) {
    if c == 0 || labels.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let (mut correct, mut loss) = (0usize, 0f64);
    for (row, &l) in logits.chunks(c).zip(labels) {
        let best = row
            .iter()
            .enumerate()
            .fold(0, |b, (j, v)| if *v > row[b] { j } else { b });
        correct += usize::from(best == l);
        let max = row[best] as f64;
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        loss += max + sum.ln() - row[l] as f64;
    }
    let n = labels.len() as f64;
    (correct as f64 / n, loss / n)
}

/// The HSIC code's unformatted accuracy for outputs with as many units as classes: for each class
/// in index order, the unit with the largest mean activation over that class's samples (among
/// units not yet claimed) is assigned to it; the score is the mean over classes of the fraction
/// of that class's samples whose argmax is the assigned unit (class-balanced).
///
/// `assignment` may be given (derived from training data, to avoid the reference code's leak of
/// deriving it from test data); otherwise it is derived from `outputs` themselves.
pub fn permutation_accuracy(
    outputs: &[f32],
    width: usize,
    labels: &[usize],
    num_classes: usize,
    assignment: Option<&[usize]>,
) -> (f64, Vec<usize>) {
    let assign = match assignment {
        Some(a) => a.to_vec(),
        None => greedy_assignment(outputs, width, labels, num_classes),
    };
    let mut hits = vec![0usize; num_classes];
    let mut counts = vec![0usize; num_classes];
    for (row, &l) in outputs.chunks(width).zip(labels) {
        counts[l] += 1;
        let best = row
            .iter()
            .enumerate()
            .fold(0, |b, (j, v)| if *v > row[b] { j } else { b });
        if best == assign[l] {
            hits[l] += 1;
        }
    }
    let present: Vec<usize> = (0..num_classes).filter(|&c| counts[c] > 0).collect();
    let acc = present
        .iter()
        .map(|&c| hits[c] as f64 / counts[c] as f64)
        .sum::<f64>()
        / present.len().max(1) as f64;
    (acc, assign)
}

/// Greedy class → unit assignment by mean activation (see [`permutation_accuracy`]).
pub fn greedy_assignment(
    outputs: &[f32],
    width: usize,
    labels: &[usize],
    num_classes: usize,
) -> Vec<usize> {
    let mut mean = vec![vec![0f64; width]; num_classes];
    let mut counts = vec![0usize; num_classes];
    for (row, &l) in outputs.chunks(width).zip(labels) {
        counts[l] += 1;
        for (m, &v) in mean[l].iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    let mut taken = vec![false; width];
    let mut assign = vec![0; num_classes];
    for c in 0..num_classes {
        let mut best: Option<usize> = None;
        for j in 0..width {
            if taken[j] {
                continue;
            }
            if best.is_none_or(|b| mean[c][j] > mean[c][b]) {
                best = Some(j);
            }
        }
        let b = best.unwrap_or(0);
        if b < width {
            taken[b] = true;
        }
        assign[c] = b;
        let _ = counts[c];
    }
    assign
}

/// Dependence of one layer's output T on the input X and labels Y.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Dependence {
    /// I_α(T;X) in bits.
    pub i_tx: f64,
    /// I_α(T;Y) in bits.
    pub i_ty: f64,
    /// nHSIC(T,X).
    pub nhsic_tx: f64,
    /// nHSIC(T,Y).
    pub nhsic_ty: f64,
}

/// The fixed batch on which dependence is measured each epoch, with its Gram matrices cached.
pub struct EvalBatch {
    /// Inputs.
    pub x: Features,
    /// Labels.
    pub labels: Vec<usize>,
    kx_renyi: Tensor<2>,
    ky_renyi: Tensor<2>,
    /// `S_α(X)` and `S_α(Y)`: constant over the run, computed once.
    sx_renyi: Tensor<1>,
    sy_renyi: Tensor<1>,
    kx_hsic: Tensor<2>,
    ky_hsic: Tensor<2>,
    /// The constant sides of nHSIC(T,X) and nHSIC(T,Y), factored once.
    fx_hsic: Option<NhsicFactor>,
    fy_hsic: Option<NhsicFactor>,
    alpha: f64,
    width_t: KernelWidth,
    hsic_sigma: f64,
}

impl EvalBatch {
    /// Prepares the batch `indices` of `data`: Gram matrices of X (width rule `width_x`) and of Y
    /// (delta kernel) for I_α, and dimension-scaled Gaussian Grams (σ = `hsic_sigma`) for nHSIC.
    pub fn new(
        data: &Dataset,
        indices: &[usize],
        device: &Device,
        alpha: f64,
        width_x: KernelWidth,
        width_t: KernelWidth,
        hsic_sigma: f64,
    ) -> Self {
        let x = features(data, indices, device);
        let labels = labels(data, indices);
        let xf = x.clone().flat();
        let kx_renyi = GaussianKernel::new(width_x).gram(xf.clone()).matrix;
        let ky_renyi = LabelKernel::Delta.gram(&labels, data.num_classes, device);
        let hk = GaussianKernel::new(KernelWidth::DimensionScaled(hsic_sigma));
        let kx_hsic = hk.gram(xf).matrix;
        let ky_hsic = hk
            .gram(crate::objective::one_hot(&labels, data.num_classes, device))
            .matrix;
        EvalBatch {
            x,
            labels,
            sx_renyi: renyi_entropy(kx_renyi.clone(), alpha),
            sy_renyi: renyi_entropy(ky_renyi.clone(), alpha),
            kx_renyi,
            ky_renyi,
            fx_hsic: NhsicFactor::new(&kx_hsic, NHSIC_EPSILON),
            fy_hsic: NhsicFactor::new(&ky_hsic, NHSIC_EPSILON),
            kx_hsic,
            ky_hsic,
            alpha,
            width_t,
            hsic_sigma,
        }
    }

    /// Measures I_α(T;X), I_α(T;Y), nHSIC(T,X), nHSIC(T,Y) for one layer output on this batch:
    /// `I_α(T;B) = S_α(T) + S_α(B) − S_α(T,B)` with `S_α(T)` computed once and `S_α(X)`,
    /// `S_α(Y)` kept from [`EvalBatch::new`]; nHSIC with X's and Y's factors kept and one
    /// factorisation of T's centred Gram matrix for both (the values of
    /// [`mole_info::mutual_information`] and [`mole_info::nhsic`], digit for digit).
    pub fn dependence(&self, t: Features) -> Dependence {
        let t = t.without_autodiff().flat();
        let kt = GaussianKernel::new(self.width_t.clone())
            .gram(t.clone())
            .matrix;
        let s = |x: Tensor<1>| crate::batches::to_host(x).1[0] as f64;
        let st = renyi_entropy(kt.clone(), self.alpha);
        let mi = |kb: &Tensor<2>, sb: &Tensor<1>| {
            let joint = joint_entropy(&[kt.clone(), kb.clone()], self.alpha);
            s(MutualInformation::from_entropies(st.clone(), sb.clone(), joint).value)
        };
        let i_tx = mi(&self.kx_renyi, &self.sx_renyi);
        let i_ty = mi(&self.ky_renyi, &self.sy_renyi);
        let kth = GaussianKernel::new(KernelWidth::DimensionScaled(self.hsic_sigma))
            .gram(t)
            .matrix;
        let shifted = ShiftedGram::new(&mole_info::to_host(&kth), NHSIC_EPSILON);
        let nhsic = |kb: &Tensor<2>, factor: &Option<NhsicFactor>| match (&shifted, factor) {
            // As `nhsic` returns it: the f64 value in an f32 tensor.
            (Some(t), Some(f)) => t.against_factor(f, false).0 as f32 as f64,
            _ => s(mole_info::nhsic(
                kth.clone(),
                kb.clone(),
                NHSIC_EPSILON,
                Centering::Both,
            )),
        };
        Dependence {
            i_tx,
            i_ty,
            nhsic_tx: nhsic(&self.kx_hsic, &self.fx_hsic),
            nhsic_ty: nhsic(&self.ky_hsic, &self.fy_hsic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dependence measures with their constant parts kept are the estimators' own values,
    /// digit for digit, at α = 1.01 (eigendecompositions) and α = 2.
    #[test]
    fn dependence_equals_the_estimators_on_the_layer_output() {
        let device = Device::flex();
        let (n, d, classes) = (60, 5, 3);
        let values = (0..n * d)
            .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) + (i / d % classes) as f32 * 0.3)
            .collect();
        let labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
        let data = Dataset::new(values, labels, mole_data::SampleShape::Vector(d), classes);
        let idx: Vec<usize> = (0..n).collect();
        let t = Tensor::<2>::random([n, 4], burn::tensor::Distribution::Default, &device);
        for alpha in [1.01, 2.0] {
            let width = KernelWidth::DimensionScaled(1.0);
            let batch = EvalBatch::new(&data, &idx, &device, alpha, width.clone(), width, 5.0);
            let got = batch.dependence(Features::Flat(t.clone()));
            let kt = GaussianKernel::new(batch.width_t.clone())
                .gram(t.clone())
                .matrix;
            let kth = GaussianKernel::new(KernelWidth::DimensionScaled(5.0))
                .gram(t.clone())
                .matrix;
            let s = |x: Tensor<1>| crate::batches::to_host(x).1[0] as f64;
            let mi = |kb: &Tensor<2>| {
                s(mole_info::mutual_information(kt.clone(), kb.clone(), alpha).value)
            };
            let nh = |kb: &Tensor<2>| {
                s(mole_info::nhsic(
                    kth.clone(),
                    kb.clone(),
                    NHSIC_EPSILON,
                    Centering::Both,
                ))
            };
            assert_eq!(got.i_tx, mi(&batch.kx_renyi), "α = {alpha}");
            assert_eq!(got.i_ty, mi(&batch.ky_renyi), "α = {alpha}");
            assert_eq!(got.nhsic_tx, nh(&batch.kx_hsic), "α = {alpha}");
            assert_eq!(got.nhsic_ty, nh(&batch.ky_hsic), "α = {alpha}");
            assert!(got.i_ty > 0.0 && got.nhsic_ty > 0.0);
        }
    }

    #[test]
    fn permutation_accuracy_finds_the_permutation() {
        // Class 0 fires unit 2, class 1 fires unit 0, class 2 fires unit 1.
        let outputs = [0., 0., 1., 1., 0., 0., 0., 1., 0., 0., 0.1, 0.9];
        let labels = [0, 1, 2, 0];
        let (acc, assign) = permutation_accuracy(&outputs, 3, &labels, 3, None);
        assert_eq!(assign, vec![2, 0, 1]);
        // Class 0: 2/2 right, class 1: 1/1, class 2: 1/1.
        assert!((acc - 1.0).abs() < 1e-12);
        // With a wrong fixed assignment accuracy drops.
        let (acc, _) = permutation_accuracy(&outputs, 3, &labels, 3, Some(&[0, 1, 2]));
        assert!(acc < 0.5);
    }
}

//! Similarity matching, the `sim` half of Nøkland & Eidnes' "sim + pred" local loss
//! ("Training neural networks with local error signals", ICML 2019):
//!
//! `L_sim = (1/m²) Σ_ij (R_T − R_Y)_ij²`,
//!
//! with `R_T` the similarity matrix of the module's (projected, pooled) output under the sample
//! kernel (centred cosine by default) and `R_Y` the centred-cosine similarity matrix of the
//! one-hot labels (`1` within a class, `−1/(C−1)` between classes). A kernel-alignment loss,
//! close kin of `nHSIC(T,Y)` and of `I(T;Y)` under a linear kernel. Its gradient with respect
//! to `R_T` is `2 (R_T − R_Y) / m²`, taken back to the output by the kernel's sample gradient.

use super::{Diagnostics, GramPool, ObjectiveError, Target, sample_kernel};
use crate::config::LocalSettings;
use burn::tensor::Tensor;
use faer::Mat;
use mole_info::profile::{self, Phase};
use mole_info::{KernelWidth, SampleKernel};

/// The similarity-matching objective.
#[derive(Clone, Debug)]
pub struct SimObjective {
    /// Kernel on the module output (`local.kernel`).
    pub kernel: SampleKernel,
    /// How feature maps become samples.
    pub pool: GramPool,
}

impl SimObjective {
    /// Builds the objective from the local methods' settings (a Gaussian `local.kernel` takes
    /// the median width).
    pub fn from_settings(local: &LocalSettings) -> Result<Self, ObjectiveError> {
        Ok(SimObjective {
            kernel: sample_kernel(local, KernelWidth::Median)?,
            pool: GramPool::from_settings(local, false)?,
        })
    }
}

/// The centred-cosine similarity of one-hot labels: `1` within a class, `−1/(C−1)` between
/// (a centred one-hot row has norm `sqrt((C−1)/C)`).
fn label_similarity(labels: &[usize], classes: usize) -> Mat<f64> {
    let between = if classes > 1 {
        -1.0 / (classes as f64 - 1.0)
    } else {
        1.0
    };
    Mat::from_fn(labels.len(), labels.len(), |i, j| {
        if labels[i] == labels[j] { 1.0 } else { between }
    })
}

/// `L_sim` of a module's pooled output `t`, through the detached-Gram path.
pub(super) fn sim_loss(
    o: &SimObjective,
    t: Tensor<2>,
    target: &Target,
    diag: &mut Diagnostics,
) -> Tensor<1> {
    let rt = o.kernel.detached_gram(t);
    let _phase = profile::scope(Phase::Estimator);
    let m = rt.size();
    let ry = target.cache.gram("R_Y centred cosine".into(), || {
        label_similarity(&target.labels, target.num_classes)
    });
    let scale = 1.0 / (m * m) as f64;
    let diff = Mat::from_fn(m, m, |i, j| rt.matrix[(i, j)] - ry[(i, j)]);
    let value: f64 = diff
        .col_iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        * scale;
    let grad = Mat::from_fn(m, m, |i, j| 2.0 * scale * diff[(i, j)]);
    diag.insert("sim".into(), value);
    rt.loss(value, Some(&grad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};
    use mole_info::centred_unit_rows;

    /// `R_Y` is the centred cosine of one-hot rows, as Nøkland & Eidnes compute it.
    #[test]
    fn label_similarity_is_the_centred_cosine_of_one_hot_rows() {
        let labels = [0usize, 2, 1, 2];
        let classes = 3;
        let one_hot: Vec<f32> = labels
            .iter()
            .flat_map(|&y| (0..classes).map(move |c| f32::from(u8::from(c == y))))
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(one_hot, [4, 3]), &Device::flex());
        let u = centred_unit_rows(x);
        let r = mole_info::to_host(&u.clone().matmul(u.transpose()));
        let expected = label_similarity(&labels, classes);
        for i in 0..4 {
            for j in 0..4 {
                assert!((r[(i, j)] - expected[(i, j)]).abs() < 1e-6, "{i},{j}");
            }
        }
    }
}

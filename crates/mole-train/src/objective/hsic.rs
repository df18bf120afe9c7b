//! The HSIC bottleneck on the host: nHSIC of the module's Gram matrix against the inputs' and
//! the labels', through one factorisation of the module's centred Gram.

use super::{Diagnostics, GramPool, ObjectiveError, Target, add_scaled, combine, sample_kernel};
use crate::config::{HsicSettings, LocalSettings};
use burn::tensor::Tensor;
use faer::Mat;
use mole_info::profile::{self, Phase};
use mole_info::{
    Centering, GaussianKernel, KernelWidth, NhsicFactor, SampleKernel, ShiftedGram, center_host,
    center_symmetric_in_place, nhsic_host, two_valued_label_gram,
};
use std::sync::Arc;

/// The HSIC bottleneck, `L = nHSIC(T,X) − β nHSIC(T,Y)`, dimension-scaled Gaussian kernels.
#[derive(Clone, Debug)]
pub struct HsicObjective {
    /// Weight of nHSIC(T,Y).
    pub beta: f64,
    /// Kernel for X and Y (one-hot), and for T unless `kernel_t` says otherwise.
    pub kernel: GaussianKernel,
    /// Kernel for T (`local.kernel`; the Gaussian `kernel` by default).
    pub kernel_t: SampleKernel,
    /// Inverse regulariser.
    pub epsilon: f64,
    /// Centring.
    pub centering: Centering,
    /// How feature maps become Gram samples.
    pub pool: GramPool,
}

impl HsicObjective {
    /// Builds the objective from its settings and the local methods' shared ones, with kernel
    /// width `sigma`.
    pub fn from_settings(
        s: &HsicSettings,
        local: &LocalSettings,
        sigma: f64,
    ) -> Result<Self, ObjectiveError> {
        let width = KernelWidth::DimensionScaled(sigma);
        Ok(HsicObjective {
            beta: s.beta,
            kernel: GaussianKernel::new(width.clone()),
            kernel_t: sample_kernel(local, width)?,
            epsilon: s.epsilon,
            centering: if s.centering == "right" {
                Centering::Right
            } else {
                Centering::Both
            },
            pool: GramPool::from_settings(local, s.pooled)?,
        })
    }
}

/// The batch's label Gram `K_Y` (one-hot labels, the objective's Gaussian kernel), from the
/// target's cache.
fn label_gram(o: &HsicObjective, target: &Target) -> Arc<Mat<f64>> {
    target.cache.gram(format!("K_Y {:?}", o.kernel.width), || {
        o.kernel
            .detached_gram(target.one_hot(&target.x.device()))
            .matrix
    })
}

/// The factor `R_X` of the inputs `xs` (the batch's, or the input sample's: `rows` names which),
/// from the target's cache; `None` when `H K_X H + εmI` is not positive definite.
fn input_factor(
    o: &HsicObjective,
    target: &Target,
    xs: &Tensor<2>,
    rows: &str,
) -> Option<Arc<NhsicFactor>> {
    let key = format!("nhsic {rows} {:?} {}", o.kernel.width, o.epsilon);
    target.cache.nhsic_factor(key, || {
        let _phase = profile::scope(Phase::Estimator);
        NhsicFactor::from_host(&o.kernel.detached_gram(xs.clone()).matrix, o.epsilon)
    })
}

/// Computes what [`hsic_loss`] needs from the batch alone — `K_Y` and, with `Both` centring,
/// `R_X` — into the target's cache, so that a schedule can do it ahead, on another thread,
/// while the modules train on the batch before. The same functions fill the cache either way,
/// so the loss is the same.
pub(super) fn prepare_inputs(o: &HsicObjective, target: &Target) {
    label_gram(o, target);
    if o.centering == Centering::Both && target.input_sample.is_none() {
        let _ = input_factor(o, target, &target.x, "batch");
    }
}

/// The HSIC bottleneck's loss `nHSIC(T,X) − β nHSIC(T,Y)` on a module's (transformed) output
/// `t`, through the detached-Gram path. With `Both` centring `M_T = H K_T H + εmI` is factored
/// once for both terms and `R_X` once per batch for all modules (the batch's [`InputCache`]).
pub(super) fn hsic_loss(
    o: &HsicObjective,
    t: Tensor<2>,
    sample: Option<(Tensor<2>, Tensor<2>)>,
    target: &Target,
    diag: &mut Diagnostics,
) -> Tensor<1> {
    let kt = o.kernel_t.detached_gram(t);
    let ky = label_gram(o, target);
    let (ks, xs, rows) = match sample {
        Some((ts, xs)) => (Some(o.kernel_t.detached_gram(ts)), xs, "input sample"),
        None => (None, target.x.clone(), "batch"),
    };
    let kx = || o.kernel.detached_gram(xs.clone()).matrix;
    let _phase = profile::scope(Phase::Estimator);
    let both = o.centering == Centering::Both;
    // With Both centring each Gram's M = H K H + εmI is factored once; the terms' gradients are
    // summed before the one centring H · H.
    let shifted = |k: &Mat<f64>| both.then(|| ShiftedGram::new(k, o.epsilon)).flatten();
    let shifted_t = shifted(&kt.matrix);
    let shifted_s = ks.as_ref().and_then(|ks| shifted(&ks.matrix));
    let factor = both.then(|| input_factor(o, target, &xs, rows)).flatten();
    // nHSIC(T, X), on the sampled rows when there are any: (value, gradient, centred yet).
    let kt_x = ks.as_ref().unwrap_or(&kt);
    let shifted_x = if ks.is_some() { &shifted_s } else { &shifted_t };
    let (hx, gx, gx_centred) = match (factor.as_ref(), shifted_x.as_ref()) {
        (Some(f), Some(s)) => {
            let (v, g) = s.against_factor(f, true);
            (v, g, false)
        }
        _ => {
            let (v, g, _) = nhsic_host(&kt_x.matrix, &kx(), o.epsilon, o.centering, true, false);
            (v, g, true)
        }
    };
    // nHSIC(T, Y) through the label Gram's rank when it is two-valued by class.
    let by_labels = shifted_t.as_ref().and_then(|s| {
        let (a, b) = two_valued_label_gram(&ky, &target.labels)?;
        Some(s.against_labels(&target.labels, a, b, true))
    });
    let (hy, gy, gy_centred) = match by_labels {
        Some((v, g)) => (v, g, false),
        None => {
            let (v, g, _) = nhsic_host(&kt.matrix, &ky, o.epsilon, o.centering, true, false);
            (v, g, true)
        }
    };
    diag.insert("nhsic_tx".into(), hx);
    diag.insert("nhsic_ty".into(), hy);
    let value = hx - o.beta * hy;
    // Σ w_i G_i, centring the parts that are not centred yet.
    let total = |parts: &[(f64, &Option<Mat<f64>>, bool)]| -> Option<Mat<f64>> {
        let raw = combine(
            &parts
                .iter()
                .filter(|p| !p.2)
                .map(|p| (p.0, p.1))
                .collect::<Vec<_>>(),
        );
        let done = combine(
            &parts
                .iter()
                .filter(|p| p.2)
                .map(|p| (p.0, p.1))
                .collect::<Vec<_>>(),
        );
        let raw = raw.map(|g| center_host(&g, Centering::Both));
        match (raw, done) {
            (Some(a), Some(b)) => combine(&[(1.0, &Some(a)), (1.0, &Some(b))]),
            (a, b) => a.or(b),
        }
    };
    match &ks {
        // Both terms through the factorisation (the default): each gradient exactly symmetric
        // and not centred yet, so they are summed and centred in place and go to the samples
        // as a symmetric ∂L/∂K, without a copy or a transpose.
        None if !gx_centred && !gy_centred => {
            let g = match (gx, gy) {
                (Some(mut gx), Some(gy)) => {
                    if o.beta != 0.0 {
                        add_scaled(&mut gx, -o.beta, &gy);
                    }
                    Some(gx)
                }
                (Some(gx), None) if o.beta == 0.0 => Some(gx),
                _ => None,
            };
            match g {
                Some(mut g) => {
                    center_symmetric_in_place(&mut g);
                    kt.loss_symmetric(value, |i, j, _| g[(j, i)])
                }
                None => kt.loss(value, None),
            }
        }
        Some(ks) => {
            let gt = total(&[(-o.beta, &gy, gy_centred)]);
            let gs = total(&[(1.0, &gx, gx_centred)]);
            kt.loss(value, gt.as_ref()) + ks.loss(0.0, gs.as_ref())
        }
        None => {
            let g = total(&[(1.0, &gx, gx_centred), (-o.beta, &gy, gy_centred)]);
            kt.loss(value, g.as_ref())
        }
    }
}

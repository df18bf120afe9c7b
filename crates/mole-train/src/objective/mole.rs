//! MOLE's InfoMax objective on the host: matrix-based Rényi entropies of the module's Gram
//! matrix and its Hadamard products with the constant label and input Gram matrices.

use super::{
    Diagnostics, GramPool, ObjectiveError, Target, parse_label_kernel, parse_width, sample_kernel,
};
use crate::config::{LocalSettings, MoleSettings};
use burn::tensor::Tensor;
use faer::Mat;
use mole_info::profile::{self, Phase};
use mole_info::{
    DetachedGram, EigenPrecision, EntropySpectrum, GaussianKernel, LabelKernel, Order2Entropies,
    SampleKernel,
};

/// MOLE's InfoMax objective, `L = −(λ_y I_α(T;Y) + λ_x I_α(T;X)) + λ_h S_α(T)`.
///
/// With λ_h > 0 this is the deterministic information bottleneck (Strouse & Schwab 2017,
/// `min H(T) − β I(T;Y)` with β = λ_y / λ_h); for a delta label kernel
/// `I(T;Y) = S(T) − S(T|Y)`, so the loss is `−(λ_y − λ_h) S(T) + λ_y S(T|Y)`.
#[derive(Clone, Debug)]
pub struct MoleObjective {
    /// Rényi order.
    pub alpha: f64,
    /// Weight of I(T;Y).
    pub lambda_y: f64,
    /// Weight of I(T;X).
    pub lambda_x: f64,
    /// Weight of the compression term `λ_h S_α(T)`.
    pub lambda_h: f64,
    /// Kernel on T.
    pub kernel_t: SampleKernel,
    /// Kernel on X.
    pub kernel_x: GaussianKernel,
    /// Kernel on Y.
    pub label_kernel: LabelKernel,
    /// Use `I / max(S(T), S(Y))`.
    pub normalized: bool,
    /// How feature maps become Gram samples.
    pub pool: GramPool,
    /// Rows of T scaled to unit norm before the kernel.
    pub unit_sphere: bool,
    /// Score the joint target `{Y, X}`: `I(T;{Y,X}) = S(T) + S(Y,X) − S(T,Y,X)` replaces
    /// `I(T;Y)` (multivariate extension, Hadamard-product joint).
    pub joint_x: bool,
    /// Arithmetic of the eigendecompositions (α ≠ 2).
    pub precision: EigenPrecision,
}

/// `t / max(‖t‖, 1e-12)` row by row.
pub fn unit_rows(t: Tensor<2>) -> Tensor<2> {
    let norm = t.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    t / norm
}

impl MoleObjective {
    /// Builds the objective from its settings and the local methods' shared ones.
    pub fn from_settings(s: &MoleSettings, local: &LocalSettings) -> Result<Self, ObjectiveError> {
        Ok(MoleObjective {
            alpha: s.alpha,
            lambda_y: s.lambda_y,
            lambda_x: s.lambda_x,
            lambda_h: s.lambda_h,
            kernel_t: sample_kernel(local, parse_width("mole.sigma_t", &s.sigma_t)?)?,
            kernel_x: GaussianKernel::new(parse_width("mole.sigma_x", &s.sigma_x)?),
            label_kernel: parse_label_kernel(&s.label_kernel)?,
            normalized: s.normalized,
            pool: GramPool::from_settings(local, s.pooled)?,
            unit_sphere: s.unit_sphere,
            joint_x: s.joint_target != "label",
            precision: parse_eigen_precision(&s.eigen_precision)?,
        })
    }
}

/// Parses `mole.eigen_precision`: `f32` or `f64`.
pub fn parse_eigen_precision(text: &str) -> Result<EigenPrecision, ObjectiveError> {
    match text {
        "f64" => Ok(EigenPrecision::F64),
        "f32" => Ok(EigenPrecision::F32),
        other => Err(ObjectiveError {
            key: "mole.eigen_precision".into(),
            message: format!("'{other}' (f32 or f64)"),
        }),
    }
}

/// `S_α(K_T ∘ C)` of a module's Gram with a constant factor `C` (absent: `S_α(K_T)`), with
/// what its gradient with respect to `K_T` needs (`None` when the estimator fails, e.g. on
/// non-finite outputs).
fn spectrum_of(
    o: &MoleObjective,
    kt: &Mat<f64>,
    factor: Option<&Mat<f64>>,
) -> Option<EntropySpectrum> {
    let _phase = profile::scope(Phase::Estimator);
    let m = match factor {
        Some(c) => mole_info::hadamard(kt, c),
        None => kt.clone(),
    };
    EntropySpectrum::new(m, o.alpha, true, o.precision)
}

/// `S_α` of a constant Gram matrix (no gradient).
fn constant_entropy(o: &MoleObjective, k: Mat<f64>) -> f64 {
    let _phase = profile::scope(Phase::Estimator);
    EntropySpectrum::new(k, o.alpha, false, o.precision).map_or(f64::NAN, |e| e.value)
}

fn value_of(s: &Option<EntropySpectrum>) -> f64 {
    s.as_ref().map_or(f64::NAN, |s| s.value)
}

/// A mutual information `I = S(T) + S(B) − S(T, B)`, normalised by `max(S(T), S(B))` when
/// asked, and the weights of `∂S(T)` and `∂S(T, B)` in its gradient (the max's gradient goes
/// to the larger entropy; a clamped denominator is a constant).
struct Information {
    /// The raw `I`.
    raw: f64,
    /// `I`, or `I / max(S(T), S(B))`.
    value: f64,
    /// `∂value/∂S(T)`.
    w_t: f64,
    /// `∂value/∂S(T, B)`.
    w_joint: f64,
}

fn information(s_t: f64, s_b: f64, joint: f64, normalized: bool) -> Information {
    let raw = s_t + s_b - joint;
    if !normalized {
        return Information {
            raw,
            value: raw,
            w_t: 1.0,
            w_joint: -1.0,
        };
    }
    let floor = mole_info::NORMALIZATION_FLOOR;
    let denom = s_t.max(s_b);
    if denom.is_nan() || denom <= floor {
        return Information {
            raw,
            value: raw / floor,
            w_t: 1.0 / floor,
            w_joint: -1.0 / floor,
        };
    }
    let from_max = if s_t >= s_b {
        raw / (denom * denom)
    } else {
        0.0
    };
    Information {
        raw,
        value: raw / denom,
        w_t: 1.0 / denom - from_max,
        w_joint: -1.0 / denom,
    }
}

/// One term of a gradient: its weight, the entropy's spectrum (`None`: the estimate failed)
/// and its Hadamard factor.
type GradTerm<'a> = (f64, &'a Option<EntropySpectrum>, Option<&'a Mat<f64>>);

/// `Σ w_i ∂S_i/∂K ∘ F_i` over the spectra (`None` when one failed or none is weighted).
fn gradient(n: usize, terms: &[GradTerm<'_>]) -> Option<Mat<f64>> {
    let _phase = profile::scope(Phase::Estimator);
    let mut g = Mat::zeros(n, n);
    let mut any = false;
    for &(w, s, f) in terms {
        if w != 0.0 {
            s.as_ref()?.add_grad(&mut g, w, f);
            any = true;
        }
    }
    any.then_some(g)
}

/// [`mole_loss`] at α = 2 with the label term only (the default with the local prediction
/// term): both entropies from one pass over `K_T` ([`Order2Entropies`], no copy or Hadamard
/// product of `m × m` matrices) and `∂L/∂K_T` entry by entry into the product back to `T`.
fn order2_label_loss(
    o: &MoleObjective,
    kt: &DetachedGram,
    target: &Target,
    diag: &mut Diagnostics,
) -> Tensor<1> {
    let (labels, classes) = (&target.labels, target.num_classes);
    let key = format!(
        "S(Y) alpha {} {:?} {:?}",
        o.alpha, o.precision, o.label_kernel
    );
    let s_y = target.cache.number(key, || {
        constant_entropy(o, o.label_kernel.gram_host(labels, classes))
    });
    let estimate = {
        let _phase = profile::scope(Phase::Estimator);
        let between = o.label_kernel.between_classes(labels, classes);
        Order2Entropies::new(&kt.matrix, labels, between)
    };
    let (s_t, joint) = estimate
        .as_ref()
        .map_or((f64::NAN, f64::NAN), |e| (e.s_k, e.s_joint));
    let i_y = information(s_t, s_y, joint, o.normalized);
    diag.insert("i_ty".into(), i_y.raw);
    diag.insert("s_t".into(), s_t);
    let value = o.lambda_y * i_y.value - o.lambda_h * s_t;
    match estimate {
        Some(e) => {
            let g = e.gradient(
                -o.lambda_y * i_y.w_t + o.lambda_h,
                -o.lambda_y * i_y.w_joint,
            );
            kt.loss_symmetric(-value, |i, j, k| g(i, j, k, labels[i] == labels[j]))
        }
        None => kt.loss(-value, None), // NaN: the step is refused
    }
}

/// MOLE's loss `−(λ_y I(T;Y) + λ_x I(T;X)) + λ_h S(T)` on a module's (transformed) output `t`,
/// through the detached-Gram path: the Gram matrices and estimators on the host, one matrix
/// product back to `t` (see [`mole_info::detached`]). `sample`: the input terms' own rows.
pub(super) fn mole_loss(
    o: &MoleObjective,
    t: Tensor<2>,
    sample: Option<(Tensor<2>, Tensor<2>)>,
    target: &Target,
    diag: &mut Diagnostics,
) -> Tensor<1> {
    let kt = o.kernel_t.detached_gram(t);
    if o.alpha == 2.0 && o.lambda_x == 0.0 && !o.joint_x {
        return order2_label_loss(o, &kt, target, diag);
    }
    let n = kt.size();
    let ky = o.label_kernel.gram_host(&target.labels, target.num_classes);
    // What depends on the batch only is computed once for all modules.
    let cache = &target.cache;
    let tag = format!("alpha {} {:?}", o.alpha, o.precision);
    let kx_of = |rows: &str, x: &Tensor<2>| {
        let key = format!("K_X {rows} {}", o.kernel_x.width);
        cache.gram(key, || o.kernel_x.detached_gram(x.clone()).matrix)
    };
    let s_t = spectrum_of(o, &kt.matrix, None);
    // The label term: I(T;Y), or I(T;{Y,X}) = S(T) + S(Y,X) − S(T,Y,X).
    let (factor, s_b) = if o.joint_x {
        let yx = mole_info::hadamard(&ky, &kx_of("batch", &target.x));
        let key = format!("S(Y,X) {tag} {:?} {}", o.label_kernel, o.kernel_x.width);
        let s_yx = cache.number(key, || constant_entropy(o, yx.clone()));
        (yx, s_yx)
    } else {
        let key = format!("S(Y) {tag} {:?}", o.label_kernel);
        let s_y = cache.number(key, || constant_entropy(o, ky.clone()));
        (ky, s_y)
    };
    let joint = spectrum_of(o, &kt.matrix, Some(&factor));
    let i_y = information(value_of(&s_t), s_b, value_of(&joint), o.normalized);
    if o.joint_x {
        diag.insert("i_tyx".into(), i_y.raw);
    }
    diag.insert("i_ty".into(), i_y.raw);
    diag.insert("s_t".into(), value_of(&s_t));
    let mut value = o.lambda_y * i_y.value - o.lambda_h * value_of(&s_t);
    // The loss is −value: weights of ∂S(T) and ∂S(T, ·) in its gradient.
    let mut w_t = -o.lambda_y * i_y.w_t + o.lambda_h;
    let mut terms: Vec<GradTerm<'_>> = vec![(-o.lambda_y * i_y.w_joint, &joint, Some(&factor))];
    let mut sample_loss = None;
    let kx;
    let joint_x;
    if o.lambda_x != 0.0 {
        let rows = if sample.is_some() {
            "input sample"
        } else {
            "batch"
        };
        let x = sample.as_ref().map_or(&target.x, |(_, xs)| xs);
        kx = kx_of(rows, x);
        let key = format!("S(X) {rows} {tag} {}", o.kernel_x.width);
        let s_x = cache.number(key, || constant_entropy(o, (*kx).clone()));
        let i_x = match sample {
            Some((ts, _)) => {
                let ks = o.kernel_t.detached_gram(ts);
                let s_s = spectrum_of(o, &ks.matrix, None);
                let joint = spectrum_of(o, &ks.matrix, Some(&kx));
                let i = information(value_of(&s_s), s_x, value_of(&joint), o.normalized);
                let g = gradient(
                    ks.size(),
                    &[
                        (-o.lambda_x * i.w_t, &s_s, None),
                        (-o.lambda_x * i.w_joint, &joint, Some(&kx)),
                    ],
                );
                sample_loss = Some(ks.loss(0.0, g.as_ref()));
                i
            }
            None => {
                joint_x = spectrum_of(o, &kt.matrix, Some(&kx));
                let i = information(value_of(&s_t), s_x, value_of(&joint_x), o.normalized);
                w_t += -o.lambda_x * i.w_t;
                terms.push((-o.lambda_x * i.w_joint, &joint_x, Some(&kx)));
                i
            }
        };
        diag.insert("i_tx".into(), i_x.raw);
        value += o.lambda_x * i_x.value;
    }
    terms.push((w_t, &s_t, None));
    let grad = gradient(n, &terms);
    let loss = kt.loss(-value, grad.as_ref());
    match sample_loss {
        Some(s) => loss + s,
        None => loss,
    }
}

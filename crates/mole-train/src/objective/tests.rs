//! Objective tests: what each term scores, and the host (detached-Gram) path against the same
//! losses written with autodiff through the Gram matrices.

mod terms {
    use super::super::*;
    use burn::tensor::Distribution;
    use mole_info::{Centering, GaussianKernel, SampleKernel};

    fn rows(r: &[i64]) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(r.to_vec(), [r.len()]), &Device::flex())
    }

    /// With an input sample (semi-supervised node-level tasks) the input terms score the
    /// sampled rows and the label term the labelled rows; without one, both score the latter.
    #[test]
    fn input_terms_score_the_sampled_rows() {
        let device = Device::flex();
        let t = Tensor::<2>::random([8, 3], Distribution::Normal(0.0, 1.0), &device);
        let x = Tensor::<2>::random([8, 4], Distribution::Normal(0.0, 1.0), &device);
        let (labelled, sampled) = (rows(&[0, 1, 2, 3]), rows(&[2, 4, 5, 6, 7]));
        let mut target = Target {
            x: x.clone().select(0, labelled.clone()),
            labels: vec![0, 1, 0, 1],
            num_classes: 2,
            view: Some(TargetView::Rows(labelled.clone())),
            input_sample: None,
            cache: InputCache::default(),
        };
        let width = KernelWidth::Fixed(1.5);
        let mole = MoleObjective {
            alpha: 2.0,
            lambda_y: 1.0,
            lambda_x: 0.5,
            lambda_h: 0.0,
            kernel_t: SampleKernel::Gaussian(GaussianKernel::new(width.clone())),
            kernel_x: GaussianKernel::new(width.clone()),
            label_kernel: LabelKernel::Delta,
            normalized: false,
            pool: GramPool::Flatten,
            unit_sphere: false,
            joint_x: false,
            precision: mole_info::EigenPrecision::F64,
        };
        let hsic = HsicObjective {
            beta: 2.0,
            kernel: GaussianKernel::new(width.clone()),
            kernel_t: SampleKernel::Gaussian(GaussianKernel::new(width.clone())),
            epsilon: 1e-5,
            centering: Centering::Both,
            pool: GramPool::Flatten,
        };
        let expected = |r: &Tensor<1, Int>| {
            let kt = mole.kernel_x.gram(t.clone().select(0, r.clone())).matrix;
            let kx = mole.kernel_x.gram(x.clone().select(0, r.clone())).matrix;
            let mi = mole_info::mutual_information(kt.clone(), kx.clone(), 2.0).value;
            let h = mole_info::nhsic(kt, kx, 1e-5, Centering::Both);
            (scalar(&mi), scalar(&h))
        };
        let run = |target: &Target| {
            let (_, dm) = Objective::Mole(mole.clone()).loss(Features::Flat(t.clone()), target);
            let (_, dh) = Objective::Hsic(hsic.clone()).loss(Features::Flat(t.clone()), target);
            (dm["i_tx"], dm["i_ty"], dh["nhsic_tx"])
        };
        let (i_tx, i_ty, h_tx) = run(&target);
        let (mi_l, h_l) = expected(&labelled);
        assert!((i_tx - mi_l).abs() < 1e-5 && (h_tx - h_l).abs() < 1e-5);

        target.input_sample = Some(InputSample {
            view: TargetView::Rows(sampled.clone()),
            x: x.clone().select(0, sampled.clone()),
        });
        let (s_tx, s_ty, sh_tx) = run(&target);
        let (mi_s, h_s) = expected(&sampled);
        assert!((s_tx - mi_s).abs() < 1e-5, "{s_tx} vs {mi_s}");
        assert!((sh_tx - h_s).abs() < 1e-5, "{sh_tx} vs {h_s}");
        assert!((s_tx - i_tx).abs() > 1e-4, "the sample changes I(T;X)");
        assert_eq!(s_ty, i_ty, "the label term still scores the labelled rows");
    }

    /// The compression term: `loss = −I(T;Y) + λ_h S(T)` exactly, and it breaks I(T;Y)'s tie.
    /// With a delta label kernel, outputs that collapse each class onto one point and outputs
    /// that isolate every point both give I(T;Y) = H(Y), the same loss at λ_h = 0; with
    /// λ_h > 0 the compact clusters win by λ_h (log₂ N − H(Y)) bits.
    #[test]
    fn compression_term_prefers_class_clusters_over_isolated_points() {
        let device = Device::flex();
        let (n, classes) = (16usize, 4usize);
        let labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
        let target = Target {
            x: Tensor::<2>::zeros([n, 2], &device),
            labels: labels.clone(),
            num_classes: classes,
            view: None,
            input_sample: None,
            cache: InputCache::default(),
        };
        // Clusters: every sample at its class's corner, 100 apart. Isolated: every sample on
        // its own point, 100 apart from all others.
        let clusters: Vec<f32> = labels
            .iter()
            .flat_map(|&c| (0..classes).map(move |j| if j == c { 100.0 } else { 0.0 }))
            .collect();
        let isolated: Vec<f32> = (0..n)
            .flat_map(|i| (0..n).map(move |j| if j == i { 100.0 } else { 0.0 }))
            .collect();
        let clusters = Tensor::<2>::from_data(TensorData::new(clusters, [n, classes]), &device);
        let isolated = Tensor::<2>::from_data(TensorData::new(isolated, [n, n]), &device);
        let objective = |lambda_h: f64| {
            Objective::Mole(MoleObjective {
                alpha: 1.01,
                lambda_y: 1.0,
                lambda_x: 0.0,
                lambda_h,
                kernel_t: SampleKernel::Gaussian(GaussianKernel::new(KernelWidth::Fixed(1.0))),
                kernel_x: GaussianKernel::new(KernelWidth::Fixed(1.0)),
                label_kernel: LabelKernel::Delta,
                normalized: false,
                pool: GramPool::Flatten,
                unit_sphere: false,
                joint_x: false,
                precision: mole_info::EigenPrecision::F64,
            })
        };
        let loss = |t: &Tensor<2>, lambda_h: f64| {
            let (l, d) = objective(lambda_h).loss(Features::Flat(t.clone()), &target);
            (scalar(&l), d)
        };
        let h_y = (classes as f64).log2();
        let log_n = (n as f64).log2();
        let (lc, dc) = loss(&clusters, 0.0);
        let (li, di) = loss(&isolated, 0.0);
        assert!((dc["i_ty"] - h_y).abs() < 1e-3 && (di["i_ty"] - h_y).abs() < 1e-3);
        assert!((lc - li).abs() < 1e-3, "a tie at λ_h = 0: {lc} vs {li}");
        assert!((dc["s_t"] - h_y).abs() < 1e-3 && (di["s_t"] - log_n).abs() < 1e-3);

        let lambda_h = 0.3;
        let (lc, dc) = loss(&clusters, lambda_h);
        let (li, di) = loss(&isolated, lambda_h);
        for d in [&dc, &di] {
            let expected = -d["i_ty"] + lambda_h * d["s_t"];
            assert!(
                (d["loss"] - expected).abs() < 1e-5,
                "{} vs {expected}",
                d["loss"]
            );
        }
        let margin = lambda_h * (log_n - h_y);
        assert!((li - lc - margin).abs() < 1e-3, "{li} − {lc} vs {margin}");
    }
}

/// The detached-Gram objectives against the same losses written with autodiff through the Gram
/// matrices (the tensor estimators of `mole_info`): equal values, equal gradients with respect
/// to the module output.
mod detached_path {
    use super::super::*;
    use burn::tensor::Distribution;
    use mole_info::{Centering, GaussianKernel, SampleKernel};

    /// The Gram matrix of `t` under `kernel`, recorded by autodiff.
    fn reference_gram(kernel: &SampleKernel, t: Tensor<2>) -> Tensor<2> {
        match kernel {
            SampleKernel::Gaussian(g) => g.gram(t).matrix,
            SampleKernel::Linear => t.clone().matmul(t.transpose()),
            SampleKernel::Cosine => {
                let u = mole_info::centred_unit_rows(t);
                u.clone().matmul(u.transpose())
            }
        }
    }

    /// `MoleObjective`'s loss with autodiff through the Gram matrices.
    fn mole_reference(o: &MoleObjective, t: Tensor<2>, target: &Target) -> Tensor<1> {
        let t = if o.unit_sphere { unit_rows(t) } else { t };
        let device = t.device();
        let kt = reference_gram(&o.kernel_t, t);
        let ky = o
            .label_kernel
            .gram(&target.labels, target.num_classes, &device);
        let kx = o.kernel_x.gram(target.x.clone()).matrix;
        let norm = |i: Tensor<1>, a: Tensor<1>, b: Tensor<1>| {
            if o.normalized {
                i / a.max_pair(b).clamp_min(mole_info::NORMALIZATION_FLOOR)
            } else {
                i
            }
        };
        let s_t = mole_info::renyi_entropy(kt.clone(), o.alpha);
        let i_y = if o.joint_x {
            let s_yx = mole_info::joint_entropy(&[ky.clone(), kx.clone()], o.alpha);
            let joint = mole_info::joint_entropy(&[kt.clone(), ky, kx.clone()], o.alpha);
            norm(s_t.clone() + s_yx.clone() - joint, s_t.clone(), s_yx)
        } else {
            let mi = mole_info::mutual_information(kt.clone(), ky, o.alpha);
            norm(mi.value, mi.entropy_a, mi.entropy_b)
        };
        let mut total = i_y.mul_scalar(o.lambda_y) - s_t.mul_scalar(o.lambda_h);
        if o.lambda_x != 0.0 {
            let mi = mole_info::mutual_information(kt, kx, o.alpha);
            total = total + norm(mi.value, mi.entropy_a, mi.entropy_b).mul_scalar(o.lambda_x);
        }
        total.neg()
    }

    /// `HsicObjective`'s loss with autodiff through the Gram matrices.
    fn hsic_reference(o: &HsicObjective, t: Tensor<2>, target: &Target) -> Tensor<1> {
        let ky = o.kernel.gram(target.one_hot(&t.device())).matrix;
        let kt = reference_gram(&o.kernel_t, t);
        let kx = o.kernel.gram(target.x.clone()).matrix;
        mole_info::nhsic(kt.clone(), kx, o.epsilon, o.centering)
            - mole_info::nhsic(kt, ky, o.epsilon, o.centering).mul_scalar(o.beta)
    }

    fn value_and_grad(f: impl Fn(Tensor<2>) -> Tensor<1>, t: &Tensor<2>) -> (f64, Vec<f32>) {
        let t = t.clone().autodiff().require_grad();
        let loss = f(t.clone());
        let grads = loss.backward();
        let g = t.grad(&grads).expect("the output has a gradient");
        (scalar(&loss), crate::batches::to_host(g).1)
    }

    fn assert_same(what: &str, a: (f64, Vec<f32>), b: (f64, Vec<f32>)) {
        assert!(
            (a.0 - b.0).abs() <= 1e-4 * (1.0 + b.0.abs()),
            "{what}: loss {} vs {}",
            a.0,
            b.0
        );
        let scale = b.1.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst =
            a.1.iter()
                .zip(&b.1)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            worst <= 2e-3 * scale + 1e-6,
            "{what}: gradients differ by {worst} (largest entry {scale})"
        );
        assert!(scale > 0.0, "{what}: a zero gradient proves nothing");
    }

    fn batch(n: usize, classes: usize) -> (Tensor<2>, Target) {
        let device = Device::flex();
        let t = Tensor::<2>::random([n, 5], Distribution::Normal(0.0, 1.0), &device);
        let labels: Vec<usize> = (0..n).map(|i| (i * 7 + i / 3) % classes).collect();
        let x = Tensor::<2>::random([n, 6], Distribution::Normal(0.0, 1.0), &device);
        let target = Target {
            x,
            labels,
            num_classes: classes,
            view: None,
            input_sample: None,
            cache: InputCache::default(),
        };
        (t, target)
    }

    #[test]
    fn mole_loss_and_gradient_equal_the_autodiff_path() {
        let (t, target) = batch(24, 3);
        let base = MoleObjective {
            alpha: 1.01,
            lambda_y: 1.0,
            lambda_x: 0.0,
            lambda_h: 0.0,
            kernel_t: SampleKernel::Gaussian(GaussianKernel::new(KernelWidth::Fixed(2.0))),
            kernel_x: GaussianKernel::new(KernelWidth::Median),
            label_kernel: LabelKernel::Delta,
            normalized: false,
            pool: GramPool::Flatten,
            unit_sphere: false,
            joint_x: false,
            precision: mole_info::EigenPrecision::F64,
        };
        let variants: Vec<(&str, MoleObjective)> = vec![
            ("alpha 1.01", base.clone()),
            (
                "alpha 2",
                MoleObjective {
                    alpha: 2.0,
                    ..base.clone()
                },
            ),
            (
                "alpha 2 (order-2 path): normalised, lambda_h, gaussian labels",
                MoleObjective {
                    alpha: 2.0,
                    normalized: true,
                    lambda_h: 0.3,
                    label_kernel: LabelKernel::GaussianOneHot(1.0),
                    ..base.clone()
                },
            ),
            (
                "alpha 2 (order-2 path): linear kernel",
                MoleObjective {
                    alpha: 2.0,
                    kernel_t: SampleKernel::Linear,
                    ..base.clone()
                },
            ),
            (
                "alpha 2 (order-2 path): median width",
                MoleObjective {
                    alpha: 2.0,
                    kernel_t: SampleKernel::Gaussian(GaussianKernel::new(KernelWidth::Median)),
                    ..base.clone()
                },
            ),
            (
                "alpha 0.5",
                MoleObjective {
                    alpha: 0.5,
                    ..base.clone()
                },
            ),
            (
                "lambda_x, lambda_h",
                MoleObjective {
                    lambda_x: 0.5,
                    lambda_h: 0.3,
                    ..base.clone()
                },
            ),
            (
                "normalised",
                MoleObjective {
                    normalized: true,
                    lambda_x: 0.5,
                    ..base.clone()
                },
            ),
            (
                "joint target",
                MoleObjective {
                    joint_x: true,
                    ..base.clone()
                },
            ),
            (
                "joint normalised a2",
                MoleObjective {
                    joint_x: true,
                    normalized: true,
                    alpha: 2.0,
                    ..base.clone()
                },
            ),
            (
                "unit sphere, median width",
                MoleObjective {
                    unit_sphere: true,
                    kernel_t: SampleKernel::Gaussian(GaussianKernel::new(KernelWidth::Median)),
                    ..base.clone()
                },
            ),
            (
                "gaussian labels",
                MoleObjective {
                    label_kernel: LabelKernel::GaussianOneHot(1.0),
                    ..base.clone()
                },
            ),
        ];
        for (what, o) in variants {
            let objective = Objective::Mole(o.clone());
            let detached = value_and_grad(|t| objective.loss(Features::Flat(t), &target).0, &t);
            let reference = value_and_grad(|t| mole_reference(&o, t, &target), &t);
            assert_same(what, detached, reference);
        }
    }

    #[test]
    fn hsic_loss_and_gradient_equal_the_autodiff_path() {
        let (t, target) = batch(20, 4);
        let kernels = [
            SampleKernel::Gaussian(GaussianKernel::new(KernelWidth::DimensionScaled(1.0))),
            SampleKernel::Cosine,
        ];
        for (centering, kernel_t) in [
            (Centering::Both, kernels[0].clone()),
            (Centering::Right, kernels[0].clone()),
            (Centering::Both, kernels[1].clone()),
        ] {
            let o = HsicObjective {
                beta: 50.0,
                kernel: GaussianKernel::new(KernelWidth::DimensionScaled(1.0)),
                kernel_t,
                epsilon: 1e-3,
                centering,
                pool: GramPool::Flatten,
            };
            let objective = Objective::Hsic(o.clone());
            let detached = value_and_grad(
                |t| {
                    let target = Target {
                        cache: InputCache::default(),
                        ..target.clone()
                    };
                    objective.loss(Features::Flat(t), &target).0
                },
                &t,
            );
            let reference = value_and_grad(|t| hsic_reference(&o, t, &target), &t);
            assert_same(
                &format!("{centering:?} {}", o.kernel_t.name()),
                detached,
                reference,
            );
        }
    }

    /// The batch-only terms computed ahead on another thread (`prepare_inputs`, as the
    /// simultaneous schedule does for the next batch) fill the cache with `K_Y` and `R_X`, and
    /// the loss and gradient are then bit for bit those computed without it.
    #[test]
    fn hsic_inputs_prepared_ahead_give_the_same_loss_and_gradient() {
        let (t, target) = batch(20, 4);
        let objective = Objective::Hsic(HsicObjective {
            beta: 50.0,
            kernel: GaussianKernel::new(KernelWidth::DimensionScaled(1.0)),
            kernel_t: SampleKernel::Gaussian(GaussianKernel::new(KernelWidth::DimensionScaled(
                1.0,
            ))),
            epsilon: 1e-3,
            centering: Centering::Both,
            pool: GramPool::Flatten,
        });
        assert!(objective.prepares_inputs());
        let fresh = || Target {
            cache: InputCache::default(),
            ..target.clone()
        };
        let lazy = value_and_grad(|t| objective.loss(Features::Flat(t), &fresh()).0, &t);
        let prepared = value_and_grad(
            |t| {
                let target = std::thread::scope(|s| {
                    s.spawn(|| {
                        let target = fresh();
                        objective.prepare_inputs(&target);
                        target
                    })
                    .join()
                    .unwrap()
                });
                assert_eq!(target.cache.len(), 2, "K_Y and R_X");
                let loss = objective.loss(Features::Flat(t), &target).0;
                assert_eq!(target.cache.len(), 2, "nothing recomputed");
                loss
            },
            &t,
        );
        assert_eq!(lazy, prepared);
        let sim = Objective::Sim(SimObjective {
            kernel: SampleKernel::Cosine,
            pool: GramPool::Flatten,
        });
        assert!(!sim.prepares_inputs());
    }

    /// Similarity matching: `mean((R_T − R_Y)²)` with the centred-cosine similarity of the
    /// outputs and of the one-hot labels, written with autodiff.
    #[test]
    fn sim_loss_and_gradient_equal_the_autodiff_path() {
        let (t, target) = batch(18, 3);
        let o = SimObjective {
            kernel: SampleKernel::Cosine,
            pool: GramPool::Flatten,
        };
        let objective = Objective::Sim(o);
        let detached = value_and_grad(|t| objective.loss(Features::Flat(t), &target).0, &t);
        let reference = value_and_grad(
            |t| {
                let rt = reference_gram(&SampleKernel::Cosine, t.clone());
                let y = mole_info::centred_unit_rows(target.one_hot(&t.device()));
                let ry = y.clone().matmul(y.transpose());
                (rt - ry).square().mean()
            },
            &t,
        );
        assert_same("sim", detached, reference);
    }
}

/// Which objectives read the inputs X: the schedules gather X for a step only for those
/// (`Session::target_for`), and the async feeder sends it only to them.
#[test]
fn only_the_input_terms_and_the_joint_target_read_the_inputs() {
    use super::*;
    use crate::config::{HsicSettings, LocalSettings, MoleSettings};
    let local = LocalSettings::default();
    let mole = |f: &dyn Fn(&mut MoleSettings)| {
        let mut s = MoleSettings::default();
        f(&mut s);
        Objective::Mole(MoleObjective::from_settings(&s, &local).unwrap())
    };
    assert!(!mole(&|_| {}).scores_inputs());
    assert!(mole(&|s| s.lambda_x = 0.5).scores_inputs());
    assert!(mole(&|s| s.joint_target = "label+input".into()).scores_inputs());
    let hsic = HsicSettings::default();
    assert!(
        Objective::Hsic(HsicObjective::from_settings(&hsic, &local, hsic.sigma).unwrap())
            .scores_inputs()
    );
    assert!(!Objective::CrossEntropy.scores_inputs());
    assert!(!Objective::Sim(SimObjective::from_settings(&local).unwrap()).scores_inputs());
}

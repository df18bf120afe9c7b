//! MOLE's objective with its eigendecompositions in f32 (`mole.eigen_precision = "f32"`)
//! against the f64 reference, on real MNIST batches through the default network's modules: the
//! same loss to 1e-4 bits and the same gradient with respect to the module output to a relative
//! error of 1e-3 (measured: about 1e-5 at the default kernel width).

use burn::tensor::{Device, Tensor};
use mole_data::DataOptions;
use mole_nn::Features;
use mole_train::config::{Method, TrainConfig};
use mole_train::network::Network;
use mole_train::objective::{InputCache, MoleObjective, Objective, Target};
use mole_train::{batches, defaults};

/// `shared/datasets` beside the checkout, read when the test runs (a binary built from another
/// checkout sharing the target directory would otherwise look beside that one).
fn datasets() -> std::path::PathBuf {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    std::path::PathBuf::from(manifest).join("../../../shared/datasets")
}

#[test]
fn f32_eigendecompositions_give_the_f64_loss_and_gradient() {
    let opts = DataOptions {
        data_dir: Some(datasets()),
        ..DataOptions::default()
    };
    let split = mole_data::load("mnist", &opts).expect("MNIST in shared/datasets");
    let device = Device::flex().autodiff();
    device.seed(1);
    let model = "mlp:256,256,256".to_string();
    let mut cfg = TrainConfig {
        model: model.clone(),
        method: Method::Mole,
        ..TrainConfig::default()
    };
    cfg.group = defaults::default_groups(Method::Mole, &model.parse().unwrap());
    let shape = mole_train::train::input_shape(&split);
    let net = Network::build(&cfg, &shape, 10, &device, None).unwrap();
    let plain = Device::flex();
    for batch in 0..2 {
        let idx: Vec<usize> = (batch * 256..(batch + 1) * 256).collect();
        let x = batches::features(&split.train, &idx, &plain);
        let target = Target {
            x: x.clone().flat(),
            labels: batches::labels(&split.train, &idx),
            num_classes: 10,
            view: None,
            input_sample: None,
            cache: InputCache::default(),
        };
        for k in 0..net.modules.len() {
            let input = net.forward_to(x.clone(), k);
            let out = net.modules[k].forward(input).flat();
            let run = |precision: &str| {
                let mut settings = cfg.mole.clone();
                settings.eigen_precision = precision.into();
                let objective =
                    Objective::Mole(MoleObjective::from_settings(&settings, &cfg.local).unwrap());
                let t: Tensor<2> = out.clone().autodiff().require_grad();
                let fresh = Target {
                    cache: InputCache::default(),
                    ..target.clone()
                };
                let (loss, diag) = objective.loss(Features::Flat(t.clone()), &fresh);
                let grads = loss.backward();
                let g: Vec<f32> = t
                    .grad(&grads)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap();
                (diag["loss"], diag["s_t"], g)
            };
            let (l64, s64, g64) = run("f64");
            let (l32, s32, g32) = run("f32");
            assert!(
                (l64 - l32).abs() < 1e-4,
                "batch {batch} module {k}: loss {l64} vs {l32}"
            );
            assert!(
                (s64 - s32).abs() < 1e-4,
                "batch {batch} module {k}: S(T) {s64} vs {s32}"
            );
            let norm = g64.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            let err = g64
                .iter()
                .zip(&g32)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(norm > 0.0, "a zero gradient proves nothing");
            assert!(
                err <= 1e-3 * norm,
                "batch {batch} module {k}: relative gradient error {}",
                err / norm
            );
        }
    }
}

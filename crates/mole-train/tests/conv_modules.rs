//! Convolutional modules train locally: gradients never cross a module boundary, and a local
//! step changes only its own module's parameters.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use mole_nn::Features;
use mole_train::config::{Method, TrainConfig};
use mole_train::network::Network;
use mole_train::objective::Target;
use mole_train::run::named_params;

fn setup(method: Method) -> (Network, Features, Target) {
    let device = Device::flex().autodiff();
    device.seed(3);
    let cfg = TrainConfig {
        method,
        model: "seq:conv(4),maxpool(2),res(k=3),conv(6,k=3,s=2)".into(),
        // One layer per module (the default would put the first two together).
        group: vec![1, 1, 1],
        ..TrainConfig::default()
    };
    let net = Network::build(&cfg, &[2, 8, 8], 3, &device, None).unwrap();
    let plain = Device::flex();
    let x = Tensor::<4>::random([12, 2, 8, 8], Distribution::Normal(0.0, 1.0), &plain);
    let labels: Vec<usize> = (0..12).map(|i| i % 3).collect();
    let target = Target {
        x: x.clone().reshape([12, -1]),
        labels,
        num_classes: 3,
        view: None,
        input_sample: None,
        cache: Default::default(),
    };
    (net, Features::Grid(x), target)
}

/// The trainable parameters (batch norm's running statistics move with every training-mode
/// forward, including the one below that computes module 1's output).
fn params(m: &impl Module) -> Vec<Vec<f32>> {
    named_params(m)
        .into_iter()
        .filter(|(name, _, _)| !name.contains("running_"))
        .map(|(_, _, v)| v)
        .collect()
}

#[test]
fn a_conv_module_step_changes_only_its_own_parameters() {
    for method in [Method::Mole, Method::Hsic] {
        let (mut net, x, target) = setup(method);
        assert_eq!(net.modules.len(), 3);
        assert_eq!(
            net.output_shapes,
            vec![vec![4, 4, 4], vec![4, 4, 4], vec![6, 2, 2]]
        );
        let before: Vec<_> = net.modules.iter().map(|m| params(&m.stage)).collect();
        // Module 2 steps on module 1's output *with its autodiff graph attached*.
        let h = net.modules[0].stage.forward(x.autodiff());
        let (out, diag) = net.modules[1].step(h, &target).unwrap();
        assert!(diag["loss"].is_finite());
        assert_eq!(out.row_shape(), vec![4, 4, 4]);
        let after: Vec<_> = net.modules.iter().map(|m| params(&m.stage)).collect();
        assert_eq!(before[0], after[0], "{method:?}: module 1 changed");
        assert_ne!(before[1], after[1], "{method:?}: module 2 did not learn");
        assert_eq!(before[2], after[2], "{method:?}: module 3 changed");
    }
}

#[test]
fn no_gradient_reaches_the_module_below() {
    let (net, x, target) = setup(Method::Mole);
    let h = net.modules[0].stage.forward(x.clone().autodiff());
    let loss_of = |input: Features| {
        let out = net.modules[1].stage.forward(input);
        net.modules[1].objective.loss(out, &target).0
    };
    // Attached: the gradient does flow into module 1 (so the check below can fail).
    let grads = loss_of(h.clone()).backward();
    assert!(!GradientsParams::from_grads(grads, &net.modules[0].stage).is_empty());
    // Detached as LocalModule::step does: none does.
    let grads = loss_of(h.without_autodiff().autodiff()).backward();
    assert_eq!(
        GradientsParams::from_grads(grads, &net.modules[0].stage).len(),
        0
    );
    // ... while module 2's own parameters still get theirs.
    let h = net.modules[0].stage.forward(x.autodiff());
    let grads = loss_of(h.without_autodiff().autodiff()).backward();
    assert!(!GradientsParams::from_grads(grads, &net.modules[1].stage).is_empty());
}

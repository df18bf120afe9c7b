//! A module's parameters as one flat `f32` vector, and back: how weights cross a process
//! boundary (the MPI transport) without a file.
//!
//! The order is burn's visiting order of the module's float parameters (batch-norm running
//! statistics included), which `visit` and `map` share.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

struct Flatten {
    out: Vec<f32>,
}

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (_, values) = crate::batches::to_host(param.val().without_autodiff());
        self.out.extend(values);
    }
}

/// Every float parameter of `module` (batch-norm running statistics synced), concatenated in
/// visiting order.
pub fn flat_params<M: Module>(module: &M) -> Vec<f32> {
    let mut f = Flatten { out: Vec::new() };
    // `valid()` first: batch norm keeps its latest running-statistics update per thread until
    // a sync, and a plain visit would read the value before it.
    module.valid().visit(&mut f);
    f.out
}

struct Ids {
    out: Vec<u64>,
}

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.push(param.id.val());
    }
}

/// The ids of `module`'s float parameters in visiting order (the keys of its optimiser state).
pub fn param_ids<M: Module>(module: &M) -> Vec<u64> {
    let mut v = Ids { out: Vec::new() };
    module.visit(&mut v);
    v.out
}

struct Unflatten<'a> {
    values: &'a [f32],
    ids: Option<&'a [u64]>,
    at: usize,
    visited: usize,
    short: bool,
}

impl ModuleMapper for Unflatten<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, t, mapper) = param.consume();
        let id = match self.ids.and_then(|ids| ids.get(self.visited)) {
            Some(&saved) => burn::module::ParamId::from(saved),
            None => {
                self.short |= self.ids.is_some();
                id
            }
        };
        self.visited += 1;
        let shape = t.shape();
        let n = shape.num_elements();
        if self.at + n > self.values.len() {
            self.short = true;
            return Param::from_mapped_value(id, t, mapper);
        }
        let data = TensorData::new(self.values[self.at..self.at + n].to_vec(), shape);
        self.at += n;
        let grad = t.is_require_grad();
        let fresh = Tensor::<D>::from_data(data, &t.device());
        let fresh = if grad { fresh.require_grad() } else { fresh };
        Param::from_mapped_value(id, fresh, mapper)
    }
}

/// `module` with its float parameters replaced by `values` (as [`flat_params`] wrote them).
///
/// # Errors
/// When `values` does not have exactly as many numbers as the module has parameters.
pub fn load_flat_params<M: Module>(module: M, values: &[f32]) -> Result<M, String> {
    unflatten(module, values, None)
}

/// [`load_flat_params`] that also gives the parameters the ids `ids` (as [`param_ids`] listed
/// them), so that an optimiser state saved with the original module applies to this one.
///
/// # Errors
/// When `values` or `ids` does not fit the module.
pub fn load_flat_params_with_ids<M: Module>(
    module: M,
    values: &[f32],
    ids: &[u64],
) -> Result<M, String> {
    unflatten(module, values, Some(ids))
}

fn unflatten<M: Module>(module: M, values: &[f32], ids: Option<&[u64]>) -> Result<M, String> {
    let mut u = Unflatten {
        values,
        ids,
        at: 0,
        visited: 0,
        short: false,
    };
    let module = module.map(&mut u);
    if let Some(ids) = ids
        && ids.len() != u.visited
    {
        return Err(format!(
            "{} parameter ids for a module with {} parameters",
            ids.len(),
            u.visited
        ));
    }
    if u.short || u.at != values.len() {
        return Err(format!(
            "{} parameter values for a module with {} parameters",
            values.len(),
            if u.short {
                "more".to_string()
            } else {
                u.at.to_string()
            }
        ));
    }
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use mole_nn::{Activation, DenseConfig};

    fn block(seed: u64) -> mole_nn::DenseBlock {
        let device = Device::flex();
        device.seed(seed);
        DenseConfig {
            d_input: 4,
            d_output: 3,
            batch_norm: true,
            affine: true,
            activation: Activation::Relu,
        }
        .init(&device)
    }

    #[test]
    fn flat_params_round_trip_into_another_module() {
        let a = block(1);
        let b = block(2);
        let va = flat_params(&a);
        // 4x3 weight + 3 bias + gamma, beta, running mean, running var (3 each).
        assert_eq!(va.len(), 12 + 3 + 4 * 3);
        assert_ne!(va, flat_params(&b));
        let b = load_flat_params(b, &va).unwrap();
        assert_eq!(flat_params(&b), va);
    }

    #[test]
    fn a_copy_after_training_steps_infers_exactly_like_the_original() {
        use burn::tensor::Distribution;
        use mole_nn::Features;
        let ad = Device::flex().autodiff();
        ad.seed(5);
        let cfg = DenseConfig {
            d_input: 4,
            d_output: 3,
            batch_norm: true,
            affine: true,
            activation: Activation::Relu,
        };
        let trained = cfg.init(&ad);
        // Training-mode forwards update batch norm's running statistics (the last one is held
        // per thread until a sync).
        for _ in 0..3 {
            let x = Tensor::<2>::random([8, 4], Distribution::Normal(1.0, 2.0), &ad);
            let _ = trained.forward(Features::Flat(x));
        }
        let copy = load_flat_params(cfg.init(&ad), &flat_params(&trained)).unwrap();
        let x = Tensor::<2>::random([5, 4], Distribution::Normal(1.0, 2.0), &Device::flex());
        let infer = |m: &mole_nn::DenseBlock| {
            crate::batches::to_host(m.valid().forward(Features::Flat(x.clone())).flat()).1
        };
        assert_eq!(infer(&copy), infer(&trained));
    }

    #[test]
    fn a_wrong_length_is_an_error() {
        let a = block(1);
        let v = flat_params(&a);
        assert!(load_flat_params(block(2), &v[1..]).is_err());
        let mut longer = v.clone();
        longer.push(0.0);
        assert!(load_flat_params(block(2), &longer).is_err());
    }
}

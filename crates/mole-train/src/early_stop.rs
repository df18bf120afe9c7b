//! Early stopping of the head: after every evaluation the network is offered with its
//! validation score, and a copy of the weights with the best score so far is kept; at the end
//! the kept weights are put back, so the reported test accuracy is the one of the epoch that
//! validation chose (as Kipf & Welling do for their GCN). The test set never takes part.

use crate::network::Network;
use crate::params::{flat_params, load_flat_params};

/// The epoch with the best validation score so far.
#[derive(Clone, Debug, Default)]
pub struct KeptEpoch {
    /// `head`, `module` or `all`: the stage of the schedule it ended.
    pub stage: &'static str,
    /// Its 1-based epoch within the stage.
    pub epoch: usize,
    /// Validation accuracy.
    pub val_accuracy: f64,
    /// Validation cross-entropy (nats), the tie-break.
    pub val_loss: f64,
    /// Accuracy on the training probe then.
    pub train_accuracy: f64,
    /// Accuracy on the test set then (reported, never compared).
    pub test_accuracy: f64,
    pub(crate) params: Vec<Vec<f32>>,
}

/// Keeps the weights of the best validation epoch.
#[derive(Default)]
pub struct KeepBest {
    kept: Option<KeptEpoch>,
    /// Evaluations offered since the kept one.
    pub since: usize,
}

/// `(accuracy, loss)` beats `best` when its accuracy is higher, or equal with a lower loss.
pub fn improves(candidate: (f64, f64), best: (f64, f64)) -> bool {
    let (a, l) = candidate;
    let (ba, bl) = best;
    if a.is_nan() {
        return false;
    }
    a > ba || (a == ba && l < bl)
}

impl KeepBest {
    /// Offers the network as it is after `epoch` of `stage`, with its validation `(accuracy,
    /// loss)` and its `(train, test)` accuracies; copies its weights when it beats the best.
    /// Returns whether it did.
    pub fn offer(
        &mut self,
        net: &Network,
        stage: &'static str,
        epoch: usize,
        val: (f64, f64),
        accuracy: (f64, f64),
    ) -> bool {
        let better = match &self.kept {
            None => !val.0.is_nan(),
            Some(k) => improves(val, (k.val_accuracy, k.val_loss)),
        };
        if !better {
            self.since += 1;
            return false;
        }
        self.since = 0;
        let params = net
            .modules
            .iter()
            .chain(&net.head)
            .map(|m| flat_params(&m.stage))
            .collect();
        self.kept = Some(KeptEpoch {
            stage,
            epoch,
            val_accuracy: val.0,
            val_loss: val.1,
            train_accuracy: accuracy.0,
            test_accuracy: accuracy.1,
            params,
        });
        true
    }

    /// The kept epoch, if any.
    pub fn kept(&self) -> Option<&KeptEpoch> {
        self.kept.as_ref()
    }

    /// The kept epoch's weights, one flat vector per learner (modules, then the head).
    pub fn kept_params(&self) -> Option<&[Vec<f32>]> {
        self.kept.as_ref().map(|k| k.params.as_slice())
    }

    /// A `KeepBest` as a snapshot saved it: the kept epoch (its `stage` one of `module`, `all`,
    /// `head`) with its weights, and the evaluations offered since.
    pub fn restored(kept: Option<(KeptEpoch, Vec<Vec<f32>>)>, since: usize) -> KeepBest {
        KeepBest {
            kept: kept.map(|(mut k, params)| {
                k.params = params;
                k
            }),
            since,
        }
    }

    /// Puts the kept weights back into `net` (when an epoch was kept and it is not the last
    /// one offered) and returns the kept epoch.
    ///
    /// # Errors
    /// When `net` is not the network the weights were copied from.
    pub fn restore(&self, net: &mut Network) -> anyhow::Result<Option<&KeptEpoch>> {
        let Some(k) = &self.kept else {
            return Ok(None);
        };
        if self.since > 0 {
            let learners = net.modules.iter_mut().chain(net.head.as_mut());
            for (m, values) in learners.zip(&k.params) {
                let stage = std::mem::replace(&mut m.stage, crate::module::Stage::empty());
                m.stage = load_flat_params(stage, values)
                    .map_err(|e| anyhow::anyhow!("restoring the kept epoch of {}: {e}", m.name))?;
            }
        }
        Ok(Some(k))
    }
}

#[cfg(test)]
mod tests {
    use super::improves;

    #[test]
    fn higher_accuracy_wins_then_lower_loss() {
        assert!(improves((0.8, 1.0), (0.7, 0.1)));
        assert!(improves((0.8, 0.4), (0.8, 0.5)));
        assert!(
            !improves((0.8, 0.5), (0.8, 0.5)),
            "a tie keeps the earlier epoch"
        );
        assert!(!improves((0.7, 0.1), (0.8, 1.0)));
        assert!(!improves((f64::NAN, 0.1), (0.1, 1.0)));
    }
}

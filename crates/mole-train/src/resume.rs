//! Continuing a run from its checkpoints (`mole train --resume RUN_DIR`).
//!
//! Every end of epoch writes `weights/module_<k>.safetensors` and `weights/head.safetensors`
//! with the epoch in their metadata. Resuming reads the epoch all of them agree on, loads the
//! weights by parameter path into a freshly built network of the same config, and the schedule
//! goes on with the next epoch (optimiser moments start afresh).

use crate::network::Network;
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A checkpoint that cannot be resumed from.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ResumeError {
    /// The file or directory.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

fn fail(path: &Path, message: impl Into<String>) -> ResumeError {
    ResumeError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A checkpoint file: tensors by parameter path, and its metadata.
struct Checkpoint {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: HashMap<String, String>,
}

fn read(path: &Path) -> Result<Checkpoint, ResumeError> {
    let bytes = std::fs::read(path).map_err(|e| fail(path, e.to_string()))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| fail(path, e.to_string()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(path, e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(fail(path, format!("tensor {name} is not f32")));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), values));
    }
    Ok(Checkpoint {
        tensors,
        metadata: meta.metadata().clone().unwrap_or_default(),
    })
}

fn files(net: &Network, run: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = (1..=net.modules.len())
        .map(|k| run.join(format!("weights/module_{k}.safetensors")))
        .collect();
    if net.head.is_some() {
        v.push(run.join("weights/head.safetensors"));
    }
    v
}

/// The epoch after which every module's checkpoint in `run` was written (and the head's, unless
/// it was last written during the head's own epochs after the modules).
///
/// # Errors
/// A missing or unreadable checkpoint, one without an epoch, or checkpoints of different epochs.
pub fn checkpoint_epoch(net: &Network, run: &Path) -> Result<usize, ResumeError> {
    let mut epoch = None;
    for file in files(net, run) {
        if !file.is_file() {
            return Err(fail(&file, "missing: nothing to resume from"));
        }
        let c = read(&file)?;
        if c.metadata.get("phase").is_some_and(|p| p == "head") {
            continue; // the head trained alone after the modules: its latest weights are used
        }
        let e: usize = c
            .metadata
            .get("epoch")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                fail(
                    &file,
                    "no epoch in its metadata (written by an older mole?)",
                )
            })?;
        match epoch {
            None => epoch = Some(e),
            Some(prev) if prev != e => {
                return Err(fail(
                    &file,
                    format!("written after epoch {e}, the other checkpoints after epoch {prev}"),
                ));
            }
            Some(_) => {}
        }
    }
    epoch.ok_or_else(|| fail(run, "no module to resume"))
}

struct ByPath<'a> {
    path: Vec<String>,
    tensors: &'a HashMap<String, (Vec<usize>, Vec<f32>)>,
    used: usize,
    problems: Vec<String>,
}

impl ModuleMapper for ByPath<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        let Some((shape, values)) = self.tensors.get(&name) else {
            self.problems.push(format!("no tensor {name}"));
            return param;
        };
        self.used += 1;
        param.map(|t| {
            if t.shape().dims::<D>().as_slice() != shape.as_slice() {
                self.problems.push(format!(
                    "{name} has shape {shape:?}, the model's is {:?}",
                    t.shape().dims::<D>()
                ));
                return t;
            }
            let grad = t.is_require_grad();
            let fresh =
                Tensor::<D>::from_data(TensorData::new(values.clone(), shape.clone()), &t.device());
            if grad { fresh.require_grad() } else { fresh }
        })
    }
}

/// Loads every module's and the head's checkpoint in `run` into `net` (same config).
///
/// # Errors
/// A checkpoint that does not fit the network (missing, extra or differently shaped tensors).
pub fn load_checkpoints(mut net: Network, run: &Path) -> Result<Network, ResumeError> {
    let paths = files(&net, run);
    let mut stages: Vec<&mut crate::module::LocalModule> =
        net.modules.iter_mut().chain(net.head.as_mut()).collect();
    for (m, file) in stages.iter_mut().zip(&paths) {
        let c = read(file)?;
        let mut mapper = ByPath {
            path: Vec::new(),
            tensors: &c.tensors,
            used: 0,
            problems: Vec::new(),
        };
        let stage = std::mem::replace(&mut m.stage, crate::module::Stage::empty());
        m.stage = stage.map(&mut mapper);
        if mapper.used != c.tensors.len() {
            mapper.problems.push(format!(
                "{} tensors in the file, {} in the model",
                c.tensors.len(),
                mapper.used
            ));
        }
        if !mapper.problems.is_empty() {
            return Err(fail(
                file,
                format!(
                    "does not fit the model ({}): was the config changed?",
                    mapper.problems.join("; ")
                ),
            ));
        }
        if let Some(steps) = c.metadata.get("steps").and_then(|v| v.parse().ok()) {
            m.steps = steps;
        }
    }
    Ok(net)
}

//! # mole-info
//!
//! Information estimators for layer-local training, on burn tensors (any device):
//!
//! - [`kernel`]: pairwise squared distances, Gaussian Gram matrices with width rules
//!   ([`KernelWidth`]), label kernels ([`LabelKernel`]);
//! - [`renyi`]: matrix-based Rényi α-entropy `S_α(A) = 1/(1−α) log2 tr(A^α)` and the joint
//!   entropy of Hadamard products (Sanchez Giraldo et al. 2014; Yu et al. 2019);
//! - [`mutual_information`]: `I_α(A;B) = S_α(A) + S_α(B) − S_α(A,B)`, its normalised form and
//!   the normalised total correlation `T*_α` (Yu et al. 2021);
//! - [`hsic`]: biased HSIC and the normalised nHSIC of the HSIC bottleneck (Ma et al. 2020);
//! - [`spectral`], [`detached`]: the same entropies on host matrices with their gradients, and
//!   Gaussian Gram matrices built outside autodiff whose host gradient reaches the samples in
//!   one matrix product (the training objectives' fast path);
//! - [`eigen`]: the host (f64, `faer`) eigensolver / linear-algebra bridge and the
//!   surrogate-gradient trick that injects exact host-computed gradients into autodiff.
//!
//! Every estimator returns a `[1]` tensor on the device of its inputs and is differentiable
//! with respect to its Gram matrices when they are tracked by autodiff. Entropies are in bits.
//! Eigendecompositions and linear solves run on the host in f64 (`faer`); whole matrices are
//! moved with one transfer each, never element by element.

#![warn(missing_docs)]

pub mod detached;
pub mod eigen;
pub mod exp;
mod host;
pub mod hsic;
pub mod kernel;
pub mod mutual_information;
pub mod order2;
pub mod profile;
pub mod renyi;
pub mod spectral;

pub use detached::{DetachedGram, SampleKernel, centred_unit_rows, linear_detached_gram};
pub use eigen::{
    EigenPrecision, SymmetricEigen, from_host, scalar, spectral_matrix, symmetric_eigen,
    symmetric_eigen_in, symmetric_eigen_owned, tensor_to_vec_f64, to_host, with_surrogate_gradient,
};
pub use hsic::{
    Centering, NHSIC_EPSILON, NhsicFactor, ShiftedGram, center, center_host,
    center_symmetric_in_place, hsic, nhsic, nhsic_host, nhsic_two_valued_labels, nhsic_with_factor,
    nhsic_with_labels, two_valued_label_gram,
};
pub use kernel::{
    DEFAULT_KNN, GaussianKernel, Gram, KernelWidth, LabelKernel, MIN_DATA_DRIVEN_SIGMA,
    ParseKernelWidthError, pairwise_sq_distances, pairwise_sq_distances_host,
};
pub use mutual_information::{
    MutualInformation, NORMALIZATION_FLOOR, mutual_information, total_correlation,
    total_correlation_from_entropies,
};
pub use order2::Order2Entropies;
pub use renyi::{
    EIGENVALUE_FLOOR, hadamard_product, joint_entropy, normalize_trace, renyi_entropy,
    renyi_entropy_eigen, renyi_entropy_from_eigenvalues, renyi_entropy_order2, trace,
};
pub use spectral::{
    EntropyGrad, EntropySpectrum, hadamard, joint_entropy_host, renyi_entropy_host,
};

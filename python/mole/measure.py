"""Matrix-based Renyi alpha-entropies, mutual information, total correlation, HSIC and nHSIC
of numpy arrays, computed by mole's Rust estimators: the same numbers as ``mole measure``.

A variable is either

- a float array ``[samples, features]`` (float32 or float64; a 1-d float array is one
  feature), kernelised with a Gaussian whose width ``sigma`` is a number, ``"scaled:S"``
  (``S * sqrt(features)``), ``"silverman"``, ``"median"`` (the default) or ``"knn[:K]"``, the
  rules of ``mole measure --sigma-x``; or
- a 1-d integer (or bool) array of class labels, kernelised with the delta kernel (1 for the
  same class, else 0; ``sigma`` is ignored), as ``mole measure --y-labels``.

Values are computed in float32, as ``mole measure`` reads its CSV cells, with the
eigendecompositions in float64. Entropies and mutual information are in bits. Bad arguments
raise ``ValueError`` naming the argument.
"""

import math
import numbers

import numpy as np

from . import _mole

__all__ = [
    "renyi_entropy",
    "mutual_information",
    "joint_entropy",
    "total_correlation",
    "hsic",
    "nhsic",
    "dependence",
]

#: The largest number of samples accepted (Gram matrices are samples x samples).
MAX_SAMPLES = _mole.MAX_SAMPLES


def _width(sigma, name):
    if isinstance(sigma, numbers.Real) and not isinstance(sigma, bool):
        sigma = float(sigma)
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"{name}: sigma must be a finite number > 0, got {sigma}")
        return repr(sigma)
    if isinstance(sigma, str):
        return sigma
    raise ValueError(f"{name}: sigma must be a number or a width rule string, got {sigma!r}")


def _variable(x, sigma, name):
    """The native description of one variable, or ValueError naming the argument."""
    try:
        arr = np.asarray(x)
    except Exception as e:  # ragged nested lists and the like
        raise ValueError(f"{name}: not an array: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind in "biu":
        if arr.ndim != 1:
            raise ValueError(
                f"{name}: an integer array is read as class labels and must be 1-d, got shape "
                f"{arr.shape} (for a Gaussian kernel on integer features pass "
                f"{name}.astype(np.float32))"
            )
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name}: label {arr.max()} does not fit in int64")
        return ("labels", name, np.ascontiguousarray(arr, dtype=np.int64), None)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-d array [samples, features] (or 1-d: one feature), got "
            f"shape {arr.shape}"
        )
    return ("values", name, arr, _width(sigma, name))


def _alpha(alpha):
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
        alpha = float(alpha)
        if math.isfinite(alpha) and alpha > 0:
            return alpha
    raise ValueError(f"alpha: the Renyi order must be a finite number > 0, got {alpha!r}")


def _epsilon(epsilon):
    if isinstance(epsilon, numbers.Real) and not isinstance(epsilon, bool):
        epsilon = float(epsilon)
        if math.isfinite(epsilon) and epsilon > 0:
            return epsilon
    raise ValueError(f"epsilon: must be a finite number > 0, got {epsilon!r}")


def _many(arrays, sigma, least):
    if len(arrays) < least:
        raise ValueError(f"at least {least} variable(s) are needed, got {len(arrays)}")
    if isinstance(sigma, (list, tuple)):
        if len(sigma) != len(arrays):
            raise ValueError(f"sigma: {len(sigma)} widths for {len(arrays)} variables")
        sigmas = sigma
    else:
        sigmas = [sigma] * len(arrays)
    return [_variable(a, s, f"variable {i}") for i, (a, s) in enumerate(zip(arrays, sigmas))]


def renyi_entropy(x, alpha=2.0, sigma="median"):
    """``S_alpha(A) = 1/(1-alpha) log2 tr(A^alpha)`` with ``A = K / tr(K)``, in bits.

    For labels of ``C`` balanced classes this is ``log2(C)`` for every alpha."""
    return _mole.renyi_entropy(_variable(x, sigma, "x"), _alpha(alpha))[0]


def mutual_information(x, y, alpha=2.0, sigma_x="median", sigma_y="median", normalized=False):
    """``I_alpha(X;Y) = S(X) + S(Y) - S(X,Y)`` in bits, the joint entropy of the Hadamard
    product of the Gram matrices (``normalized``: divided by ``max(S(X), S(Y))``)."""
    return _mole.mutual_information(
        _variable(x, sigma_x, "x"), _variable(y, sigma_y, "y"), _alpha(alpha), bool(normalized)
    )


def dependence(x, y, alpha=2.0, sigma_x="median", sigma_y="median", epsilon=1e-5):
    """Everything ``mole measure`` prints for X and Y, as a dict with its keys:
    ``entropy_x``, ``entropy_y``, ``joint_entropy``, ``mutual_information``,
    ``normalized_mutual_information``, ``hsic``, ``nhsic``, ``samples``, ``alpha``,
    ``sigma_x``, ``sigma_y`` (the effective widths; None for labels)."""
    return _mole.dependence(
        _variable(x, sigma_x, "x"),
        _variable(y, sigma_y, "y"),
        _alpha(alpha),
        _epsilon(epsilon),
    )


def joint_entropy(*variables, alpha=2.0, sigma="median"):
    """``S_alpha(A_1, ..., A_L)`` of the Hadamard product of the Gram matrices, in bits.
    ``sigma`` is one width for all or a list with one per variable."""
    return _mole.joint_entropy(_many(variables, sigma, 1), _alpha(alpha))


def total_correlation(*variables, alpha=2.0, sigma="median"):
    """Normalised total correlation ``T*_alpha`` of two or more variables, in [0, 1]:
    ``(sum_i S(A_i) - S(A_1..A_L)) / (sum_i S(A_i) - max_i S(A_i))``."""
    return _mole.total_correlation(_many(variables, sigma, 2), _alpha(alpha))


def hsic(x, y, sigma_x="median", sigma_y="median"):
    """The biased HSIC estimator ``tr(K_X H K_Y H) / (m-1)^2``."""
    return _mole.hsic(_variable(x, sigma_x, "x"), _variable(y, sigma_y, "y"))


def nhsic(x, y, sigma_x="median", sigma_y="median", epsilon=1e-5):
    """Normalised HSIC of the HSIC bottleneck, ``tr(R_X R_Y)`` with
    ``R = Kc (Kc + epsilon m I)^-1`` and ``Kc = H K H``."""
    return _mole.nhsic(
        _variable(x, sigma_x, "x"), _variable(y, sigma_y, "y"), _epsilon(epsilon)
    )

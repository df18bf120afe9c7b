"""mole.measure: known values, agreement with `mole measure` and with a numpy eigh
implementation, invariances, dtypes and layouts, and ValueError for every bad argument."""

import json
import math

import numpy as np
import pytest

import mole
from conftest import run_mole

ALPHAS = (0.5, 1.01, 2.0, 3.0)


# --- a small numpy implementation of the same estimators -----------------------------------


def np_gram(x, sigma="median"):
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    d2 = np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0.0)
    if sigma == "median":
        s = np.median(np.sqrt(d2[np.triu_indices(len(x), 1)]))
    elif isinstance(sigma, str) and sigma.startswith("scaled:"):
        s = float(sigma[7:]) * math.sqrt(x.shape[1])
    else:
        s = float(sigma)
    return np.exp(-d2 / (2 * s * s))


def np_delta(y):
    return (y[:, None] == y[None, :]).astype(np.float64)


def np_entropy(k, alpha):
    w = np.linalg.eigh(k / np.trace(k))[0]
    w = w[w > 0]
    if alpha == 1.0:
        return float(-(w * np.log2(w)).sum())
    return float(np.log2((w**alpha).sum()) / (1 - alpha))


def np_nhsic(kx, ky, eps):
    m = len(kx)
    h = np.eye(m) - 1.0 / m
    rx = (h @ kx @ h) @ np.linalg.inv(h @ kx @ h + eps * m * np.eye(m))
    ry = (h @ ky @ h) @ np.linalg.inv(h @ ky @ h + eps * m * np.eye(m))
    return float(np.trace(rx @ ry))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(4), 30)
    x = (rng.normal(size=(120, 6)) + 1.5 * y[:, None]).astype(np.float32)
    z = (x[:, :3] ** 2 + rng.normal(size=(120, 3))).astype(np.float32)
    return x, y, z


# --- known values ---------------------------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 3, 5, 10])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_entropy_of_balanced_labels_is_log2_of_the_classes(classes, alpha):
    y = np.random.default_rng(classes).permutation(np.repeat(np.arange(classes), 7))
    assert mole.renyi_entropy(y, alpha=alpha) == pytest.approx(math.log2(classes), abs=1e-5)


def test_entropy_of_unbalanced_labels_at_alpha_2_is_minus_log2_sum_of_squares():
    # A = delta / n has eigenvalues n_c / n: S_2 = -log2 sum_c p_c^2.
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    p = np.array([0.6, 0.3, 0.1])
    assert mole.renyi_entropy(y, alpha=2) == pytest.approx(-math.log2((p**2).sum()), abs=1e-5)


def test_distinct_points_under_a_tiny_width_have_entropy_log2_n():
    x = np.arange(16, dtype=np.float64)[:, None]
    assert mole.renyi_entropy(x, alpha=1.01, sigma=1e-3) == pytest.approx(4.0, abs=1e-4)


def test_labels_against_themselves_share_all_their_information():
    y = np.repeat(np.arange(5), 8)
    assert mole.mutual_information(y, y, alpha=1.01) == pytest.approx(math.log2(5), abs=1e-5)
    assert mole.mutual_information(y, y, normalized=True) == pytest.approx(1.0, abs=1e-5)


# --- agreement with `mole measure` ----------------------------------------------------------


@pytest.mark.parametrize(
    "alpha, sigma_x, sigma_y, labels",
    [
        (2.0, "median", "median", True),
        (1.01, "median", "median", True),
        (1.01, "scaled:0.5", "knn:3", False),
        (0.5, "silverman", "2.5", False),
        (3.0, "knn", "median", True),
    ],
)
def test_equals_mole_measure_on_the_same_csv(tmp_path, mole_bin, data, alpha, sigma_x, sigma_y,
                                            labels):
    x, y, z = data
    second = y[:, None] if labels else z
    path = tmp_path / "data.csv"
    np.savetxt(path, np.hstack([x, second]), delimiter=",", fmt="%.9g")
    # What the command reads: the cells as written.
    table = np.loadtxt(path, delimiter=",")
    xs = table[:, :6]
    ys = table[:, 6].astype(np.int64) if labels else table[:, 6:]
    args = ["measure", path, "--x", "0..6", "--y", "6" if labels else "6..9",
            "--alpha", alpha, "--sigma-x", sigma_x, "--sigma-y", sigma_y]
    if labels:
        args.append("--y-labels")
    cli = json.loads(run_mole(mole_bin, *args).stdout)
    sigma_y_py = float(sigma_y) if sigma_y[0].isdigit() else sigma_y
    py = mole.dependence(xs, ys, alpha=alpha, sigma_x=sigma_x, sigma_y=sigma_y_py)
    assert set(py) == set(cli)
    for key, value in cli.items():
        if value is None:
            assert py[key] is None, key
        else:
            assert py[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    # The single-number functions give the same numbers.
    assert mole.mutual_information(xs, ys, alpha=alpha, sigma_x=sigma_x,
                                   sigma_y=sigma_y_py) == pytest.approx(cli["mutual_information"],
                                                                        rel=1e-6, abs=1e-9)
    assert mole.renyi_entropy(xs, alpha=alpha, sigma=sigma_x) == pytest.approx(
        cli["entropy_x"], rel=1e-6)
    assert mole.hsic(xs, ys, sigma_x=sigma_x, sigma_y=sigma_y_py) == pytest.approx(
        cli["hsic"], rel=1e-6)
    assert mole.nhsic(xs, ys, sigma_x=sigma_x, sigma_y=sigma_y_py) == pytest.approx(
        cli["nhsic"], rel=1e-6)


def test_equals_mole_measure_on_iris(mole_bin):
    from conftest import DATASETS

    path = DATASETS / "uci" / "iris.csv"
    cli = json.loads(run_mole(mole_bin, "measure", path, "--header", "--x", "0..4", "--y", "4",
                              "--y-labels", "--alpha", "1.01").stdout)
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    py = mole.dependence(table[:, :4], table[:, 4].astype(int), alpha=1.01)
    for key in ("entropy_x", "entropy_y", "joint_entropy", "mutual_information", "hsic", "nhsic"):
        assert py[key] == pytest.approx(cli[key], rel=1e-6), key
    assert cli["entropy_y"] == pytest.approx(math.log2(3), abs=1e-5)  # 50 of each class


# --- agreement with numpy -------------------------------------------------------------------


@pytest.mark.parametrize("alpha", ALPHAS)
def test_agrees_with_a_numpy_eigh_implementation(data, alpha):
    x, y, z = data
    kx, kz, ky = np_gram(x), np_gram(z, "scaled:0.7"), np_delta(y)
    sx, sz, sy = (np_entropy(k, alpha) for k in (kx, kz, ky))
    tol = dict(rel=2e-4, abs=2e-4)  # mole's Gram matrices are float32
    assert mole.renyi_entropy(x, alpha=alpha) == pytest.approx(sx, **tol)
    assert mole.mutual_information(x, y, alpha=alpha) == pytest.approx(
        sx + sy - np_entropy(kx * ky, alpha), **tol)
    assert mole.mutual_information(x, z, alpha=alpha, sigma_y="scaled:0.7") == pytest.approx(
        sx + sz - np_entropy(kx * kz, alpha), **tol)
    assert mole.joint_entropy(x, z, y, alpha=alpha, sigma=["median", "scaled:0.7", None]) == (
        pytest.approx(np_entropy(kx * kz * ky, alpha), **tol))
    tc = (sx + sz + sy - np_entropy(kx * kz * ky, alpha)) / (sx + sz + sy - max(sx, sz, sy))
    assert mole.total_correlation(x, z, y, alpha=alpha, sigma=["median", "scaled:0.7", 1.0]) == (
        pytest.approx(tc, **tol))
    i_norm = (sx + sy - np_entropy(kx * ky, alpha)) / max(sx, sy)
    assert mole.mutual_information(x, y, alpha=alpha, normalized=True) == pytest.approx(i_norm, **tol)


def test_hsic_and_nhsic_agree_with_numpy(data):
    x, y, z = data
    kx, kz = np_gram(x), np_gram(z)
    m = len(x)
    h = np.eye(m) - 1.0 / m
    assert mole.hsic(x, z) == pytest.approx(np.trace(kx @ h @ kz @ h) / (m - 1) ** 2, rel=1e-4)
    assert mole.nhsic(x, z, epsilon=1e-3) == pytest.approx(np_nhsic(kx, kz, 1e-3), rel=1e-3)
    assert mole.nhsic(x, y) == pytest.approx(np_nhsic(kx, np_delta(y), 1e-5), rel=1e-3)


# --- invariances and properties -------------------------------------------------------------


def test_invariances(data):
    x, y, z = data
    base = mole.mutual_information(x, y, alpha=1.01)
    perm = np.random.default_rng(3).permutation(len(y))
    # the order of the samples, the names of the classes, a shift and (median width) a scale
    assert mole.mutual_information(x[perm], y[perm], alpha=1.01) == pytest.approx(base, abs=1e-5)
    assert mole.mutual_information(x, 7 - 2 * y, alpha=1.01) == pytest.approx(base, abs=1e-6)
    # (a moderate shift: distances are computed in float32 as |a|^2 + |b|^2 - 2ab)
    assert mole.mutual_information(x + 5.0, y, alpha=1.01) == pytest.approx(base, abs=1e-3)
    assert mole.mutual_information(x * 8.0, y, alpha=1.01) == pytest.approx(base, abs=1e-4)
    # symmetry
    assert mole.mutual_information(y, x, alpha=1.01) == pytest.approx(base, abs=1e-6)
    assert mole.hsic(z, x) == pytest.approx(mole.hsic(x, z), rel=1e-6)


def test_dependence_orders_and_bounds(data):
    x, y, z = data
    noise = np.random.default_rng(11).normal(size=x.shape)
    for alpha in (1.01, 2.0):
        i_dep = mole.mutual_information(x, y, alpha=alpha)
        i_ind = mole.mutual_information(noise, y, alpha=alpha)
        assert i_dep > 3 * abs(i_ind) and i_dep > 0.3
        # I(X;Y) <= min(S(X), S(Y)); the normalised forms lie in [0, 1]
        assert i_dep <= min(mole.renyi_entropy(x, alpha=alpha),
                            mole.renyi_entropy(y, alpha=alpha)) + 1e-6
        tc = mole.total_correlation(x, z, y, alpha=alpha)
        assert 0.0 <= tc <= 1.0
    assert mole.hsic(x, z) > 5 * mole.hsic(noise, z)


def test_float32_float64_and_layouts_agree(data):
    x, y, _ = data
    x64 = x.astype(np.float64)
    assert mole.mutual_information(x, y) == mole.mutual_information(x64, y)
    wide = np.zeros((len(x), 12), dtype=np.float32)
    wide[:, ::2] = x
    assert mole.renyi_entropy(wide[:, ::2]) == mole.renyi_entropy(np.ascontiguousarray(x))
    assert mole.renyi_entropy(np.asfortranarray(x)) == mole.renyi_entropy(x)
    col = x[:, 0]
    assert mole.renyi_entropy(col) == mole.renyi_entropy(col[:, None])
    assert mole.renyi_entropy(y.astype(np.int8)) == mole.renyi_entropy(y)
    assert mole.renyi_entropy(y.astype(np.uint32)) == mole.renyi_entropy(y)
    assert mole.renyi_entropy(y > 1) == pytest.approx(1.0, abs=1e-6)  # bool labels: two classes
    assert mole.renyi_entropy(x.tolist()) == mole.renyi_entropy(x.astype(np.float64))


# --- bad arguments: ValueError naming the argument, never a crash ---------------------------

BAD = [
    (lambda x, y: mole.renyi_entropy(np.where(x > 3, np.nan, x)), ["x", "NaN"]),
    (lambda x, y: mole.mutual_information(x, np.full((len(x), 2), np.inf)), ["y", "infinite"]),
    (lambda x, y: mole.mutual_information(x, y[:-1]), ["x: 120", "y: 119"]),
    (lambda x, y: mole.renyi_entropy(x[:, :, None]), ["x", "2-d"]),
    (lambda x, y: mole.renyi_entropy(np.zeros((5, 0))), ["x", "no features"]),
    (lambda x, y: mole.renyi_entropy(np.array(["a", "b", "c"])), ["x", "dtype"]),
    (lambda x, y: mole.renyi_entropy(np.ones((3, 2), dtype=complex)), ["x", "dtype"]),
    (lambda x, y: mole.renyi_entropy(np.array([[1, 2], [3, 4]])), ["x", "labels", "1-d"]),
    (lambda x, y: mole.renyi_entropy([[1.0, 2.0], [3.0]]), ["x"]),
    (lambda x, y: mole.renyi_entropy(x[:1]), ["x", "two samples"]),
    (lambda x, y: mole.renyi_entropy(np.zeros(mole.measure.MAX_SAMPLES + 1, dtype=int)),
     ["x", "at most"]),
    (lambda x, y: mole.renyi_entropy(x, alpha=0), ["alpha"]),
    (lambda x, y: mole.renyi_entropy(x, alpha=float("nan")), ["alpha"]),
    (lambda x, y: mole.renyi_entropy(x, alpha="2"), ["alpha"]),
    (lambda x, y: mole.renyi_entropy(x, alpha=True), ["alpha"]),
    (lambda x, y: mole.renyi_entropy(x, sigma="wide"), ["x", "sigma", "wide"]),
    (lambda x, y: mole.renyi_entropy(x, sigma=-1.0), ["x", "sigma"]),
    (lambda x, y: mole.mutual_information(x, x, sigma_y="knn:0"), ["y", "sigma"]),
    (lambda x, y: mole.nhsic(x, y, epsilon=0), ["epsilon"]),
    (lambda x, y: mole.total_correlation(x), ["at least 2"]),
    (lambda x, y: mole.joint_entropy(x, y, sigma=[1.0]), ["sigma", "1 widths for 2"]),
]


@pytest.mark.parametrize("call, words", BAD)
def test_bad_arguments_raise_value_error_naming_them(data, call, words):
    x, y, _ = data
    with pytest.raises(ValueError) as e:
        call(x, y)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_native_functions_check_their_arguments_too(data):
    """The native module refuses bad variables itself (no panic when called directly)."""
    from mole import _mole

    x, y, _ = data
    with pytest.raises(ValueError, match="kind"):
        _mole.renyi_entropy(("image", "x", x, None), 2.0)
    with pytest.raises(ValueError, match="x: expected a 2-d float32"):
        _mole.renyi_entropy(("values", "x", x.astype(np.int32), "median"), 2.0)
    with pytest.raises(ValueError, match="alpha"):
        _mole.mutual_information(("labels", "a", y, None), ("labels", "b", y, None), -1.0, False)
    with pytest.raises(ValueError, match="at least two variables"):
        _mole.total_correlation([("labels", "a", y, None)], 2.0)



"""Training with mole from numpy arrays: ``mole train`` without files.

Every key of the TOML config (README, "mole train"; ``crates/mole-train/src/config.rs``) is a
keyword argument: top-level keys by name (``epochs=3``), the tables ``[mole]``, ``[hsic]``,
``[augment]`` and ``[async]`` as dicts (``mole={"alpha": 2.0}``, ``**{"async": {...}}`` or
``async_={...}``) or as dotted keys (``**{"mole.alpha": 2.0}``); ``config=`` takes a TOML file
or a dict of the same keys, which the keyword arguments override. A key left out (or None) is
chosen by the default rules of ``mole train`` from the data, as on the command line. Unknown
keys and wrong types raise ``ValueError`` naming the key.

The run directory is written exactly as ``mole train`` writes it (``config.toml``,
``metrics.csv``, ``weights/``, ``embeddings.safetensors``, ``summary.json``), so
``mole report RUN_DIR`` works on it. Progress goes to stderr as on the command line (the
progress bar on a terminal only); ``quiet=True`` silences it. Ctrl-C (or a notebook's
interrupt) stops the run after its current step and raises ``KeyboardInterrupt``; the run
directory keeps every finished epoch and ``resume=RUN_DIR`` continues it.
"""

import json
import math
import numbers
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import _mole

__all__ = ["train", "train_graph", "TrainResult", "read_metrics"]

#: Arguments of train() / train_graph() that are not config keys.
_OWN = ("config", "resume", "quiet", "dry_run")


class TrainResult(NamedTuple):
    """What a run returns: ``summary`` (the dict of ``summary.json``) and ``run_dir``."""

    summary: dict
    run_dir: Path

    def metrics(self):
        """``metrics.csv`` of the run as columns (see :func:`read_metrics`)."""
        return read_metrics(self.run_dir)


def read_metrics(run_dir):
    """The ``metrics.csv`` of a run directory as a dict of columns: ``stage`` (str array:
    ``module`` or ``head``) and float arrays for every other column (``epoch``, ``module``,
    ``layer``, ``loss``, ``i_tx``, ``i_ty``, ``nhsic_tx``, ``nhsic_ty``, ``train_accuracy``,
    ``test_accuracy``, ``val_accuracy``, ``seconds``; NaN where a row has no value)."""
    path = Path(run_dir) / "metrics.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:] if line]
    out = {}
    for j, name in enumerate(header):
        cells = [r[j] if j < len(r) else "" for r in rows]
        if name == "stage":
            out[name] = np.array(cells, dtype=str)
        else:
            out[name] = np.array([float(c) if c not in ("", "NaN") else np.nan for c in cells])
    return out


def _value(key, v):
    """A config value as JSON data, or ValueError naming the key."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"{key}: must be a finite number, got {v}")
        return v
    if isinstance(v, str):
        return v
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, dict):
        return {str(k): _value(f"{key}.{k}", x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_value(f"{key}[{i}]", x) for i, x in enumerate(list(v))]
    raise ValueError(f"{key}: unsupported value {v!r} of type {type(v).__name__}")


def _put(table, key, value):
    """Sets a dotted key in a nested dict (tables merge key by key)."""
    parts = key.split(".")
    for p in parts[:-1]:
        inner = table.get(p)
        if not isinstance(inner, dict):
            inner = table[p] = {}
        table = inner
    last = parts[-1]
    if isinstance(value, dict) and isinstance(table.get(last), dict):
        for k, v in value.items():
            _put(table[last], k, v)
    else:
        table[last] = value


def _keys(config, keys):
    """The config keys of a call as nested JSON-ready dicts; and the TOML file, if any."""
    table, config_file = {}, None
    if isinstance(config, dict):
        items = list(config.items())
    elif config is None:
        items = []
    elif isinstance(config, (str, os.PathLike)):
        config_file = os.fspath(config)
        items = []
    else:
        raise ValueError(f"config: expected a TOML file path or a dict, got {type(config).__name__}")
    items += list(keys.items())
    for key, v in items:
        key = str(key)
        if key == "async_" or key.startswith("async_."):
            key = "async" + key[len("async_") :]
        if v is None:
            continue
        _put(table, key, _value(key, v))
    return table, config_file


def _features(x, name):
    try:
        arr = np.asarray(x)
    except Exception as e:
        raise ValueError(f"{name}: not an array: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name}: expected 2-d [samples, features], 3-d [samples, height, width] or 4-d "
            f"[samples, channels, height, width] features, got shape {arr.shape}"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def _labels(y, name, length=None, length_of=None):
    try:
        arr = np.asarray(y)
    except Exception as e:
        raise ValueError(f"{name}: not an array: {e}") from None
    if arr.dtype.kind not in "biu":
        raise ValueError(
            f"{name}: class labels must be an integer array, got dtype {arr.dtype}"
            + (f" (use {name}.astype(np.int64))" if arr.dtype.kind == "f" else "")
        )
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array of labels, got shape {arr.shape}")
    if length is not None and len(arr) != length:
        raise ValueError(f"{name}: {len(arr)} labels for {length} samples of {length_of}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: label {arr.max()} does not fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _run(data, model, method, config, resume, quiet, dry_run, keys):
    """Resolves the run (ValueError for every mistake), then trains it, or with ``dry_run``
    returns the resolved config as ``mole train --dry-run`` prints it."""
    table, config_file = _keys(config, {**keys, "model": model, "method": method})
    resume = os.fspath(resume) if resume is not None else None
    plan = _mole.plan(data, config_file, json.dumps(table), resume, bool(quiet))
    if dry_run:
        return plan.config()
    job = plan.start()
    try:
        while not job.wait(0.1):
            pass
    except BaseException:  # Ctrl-C (KeyboardInterrupt), or an exception of a signal handler
        job.stop()  # the schedule stops after its current step
        try:
            job.finish()
        except RuntimeError:
            pass  # "interrupted": the run directory keeps its finished epochs
        raise
    summary = json.loads(job.finish())
    return TrainResult(summary, Path(plan.out()))


def train(
    x_train=None,
    y_train=None,
    x_test=None,
    y_test=None,
    *,
    model=None,
    method=None,
    config=None,
    resume=None,
    quiet=False,
    dry_run=False,
    **keys,
):
    """Trains a network on rows (vectors or images) as ``mole train`` does; returns a
    :class:`TrainResult` ``(summary, run_dir)``.

    - ``x_train`` ``[n, features]``, ``[n, height, width]`` or ``[n, channels, height, width]``
      (any real dtype, used as float32), ``y_train`` ``[n]`` integer class indices ``0..C-1``;
      ``x_test`` / ``y_test`` likewise. Without test arrays, a stratified seeded
      ``test_fraction`` of the training arrays is the test set (as ``mole train`` splits a
      CSV file). Without any arrays the config's ``dataset`` is loaded as ``mole train``
      loads it (``dataset="mnist"``, ``"csv:PATH"``, ``"cora"``, ...).
    - ``model``, ``method`` and every other config key as keyword arguments (module docs);
      ``out`` is the run directory (default ``runs/<UTC timestamp>``), ``dataset`` only names
      the data in ``config.toml`` and ``summary.json`` (default ``"arrays"``).
    - ``resume=RUN_DIR`` continues a stopped run from its last finished epoch (with the same
      arrays; keyword arguments override its ``config.toml``, e.g. ``epochs`` of an async
      run).
    - ``dry_run=True`` resolves everything and returns the config text (each value with its
      origin) without training, as ``mole train --dry-run``.
    - ``quiet=True`` prints nothing.
    """
    if x_train is None:
        if any(a is not None for a in (y_train, x_test, y_test)):
            raise ValueError("x_train: missing (y_train, x_test or y_test given)")
        data = ("named",)
    else:
        if y_train is None:
            raise ValueError("y_train: missing (x_train given)")
        if (x_test is None) != (y_test is None):
            raise ValueError(
                "x_test, y_test: give both or neither (neither: a stratified test_fraction of "
                "the training arrays is the test set)"
            )
        xt = _features(x_train, "x_train")
        yt = _labels(y_train, "y_train", len(xt), "x_train")
        if x_test is not None:
            xs = _features(x_test, "x_test")
            ys = _labels(y_test, "y_test", len(xs), "x_test")
        else:
            xs = ys = None
        data = ("rows", xt, yt, xs, ys)
    return _run(data, model, method, config, resume, quiet, dry_run, keys)


def _nodes(mask, name, n):
    """Node indices of a boolean mask [N] or an index array."""
    try:
        arr = np.asarray(mask)
    except Exception as e:
        raise ValueError(f"{name}: not an array: {e}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d mask or index array, got shape {arr.shape}")
    if arr.dtype.kind == "b":
        if len(arr) != n:
            raise ValueError(f"{name}: a boolean mask of {len(arr)} entries for {n} nodes")
        return np.flatnonzero(arr).astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected a boolean mask or integer node indices, got {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _edge_index(edge_index, name, empty_ok=False):
    """An integer array ``[2, edges]`` as contiguous int64; with ``empty_ok`` an empty array of
    any shape is a graph without edges."""
    try:
        e = np.asarray(edge_index)
    except Exception as err:
        raise ValueError(f"{name}: not an array: {err}") from None
    if empty_ok and e.size == 0:
        e = np.zeros((2, 0), dtype=np.int64)
    if e.dtype.kind not in "iu" or e.ndim != 2 or e.shape[0] != 2:
        raise ValueError(
            f"{name}: expected an integer array of shape [2, edges], got {e.dtype} {e.shape}"
        )
    return np.ascontiguousarray(e, dtype=np.int64)


def train_graph(
    features,
    edge_index,
    labels,
    train_mask=None,
    val_mask=None,
    test_mask=None,
    *,
    model=None,
    method=None,
    config=None,
    resume=None,
    quiet=False,
    dry_run=False,
    **keys,
):
    """Node classification on one graph, through the graph trainer ``mole train`` uses for
    Cora; returns a :class:`TrainResult` ``(summary, run_dir)``.

    - ``features`` ``[N, F]`` (used as float32, as given: ``mole train --dataset cora``
      row-normalises Cora's word counts first), ``edge_index`` ``[2, E]`` integer node pairs
      (read as undirected edges; duplicates and self-loops are dropped, as the LINQS loader
      does), ``labels`` ``[N]`` class indices ``0..C-1``.
    - ``train_mask``, ``val_mask``, ``test_mask``: boolean masks ``[N]`` or node-index arrays,
      disjoint. Training nodes are the only labels the objectives see, validation nodes pick
      the kept epoch (``val_mask`` may be left out: the last epoch is kept), test nodes are
      only evaluated. Without masks: the seeded split of ``mole train`` (20 training nodes per
      class, 500 validation, 1,000 test).
    - Config keys, ``resume``, ``dry_run`` and ``quiet`` as in :func:`train`; the node-level
      default rules apply (``gcn:64`` with a GCN head, 200 full-batch epochs, ...).
    """
    x = _features(features, "features")
    if x.ndim != 2:
        raise ValueError(f"features: expected a 2-d array [nodes, features], got shape {x.shape}")
    y = _labels(labels, "labels", len(x), "features")
    e = _edge_index(edge_index, "edge_index")
    if (train_mask is None) != (test_mask is None) or (train_mask is None and val_mask is not None):
        raise ValueError(
            "train_mask, test_mask: give both (val_mask optional) or no mask at all (the "
            "seeded split of mole train)"
        )
    n = len(x)
    parts = (None, None, None)
    if train_mask is not None:
        parts = (
            _nodes(train_mask, "train_mask", n),
            None if val_mask is None else _nodes(val_mask, "val_mask", n),
            _nodes(test_mask, "test_mask", n),
        )
    data = ("nodes", x, e, y, *parts)
    return _run(data, model, method, config, resume, quiet, dry_run, keys)


def _graph(i, graph, dim):
    """The ``(features, edge_index)`` pair ``graphs[i]``, checked: float32 ``[n, F]`` with
    ``F == dim`` (when known) and int64 ``[2, e]`` local node ids ``0..n-1``."""
    name = f"graphs[{i}]"
    try:
        features, edge_index = graph
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a (features, edge_index) pair") from None
    x = _features(features, f"{name} features")
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(
            f"{name} features: expected a 2-d array [nodes, features] with at least one node, "
            f"got shape {x.shape}"
        )
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} features: {x.shape[1]} features, but graphs[0] has {dim}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} features: contains NaN or infinite values")
    e = _edge_index(edge_index, f"{name} edge_index", empty_ok=True)
    if e.size and (e.min() < 0 or e.max() >= len(x)):
        bad = e.min() if e.min() < 0 else e.max()
        raise ValueError(f"{name} edge_index: node {bad} is out of range for {len(x)} nodes")
    return x, e


def train_graphs(
    graphs,
    labels,
    *,
    model=None,
    method=None,
    config=None,
    resume=None,
    quiet=False,
    dry_run=False,
    **keys,
):
    """Graph classification on many graphs, through the graph trainer ``mole train`` uses for
    MUTAG (stratified k-fold cross-validation, ``folds``, one run directory per fold); returns a
    :class:`TrainResult` ``(summary, run_dir)`` whose summary holds the folds' mean
    ``test_accuracy``, its ``test_accuracy_std`` and the ``fold_test_accuracies``.

    - ``graphs``: a sequence of ``(features, edge_index)`` pairs, one per graph: ``features``
      ``[n, F]`` (used as float32; the same ``F`` for every graph), ``edge_index`` ``[2, e]``
      integer node ids local to the graph, ``0..n-1`` (read as undirected edges; duplicates and
      self-loops are dropped, as the TU loader does; ``e`` may be 0).
    - ``labels``: ``[G]`` class indices ``0..C-1``, one per graph.
    - Config keys, ``resume``, ``dry_run`` and ``quiet`` as in :func:`train`; the graph-level
      default rules apply (``gin:64,64``, sum readout, 10 folds, ...).
    """
    try:
        graphs = list(graphs)
    except TypeError:
        raise ValueError("graphs: expected a sequence of (features, edge_index) pairs") from None
    if len(graphs) < 2:
        raise ValueError(f"graphs: at least two graphs are needed, got {len(graphs)}")
    checked, dim = [], None
    for i, g in enumerate(graphs):
        x, e = _graph(i, g, dim)
        dim = x.shape[1]
        checked.append((x, e))
    y = _labels(labels, "labels", len(checked), "graphs")
    x = np.ascontiguousarray(np.concatenate([x for x, _ in checked]), dtype=np.float32)
    sizes = np.array([len(x) for x, _ in checked], dtype=np.int64)
    e = np.ascontiguousarray(np.concatenate([e for _, e in checked], axis=1), dtype=np.int64)
    counts = np.array([e.shape[1] for _, e in checked], dtype=np.int64)
    data = ("graphs", x, sizes, e, counts, y)
    return _run(data, model, method, config, resume, quiet, dry_run, keys)

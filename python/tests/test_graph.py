"""mole.train_graph: Cora read in numpy (LINQS files) through the graph trainer of
`mole train --dataset cora` — the same run without masks, its node-level rules, a run on a
split given as masks well above chance, and ValueError for bad graph arrays."""

import json
import tomllib

import numpy as np
import pytest

import mole
from conftest import DATASETS, metrics_without_time, run_mole


def test_same_run_as_the_command_line_on_cora(tmp_path, mole_bin, cora):
    x, edge_index, y = cora
    py = mole.train_graph(x, edge_index, y, epochs=16, head_epochs=16, out=tmp_path / "py",
                          quiet=True)
    run_mole(mole_bin, "train", "--dataset", "cora", "--data-dir", DATASETS, "--epochs", 16,
             "--head-epochs", 16, "--quiet", "--out", tmp_path / "cli")
    assert metrics_without_time(py.run_dir) == metrics_without_time(tmp_path / "cli")
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert py.summary["test_accuracy"] == cli["test_accuracy"]
    assert (py.summary["train_samples"], py.summary["test_samples"]) == (140, 1000)


def test_node_level_rules_as_the_command_line(mole_bin, cora):
    x, edge_index, y = cora
    a = tomllib.loads(mole.train_graph(x, edge_index, y, method="mole", dry_run=True))
    b = tomllib.loads(run_mole(mole_bin, "train", "--preset", "cora-mole", "--data-dir",
                               DATASETS, "--dry-run").stdout)
    assert a.pop("dataset") == "graph" and b.pop("dataset") == "cora"
    a.pop("out"), b.pop("data_dir")
    assert a == b
    assert (a["model"], a["head"], a["epochs"], a["batch_norm"]) == ("gcn:64", "gcn", 200, False)
    assert (a["weight_decay"], a["x_nodes"], a["mole"]["lambda_x"]) == (5e-4, "all", 0.5)


def planetoid_like_split(y, seed=0):
    """20 training nodes per class, then 500 validation and 1,000 test nodes (numpy)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    train = np.concatenate([perm[y[perm] == c][:20] for c in range(y.max() + 1)])
    rest = np.setdiff1d(perm, train, assume_unique=True)
    rest = rest[rng.permutation(len(rest))]
    return train, rest[:500], rest[500:1500]


def test_masks_train_well_above_chance(tmp_path, cora):
    x, edge_index, y = cora
    train, val, test = planetoid_like_split(y)
    train_mask = np.zeros(len(y), dtype=bool)
    train_mask[train] = True
    r = mole.train_graph(x, edge_index, y, train_mask, val, test, method="mole", epochs=60,
                         head_epochs=60, out=tmp_path / "masks", quiet=True)
    s = r.summary
    assert (s["train_samples"], s["test_samples"]) == (140, 1000)
    majority = np.bincount(y[test]).max() / len(test)
    assert majority < 0.35  # the largest class; 0.779 measured with these settings
    assert s["test_accuracy"] > 0.65, s["test_accuracy"]
    assert "val_accuracy" in s and s["kept_epoch"]
    m = r.metrics()
    assert np.nanmax(m["i_ty"]) > 0.5


def bad_graphs(x, e, y):
    n = len(y)
    train, val, test = planetoid_like_split(y)
    wide = e.copy()
    wide[1, 5] = n
    return [
        ((x, wide, y), {}, ["edge_index", f"node {n}", "out of range"]),
        ((x, e.T, y), {}, ["edge_index", "[2, edges]"]),
        ((x, e.astype(float), y), {}, ["edge_index", "integer"]),
        ((x, e, y[:-1]), {}, ["labels", f"{n - 1} labels"]),
        ((x[:, :, None], e, y), {}, ["features", "2-d"]),
        ((np.where(x > 0.1, np.inf, x), e, y), {}, ["features", "infinite"]),
        ((x, e, y, train, None, train[:5]), {}, ["train_mask", "test_mask", "both"]),
        ((x, e, y, train, val, None), {}, ["train_mask, test_mask"]),
        ((x, e, y, train, val, np.append(test, n + 3)), {}, ["test_mask", "out of range"]),
        ((x, e, y, np.ones(n - 1, dtype=bool), val, test), {}, ["train_mask", "boolean mask"]),
        ((x, e, y, train, val, test), {"val_fraction": 0.1}, ["val_fraction"]),
        ((x, e, y), {"readout": "median"}, ["readout"]),
    ]


def test_bad_graph_arrays_raise_value_error_naming_the_argument(cora):
    x, e, y = cora
    for args, keys, words in bad_graphs(x, e, y):
        with pytest.raises(ValueError) as err:
            mole.train_graph(*args, dry_run=True, **keys)
        for w in words:
            assert w in str(err.value), (w, str(err.value))


def test_graph_level_dataset_by_name(tmp_path):
    """Without arrays a graph dataset named in the config is loaded and cross-validated as by
    `mole train --dataset mutag` (graph level: one run directory per fold)."""
    r = mole.train(dataset="mutag", data_dir=DATASETS, folds=2, epochs=2, head_epochs=2,
                   out=tmp_path / "mutag", quiet=True)
    accs = r.summary["fold_test_accuracies"]
    assert len(accs) == 2 and r.summary["test_accuracy"] == pytest.approx(np.mean(accs))
    assert (tmp_path / "mutag" / "fold_2" / "summary.json").is_file()

"""mole.train_graphs: MUTAG read in numpy (TU files) through the graph trainer of
`mole train --dataset mutag` — the same cross-validated run, its graph-level rules, and
ValueError for bad graph lists."""

import json
import tomllib

import numpy as np
import pytest

import mole
from conftest import DATASETS, metrics_without_time, run_mole


@pytest.fixture(scope="module")
def mutag():
    """MUTAG as a list of (features, edge_index) pairs and labels, read as the TU loader reads
    it: one-hot node labels in sorted order, edges local to their graph, labels ranked."""
    folder = DATASETS / "tu" / "MUTAG"

    def column(suffix, cols=None):
        return np.loadtxt(folder / f"MUTAG_{suffix}.txt", delimiter=",", dtype=np.int64,
                          usecols=cols, ndmin=1)

    graph_of = column("graph_indicator") - 1
    node_labels = column("node_labels", 0)
    kinds = np.unique(node_labels)
    onehot = (node_labels[:, None] == kinds[None, :]).astype(np.float32)
    edges = column("A").reshape(-1, 2) - 1
    first = np.searchsorted(graph_of, np.arange(graph_of.max() + 1))
    graphs = []
    for g in range(len(first)):
        nodes = np.flatnonzero(graph_of == g)
        mine = edges[graph_of[edges[:, 0]] == g] - first[g]
        graphs.append((onehot[nodes], mine.T))
    raw = column("graph_labels")
    y = np.searchsorted(np.unique(raw), raw)
    return graphs, y


def test_same_run_as_the_command_line_on_mutag(tmp_path, mole_bin, mutag):
    graphs, y = mutag
    args = dict(method="mole", folds=3, epochs=6, head_epochs=6)
    py = mole.train_graphs(graphs, y, out=tmp_path / "py", quiet=True, **args)
    run_mole(mole_bin, "train", "--dataset", "mutag", "--data-dir", DATASETS, "--method", "mole",
             "--folds", 3, "--epochs", 6, "--head-epochs", 6, "--quiet", "--out", tmp_path / "cli")
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert py.summary["fold_test_accuracies"] == cli["fold_test_accuracies"]
    assert py.summary["test_accuracy"] == cli["test_accuracy"]
    for k in (1, 2, 3):
        fold = f"fold_{k}"
        assert metrics_without_time(py.run_dir / fold) == metrics_without_time(tmp_path / "cli" / fold)
    assert py.summary["dataset"] == "graphs" and len(py.summary["fold_test_accuracies"]) == 3


def test_graph_level_rules_as_the_command_line(mole_bin, mutag):
    graphs, y = mutag
    a = tomllib.loads(mole.train_graphs(graphs, y, method="hsic", dry_run=True))
    b = tomllib.loads(run_mole(mole_bin, "train", "--preset", "mutag-hsic", "--data-dir",
                               DATASETS, "--dry-run").stdout)
    assert a.pop("dataset") == "graphs" and b.pop("dataset") == "mutag"
    a.pop("out"), b.pop("data_dir")
    assert a == b
    assert (a["model"], a["readout"], a["folds"], a["local"]["lambda_ce"]) == (
        "gin:64,64", "sum", 10, 0.5)


def test_graphs_without_edges_and_of_one_node_train(tmp_path):
    """Two classes told apart by their node features alone: graphs of one to four nodes, some
    without an edge."""
    rng = np.random.default_rng(0)
    graphs, y = [], []
    for i in range(60):
        n = 1 + i % 4
        c = i % 2
        x = rng.normal(size=(n, 3)).astype(np.float32) + 3.0 * c
        e = np.array([[0] * (n - 1), list(range(1, n))]) if i % 3 else np.zeros((2, 0), int)
        graphs.append((x, e))
        y.append(c)
    r = mole.train_graphs(graphs, np.array(y), method="mole", folds=2, epochs=20,
                          head_epochs=20, out=tmp_path / "tiny", quiet=True)
    assert r.summary["test_accuracy"] > 0.9, r.summary


def bad_graph_lists(graphs, y):
    (x0, e0), (x1, e1) = graphs[0], graphs[1]
    far = e1.copy()
    far[0, 0] = len(x1)
    return [
        ((graphs[:1], y[:1]), ["graphs", "at least two"]),
        ((5, y), ["graphs", "sequence"]),
        (([(x0, e0), x1] + graphs[2:], y), ["graphs[1]", "pair"]),
        (([(x0, e0), (x1[:, :3], e1)] + graphs[2:], y), ["graphs[1] features", "graphs[0] has 7"]),
        (([(x0, e0), (x1, far)] + graphs[2:], y), ["graphs[1] edge_index", "out of range"]),
        (([(x0, e0), (x1, e1.T)] + graphs[2:], y), ["graphs[1] edge_index", "[2, edges]"]),
        (([(x0, e0), (x1[:0], e1[:, :0])] + graphs[2:], y), ["graphs[1] features", "one node"]),
        (([(x0, e0), (np.where(x1 > 0, np.nan, x1), e1)] + graphs[2:], y), ["graphs[1] features", "NaN"]),
        ((graphs, y[:-1]), ["labels", f"{len(y) - 1} labels"]),
        ((graphs, y.astype(float)), ["labels", "integer"]),
        ((graphs, np.where(np.arange(len(y)) == 3, 500, y)), ["labels", "largest label 500"]),
    ]


def test_bad_graph_lists_raise_value_error_naming_the_argument(mutag):
    graphs, y = mutag
    for args, words in bad_graph_lists(graphs, y):
        with pytest.raises(ValueError) as err:
            mole.train_graphs(*args, dry_run=True)
        for w in words:
            assert w in str(err.value), (w, str(err.value))
    with pytest.raises(ValueError, match="readout"):
        mole.train_graphs(graphs, y, readout="median", dry_run=True)

"""mole: layer-local training with information-theoretic objectives (MOLE, the HSIC
bottleneck) and matrix-based Renyi dependence measures, on numpy arrays.

- :mod:`mole.measure`: ``renyi_entropy``, ``mutual_information``, ``joint_entropy``,
  ``total_correlation``, ``hsic``, ``nhsic`` and ``dependence`` (everything ``mole measure``
  prints), also importable from ``mole`` itself.
- :func:`mole.train` (rows: vectors or images), :func:`mole.train_graph` (node
  classification on one graph) and :func:`mole.train_graphs` (classification of many
  graphs): ``mole train`` on numpy arrays, with the keys of its TOML config, writing the same
  run directory.
"""

from . import measure
from .measure import (
    dependence,
    hsic,
    joint_entropy,
    mutual_information,
    nhsic,
    renyi_entropy,
    total_correlation,
)
from .train import TrainResult, read_metrics, train, train_graph, train_graphs

__all__ = [
    "measure",
    "renyi_entropy",
    "mutual_information",
    "joint_entropy",
    "total_correlation",
    "hsic",
    "nhsic",
    "dependence",
    "train",
    "train_graph",
    "train_graphs",
    "TrainResult",
    "read_metrics",
]

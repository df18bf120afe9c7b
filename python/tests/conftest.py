"""Shared fixtures of the Python tests: the datasets, the `mole` binary they compare with, and
small loaders written in numpy (so that the Python path is fed the way a user feeds it).

One intra-op thread (RAYON_NUM_THREADS=1, set before mole is imported, and passed to every
`mole` subprocess): the order of a parallel reduction then does not depend on scheduling, so
runs of the Python package and of the command line can be compared bit for bit, as
crates/mole-cli/tests/resume.rs does.
"""

import gzip
import os
import shutil
import subprocess
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _datasets():
    for candidate in (os.environ.get("MOLE_DATA_DIR"), REPO.parent / "shared" / "datasets",
                      REPO / "data"):
        if candidate and (Path(candidate) / "uci" / "digits.csv.gz").is_file():
            return Path(candidate)
    raise RuntimeError("the datasets (shared/datasets) are missing; set MOLE_DATA_DIR")


DATASETS = _datasets()


def _mole_binary():
    explicit = os.environ.get("MOLE_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "mole"


@pytest.fixture(scope="session")
def mole_bin():
    """The `mole` command line of this checkout (`cargo build -p mole-cli`)."""
    path = _mole_binary()
    if not path.is_file():
        raise RuntimeError(
            f"{path} is missing: build it with `cargo build -p mole-cli` (CARGO_TARGET_DIR as "
            "for the extension), or set MOLE_BIN"
        )
    return path


def run_mole(mole_bin, *args, check=True, timeout=300):
    """Runs the `mole` binary with one intra-op thread; returns the completed process."""
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    p = subprocess.run([str(mole_bin), *map(str, args)], capture_output=True, text=True,
                       env=env, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"mole {' '.join(map(str, args))}: exit {p.returncode}\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def digits():
    """The 8x8 digits as `mole train --dataset digits` reads them: pixels / 16, labels 0-9."""
    with gzip.open(DATASETS / "uci" / "digits.csv.gz", "rt") as f:
        d = np.loadtxt(f, delimiter=",", dtype=np.float32)
    return d[:, :-1] / np.float32(16.0), d[:, -1].astype(np.int64)


@pytest.fixture(scope="session")
def cora():
    """Cora from its LINQS files, read in numpy: features row-normalised (as `mole train
    --dataset cora`), classes numbered in sorted order of their names, edge_index [2, E]."""
    folder = DATASETS / "cora"
    ids, rows, names = {}, [], []
    for line in (folder / "cora.content").read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        ids[fields[0]] = len(ids)
        rows.append(np.array(fields[1:-1], dtype=np.float32))
        names.append(fields[-1])
    x = np.stack(rows)
    sums = x.sum(axis=1, keepdims=True)
    x = np.where(sums != 0, x / np.where(sums != 0, sums, 1), x).astype(np.float32)
    classes = sorted(set(names))
    y = np.array([classes.index(n) for n in names], dtype=np.int64)
    pairs = [line.split() for line in (folder / "cora.cites").read_text().splitlines() if line.strip()]
    edge_index = np.array([[ids[a] for a, _ in pairs], [ids[b] for _, b in pairs]], dtype=np.int64)
    return x, edge_index, y


def metrics_without_time(run_dir):
    """metrics.csv lines without their last column (seconds, different in every run)."""
    lines = (Path(run_dir) / "metrics.csv").read_text().splitlines()
    return [line.rsplit(",", 1)[0] for line in lines]


def copy_run(src, dst):
    shutil.copytree(src, dst)
    return dst

"""The example script runs end to end (on a subset of MNIST, one epoch per learner) and draws
the information plane from the run's metrics."""

import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import DATASETS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist_mole.py"


def test_mnist_example_quick_run(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, str(EXAMPLE), "--data-dir", str(DATASETS), "--out",
                        str(out), "--train-samples", "1500", "--epochs", "1", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    # The figure the example prints next to its own is the README's MNIST MOLE cell.
    readme = (EXAMPLE.parents[2] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| MNIST (`mnist-mlp-*`)"))
    mole_cell = row.split("|")[4].strip().strip("*")
    assert f"(README, mole train --preset mnist-mlp-mole: {float(mole_cell)})" in p.stdout
    accuracy = float(p.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.5
    png = out / "information_plane_py.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    c = tomllib.loads((out / "config.toml").read_text())
    assert (c["dataset"], c["model"], c["method"], c["group"]) == ("mnist", "mlp:256,256,256",
                                                                   "mole", [2, 1])

"""The README's MNIST MOLE row from Python, and its information plane.

    python python/examples/mnist_mole.py [--data-dir ../shared/datasets] [--out runs/mnist-mole-py]

Trains what ``mole train --preset mnist-mlp-mole`` trains (dataset MNIST, model
mlp:256,256,256, method MOLE, every other setting chosen by the default rules of
``mole train``, which see the same data) on the arrays read here with numpy, prints the test
accuracy next to the README's figure, and plots the information plane -- I(T;X) against
I(T;Y) of every module (and layer) over the epochs, from the run's metrics -- with matplotlib
to ``OUT/information_plane_py.png``. It takes several minutes on two cores.
``--train-samples N --epochs E`` make a quick (and less accurate) run.
"""

import argparse
import gzip
from pathlib import Path

import numpy as np

import mole

README_ACCURACY = 0.9822  # README, "Plain commands": MNIST, MOLE


def read_idx(folder, prefix):
    """MNIST's IDX files as float32 images in [0, 1] [n, 28, 28] (what mole's loader reads)
    and int64 labels."""
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images.astype(np.float32) / np.float32(255.0), labels.astype(np.int64)


def information_plane(metrics, title, path):
    """One trajectory per (module, layer): I(T;X) against I(T;Y) over the evaluated epochs,
    o at the first epoch, ^ at the last (as `mole report` draws it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = metrics["stage"] == "module"
    keys = sorted({(int(m), int(l)) for m, l in zip(metrics["module"][rows],
                                                      metrics["layer"][rows])})
    modules = {m for m, _ in keys}
    several = {m: sum(1 for k, _ in keys if k == m) > 1 for m in modules}
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for m, l in keys:
        sel = rows & (metrics["module"] == m) & (metrics["layer"] == l)
        sel &= ~np.isnan(metrics["i_tx"]) & ~np.isnan(metrics["i_ty"])
        tx, ty = metrics["i_tx"][sel], metrics["i_ty"][sel]
        if len(tx) == 0:
            continue
        label = f"module {m}, layer {l}" if several[m] else f"module {m}"
        (line,) = ax.plot(tx, ty, "-", marker=".", label=label)
        ax.plot(tx[0], ty[0], "o", color=line.get_color(), fillstyle="none", markersize=9)
        ax.plot(tx[-1], ty[-1], "^", color=line.get_color(), markersize=9)
    ax.set_xlabel("I(X;T) (bits)")
    ax.set_ylabel("I(T;Y) (bits)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    here = Path(__file__).resolve()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=here.parents[2].parent / "shared" / "datasets")
    p.add_argument("--out", type=Path, default=Path("runs/mnist-mole-py"))
    p.add_argument("--train-samples", type=int, help="a class-balanced subset (quick runs)")
    p.add_argument("--epochs", type=int, help="epochs per module and of the head (quick runs)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()

    x_train, y_train = read_idx(args.data_dir / "mnist", "train")
    x_test, y_test = read_idx(args.data_dir / "mnist", "t10k")
    keys = {}
    if args.train_samples:
        keys["train_samples"] = args.train_samples
    if args.epochs:
        keys["epochs"] = keys["head_epochs"] = args.epochs
    summary, run_dir = mole.train(x_train, y_train, x_test, y_test, model="mlp:256,256,256",
                                  method="mole", dataset="mnist", out=args.out,
                                  quiet=args.quiet, **keys)
    acc = summary["test_accuracy"]
    print(f"test accuracy {acc:.4f} (README, mole train --preset mnist-mlp-mole: "
          f"{README_ACCURACY}); {summary['train_seconds']:.0f} s of training; run in {run_dir}")
    png = run_dir / "information_plane_py.png"
    information_plane(mole.read_metrics(run_dir), f"MNIST, MOLE, mlp:256,256,256: test "
                      f"accuracy {acc:.4f}", png)
    print(f"information plane: {png}")


if __name__ == "__main__":
    main()

"""Speed of mole.mutual_information against a straightforward numpy implementation of the
same estimator, in one process: 1,000 samples x 784 features, alpha = 1.01, median widths.

    python python/bench/mi_speed.py [--data-dir ../shared/datasets] [--repeats 5]

Two cases: MNIST pixels (1,000 training images, seeded choice, scaled to [0, 1]) against
their labels (delta kernel), and the pixels against a second float array (a fixed random
projection of the pixels plus noise, 784 columns). The numpy estimator: Gaussian Gram
matrices from squared distances in float64, the median of the pairwise distances as width,
A = K / tr(K), ``np.linalg.eigh`` (and, as a second numpy version, ``np.linalg.eigvalsh``,
values only), S(A) + S(B) - S(A o B). Prints the median time of each over the repeats (taking
turns), the ratios numpy / mole and the values.
"""

import argparse
import gzip
import os
import time
from pathlib import Path

import numpy as np

import mole

ALPHA = 1.01


def numpy_gram(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    sigma = np.median(np.sqrt(d2[np.triu_indices(len(x), 1)]))
    return np.exp(-d2 / (2.0 * sigma * sigma))


def numpy_entropy(k, alpha=ALPHA, values_only=False):
    a = k / np.trace(k)
    w = np.linalg.eigvalsh(a) if values_only else np.linalg.eigh(a)[0]
    w = w[w > 0]
    return np.log2(np.sum(w**alpha)) / (1.0 - alpha)


def numpy_mutual_information(x, y, labels=False, alpha=ALPHA, values_only=False):
    kx = numpy_gram(x)
    ky = (y[:, None] == y[None, :]).astype(np.float64) if labels else numpy_gram(y)
    s = [numpy_entropy(k, alpha, values_only) for k in (kx, ky, kx * ky)]
    return s[0] + s[1] - s[2]


def mnist(data_dir, n, seed=0):
    folder = Path(data_dir) / "mnist"
    with gzip.open(folder / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(folder / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    idx = np.random.default_rng(seed).choice(len(labels), n, replace=False)
    return images[idx].astype(np.float32) / np.float32(255.0), labels[idx].astype(np.int64)


def timed(fs, repeats):
    """Median seconds and last value of each function, the functions taking turns (so that
    a change in the machine's load falls on both)."""
    times, values = [[] for _ in fs], [None] * len(fs)
    for _ in range(repeats):
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            values[i] = f()
            times[i].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in times], values


def main():
    here = Path(__file__).resolve()
    default_dir = here.parents[2].parent / "shared" / "datasets"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("MOLE_DATA_DIR", default_dir))
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()

    x, y = mnist(args.data_dir, args.samples)
    rng = np.random.default_rng(1)
    z = (x @ rng.normal(size=(784, 784)).astype(np.float32) / 28.0
         + rng.normal(size=x.shape).astype(np.float32))
    cases = [
        ("MNIST pixels ; labels", lambda: mole.mutual_information(x, y, alpha=ALPHA),
         lambda: numpy_mutual_information(x, y, labels=True),
         lambda: numpy_mutual_information(x, y, labels=True, values_only=True)),
        ("MNIST pixels ; float array", lambda: mole.mutual_information(x, z, alpha=ALPHA),
         lambda: numpy_mutual_information(x, z),
         lambda: numpy_mutual_information(x, z, values_only=True)),
    ]
    print(f"{args.samples} x 784, alpha {ALPHA}, median widths, median of {args.repeats} runs, "
          f"{os.cpu_count()} cores")
    print("| case | mole s | numpy eigh s | numpy eigh / mole | numpy eigvalsh s | "
          "numpy eigvalsh / mole | I mole | I numpy |")
    print("|---|---|---|---|---|---|---|---|")
    for name, *fs in cases:
        for f in fs:
            f()  # warm-up (thread pools, first allocations)
        (t_mole, t_eigh, t_vals), (v_mole, v_numpy, _) = timed(fs, args.repeats)
        print(f"| {name} | {t_mole:.3f} | {t_eigh:.3f} | {t_eigh / t_mole:.2f} | {t_vals:.3f} | "
              f"{t_vals / t_mole:.2f} | {v_mole:.4f} | {v_numpy:.4f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch reference for `mole bench steps`: the same training steps on the same batch and
shapes, timed the same way (median of 20 steps after 3 untimed ones), then the ratios.

Steps, on the first BATCH rows of MNIST's training set (pixels in [0, 1]), network
`mlp:256,256,256` (Linear -> BatchNorm1d -> ReLU blocks), Adam at 1e-3:
  bp          the whole network and a linear classifier, softmax cross-entropy;
  mole-aA     MOLE modules (layers 1-2, layer 3), loss -I_A(T;Y), matrix-based Renyi entropy,
              Gaussian kernel sigma = 0.5 sqrt(d) on T, delta kernel on Y; A = 2 by the
              Frobenius norm, A = 1.01 by torch.linalg.eigh (joint Gram included);
  hsic        HSIC-bottleneck modules (one layer each), nHSIC(T,X) - 500 nHSIC(T,Y),
              Gaussian kernels sigma = 5 sqrt(d), R = Kc (Kc + eps m I)^-1 by torch.linalg.solve.

Usage (from the repository root, in a venv with `pip install torch numpy`):
  RAYON_NUM_THREADS=1 python bench/torch_reference.py --mole target/debug/mole
The thread count is taken from RAYON_NUM_THREADS (default: all cores) for both sides.
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

REPS, WARMUP = 20, 3


def read_idx(path):
    """An IDX file (raw or gzip) as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = folder / name
        if p.exists():
            return p
    sys.exit(f"{folder}: {stem}(.gz) not found")


def block(d_in, d_out):
    return nn.Sequential(nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU())


def gaussian_gram(t, sigma):
    sq = (t * t).sum(1, keepdim=True)
    d = (sq + sq.T - 2.0 * t @ t.T).clamp_min(0.0)
    return torch.exp(-d / (2.0 * sigma * sigma))


def renyi_entropy(k, alpha):
    a = k / torch.trace(k)
    if alpha == 2.0:
        return -torch.log2((a * a).sum())
    lam = torch.linalg.eigh(a)[0].clamp_min(0.0)
    return torch.log2((lam**alpha).sum()) / (1.0 - alpha)


def mutual_information(kt, ky, alpha):
    return renyi_entropy(kt, alpha) + renyi_entropy(ky, alpha) - renyi_entropy(kt * ky, alpha)


def nhsic(kx, ky, eps):
    m = kx.shape[0]
    h = torch.eye(m) - 1.0 / m
    c = eps * m

    def r(k):
        kc = h @ k @ h
        return torch.linalg.solve(kc + c * torch.eye(m), kc)

    return torch.trace(r(kx) @ r(ky))


def time_steps(step):
    times = []
    for rep in range(WARMUP + REPS):
        start = time.perf_counter()
        step()
        if rep >= WARMUP:
            times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def torch_times(x, y, classes):
    out = []
    one_hot = torch.nn.functional.one_hot(y, classes).float()
    delta = (y[:, None] == y[None, :]).float()
    widths = [784, 256, 256, 256]

    # Backprop.
    net = nn.Sequential(*[block(widths[i], widths[i + 1]) for i in range(3)], nn.Linear(256, classes))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def bp():
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    out.append(("bp", "network", time_steps(bp)))

    # MOLE: layers 1-2, then layer 3, each on its detached input.
    for alpha, name in [(1.01, "mole-a1.01"), (2.0, "mole-a2")]:
        modules = [nn.Sequential(block(784, 256), block(256, 256)), block(256, 256)]
        inputs = [x, modules[0](x).detach()]
        for k, (mod, inp) in enumerate(zip(modules, inputs)):
            opt = torch.optim.Adam(mod.parameters(), lr=1e-3)

            def step(mod=mod, inp=inp, opt=opt):
                opt.zero_grad()
                t = mod(inp)
                kt = gaussian_gram(t, 0.5 * t.shape[1] ** 0.5)
                (-mutual_information(kt, delta, alpha)).backward()
                opt.step()

            out.append((name, f"module {k + 1}", time_steps(step)))

    # HSIC bottleneck: one layer per module.
    modules = [block(widths[i], widths[i + 1]) for i in range(3)]
    inputs, h = [], x
    for mod in modules:
        inputs.append(h)
        h = mod(h).detach()
    for k, (mod, inp) in enumerate(zip(modules, inputs)):
        opt = torch.optim.Adam(mod.parameters(), lr=1e-3)

        def step(mod=mod, inp=inp, opt=opt):
            opt.zero_grad()
            t = mod(inp)
            with torch.no_grad():
                kx = gaussian_gram(x, 5.0 * x.shape[1] ** 0.5)
                ky = gaussian_gram(one_hot, 5.0 * classes**0.5)
            kt = gaussian_gram(t, 5.0 * t.shape[1] ** 0.5)
            (nhsic(kt, kx, 1e-5) - 500.0 * nhsic(kt, ky, 1e-5)).backward()
            opt.step()

        out.append(("hsic", f"module {k + 1}", time_steps(step)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mole", default="target/debug/mole", help="the mole binary")
    p.add_argument("--data-dir", default="../shared/datasets")
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args()

    threads = os.environ.get("RAYON_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    folder = Path(args.data_dir) / "mnist"
    images = read_idx(find(folder, "train-images-idx3-ubyte"))[: args.batch_size]
    labels = read_idx(find(folder, "train-labels-idx1-ubyte"))[: args.batch_size]
    x = torch.tensor(images.reshape(len(images), -1), dtype=torch.float32) / 255.0
    y = torch.tensor(labels, dtype=torch.long)
    torch.manual_seed(0)
    ref = torch_times(x, y, 10)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "steps.json"
        cmd = [args.mole, "bench", "steps", "--dataset", "mnist", "--data-dir", args.data_dir,
               "--batch-size", str(args.batch_size), "--json", str(path)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        ours = {(r["method"], r["learner"]): r["ms"] for r in json.loads(path.read_text())}

    print(f"One training step, median of {REPS}, batch {args.batch_size} of MNIST, "
          f"threads: {threads or 'all cores'} (torch {torch.__version__})\n")
    print("| method | learner | PyTorch ms | mole ms | mole / PyTorch |")
    print("|---|---|---|---|---|")
    totals = {}
    for method, learner, ms in ref:
        mine = ours.get((method, learner), float("nan"))
        t = totals.setdefault(method, [0.0, 0.0])
        t[0] += ms
        t[1] += mine
        print(f"| {method} | {learner} | {ms:.2f} | {mine:.2f} | {mine / ms:.2f} |")
    print("\n| method | PyTorch ms per batch | mole ms per batch | mole / PyTorch |")
    print("|---|---|---|---|")
    for method, (a, b) in totals.items():
        print(f"| {method} | {a:.2f} | {b:.2f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()

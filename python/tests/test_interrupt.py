"""Ctrl-C: a Python process training with mole gets SIGINT, raises KeyboardInterrupt after the
current step, and the run directory continues — with mole.train(..., resume=DIR) or
`mole train --resume DIR` — to exactly the run that was never interrupted."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import mole
from conftest import copy_run, metrics_without_time, run_mole

# MOLE on digits, long enough (a few seconds) to be interrupted in the middle.
RUN = dict(dataset="digits", model="mlp:128,128", epochs=8, head_epochs=4, batch_size=64, seed=3)
FLAGS = ["--dataset", "digits", "--model", "mlp:128,128", "--epochs", 8, "--head-epochs", 4,
         "--batch-size", 64, "--seed", 3]

CHILD = """
import sys
import mole
try:
    mole.train(out=sys.argv[1], quiet=True, **{run!r})
    print("FINISHED", flush=True)
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
    sys.exit(3)
"""


def rows(run_dir):
    path = run_dir / "metrics.csv"
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


def test_sigint_stops_after_the_step_and_the_run_resumes_exactly(tmp_path, mole_bin, digits):
    ref = tmp_path / "ref"
    run_mole(mole_bin, "train", *FLAGS, "--quiet", "--out", ref)
    total = rows(ref)

    cut = tmp_path / "cut"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(run=RUN))
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, str(script), str(cut)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while rows(cut) < 2 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.poll() is None, "the run ended before it could be interrupted"
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 3 and out.strip() == "INTERRUPTED", (child.returncode, out, err)
    assert time.monotonic() - sent < 10  # after the current step, not at the end of the run
    done = rows(cut)
    assert 2 <= done < total
    assert not (cut / "summary.json").exists()
    assert (cut / "weights" / "snapshot.safetensors").is_file()
    assert metrics_without_time(cut)[: done + 1] == metrics_without_time(ref)[: done + 1]

    # Continued from Python, on the arrays of the same data ...
    x, y = digits
    a = copy_run(cut, tmp_path / "a")
    r = mole.train(x, y, resume=a, quiet=True)
    assert r.run_dir == a
    # ... and by the command line.
    b = copy_run(cut, tmp_path / "b")
    run_mole(mole_bin, "train", "--resume", b, "--quiet")
    expected = metrics_without_time(ref)
    assert metrics_without_time(a) == expected
    assert metrics_without_time(b) == expected
    want = json.loads((ref / "summary.json").read_text())["test_accuracy"]
    assert r.summary["test_accuracy"] == want
    assert json.loads((b / "summary.json").read_text())["test_accuracy"] == want


def test_keyboard_interrupt_in_process_then_train_again(tmp_path, digits):
    """The stop request ends with the interrupted run: the next run in the process trains."""
    x, y = digits
    timer = threading.Timer(0.8, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            mole.train(x, y, out=tmp_path / "cut", model="mlp:128,128", epochs=50,
                       batch_size=32, quiet=True)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 20
    assert not (tmp_path / "cut" / "summary.json").exists()
    r = mole.train(x, y, out=tmp_path / "next", model="mlp:64", epochs=2, head_epochs=2,
                   quiet=True)
    assert r.summary["test_accuracy"] > 0.5

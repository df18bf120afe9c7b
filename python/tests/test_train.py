"""mole.train on rows: the same run as `mole train` (bit for bit), the same default rules, every
config key, the run directory `mole report` reads, progress output, and ValueError for every
bad argument."""

import gzip
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

import mole
from conftest import DATASETS, metrics_without_time, run_mole

# Small and quick: digits, two epochs per module, two head epochs.
QUICK = dict(epochs=2, head_epochs=2, quiet=True)


def test_same_run_as_the_command_line(tmp_path, mole_bin, digits):
    x, y = digits
    # Without test arrays the stratified test_fraction split of `mole train` applies.
    py = mole.train(x, y, out=tmp_path / "py", **QUICK)
    run_mole(mole_bin, "train", "--dataset", "digits", "--epochs", 2, "--head-epochs", 2,
             "--quiet", "--out", tmp_path / "cli")
    assert metrics_without_time(py.run_dir) == metrics_without_time(tmp_path / "cli")
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    for key in ("test_accuracy", "train_accuracy", "val_accuracy", "kept_epoch", "group",
                "batch_size", "epochs", "lr", "train_samples", "test_samples", "num_params"):
        assert py.summary[key] == cli[key], key
    assert py.summary["dataset"] == "arrays" and cli["dataset"] == "digits"
    assert py.summary == json.loads((py.run_dir / "summary.json").read_text())
    # config.toml: the same values, apart from the data's name and the directory
    a = tomllib.loads((py.run_dir / "config.toml").read_text())
    b = tomllib.loads((tmp_path / "cli" / "config.toml").read_text())
    for c in (a, b):
        c.pop("dataset"), c.pop("out")
    assert a == b


def test_run_directory_is_the_command_lines(tmp_path, mole_bin, digits):
    x, y = digits
    r = mole.train(x[:1200], y[:1200], x[1200:], y[1200:], model="mlp:32,32", method="hsic",
                   out=tmp_path / "run", **QUICK)
    assert isinstance(r, mole.TrainResult) and r.run_dir == tmp_path / "run"
    summary, run_dir = r  # unpacks as a pair
    for name in ("config.toml", "metrics.csv", "summary.json", "embeddings.safetensors",
                 "weights/head.safetensors", "weights/snapshot.safetensors"):
        assert (run_dir / name).is_file(), name
    assert summary["method"] == "hsic" and summary["test_samples"] == len(y) - 1200
    m = r.metrics()
    assert set(m["stage"]) <= {"module", "head"}
    assert np.all(m["i_ty"][m["stage"] == "module"] > 0)
    assert m["test_accuracy"][-1] == pytest.approx(summary["test_accuracy"], abs=1e-6)
    report = run_mole(mole_bin, "report", run_dir, "--no-tsne", "--quiet")
    assert report.returncode == 0 and (run_dir / "report.html").is_file()


def mnist(split):
    folder = DATASETS / "mnist"
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x.astype(np.float32) / np.float32(255.0), y.astype(np.int64)


def test_default_rules_resolve_as_the_command_line_on_mnist(mole_bin):
    """The README's MNIST MOLE row: `mole train --preset mnist-mlp-mole` chooses every other
    setting by the rules; mole.train on the same arrays chooses the same."""
    x, y = mnist("train")
    xt, yt = mnist("test")
    text = mole.train(x, y, xt, yt, model="mlp:256,256,256", method="mole", dry_run=True)
    cli = run_mole(mole_bin, "train", "--preset", "mnist-mlp-mole", "--data-dir", DATASETS,
                   "--dry-run").stdout
    a, b = tomllib.loads(text), tomllib.loads(cli)
    assert a.pop("dataset") == "arrays" and b.pop("dataset") == "mnist"
    a.pop("out"), b.pop("data_dir")
    assert a == b
    assert a["epochs"] == 5 and a["group"] == [2, 1] and a["batch_size"] == 256
    assert "# rule: vector data with adam" in text  # each value with its origin


def test_every_config_key_is_accepted(tmp_path, digits):
    x, y = digits
    x = x.reshape(-1, 8, 8)  # images: every table applies, augmentation included
    full = tomllib.loads(mole.train(x, y, dry_run=True, out=tmp_path / "a"))
    # Change a value of every table, give every key back (nested tables as dicts).
    full["mole"]["alpha"] = 0.5
    full["hsic"]["beta"] = 123.0
    full["augment"]["flip"] = True
    full["async"]["buffer"] = "replay"
    full["epochs"] = 3
    again = tomllib.loads(mole.train(x, y, dry_run=True, **full))
    assert again == full
    # dotted keys, async_, a config file under keyword arguments, None = not given
    cfg = tmp_path / "c.toml"
    cfg.write_text('epochs = 7\nhead_epochs = 4\n[mole]\nalpha = 2.0\n')
    text = mole.train(x, y, dry_run=True, config=cfg, head_epochs=9, lr=None,
                      async_={"buffer_size": 8}, **{"mole.lambda_x": 0.25})
    c = tomllib.loads(text)
    assert (c["epochs"], c["head_epochs"], c["mole"]["alpha"]) == (7, 9, 2.0)
    assert c["mole"]["lambda_x"] == 0.25 and c["async"]["buffer_size"] == 8
    assert f"epochs = 7  # file {cfg}" in text
    assert "head_epochs = 9  # file mole.train() arguments" in text
    assert "lr = 0.001  # rule" in text
    # a dict config is overridden by keyword arguments too
    c = tomllib.loads(mole.train(x, y, dry_run=True, config={"seed": 4, "mole": {"alpha": 3}},
                                 seed=5))
    assert (c["seed"], c["mole"]["alpha"]) == (5, 3.0)


BAD = [
    (dict(epocs=3), ["epocs", "unknown field"]),
    (dict(epochs="three"), ["epochs", "invalid type"]),
    (dict(epochs=2.5), ["epochs"]),
    (dict(mole={"alpah": 2.0}), ["mole.alpah"]),
    (dict(mole=3), ["mole"]),
    (dict(method="magic"), ["method", "magic"]),
    (dict(model="mlp:abc"), ["abc"]),
    (dict(batch_size=1), ["batch_size"]),
    (dict(mole={"lambda_h": 2.0}), ["mole.lambda_h"]),
    (dict(lr=float("nan")), ["lr"]),
    (dict(seed=object()), ["seed", "unsupported"]),
    (dict(val_fraction=1.5), ["val_fraction"]),
    (dict(config=3), ["config"]),
    (dict(config="/nonexistent/c.toml"), ["/nonexistent/c.toml"]),
    (dict(async_={"distributed": "mpi"}, schedule="async"), ["async.distributed"]),
    (dict(pipeline="sideways"), ["pipeline", "sideways"]),
    (dict(pipeline="on", method="mole"), ["pipeline = on", "sequential"]),
    (dict(resume="/tmp", out="/tmp/x"), ["out"]),
    (dict(resume="/nonexistent-run"), ["resume", "no config.toml"]),
]


@pytest.mark.parametrize("keys, words", BAD)
def test_bad_config_raises_value_error_naming_the_key(digits, keys, words):
    x, y = digits
    with pytest.raises(ValueError) as e:
        mole.train(x, y, dry_run=True, **keys)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_bad_config_file_names_the_file_and_line(tmp_path, digits):
    x, y = digits
    cfg = tmp_path / "c.toml"
    cfg.write_text("epochs = 3\nepocs = 4\n")
    with pytest.raises(ValueError, match=r"c\.toml: line 2: unknown field `epocs`"):
        mole.train(x, y, dry_run=True, config=cfg)


def bad_arrays(x, y):
    nan = x.copy()
    nan[7, 3] = np.nan
    return [
        ((nan, y), ["x_train", "NaN", "sample 7"]),
        ((x, y[:-1]), ["y_train", "1796 labels", "1797 samples"]),
        ((x, y.astype(float)), ["y_train", "integer"]),
        ((x, y - 1), ["y_train", ">= 0"]),
        ((x, np.zeros_like(y)), ["y_train", "two classes"]),
        ((x, y * 1000), ["y_train", "exceeds"]),
        ((x[:, :, None, None, None], y), ["x_train", "shape"]),
        ((x.astype(str), y), ["x_train", "dtype"]),
        ((x[:1000], y[:1000], x[1000:], np.where(y[1000:] == 3, 10, y[1000:])),
         ["y_test", "label 10", "0..9"]),
        ((x[:1000], y[:1000], x[1000:, :10], y[1000:]), ["x_test", "shape"]),
        ((x[:1000], y[:1000], x[1000:]), ["x_test, y_test"]),
        ((None, y), ["x_train"]),
        ((x,), ["y_train"]),
        ((x[:1000], y[:1000], x[1000:], y[1000:][:, None]), ["y_test", "1-d"]),
    ]


def test_bad_arrays_raise_value_error_naming_the_argument(digits):
    x, y = digits
    for args, words in bad_arrays(x, y):
        with pytest.raises(ValueError) as e:
            mole.train(*args, dry_run=True)
        for w in words:
            assert w in str(e.value), (w, str(e.value))


def test_images_integer_features_and_named_datasets(tmp_path, digits):
    x, y = digits
    images = (x * 16).astype(np.uint8).reshape(-1, 8, 8)  # [n, h, w] one-channel images
    c = tomllib.loads(mole.train(images, y, dry_run=True))
    assert c["standardize"] is True  # features outside [0, 1] (0..16), as `mole train` rules
    c = tomllib.loads(mole.train(images[:, None], y, model="cnn:8", dry_run=True))
    assert c["model"] == "cnn:8"
    # no arrays: the config's dataset is loaded as `mole train` loads it
    r = mole.train(dataset="iris", data_dir=DATASETS, out=tmp_path / "iris", model="mlp:16",
                   **QUICK)
    assert r.summary["dataset"] == "iris" and r.summary["test_samples"] == 30
    with pytest.raises(ValueError, match="dataset"):
        mole.train(dataset="nonexistent", dry_run=True)


def test_progress_is_printed_unless_quiet(tmp_path, capfd, digits):
    x, y = digits
    mole.train(x, y, model="mlp:16", out=tmp_path / "a", epochs=1, head_epochs=1)
    err = capfd.readouterr().err
    assert "training mole on arrays (1293 train / 359 test)" in err
    assert "module 1 epoch 1/1" in err and "head epoch 1/1" in err
    mole.train(x, y, model="mlp:16", out=tmp_path / "b", epochs=1, head_epochs=1, quiet=True)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_default_run_directory_is_runs_timestamp(tmp_path, monkeypatch, digits):
    x, y = digits
    monkeypatch.chdir(tmp_path)
    r = mole.train(x, y, model="mlp:8", epochs=1, head_epochs=1, quiet=True)
    assert r.run_dir.parent == Path("runs") and len(r.run_dir.name) == len("20261205-231400")
    assert (tmp_path / r.run_dir / "summary.json").is_file()


def test_runs_started_on_two_threads_give_the_numbers_of_a_run_alone(tmp_path, digits):
    """The device's generator is one per process and every run seeds it: two runs started at
    once from two Python threads take turns and give exactly what each gives alone."""
    import threading

    x, y = digits
    keys = dict(method="mole", epochs=4, head_epochs=2, quiet=True, dropout=0.2)
    alone = mole.train(x, y, out=tmp_path / "alone", **keys)
    runs, errors = {}, []

    def train(name):
        try:
            runs[name] = mole.train(x, y, out=tmp_path / name, **keys)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=train, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for name in ("a", "b"):
        assert metrics_without_time(runs[name].run_dir) == metrics_without_time(alone.run_dir)
        assert runs[name].summary["test_accuracy"] == alone.summary["test_accuracy"]

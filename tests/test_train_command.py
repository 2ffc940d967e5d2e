"""``chainrule train SPEC DATA``: trains from a CSV or an .npz, writes the run, stops early, survives
Ctrl-C, and refuses bad data with one line naming the file, the column or the row (exit 2)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule import train as train_command
from chainrule.cli import main

CLASSES = 4
SPEC = """name = "blobs"
inputs = {inputs}
loss = "cross_entropy"
reduction = "mean"
[[layers]]
units = {hidden}
activation = "relu"
[[layers]]
units = {classes}
activation = "softmax"
[train]
optimizer = "sgd"
learning_rate = 0.1
epochs = {epochs}
batch_size = 32
"""


def _spec(folder: Path, inputs: int = 5, hidden: int = 8, classes: int = CLASSES, epochs: int = 20) -> Path:
    path = folder / "net.toml"
    path.write_text(SPEC.format(inputs=inputs, hidden=hidden, classes=classes, epochs=epochs))
    return path


def _blobs(n: int, inputs: int = 5, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    X = 3 * rng.normal(size=(CLASSES, inputs))[labels] + rng.normal(size=(n, inputs))
    flipped = rng.random(n) < noise
    labels[flipped] = rng.integers(0, CLASSES, int(flipped.sum()))
    return X, labels


def _csv(path: Path, X: np.ndarray, labels: np.ndarray) -> Path:
    lines = [",".join([*(f"x{i}" for i in range(X.shape[1])), "label"])]
    lines += [",".join([*(f"{value:.6f}" for value in row), str(label)]) for row, label in zip(X, labels, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, list[str]]:
    """(exit code, stderr lines that are not the progress bar's)."""
    try:
        code = main(["train", *map(str, argv)])
    except SystemExit as stop:
        code = int(stop.code or 0)
    err = capsys.readouterr().err
    return code, [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "epoch/s" not in line
                  and "?epoch" not in line]


def _load_generated(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_784_128_10_classifier_from_a_csv_with_labels_stops_early(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # The story at small scale: integer labels in a CSV, a validation split, early stopping.
    # A third of the labels are noise, so the network overfits and the validation loss turns up.
    X, labels = _blobs(400, inputs=784, noise=0.35)
    data = _csv(tmp_path / "digits.csv", X, labels)
    spec = _spec(tmp_path, inputs=784, hidden=128, classes=CLASSES, epochs=300)
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "run", "--val-split", "0.25", "--patience", "3")
    assert code == 0, lines
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["blobs.py", "derivation.md", "history.csv", "loss.png",
                                                     "run.json", "weights.npz"]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "stopped early" and record["epochs_run"] < 300
    assert record["samples"] == {"train": 300, "validation": 100} and record["targets"] == ["label"]
    assert record["gradient_check"]["max_relative_difference"] < 1e-6
    assert record["best_epoch"] == record["epochs_run"] - 3
    history = (run / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,loss,val_loss,val_accuracy" and len(history) == record["epochs_run"] + 1
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    module = _load_generated(run / "blobs.py")  # the module written, reading the weights written
    params = module.load(run / "weights.npz")  # type: ignore[attr-defined]
    best = history[record["best_epoch"]].split(",")
    assert float(best[3]) == pytest.approx(record["final"]["val_accuracy"], abs=1.0)  # a number, not NaN
    assert module.accuracy(params, X, labels) > 0.5  # type: ignore[attr-defined]
    assert any(line.startswith("stopped early after") for line in lines)
    assert any(line.startswith("gradient check (float64") for line in lines)


def test_an_npz_with_validation_and_flags_overriding_the_spec(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    X, labels = _blobs(200)
    np.savez(tmp_path / "data.npz", X=X[:150], Y=np.eye(CLASSES)[labels[:150]], X_val=X[150:], Y_val=labels[150:])
    code, lines = _run(capsys, _spec(tmp_path), tmp_path / "data.npz", "-o", tmp_path / "run", "--epochs", "3",
                       "--learning-rate", "0.05", "--optimizer", "momentum", "--no-check")
    assert code == 0, lines
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["settings"]["epochs"] == 3 and record["settings"]["learning_rate"] == 0.05
    assert record["settings"]["optimizer"] == "momentum" and record["settings"]["batch_size"] == 32
    assert record["status"] == "completed" and record["samples"] == {"train": 150, "validation": 50}
    assert record["gradient_check"] is None
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 4


def test_a_regression_from_a_csv_scores_r2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] - 0.5 * X[:, 1] * X[:, 2]
    data = tmp_path / "fit.csv"
    data.write_text("a,b,c,y\n" + "".join(f"{r[0]},{r[1]},{r[2]},{t}\n" for r, t in zip(X, y, strict=True)))
    spec = tmp_path / "fit.toml"
    spec.write_text('name = "fit"\ninputs = 3\nloss = "mse"\nreduction = "mean"\n[[layers]]\nunits = 8\n'
                    'activation = "tanh"\n[[layers]]\nunits = 1\nactivation = "identity"\n'
                    '[train]\noptimizer = "adam"\nlearning_rate = 0.01\nepochs = 40\nbatch_size = 16\n')
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "run", "--val-split", "0.25")
    assert code == 0, lines
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["targets"] == ["y"] and 0 < record["final"]["val_r2"] <= 1
    assert (tmp_path / "run" / "history.csv").read_text().startswith("epoch,loss,val_loss,val_r2\n")


def test_a_missing_matplotlib_is_a_one_line_note(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    X, labels = _blobs(60)
    code, lines = _run(capsys, _spec(tmp_path, epochs=2), _csv(tmp_path / "d.csv", X, labels), "-o", tmp_path / "r")
    assert code == 0
    notes = [line for line in lines if line.startswith("note:")]
    assert notes == ["note: matplotlib is not installed, so loss.png was skipped (pip install 'chainrule[plot]')"]
    assert not (tmp_path / "r" / "loss.png").exists() and (tmp_path / "r" / "weights.npz").exists()


class _Interrupting:
    """A stand-in progress bar that presses Ctrl-C (SIGINT to this process) on chosen updates, ``at_once``
    times in a row each time (two presses microseconds apart)."""

    def __init__(self, presses: int, at_once: int = 1) -> None:
        self.presses, self.at_once = presses, at_once

    def set_postfix(self, *args: object, **kwargs: object) -> None:
        pass

    def update(self, count: int) -> None:
        if self.presses:
            self.presses -= 1
            for _ in range(self.at_once):
                os.kill(os.getpid(), signal.SIGINT)

    def close(self) -> None:
        pass


def test_ctrl_c_stops_after_the_epoch_and_writes_what_it_has(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_command, "_progress_bar", lambda epochs, name: _Interrupting(1))
    X, labels = _blobs(100)
    code, lines = _run(capsys, _spec(tmp_path, epochs=50), _csv(tmp_path / "d.csv", X, labels), "-o", tmp_path / "r")
    assert code == 130
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["status"] == "interrupted" and record["epochs_run"] == 1
    assert record["gradient_check"] == {"skipped": "Ctrl-C was pressed, so the gradient check was skipped"}
    assert (tmp_path / "r" / "weights.npz").exists()
    assert any(line.startswith("interrupted after 1 epochs") for line in lines)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


@pytest.mark.parametrize("at_once", [2, 3])
def test_a_second_ctrl_c_stops_at_once_without_weights(at_once: int, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_command, "_progress_bar", lambda epochs, name: _Interrupting(1, at_once))
    X, labels = _blobs(100)
    code, _ = _run(capsys, _spec(tmp_path, epochs=50), _csv(tmp_path / "d.csv", X, labels), "-o", tmp_path / "r")
    assert code == 130
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["status"] == "interrupted during an epoch: no weights"
    assert not (tmp_path / "r" / "weights.npz").exists()
    assert (tmp_path / "r" / "history.csv").read_text().startswith("epoch,loss\n")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_run_folder_of_other_files_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, labels = _blobs(40)
    spec, data = _spec(tmp_path, epochs=2), _csv(tmp_path / "d.csv", X, labels)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "mine")
    assert code == 2 and lines == [f"error: {tmp_path / 'mine'}: holds files not written by chainrule train; "
                                   "use --force or another -o"]
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]
    assert _run(capsys, spec, data, "-o", tmp_path / "run")[0] == 0
    assert _run(capsys, spec, data, "-o", tmp_path / "run")[0] == 0  # a run folder of ours is written again


def _bad_csv(folder: Path, text: str) -> Path:
    path = folder / "bad.csv"
    path.write_text(text)
    return path


HEADER = "x0,x1,x2,x3,x4,label\n"
ROW = "0.1,0.2,0.3,0.4,0.5,1\n"


@pytest.mark.parametrize(("make", "extra", "message"), [
    (lambda f: _bad_csv(f, HEADER + ROW + "0.1,0.2,abc,0.4,0.5,1\n"), (),
     r"bad\.csv: row 2 \(line 3\), column 'x2': 'abc' is not a number"),
    (lambda f: _bad_csv(f, HEADER + ROW + "0.1,0.2,0.3,1\n"), (),
     r"bad\.csv: row 2 \(line 3\): 4 fields, the header names 6"),
    (lambda f: _bad_csv(f, HEADER + ROW + "0.1,,0.3,0.4,0.5,1\n"), (),
     r"bad\.csv: row 2 \(line 3\), column 'x1': empty"),
    (lambda f: _bad_csv(f, HEADER + ROW + "0.1,nan,0.3,0.4,0.5,1\n"), (),
     r"bad\.csv: row 2 \(line 3\), column 'x1': nan is not a finite number"),
    (lambda f: _bad_csv(f, HEADER + ROW + "0.1,0.2,0.3,0.4,0.5,7\n"), ("--target", "label"),
     r"bad\.csv: row 2 \(line 3\), column 'label': 7 is not a class label: expected a whole number 0\.\.3"),
    (lambda f: _bad_csv(f, HEADER + ROW), ("--target", "lbl"),
     r"bad\.csv: --target: no column 'lbl' \(did you mean 'label'\?\); columns: x0, "),
    (lambda f: _bad_csv(f, "x0,x1,label\n0,1,2\n"), ("--target", "label"),
     r"bad\.csv: 2 input columns \(x0, x1\), but the spec has inputs = 5; choose them with --inputs or --drop"),
    (lambda f: _bad_csv(f, "x0,x1,label\n0,1,2\n"), (),
     r"bad\.csv: --target: 3 columns \(x0, x1, label\) for a network of 5 inputs and 4 outputs: expected 5 \+ 1"),
    (lambda f: _bad_csv(f, ""), (), r"bad\.csv: empty, expected a header row naming the columns"),
    (lambda f: _bad_csv(f, HEADER), (), r"bad\.csv: no data rows below the header"),
    (lambda f: _bad_csv(f, "x0,x0,x2,x3,x4,label\n" + ROW), (),
     r"bad\.csv: line 1: column 'x0' appears twice \(columns 1 and 2\)"),
    (lambda f: f / "absent.csv", (), r"absent\.csv: no such file"),
    (lambda f: _bad_csv(f, HEADER + ROW).rename(f / "data.txt"), (), r"data\.txt: expected a \.npz or \.csv file"),
    (lambda f: _npz(f, Y=np.zeros(2)), (), r"data\.npz: no array 'X'"),
    (lambda f: _npz(f, X=np.zeros((2, 5)), Y=np.array([0, 1]), X_val=np.zeros((1, 5))), (),
     r"data\.npz: X_val and Y_val come together"),
    (lambda f: _npz(f, X=np.zeros((2, 5)), Y=np.array([0, 1]), X_val=np.zeros((1, 5)), Y_val=np.array([1])),
     ("--val-split", "0.5"), r"data\.npz: --val-split: the file already holds X_val and Y_val"),
    (lambda f: _npz(f, X=np.zeros((2, 5)), Y=np.array([0, 1, 2])), (), r"data\.npz: Y: 3 rows, but X has 2"),
    (lambda f: _npz(f, X=np.array([[0, np.inf, 0, 0, 0]]), Y=np.array([0])), (),
     r"data\.npz: X\[0, 1\]: inf is not a finite number"),
])
def test_bad_data_is_one_line_naming_the_place(make: object, extra: tuple[str, ...], message: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = make(tmp_path)  # type: ignore[operator]
    code, lines = _run(capsys, _spec(tmp_path, epochs=2), data, "-o", tmp_path / "run", *extra)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert __import__("re").search(message, lines[0]), lines[0]
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())  # nothing half-written


def _npz(folder: Path, **arrays: np.ndarray) -> Path:
    np.savez(folder / "data.npz", **arrays)
    return folder / "data.npz"


def test_bad_flags_are_refused_by_the_parser(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flag, value in (("--val-split", "1.5"), ("--epochs", "0"), ("--learning-rate", "-1"), ("--seed", "-2"),
                        ("--optimizer", "rmsprop"), ("--momentum", "1")):
        with pytest.raises(SystemExit) as stop:
            main(["train", str(_spec(tmp_path)), "d.csv", flag, value])
        assert stop.value.code == 2
        assert flag in capsys.readouterr().err


CONV_SPEC = """name = "tiny_cnn"
inputs = [1, 6, 5]
loss = "cross_entropy"
reduction = "mean"
[[layers]]
type = "conv2d"
filters = 3
kernel = 3
padding = 1
activation = "relu"
[[layers]]
type = "flatten"
[[layers]]
units = 4
activation = "softmax"
[train]
optimizer = "sgd"
learning_rate = 0.1
epochs = 3
batch_size = 16
"""


def test_a_convolutional_network_trains_from_csv_rows_or_npz_images_alike(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV row holds an image's C·H·W values in (C, H, W) order (PyTorch's flatten); an .npz may hold the
    images as (n, C, H, W). Both train to the same history; any other shape is one line naming X."""
    spec = tmp_path / "cnn.toml"
    spec.write_text(CONV_SPEC)
    X, labels = _blobs(60, inputs=30, seed=3)
    _csv(tmp_path / "rows.csv", X, labels)
    X = np.loadtxt(tmp_path / "rows.csv", delimiter=",", skiprows=1)[:, :30]  # the values as the CSV holds them
    np.savez(tmp_path / "images.npz", X=X.reshape(60, 1, 6, 5), Y=labels)
    np.savez(tmp_path / "wrong.npz", X=X.reshape(60, 1, 5, 6), Y=labels)
    histories = []
    for data, run in (("rows.csv", "a"), ("images.npz", "b")):
        code, _ = _run(capsys, spec, tmp_path / data, "-o", tmp_path / run, "--no-check")
        assert code == 0
        histories.append((tmp_path / run / "history.csv").read_text())
    assert histories[0] == histories[1] and len(histories[0].splitlines()) == 4
    code, err = _run(capsys, spec, tmp_path / "wrong.npz", "-o", tmp_path / "c")
    assert code == 2 and err == [f"error: {tmp_path / 'wrong.npz'}: X: expected 30 values per sample, as rows or as "
                                 "images (n, 1, 6, 5), got shape (60, 1, 5, 6)"]

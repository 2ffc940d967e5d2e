"""Attacks on ``chainrule train`` (issue 19, items 4, 5, 6, 8): a run that fails, is stopped or runs
out of room leaves nothing behind, in one line and exit 2 (130 for Ctrl-C, 143 for SIGTERM); a run
that is interrupted after training keeps what it has; the next run is never refused for files
chainrule itself left."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chainrule import outputs
from chainrule import train as train_command
from chainrule.cli import main
from chainrule.rundir import MARKER, PARTIAL
from codegen import render_module
from derive import load_spec
from tests.conftest import ROOT, default_sigint, numeric_gradients, relative_error

SPEC = """name = "tiny"
inputs = 3
loss = "cross_entropy"
reduction = "mean"
[[layers]]
units = 4
activation = "tanh"
[[layers]]
units = 3
activation = "softmax"
[train]
optimizer = "sgd"
learning_rate = 0.1
epochs = {epochs}
batch_size = 8
"""
CHAINRULE = [sys.executable, "-c", "import sys; from chainrule.cli import main; sys.exit(main())"]
FILES = ["derivation.md", "history.csv", "loss.png", "run.json", "tiny.py", "weights.npz"]


def _setup(folder: Path, epochs: int = 3, rows: int = 40) -> tuple[Path, Path]:
    spec = folder / "tiny.toml"
    spec.write_text(SPEC.format(epochs=epochs))
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, rows)
    X = rng.normal(size=(3, 3))[labels] + 0.3 * rng.normal(size=(rows, 3))
    data = folder / "d.csv"
    data.write_text("a,b,c,label\n" + "".join(f"{x[0]:.5f},{x[1]:.5f},{x[2]:.5f},{t}\n"
                                            for x, t in zip(X, labels, strict=True)))
    return spec, data


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, list[str]]:
    try:
        code = main(["train", *map(str, argv)])
    except SystemExit as stop:
        code = int(stop.code or 0)
    err = capsys.readouterr().err.replace("\r", "\n")
    return code, [line for line in err.splitlines() if line.strip() and "epoch" not in line.split(":")[0]
                  and "it/s" not in line and "epoch/s" not in line and "?epoch" not in line]


def _errors(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("error:", "internal error:"))]


def _nothing_left(parent: Path, run: Path) -> None:
    assert not run.exists()
    assert not [path.name for path in parent.iterdir() if path.name.startswith(PARTIAL)]


# --- failures leave nothing, and the retry is accepted ------------------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    (("--learning-rate", "1e300", "--optimizer", "gd"), r": train\.learning_rate: training diverged: the loss became "),
    (("--patience", "2"), r"d\.csv: --patience: early stopping watches the validation loss, and there is no "
                          r"validation data: add --val-split FRACTION"),
    (("--target", "lable"), r"d\.csv: --target: no column 'lable' \(did you mean 'label'\?\)"),
    (("--inputs", "a,b,d"), r"d\.csv: --inputs: no column 'd'"),
    (("--drop", "a"), r"d\.csv: --target: 3 columns \(b, c, label\) for a network of 3 inputs and 3 outputs"),
    (("--drop", "a", "--target", "label"), r"d\.csv: 2 input columns \(b, c\), but the spec has inputs = 3"),
    (("--val-split", "0.999"), r"d\.csv: --val-split: 0\.999 of 40 samples leaves none to train on"),
])
def test_a_failed_run_leaves_nothing_and_the_retry_is_accepted(extra: tuple[str, ...], message: str,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _setup(tmp_path)
    run = tmp_path / "runs" / "r"
    code, lines = _run(capsys, spec, data, "-o", run, *extra)
    assert code == 2 and len(_errors(lines)) == 1 and lines[-1] == _errors(lines)[0], lines
    assert __import__("re").search(message, lines[-1]), lines[-1]
    _nothing_left(tmp_path, run)
    assert not (tmp_path / "runs").exists()  # not even the folder made on the way
    code, lines = _run(capsys, spec, data, "-o", run)
    assert code == 0, lines
    assert sorted(path.name for path in run.iterdir()) == FILES


def test_a_time_limit_passed_before_training_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import derive

    def endless(*args: object, **kwargs: object) -> None:
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(derive, "derive_network", endless)
    spec, data = _setup(tmp_path)
    start = time.monotonic()
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "r", "--time-limit", "1")
    assert time.monotonic() - start < 1 + 10
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"error: {spec}") and "took longer than the time limit of 1 s" in lines[0]
    _nothing_left(tmp_path, tmp_path / "r")


def test_a_deep_composition_trains_within_a_short_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The budget's optional share is spent on 9 nested sigmoids; the module still comes out, in plain forms."""
    spec, data = _setup(tmp_path)
    spec.write_text(spec.read_text().replace('activation = "tanh"', f'activation = "{"sigmoid(" * 9}z{")" * 9}"'))
    start = time.monotonic()
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "r", "--time-limit", "2")
    assert code == 0 and time.monotonic() - start < 60, lines
    module = _load(tmp_path / "r" / "tiny.py")
    params = module.load(tmp_path / "r" / "weights.npz")
    X = np.loadtxt(data, delimiter=",", skiprows=1)[:6]
    Y = np.eye(3)[X[:, 3].astype(int)]
    _, grads = module.gradients(params, X[:, :3], Y)
    assert relative_error(grads, numeric_gradients(lambda p: module.loss(p, X[:, :3], Y), params)) < 1e-6


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_folders_chainrule_left_are_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A partial run of an earlier version (module and document, no run.json), a partial sibling whose
    process is gone (SIGKILL), and a folder holding the marker are all written over without --force."""
    spec, data = _setup(tmp_path)
    assert _run(capsys, spec, data, "-o", tmp_path / "done")[0] == 0
    old = tmp_path / "old"
    old.mkdir()
    for name in ("tiny.py", "derivation.md"):
        (old / name).write_bytes((tmp_path / "done" / name).read_bytes())
    stale = tmp_path / f"{PARTIAL}999999999-0123abcd"  # no such process
    stale.mkdir()
    (stale / "tiny.py").write_text("partial")
    marked = tmp_path / "marked"
    marked.mkdir()
    (marked / MARKER).write_text("{}")
    (marked / "tiny.py").write_text("half")
    for folder in (old, marked):
        code, lines = _run(capsys, spec, data, "-o", folder)
        assert code == 0, lines
        assert sorted(path.name for path in folder.iterdir()) == FILES
    assert not stale.exists()
    (old / "notes.txt").write_text("mine")  # a note added to a run folder of ours: the folder is still ours,
    code, lines = _run(capsys, spec, data, "-o", old, "--no-check")  # and the note is kept
    assert code == 0 and (old / "notes.txt").read_text() == "mine"
    assert sorted(path.name for path in old.iterdir()) == sorted([*FILES, "notes.txt"])
    (old / "run.json").unlink()
    code, lines = _run(capsys, spec, data, "-o", old)
    assert code == 2 and lines == [f"error: {old}: holds files not written by chainrule train; use --force or "
                                   "another -o"]
    code, lines = _run(capsys, spec, data, "-o", old, "--force")
    assert code == 0 and (old / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("failing", ["history", "weights", "plot_file"])
def test_a_full_disk_after_training_is_one_line_and_leaves_nothing(failing: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "x"))

    spec, data = _setup(tmp_path)
    if failing == "history":
        monkeypatch.setattr(outputs, "history_csv", full)
    elif failing == "plot_file":
        monkeypatch.setattr(outputs, "write_json", full)
    else:
        monkeypatch.setattr(np, "savez", full)
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "r")
    assert code == 2 and _errors(lines) == [lines[-1]]
    assert lines[-1].endswith("cannot write it (No space left on device)")
    _nothing_left(tmp_path, tmp_path / "r")


def _limited(size: int) -> None:
    default_sigint()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def test_a_file_size_limit_is_one_line_exit_2_in_a_real_process(tmp_path: Path) -> None:
    spec, data = _setup(tmp_path)
    spec.write_text(spec.read_text().replace("units = 4", "units = 4000"))  # weights: 28 003 float64, 224 kB
    module_bytes = len(render_module(load_spec(spec)).encode())
    result = subprocess.run([*CHAINRULE, "train", str(spec), str(data), "-o", str(tmp_path / "r"), "--no-check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                            preexec_fn=lambda: _limited(module_bytes + 2000))
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error", "internal"))]
    assert result.returncode == 2 and len(errors) == 1, result.stderr
    assert errors[0].endswith("cannot write it (File too large)")
    _nothing_left(tmp_path, tmp_path / "r")


@pytest.mark.parametrize("output", ["x" * 300, "/".join(["y" * 200] * 25)])
def test_a_path_too_long_is_one_line_before_training(output: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _setup(tmp_path)
    code, lines = _run(capsys, spec, data, "-o", tmp_path / output)
    assert code == 2 and len(lines) == 1 and "File name too long" in lines[0], lines
    assert "tiny" not in "".join(lines[:-1])  # no training began
    assert sorted(path.name for path in tmp_path.iterdir()) == ["d.csv", "tiny.toml"]


# --- signals after training ------------------------------------------------------------------------

def _press(times: int = 1) -> None:
    for _ in range(times):
        os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize(("where", "presses"), [("check", 1), ("check", 2), ("plot", 1), ("plot", 2),
                                                 ("document", 1), ("history", 2)])
def test_ctrl_c_after_the_last_epoch_keeps_weights_history_and_run_json(where: str, presses: int, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec, data = _setup(tmp_path)
    if where == "check":
        real_check = train_command._gradient_check
        monkeypatch.setattr(train_command, "_gradient_check",
                            lambda *args: (_press(presses), real_check(*args)))
    elif where == "plot":
        monkeypatch.setattr(outputs, "plot", lambda *args: (_press(presses), time.sleep(0.2))[1])
    elif where == "document":
        import codegen
        monkeypatch.setattr(codegen, "render_markdown", lambda *args, **kwargs: (_press(presses), "x")[1])
    else:
        real_history = outputs.history_csv
        monkeypatch.setattr(outputs, "history_csv", lambda *args: (_press(presses), real_history(*args)))
    run = tmp_path / "r"
    code, lines = _run(capsys, spec, data, "-o", run)
    assert code == 130, lines
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["epochs_run"] == 3
    assert {"weights.npz", "history.csv", "run.json", "tiny.py"} <= {path.name for path in run.iterdir()}
    assert len((run / "history.csv").read_text().splitlines()) == 4
    if where in ("check", "history"):
        assert "skipped" in (record["gradient_check"] or {"skipped": "after"}) or where == "history"
    assert record["document"]["written"] is False
    _nothing_left(tmp_path, tmp_path / "none")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_during_training_leaves_nothing_and_exits_143(tmp_path: Path) -> None:
    spec, data = _setup(tmp_path, epochs=100000, rows=400)
    process = subprocess.Popen([*CHAINRULE, "train", str(spec), str(data), "-o", str(tmp_path / "r")], cwd=ROOT,
                               stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while not [path for path in tmp_path.iterdir() if path.name.startswith(PARTIAL)] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the epochs
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143
    assert err.replace("\r", "\n").splitlines()[-1] == "terminated: nothing of the run was kept"
    _nothing_left(tmp_path, tmp_path / "r")


def test_a_real_ctrl_c_during_training_in_a_child_process(tmp_path: Path) -> None:
    """As from a terminal, also when this test runs as a background job (SIGINT ignored in its children)."""
    spec, data = _setup(tmp_path, epochs=100000, rows=400)
    process = subprocess.Popen([*CHAINRULE, "train", str(spec), str(data), "-o", str(tmp_path / "r"), "--no-check"],
                               cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while not [path for path in tmp_path.iterdir() if path.name.startswith(PARTIAL)] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["status"] == "interrupted" and record["epochs_run"] >= 1
    assert (tmp_path / "r" / "weights.npz").exists()


# --- the document never costs the run --------------------------------------------------------------

@pytest.mark.parametrize("failure", [RuntimeError("boom"), RecursionError("deep")])
def test_a_document_that_fails_costs_one_note(failure: Exception, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import codegen

    def broken(*args: object, **kwargs: object) -> str:
        raise failure

    monkeypatch.setattr(codegen, "render_markdown", broken)
    spec, data = _setup(tmp_path)
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "r")
    assert code == 0
    notes = [line for line in lines if line.startswith("note: derivation.md")]
    assert len(notes) == 1 and type(failure).__name__ in notes[0]
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["status"] == "completed" and record["document"]["written"] is False
    assert "derivation.md" not in record["files"] and not (tmp_path / "r" / "derivation.md").exists()


def test_a_document_out_of_time_costs_one_note(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import codegen

    def slow(*args: object, **kwargs: object) -> str:
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(codegen, "render_markdown", slow)
    spec, data = _setup(tmp_path)
    start = time.monotonic()
    code, lines = _run(capsys, spec, data, "-o", tmp_path / "r", "--time-limit", "2")
    assert code == 0 and time.monotonic() - start < 60
    note = next(line for line in lines if line.startswith("note: derivation.md"))
    assert "took longer than the time limit of 2 s" in note
    assert json.loads((tmp_path / "r" / "run.json").read_text())["document"]["written"] is False


# --- inputs that are not files -----------------------------------------------------------------------

@pytest.mark.parametrize("which", ["spec", "data"])
def test_a_fifo_as_input_is_refused_at_once(which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, data = _setup(tmp_path)
    fifo = tmp_path / ("f.toml" if which == "spec" else "f.csv")
    os.mkfifo(fifo)
    start = time.monotonic()
    code, lines = _run(capsys, *((fifo, data) if which == "spec" else (spec, fifo)), "-o", tmp_path / "r")
    assert time.monotonic() - start < 30
    message = "is a FIFO (named pipe), not a regular file" if which == "spec" else "not a regular file"
    assert code == 2 and lines == [f"error: {fifo}: {message}"], lines


# --- ordinary networks train with the defaults ---------------------------------------------------------

@pytest.mark.parametrize("hidden", [(64, 64), (256, 128)])
def test_ordinary_classifiers_train_from_the_command_line_with_defaults(hidden: tuple[int, ...], tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """64-64-10 and 784-256-128-10, as a new user writes them: the default time limit, one command, exit 0
    (before, printing the document ran out of the budget the module needed, and the run failed)."""
    inputs = 64 if hidden == (64, 64) else 784
    layers = "".join(f'[[layers]]\nunits = {units}\nactivation = "relu"\n' for units in hidden)
    spec = tmp_path / "net.toml"
    spec.write_text(f'name = "net"\ninputs = {inputs}\nloss = "cross_entropy"\nreduction = "mean"\n{layers}'
                    '[[layers]]\nunits = 10\nactivation = "softmax"\n[train]\noptimizer = "sgd"\nepochs = 3\n')
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    X = rng.normal(size=(10, inputs))[labels] + rng.normal(size=(300, inputs))
    np.savez(tmp_path / "d.npz", X=X, Y=labels)
    code, lines = _run(capsys, spec, tmp_path / "d.npz", "-o", tmp_path / "r", "--val-split", "0.2")
    assert code == 0, lines
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["status"] == "completed" and record["final"]["val_accuracy"] > 0.5
    assert record["gradient_check"]["max_relative_difference"] < 1e-6

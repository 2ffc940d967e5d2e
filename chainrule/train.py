"""``chainrule train SPEC DATA [-o RUN_DIR]``: generate the module, train it on the data, write the run.

RUN_DIR (default ``runs/<name>``) receives:

* ``<name>.py`` — the generated module, and ``derivation.md`` — its derivation;
* ``weights.npz`` — the trained parameters (the module's ``load`` reads them back);
* ``history.csv`` — per epoch: loss, and val_loss and val_accuracy (or val_r2) with validation data;
* ``loss.png`` — training and validation loss per epoch (needs matplotlib, the ``plot`` extra;
  without it a one-line note says the plot was skipped);
* ``run.json`` — settings, data, status (completed, stopped early, interrupted), final numbers,
  the gradient check and the files written.

The spec's [train] settings are the defaults; every one can be overridden by a flag. A progress
bar (tqdm) shows the epochs. Ctrl-C stops after the current epoch: what there is gets written,
marked "interrupted", and the command exits 130 (a second Ctrl-C stops at once, without weights).
Bad data is one line naming the file and the column or row, exit 2 (:mod:`chainrule.data`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainrule.cli import INTERRUPTED, above_zero

CHECK_SAMPLES = 8  # rows of the training data the gradient check uses
CHECK_ENTRIES = 200  # at most this many entries of each parameter array are checked
CHECK_STEP = 1e-6  # h of the check's central differences (float64): a relu kink is rarely within h


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _natural(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _unit(text: str, low_open: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < 1 if low_open else 0 <= value < 1):
        raise argparse.ArgumentTypeError(f"expected a number in {'(0' if low_open else '[0'}, 1), got {text!r}")
    return value


def _fraction(text: str) -> float:
    return _unit(text, low_open=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The train command's arguments (``chainrule train -h`` lists them)."""
    parser.add_argument("spec", help="the network spec (TOML)")
    parser.add_argument("data", help=".npz with arrays X, Y (and optionally X_val, Y_val), or .csv with a header row")
    parser.add_argument("-o", "--output", metavar="RUN_DIR", help="folder for the run's files (default runs/<name>)")
    parser.add_argument("--target", action="append", default=[], metavar="COLUMN",
                        help="CSV target column (repeat or separate by commas); default: the last column if it "
                             "holds class labels, else the last <outputs> columns")
    parser.add_argument("--val-split", type=_fraction, metavar="FRACTION",
                        help="hold out this fraction of the samples (seeded shuffle) as validation data")
    parser.add_argument("--patience", type=_positive_int, help="stop once the validation loss has not improved "
                                                               "for this many epochs; keep the best epoch")
    from derive.optimizers import HYPERPARAMETERS, OPTIMIZERS

    parser.add_argument("--optimizer", choices=tuple(OPTIMIZERS), help="override [train] optimizer")
    parser.add_argument("--learning-rate", type=above_zero("a finite number"), help="override [train] learning_rate")
    parser.add_argument("--epochs", type=_positive_int, help="override [train] epochs")
    parser.add_argument("--batch-size", type=_positive_int, help="override [train] batch_size")
    parser.add_argument("--seed", type=_natural, help="override [train] seed")
    for name, setting in HYPERPARAMETERS.items():  # every optimizer's settings, as the rules list them
        kind = _unit if setting.bounds == "fraction" else above_zero("a finite number")
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, help=f"override [train] {name}")
    parser.add_argument("--no-check", action="store_true", help="skip the gradient check")
    parser.add_argument("--force", action="store_true", help="write into a RUN_DIR that holds other files")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")


def run(args: argparse.Namespace) -> None:
    """Carry out ``chainrule train``; errors are SpecError/DataError/OutputError (exit 2)."""
    import numpy as np

    from chainrule.data import DataError, read
    from codegen import import_module, render_markdown, render_module
    from codegen.writer import write_atomic
    from derive import derive_network, load_spec

    spec = load_spec(args.spec)
    for warning in spec.warnings:
        print(f"warning: {spec.source}: {warning}", file=sys.stderr)
    folder = Path(args.output) if args.output else Path("runs") / spec.name
    _claim(folder, args.force)
    net = derive_network(spec)
    module = import_module(net)
    targets = [name.strip() for option in args.target for name in option.split(",") if name.strip()]
    data = read(args.data, spec.outputs, spec.loss.targets in ("unit", "distribution"), targets)
    settings = _settings(spec, args)
    X, Y, validation = _split(data, args.val_split, settings["seed"], args.data)
    X, validation = _as_images(spec, X, validation, data.source)
    if X.ndim == 2 and X.shape[1] != spec.inputs:
        words = "columns besides the target" if data.targets != ("Y",) else "columns in X"
        raise DataError("", f"{X.shape[1]} {words}, but the spec has inputs = {spec.inputs}", data.source)
    _check(module, X, Y, validation, data.source)
    written = [write_atomic(folder / f"{spec.name}.py", render_module(net), force=args.force),
               write_atomic(folder / "derivation.md", render_markdown(net), force=args.force)]
    print(module.summary(), file=sys.stderr)
    started = time.perf_counter()
    params, history, status = _train(module, X, Y, validation, settings, args.patience, data.source)
    seconds = time.perf_counter() - started
    check = None
    if params is not None and not args.no_check:
        check = _gradient_check(module, params, X, Y, np)
    if params is not None:
        written.append(_atomic(folder / "weights.npz", lambda path: module.save(params, path)))
    written.append(_atomic(folder / "history.csv", lambda path: _history_csv(history, path)))
    plotted = _plot(history, folder / "loss.png", spec.name)
    if isinstance(plotted, Path):
        written.append(plotted)
    else:
        print(f"note: {plotted}", file=sys.stderr)
    record = _record(args, spec, data, X, validation, settings, history, status, seconds, check, written)
    written.append(_atomic(folder / "run.json", lambda path: Path(path).write_text(json.dumps(record, indent=2)
                                                                                    + "\n", encoding="utf-8")))
    _report(status, history, args.patience, check, folder, written)
    if status.startswith("interrupted"):
        raise SystemExit(INTERRUPTED)


def _claim(folder: Path, force: bool) -> None:
    """Refuse a RUN_DIR that is a file, or holds files and no run.json of ours (unless force)."""
    from codegen.writer import OutputError

    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if not folder.is_dir() or force or not any(folder.iterdir()):
        return
    try:
        ours = json.loads((folder / "run.json").read_text(encoding="utf-8")).get("tool") == "chainrule train"
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise OutputError(f"{folder}: holds files not written by chainrule train; use --force or another -o")


def _check(module: Any, X: Any, Y: Any, validation: tuple[Any, Any] | None, source: str) -> None:
    """The module's own checks of the data (shapes, labels, finite values), before anything is written."""
    from chainrule.data import DataError

    for prefix, (features, targets) in (("", (X, Y)), ("validation: ", validation or (None, None))):
        if features is None:
            continue
        try:
            module._check_data(features, targets, module.DTYPE)
        except ValueError as error:
            raise DataError("", f"{prefix}{error}", source) from None


def _settings(spec: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The spec's [train] settings, each overridden by its flag when given."""
    train = spec.train
    settings = {"optimizer": train.optimizer, "learning_rate": train.learning_rate, "epochs": train.epochs,
                "batch_size": train.batch_size, "seed": train.seed, **train.settings}
    for name in settings:
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    return settings


def _as_images(spec: Any, X: Any, validation: tuple[Any, Any] | None, source: str) -> tuple[Any, Any]:
    """For a network whose input is images (C, H, W): rows of C·H·W values (a CSV, a 2-D X) reshaped to
    (n, C, H, W) in (C, H, W) order, as PyTorch's flatten orders them; a 4-D X must have that shape."""
    from chainrule.data import DataError

    shape = spec.input_shape
    if len(shape) == 1:
        if X.ndim != 2:
            raise DataError("X", f"expected a 2-D array (n, {spec.inputs}), got shape {X.shape}", source)
        return X, validation

    def images(array: Any, name: str) -> Any:
        if array.ndim == 2 and array.shape[1] == spec.inputs:
            return array.reshape(array.shape[0], *shape)
        if array.ndim == 4 and tuple(array.shape[1:]) == tuple(shape):
            return array
        raise DataError(name, f"expected {spec.inputs} values per sample, as rows or as images "
                              f"(n, {', '.join(map(str, shape))}), got shape {array.shape}", source)

    X = images(X, "X")
    if validation is not None:
        validation = (images(validation[0], "X_val"), validation[1])
    return X, validation


def _split(data: Any, fraction: float | None, seed: int, source: str) -> tuple[Any, Any, tuple[Any, Any] | None]:
    """(X, Y, validation): the validation data of the file, or a seeded share of the samples, or none."""
    import numpy as np

    from chainrule.data import DataError

    if data.X.shape[0] != data.Y.shape[0]:
        raise DataError("Y", f"{data.Y.shape[0]} rows, but X has {data.X.shape[0]}", source)
    if data.X_val is not None:
        if fraction is not None:
            raise DataError("--val-split", "the file already holds X_val and Y_val; use one or the other", source)
        return data.X, data.Y, (data.X_val, data.Y_val)
    if fraction is None:
        return data.X, data.Y, None
    n = data.X.shape[0]
    held = math.ceil(fraction * n)
    if held >= n:
        raise DataError("--val-split", f"{fraction} of {n} samples leaves none to train on", source)
    order = np.random.default_rng(seed).permutation(n)
    kept, out = np.sort(order[held:]), np.sort(order[:held])
    return data.X[kept], data.Y[kept], (data.X[out], data.Y[out])


def _train(module: Any, X: Any, Y: Any, validation: tuple[Any, Any] | None, settings: dict[str, Any],
           patience: int | None, source: str) -> tuple[dict[str, Any] | None, dict[str, list[float]], str]:
    """(params, history, status): params is None if a second Ctrl-C stopped training mid-epoch."""
    from chainrule.data import DataError

    history: dict[str, list[float]] = {}
    stop = {"asked": False}
    bar = _progress_bar(settings["epochs"], module.NAME)

    def on_epoch(epoch: int, loss: float) -> bool:
        if bar is not None:
            numbers = {key: f"{values[-1]:.4g}" for key, values in history.items()}
            bar.set_postfix(numbers, refresh=False)
            bar.update(1)
        return not stop["asked"]

    def on_interrupt(signum: int, frame: object) -> None:
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nCtrl-C: stopping after this epoch (press it again to stop at once)", file=sys.stderr, flush=True)

    previous = _handle_sigint(on_interrupt)
    try:
        params, history = module.train(X, Y, **settings, validation=validation, patience=patience,
                                       callback=on_epoch, history=history, verbose=bar is None)
    except KeyboardInterrupt:
        return None, history, "interrupted during an epoch: no weights"
    except ValueError as error:
        raise DataError("", str(error), source) from None
    except FloatingPointError as error:
        raise DataError("", str(error), source) from None
    finally:
        if bar is not None:
            bar.close()
        _handle_sigint(previous)
    epochs_run = len(history.get("loss", []))
    if stop["asked"]:
        return params, history, "interrupted"
    if epochs_run < settings["epochs"]:
        return params, history, "stopped early"
    return params, history, "completed"


def _handle_sigint(handler: Any) -> Any:
    """Install handler for SIGINT and return the one it replaces (no-op outside the main thread)."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except (ValueError, TypeError):  # not the main thread, or no previous Python handler
        return None


def _progress_bar(epochs: int, name: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency; without it the module prints its own progress lines
        return None
    return tqdm(total=epochs, desc=name, unit="epoch", file=sys.stderr, dynamic_ncols=True)


def _gradient_check(module: Any, params: dict[str, Any], X: Any, Y: Any, np: Any) -> dict[str, Any]:
    """check_gradients on the trained params in float64, on the first rows of the training data."""
    wide = {key: value.astype(np.float64) for key, value in params.items()}
    rows = min(CHECK_SAMPLES, X.shape[0])
    value = module.check_gradients(wide, X[:rows], Y[:rows], h=CHECK_STEP, entries=CHECK_ENTRIES)
    return {"max_relative_difference": value, "dtype": "float64", "samples": rows, "h": CHECK_STEP,
            "entries_per_array": CHECK_ENTRIES}


def _atomic(path: Path, write: Callable[[str], None]) -> Path:
    """Let write() fill a temporary file beside path, then rename it to path: all or nothing.

    The file gets the mode a new file gets under the umask, or keeps the mode of the file it replaces.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _history_csv(history: dict[str, list[float]], path: str) -> None:
    keys = list(history)
    lines = [",".join(["epoch", *keys])]
    lines += [",".join([str(epoch + 1), *(repr(history[key][epoch]) for key in keys)])
              for epoch in range(len(history.get("loss", [])))]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _plot(history: dict[str, list[float]], path: Path, name: str) -> Path | str:
    """loss.png, or why it was skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed, so loss.png was skipped (pip install 'chainrule[plot]')"
    losses = history.get("loss", [])
    if not losses:
        return "no epoch finished, so loss.png was skipped"
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    epochs = range(1, len(losses) + 1)
    axes.plot(epochs, losses, label="training loss")
    if history.get("val_loss"):
        axes.plot(epochs, history["val_loss"], label="validation loss")
    if all(value > 0 for key in ("loss", "val_loss") for value in history.get(key, [])):
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss E")
    axes.set_title(f"{name}: loss per epoch")
    axes.legend()
    figure.tight_layout()
    try:
        return _atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    finally:
        plt.close(figure)


def _record(args: argparse.Namespace, spec: Any, data: Any, X: Any, validation: tuple[Any, Any] | None,
            settings: dict[str, Any], history: dict[str, list[float]], status: str, seconds: float,
            check: dict[str, Any] | None, written: list[Path]) -> dict[str, Any]:
    from derive import __version__

    epochs_run = len(history.get("loss", []))
    record: dict[str, Any] = {
        "tool": "chainrule train", "version": __version__, "spec": str(args.spec), "data": str(args.data),
        "status": status, "epochs_run": epochs_run, "settings": settings, "patience": args.patience,
        "samples": {"train": int(X.shape[0]), "validation": 0 if validation is None else int(validation[0].shape[0])},
        "targets": list(data.targets), "seconds": round(seconds, 3),
        "final": {key: values[-1] for key, values in history.items() if values},
        "gradient_check": check, "files": [path.name for path in written] + ["run.json"],
    }
    best = _best_epoch(history, args.patience)
    if best is not None:
        record["best_epoch"] = best + 1
        record["best"] = {key: values[best] for key, values in history.items()}
    return record


def _best_epoch(history: dict[str, list[float]], patience: int | None) -> int | None:
    """With patience, the epoch (from 0) whose params train() returned: the lowest validation loss."""
    losses = history.get("val_loss", [])
    return None if patience is None or not losses else min(range(len(losses)), key=losses.__getitem__)


def _report(status: str, history: dict[str, list[float]], patience: int | None, check: dict[str, Any] | None,
            folder: Path, written: list[Path]) -> None:
    finals = ", ".join(f"{key} {values[-1]:.4g}" for key, values in history.items() if values)
    print(f"{status} after {len(history.get('loss', []))} epochs: {finals}", file=sys.stderr)
    best = _best_epoch(history, patience)
    if best is not None:
        numbers = ", ".join(f"{key} {values[best]:.4g}" for key, values in history.items() if key != "loss")
        print(f"the weights are epoch {best + 1}'s, the lowest validation loss: {numbers}", file=sys.stderr)
    if check is not None:
        print(f"gradient check (float64, {check['samples']} samples): largest relative difference "
              f"{check['max_relative_difference']:.2e}", file=sys.stderr)
    print(f"wrote {', '.join(path.name for path in written)} into {folder}", file=sys.stderr)

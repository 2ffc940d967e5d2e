"""``chainrule train SPEC DATA [-o RUN_DIR]``: generate the module, train it on the data, write the run.

RUN_DIR (default ``runs/<name>``) receives:

* ``<name>.py`` — the generated module, and ``derivation.md`` — its derivation;
* ``weights.npz`` — the trained parameters (the module's ``load`` reads them back);
* ``history.csv`` — per epoch: loss, and val_loss and val_accuracy (or val_r2) with validation data;
* ``loss.png`` — training and validation loss per epoch (needs matplotlib, the ``plot`` extra;
  without it a one-line note says the plot was skipped);
* ``run.json`` — settings, data, status (completed, stopped early, interrupted), final numbers,
  the gradient check, the document's fate and the files written.

The order is the contract:

1. check: the spec is read, derived and the module printed within one time budget
   (``--time-limit``, default 30 s); RUN_DIR is claimed (:mod:`chainrule.rundir`); the data is
   read and checked (:mod:`chainrule.data`, :mod:`chainrule.checks`). Any problem is one line,
   exit 2, and nothing is written;
2. train, in a temporary sibling of RUN_DIR that holds the module;
3. finish: the gradient check, the weights, the history, the plot, then the document, which has a
   budget of its own (the same number of seconds): a document that fails or runs out of time
   costs the run nothing but one note line and its entry in run.json;
4. rename the sibling into place. A failure anywhere before (a full disk, SIGTERM) removes it:
   RUN_DIR is either the previous run's or this one's, whole.

The spec's [train] settings are the defaults; every one can be overridden by a flag. A progress
bar (tqdm) shows the epochs. Ctrl-C stops after the current epoch; a second Ctrl-C stops training
at once, without weights (:mod:`chainrule.interrupts`). After a Ctrl-C the gradient check and the
document are skipped, what there is gets written, marked "interrupted", and the command exits 130.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainrule import outputs
from chainrule.cli import INTERRUPTED, above_zero
from chainrule.interrupts import Interrupts, Terminated
from codegen.writer import OutputError
from derive.errors import shown

CHECK_SAMPLES = 8  # rows of the training data the gradient check uses
CHECK_ENTRIES = 200  # at most this many entries of each parameter array are checked
CHECK_STEP = 1e-6  # h of the check's central differences (float64): a relu kink is rarely within h
EPSILON = 2.220446049250313e-16  # float64's: a central difference's rounding is about EPSILON·|E|/h
CAVEAT_SHARE = 1e-3  # a gradient array whose largest entry is within 1000× that rounding is not checked by it
TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM ended


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
    parser.add_argument("--inputs", action="append", default=[], metavar="COLUMN",
                        help="CSV input columns (repeat or separate by commas); default: every column but the targets "
                             "and --drop")
    parser.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                        help="CSV columns to leave out (an index column; repeat or separate by commas)")
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
    parser.add_argument("--time-limit", type=above_zero("a number of seconds"), metavar="SECONDS",
                        help="bound reading the spec, deriving and printing the module, and separately the document "
                             "after training (default 30)")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")



def run(args: argparse.Namespace) -> None:
    """Carry out ``chainrule train``; errors are SpecError/DataError/OutputError (exit 2)."""
    with Interrupts() as signals:
        try:
            _run(args, signals)
        except Terminated:
            print("terminated: nothing of the run was kept", file=sys.stderr)
            raise SystemExit(TERMINATED) from None


def _run(args: argparse.Namespace, signals: Interrupts) -> None:
    from chainrule import checks
    from chainrule.data import read
    from chainrule.rundir import RunFolder, claim
    from codegen import render_module
    from derive import derive_network, load_spec
    from derive.bounded import Task, time_budget, working_on

    task = Task("", str(args.spec), "reading the spec, deriving and printing the module",
                "try simpler formulas (fewer nested or composed functions)")
    with time_budget(args.time_limit), working_on(task):  # reading the spec, deriving and printing the module
        spec = load_spec(args.spec)
        for warning in spec.warnings:
            print(f"warning: {shown(spec.source)}: {warning}", file=sys.stderr)
        folder = Path(args.output) if args.output else Path("runs") / spec.name
        claim(folder, spec.name, args.force)
        net = derive_network(spec)
        source = render_module(net)
    module = _module(source, spec.name)
    columns = {flag: [name.strip() for option in getattr(args, flag) for name in option.split(",") if name.strip()]
               for flag in ("target", "inputs", "drop")}
    data = read(args.data, spec.outputs, spec.loss.targets in ("unit", "distribution"), columns["target"],
                columns["inputs"], columns["drop"], spec.inputs)
    settings = _settings(spec, args)
    X, Y, validation = checks.prepare(spec, module, data, args.val_split, args.patience, settings["seed"])
    run = RunFolder(folder, spec.name, args.force)
    try:
        _write(run.file(f"{spec.name}.py"), lambda path: path.write_text(source, encoding="utf-8"), signals)
        print(module.summary(), file=sys.stderr)
        started = time.perf_counter()
        with signals.phase("train"):
            params, history, status = _train(module, X, Y, validation, settings, args.patience, signals, spec.source)
        seconds = time.perf_counter() - started
        check = _check(module, params, X, Y, signals, args.no_check)
        if params is not None:
            _write(run.file("weights.npz"), lambda path: module.save(params, path), signals)
        _write(run.file("history.csv"), lambda path: outputs.history_csv(history, path), signals)
        skipped = _optional(signals, lambda: outputs.plot(history, run.file("loss.png"), spec.name), "loss.png")
        if skipped:
            print(f"note: {skipped}", file=sys.stderr)
        document = _document(net, run.file("derivation.md"), args.time_limit, signals)
        if signals.asked and status != INTERRUPTED_MIDWAY:
            status = "interrupted"
        record = _record(args, data, X, validation, settings, history, status, seconds, check, document,
                         sorted([path.name for path in run.path.iterdir() if not path.name.startswith(".")]
                                + ["run.json"]))
        _write(run.file("run.json"), lambda path: outputs.write_json(record, path), signals)
        with signals.phase("required"):
            written = run.commit()
    except BaseException as error:
        run.abandon()
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            where = error.filename if isinstance(error.filename, str) else folder
            raise OutputError(f"{shown(where)}: cannot write it ({error.strerror or type(error).__name__})") from None
        raise
    outputs.report(status, history, args.patience, check, folder, written)
    if status.startswith("interrupted"):
        raise SystemExit(INTERRUPTED)


INTERRUPTED_MIDWAY = "interrupted during an epoch: no weights"


def _module(source: str, name: str) -> types.ModuleType:
    """The generated module, imported from its text (without a file)."""
    module = types.ModuleType(name)
    module.__file__ = f"<generated {name}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _write(path: Path, write: Callable[[Path], object], signals: Interrupts) -> None:
    """A required file of the run: Ctrl-C and SIGTERM wait until it is written."""
    with signals.phase("required"):
        write(path)


def _optional(signals: Interrupts, step: Callable[[], str | None], what: str) -> str | None:
    """Run an optional step unless Ctrl-C was pressed; None, or why it was skipped."""
    if signals.asked:
        return f"Ctrl-C was pressed, so {what} was skipped"
    try:
        with signals.phase("optional"):
            return step()
    except KeyboardInterrupt:
        return f"Ctrl-C was pressed, so {what} was skipped"


def _settings(spec: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The spec's [train] settings, each overridden by its flag when given."""
    train = spec.train
    settings = {"optimizer": train.optimizer, "learning_rate": train.learning_rate, "epochs": train.epochs,
                "batch_size": train.batch_size, "seed": train.seed, **train.settings}
    for name in settings:
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    return settings


def _train(module: Any, X: Any, Y: Any, validation: tuple[Any, Any] | None, settings: dict[str, Any],
           patience: int | None, signals: Interrupts, spec_source: str,
           ) -> tuple[dict[str, Any] | None, dict[str, list[float]], str]:
    """(params, history, status): params is None if a second Ctrl-C stopped training mid-epoch."""
    from derive.errors import SpecError

    history: dict[str, list[float]] = {}
    bar = _progress_bar(settings["epochs"], module.NAME)

    def on_epoch(epoch: int, loss: float) -> bool:
        if bar is not None:
            numbers = {key: f"{values[-1]:.4g}" for key, values in history.items()}
            bar.set_postfix(numbers, refresh=False)
            bar.update(1)
        return not signals.asked

    try:
        params, history = module.train(X, Y, **settings, validation=validation, patience=patience,
                                       callback=on_epoch, history=history, verbose=bar is None)
    except KeyboardInterrupt:
        return None, history, INTERRUPTED_MIDWAY
    except FloatingPointError as error:  # the loss diverged: the settings', not the data's, fault
        message = str(error).replace("learning_rate", "learning rate (--learning-rate)")
        raise SpecError("train.learning_rate", message, spec_source) from None
    finally:
        if bar is not None:
            bar.close()
    if signals.asked:
        return params, history, "interrupted"
    if len(history.get("loss", [])) < settings["epochs"]:
        return params, history, "stopped early"
    return params, history, "completed"


def _progress_bar(epochs: int, name: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency; without it the module prints its own progress lines
        return None
    return tqdm(total=epochs, desc=name, unit="epoch", file=sys.stderr, dynamic_ncols=True)


def _check(module: Any, params: dict[str, Any] | None, X: Any, Y: Any, signals: Interrupts,
           skip: bool) -> dict[str, Any] | None:
    """check_gradients on the trained params in float64 on the first training rows, or why it was skipped."""
    if params is None or skip:
        return None
    result: dict[str, Any] = {}
    skipped = _optional(signals, lambda: _gradient_check(module, params, X, Y, result), "the gradient check")
    return {"skipped": skipped} if skipped else result


def _gradient_check(module: Any, params: dict[str, Any], X: Any, Y: Any, result: dict[str, Any]) -> None:
    import numpy as np

    wide = {key: value.astype(np.float64) for key, value in params.items()}
    rows = min(CHECK_SAMPLES, X.shape[0])
    value = module.check_gradients(wide, X[:rows], Y[:rows], h=CHECK_STEP, entries=CHECK_ENTRIES)
    result.update({"max_relative_difference": value, "dtype": "float64", "samples": rows, "h": CHECK_STEP,
                   "entries_per_array": CHECK_ENTRIES})
    loss, grads = module.gradients(wide, X[:rows], Y[:rows])
    noise = EPSILON * max(abs(float(loss)), float(np.finfo(np.float64).tiny)) / CHECK_STEP  # of one difference
    largest = {key: float(np.max(np.abs(grad))) for key, grad in grads.items()}
    key = min(largest, key=largest.__getitem__)
    if noise > CAVEAT_SHARE * largest[key]:  # central differences cannot tell these gradients from their rounding
        result["caveat"] = (f"not conclusive: the largest entry of ∂E/∂{key} is {largest[key]:.1e}, near the "
                            f"rounding of a central difference with h = {CHECK_STEP:g} at E = {float(loss):.3g} "
                            f"(about {noise:.0e})")


def _document(net: Any, path: Path, time_limit: float | None, signals: Interrupts) -> dict[str, Any]:
    """Write derivation.md within a budget of its own; what became of it, for run.json. Never fails the run."""
    from codegen import render_markdown
    from derive.bounded import time_budget
    from derive.errors import SpecError

    text: list[str] = []

    def render() -> None:
        with time_budget(time_limit):
            text.append(render_markdown(net))

    try:
        skipped = _optional(signals, render, "derivation.md")
    except SpecError as error:  # the time limit
        skipped = f"derivation.md was skipped: {error.message}"
    except Exception as error:
        skipped = shown(f"derivation.md was skipped: it could not be written ({type(error).__name__}: {error})", 300)
    if skipped:
        print(f"note: {skipped}".replace("\n", " "), file=sys.stderr)
        return {"written": False, "reason": skipped}
    _write(path, lambda target: target.write_text(text[0], encoding="utf-8"), signals)
    return {"written": True}


def _record(args: argparse.Namespace, data: Any, X: Any, validation: tuple[Any, Any] | None,
            settings: dict[str, Any], history: dict[str, list[float]], status: str, seconds: float,
            check: dict[str, Any] | None, document: dict[str, Any], files: list[str]) -> dict[str, Any]:
    from derive import __version__

    epochs_run = len(history.get("loss", []))
    record: dict[str, Any] = {
        "tool": "chainrule train", "version": __version__, "spec": str(args.spec), "data": str(args.data),
        "status": status, "epochs_run": epochs_run, "settings": settings, "patience": args.patience,
        "samples": {"train": int(X.shape[0]), "validation": 0 if validation is None else int(validation[0].shape[0])},
        "targets": list(data.targets), "seconds": round(seconds, 3),
        "final": {key: values[-1] for key, values in history.items() if values},
        "gradient_check": check, "document": document, "files": files,
    }
    best = outputs.best_epoch(history, args.patience)
    if best is not None:
        record["best_epoch"] = best + 1
        record["best"] = {key: values[best] for key, values in history.items()}
    return record

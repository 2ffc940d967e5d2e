"""The one data reader: ``chainrule train``'s training data and ``derive --data``'s worked-example batch.

A file is an ``.npz`` (arrays X, Y, optionally X_val, Y_val) or a ``.csv`` with a header row, read
into NumPy arrays with one-line errors (:func:`read`); :func:`load_batch` takes its first rows as
the batch of the derivation's worked example, class labels as one-hot rows.

Every error is a :class:`DataError`, one line ``FILE: WHERE: what is wrong``, where WHERE names
the array, the column or the row (``data.csv: row 17 (line 18), column 'x3': 'abc' is not a
number``; rows count from 1, the line is the file's), so the command exits 2 with nothing but
that line. :meth:`Dataset.place` names an entry the same way for later checks.

CSV (:mod:`chainrule.csvfile`): the first line names the columns; every other line is one sample
of numbers. The target columns are ``targets`` (names); without them, the last column if it
holds class labels for a classifier, else the last ``outputs`` columns. The inputs are the
``inputs`` columns when named, else every other column but those in ``drop`` (an index column).
For a network that takes class labels, a single target column comes back as a 1-D array, which
the generated module reads as the labels.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chainrule.csvfile import header_of, read_values
from chainrule.errors import DataError
from derive.errors import shown

if TYPE_CHECKING:
    from derive.spec import Spec
    from derive.worked import Batch

__all__ = ["DataError", "Dataset", "header_of", "load_batch", "read"]

NPZ_ARRAYS = ("X", "Y", "X_val", "Y_val")
SHOWN_COLUMNS = 8  # an error lists at most this many column names


@dataclass(frozen=True)
class Dataset:
    """Features X (n, d) and targets Y ((n, k), or (n,) for one target column); maybe validation data."""

    X: np.ndarray
    Y: np.ndarray
    X_val: np.ndarray | None
    Y_val: np.ndarray | None
    source: str
    targets: tuple[str, ...]  # the target columns' names ("Y" for an .npz)
    features: tuple[str, ...] = ()  # the input columns' names (CSV only)
    lines: np.ndarray | None = None  # the file line of each row (CSV only)

    def place(self, array: str, row: int, column: int | None = None) -> str:
        """Where entry (row, column) of ``array`` (X, Y, X_val, Y_val; rows from 0) is in the file:
        ``row 17 (line 18), column 'x3'`` in a CSV, ``X[16, 2]`` in an .npz."""
        if self.lines is None or array.endswith("_val"):
            return f"{array}[{row}]" if column is None else f"{array}[{row}, {column}]"
        names = self.features if array == "X" else self.targets
        where = f"row {row + 1} (line {self.lines[row]})"
        if column is None:
            return where if len(names) != 1 else f"{where}, column {_quoted(names[0])}"
        return f"{where}, column {_quoted(names[column])}"


def read(path: str | Path, outputs: int, labels: bool, targets: Sequence[str] = (), inputs: Sequence[str] = (),
         drop: Sequence[str] = (), features: int | None = None) -> Dataset:
    """The data in ``path`` (.npz or .csv) for a network with ``outputs`` outputs.

    ``labels``: whether the network takes class labels (so a default CSV target can be one
    column of whole numbers). ``targets``, ``inputs``, ``drop``: CSV column names. ``features``:
    the network's number of inputs, which settles the default targets of a CSV (below).
    """
    source = str(path)
    file = Path(path)
    if not file.is_file():
        raise DataError("", "no such file" if not file.exists() else "not a regular file", source)
    if file.suffix == ".npz":
        for flag, given in (("--target", targets), ("--inputs", inputs), ("--drop", drop)):
            if given:
                raise DataError(flag, "names CSV columns; an .npz holds the arrays X and Y", source)
        return _read_npz(file, source)
    if file.suffix == ".csv":
        return _read_csv(file, source, outputs, labels, tuple(targets), tuple(inputs), tuple(drop), features)
    raise DataError("", f"expected a .npz or .csv file, got suffix {shown(repr(file.suffix), 40)}", source)


def _read_npz(file: Path, source: str) -> Dataset:
    try:
        with np.load(file, allow_pickle=False) as archive:
            names = list(archive.files)
            unexpected = [name for name in names if name not in NPZ_ARRAYS]
            if unexpected:
                raise DataError("", f"unexpected arrays {shown(unexpected, 120)}; expected X, Y and optionally X_val, "
                                    "Y_val", source)
            for name in ("X", "Y"):
                if name not in names:
                    raise DataError("", f"no array {name!r} (it holds {names})", source)
            if ("X_val" in names) != ("Y_val" in names):
                raise DataError("", "X_val and Y_val come together: it holds only one of them", source)
            arrays = {name: archive[name] for name in names}
    except DataError:
        raise
    except MemoryError:
        raise DataError("", f"too large to read into memory ({file.stat().st_size:,} bytes)", source) from None
    except Exception as error:  # zipfile's, NumPy's and pickle's errors for a file that is not an .npz
        raise DataError("", shown(f"not a NumPy .npz archive ({type(error).__name__}: {error})", 200),
                        source) from None
    for name, array in arrays.items():
        _numbers(array, name, source)
    return Dataset(arrays["X"], arrays["Y"], arrays.get("X_val"), arrays.get("Y_val"), source, ("Y",))


def _numbers(array: np.ndarray, name: str, source: str) -> None:
    if not (array.dtype.kind in "iuf" or array.dtype == np.bool_):  # no complex, datetime, timedelta, object, text
        raise DataError(name, f"expected real numbers, got dtype {array.dtype}", source)
    if (name.startswith("X") and array.ndim not in (2, 4)) or (name.startswith("Y") and array.ndim not in (1, 2)):
        raise DataError(name, f"expected a {'2- or 4' if name.startswith('X') else '1- or 2'}-D array, got shape "
                              f"{array.shape}", source)
    bad = np.argwhere(~np.isfinite(array)) if array.dtype.kind == "f" else np.empty((0, 2), int)
    if bad.size:
        where = ", ".join(str(int(i)) for i in bad[0])
        raise DataError(f"{name}[{where}]", f"{array[tuple(bad[0])]} is not a finite number", source)


def _read_csv(file: Path, source: str, outputs: int, labels: bool, targets: tuple[str, ...],
              inputs: tuple[str, ...], drop: tuple[str, ...], features_wanted: int | None) -> Dataset:
    header = header_of(file, source)
    for flag, names in (("--target", targets), ("--inputs", inputs), ("--drop", drop)):
        _known(flag, names, header, source)
    if set(targets) & set(inputs):
        both = next(name for name in targets if name in inputs)
        raise DataError("--inputs", f"column {_quoted(both)} is also a --target", source)
    values, lines = read_values(file, source, header)
    if not targets:
        candidates = [name for name in header if name not in drop and name not in inputs]
        if not candidates:
            raise DataError("--target", "no column is left for the targets", source)
        if inputs:
            targets = tuple(candidates)
        elif features_wanted is not None:
            targets = _counted_targets(candidates, features_wanted, outputs, source)
        else:
            targets = _default_targets(candidates, values[:, [header.index(name) for name in candidates]], outputs,
                                       labels)
    chosen = [header.index(name) for name in targets]
    if inputs:
        features = [header.index(name) for name in inputs]
    else:
        features = [index for index, name in enumerate(header) if index not in chosen and name not in drop]
    if not features:
        raise DataError("--target", "every column is a target or dropped: no inputs left", source)
    X = np.ascontiguousarray(values[:, features])
    Y = values[:, chosen[0]] if len(chosen) == 1 and labels else np.ascontiguousarray(values[:, chosen])
    return Dataset(X, Y, None, None, source, targets, tuple(header[index] for index in features), lines)


def _known(flag: str, names: tuple[str, ...], header: list[str], source: str) -> None:
    """Every name in ``names`` is a column, or one line naming the first that is not, with a guess."""
    columns = set(header)
    for name in names:
        if name not in columns:
            close = [column for column in header if column.casefold() == name.casefold()][:1] \
                or difflib.get_close_matches(name, header, n=1)
            guess = f" (did you mean {_quoted(close[0])}?)" if close else ""
            raise DataError(flag, f"no column {_quoted(name)}{guess}; columns: {shown_names(header)}", source)
    repeated = next((name for index, name in enumerate(names) if name in names[:index]), None)
    if repeated is not None:
        raise DataError(flag, f"column {_quoted(repeated)} is named twice", source)


def _counted_targets(candidates: list[str], features: int, outputs: int, source: str) -> tuple[str, ...]:
    """The columns after the first ``features``: one (labels, or a single output) or ``outputs`` of them.

    Any other count is ambiguous, and said so rather than guessed."""
    extra = len(candidates) - features
    if extra == 1 or (extra == outputs and extra > 0):
        return tuple(candidates[features:])
    raise DataError("--target", f"{len(candidates)} columns ({shown_names(candidates)}) for a network of {features} "
                                f"inputs and {outputs} outputs: expected {features} + 1 (a label or target column) or "
                                f"{features} + {outputs}; name the targets with --target, the inputs with --inputs "
                                "or --drop", source)


def _default_targets(header: list[str], values: np.ndarray, outputs: int, labels: bool) -> tuple[str, ...]:
    """The last column if it can be class labels, else the last ``outputs`` columns."""
    last = values[:, -1]
    if labels and (outputs == 1 or np.all((last == np.round(last)) & (last >= 0) & (last < outputs))):
        return (header[-1],)
    return tuple(header[-outputs:])


def _quoted(name: str) -> str:
    return shown(repr(name), 60)


def shown_names(names: Sequence[str]) -> str:
    """At most ``SHOWN_COLUMNS`` names, each shortened, and how many there are in all."""
    listed = ", ".join(shown(name, 60) for name in names[:SHOWN_COLUMNS])
    return listed if len(names) <= SHOWN_COLUMNS else f"{listed}, … ({len(names)} in all)"


def load_batch(path: str | Path, spec: Spec, rows: int | None = None) -> Batch:
    """The first ``rows`` samples of the file (default: as many as the worked example shows) as its batch."""
    from derive.worked import ROWS, Batch

    rows = ROWS if rows is None else rows
    labels = spec.loss.targets in ("unit", "distribution")
    targets: tuple[str, ...] = ()
    if Path(path).suffix == ".csv" and Path(path).is_file():  # inputs first, then the targets
        names = header_of(Path(path), str(path))
        if len(names) <= spec.inputs:
            raise DataError("line 1", f"{len(names)} columns; expected {spec.inputs} inputs and then the targets",
                            str(path))
        targets = tuple(names[spec.inputs:])
    data = read(path, spec.outputs, labels, targets)
    X, Y = np.asarray(data.X, dtype=float)[:rows], np.asarray(data.Y, dtype=float)[:rows]
    if len(spec.input_shape) == 1 and X.ndim != 2:
        raise DataError("X", f"expected a 2-D array (n, {spec.inputs}), got shape {data.X.shape}", data.source)
    if X.shape[1] != spec.inputs:
        raise DataError("X", f"has {X.shape[1]} columns; the network takes {spec.inputs} inputs", data.source)
    if Y.ndim == 1 and labels:
        Y = _one_hot_labels(Y, spec.outputs, data)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != (X.shape[0], spec.outputs):
        raise DataError("Y", f"has shape {Y.shape}; expected ({X.shape[0]}, {spec.outputs})", data.source)
    return Batch(X, Y, "file")


def label_error(data: Dataset, array: str, labels: np.ndarray, classes: int) -> DataError | None:
    """The error for the first entry of ``labels`` that is not a class label 0..classes − 1, if any."""
    with np.errstate(invalid="ignore"):
        wrong = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= classes))
    if not wrong.size:
        return None
    return DataError(data.place(array, int(wrong[0])), f"{labels[wrong[0]]:g} is not a class label: expected a "
                                                       f"whole number 0..{classes - 1}", data.source)


def _one_hot_labels(labels: np.ndarray, outputs: int, data: Dataset) -> np.ndarray:
    error = label_error(data, "Y", labels, max(outputs, 2))
    if error is not None:
        raise error
    if outputs == 1:
        return labels.reshape(-1, 1)
    return np.eye(outputs)[labels.astype(int)]

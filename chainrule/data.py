"""The one data reader: ``chainrule train``'s training data and ``derive --data``'s worked-example batch.

A file is an ``.npz`` (arrays X, Y, optionally X_val, Y_val) or a ``.csv`` with a header row, read
into NumPy arrays with one-line errors (:func:`read`); :func:`load_batch` takes its first rows as
the batch of the derivation's worked example, class labels as one-hot rows.

Every error is a :class:`DataError`, one line ``FILE: WHERE: what is wrong``, where WHERE names
the array, the column or the row (``data.csv: row 17 (line 18), column 'x3': 'abc' is not a
number``), so the command exits 2 with nothing but that line.

CSV: the first line names the columns; every other line is one sample of numbers. The target
columns are ``targets`` (names); without them, the last column if it holds class labels for a
classifier, else the last ``outputs`` columns. For a network that takes class labels, a single
target column comes back as a 1-D array, which the generated module reads as the labels.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from derive.errors import SpecError

if TYPE_CHECKING:
    from derive.spec import Spec
    from derive.worked import Batch

NPZ_ARRAYS = ("X", "Y", "X_val", "Y_val")
SHOWN_COLUMNS = 8  # an error lists at most this many column names


class DataError(SpecError):
    """Training data that cannot be used: ``str`` is one line naming the file and the place."""


@dataclass(frozen=True)
class Dataset:
    """Features X (n, d) and targets Y ((n, k), or (n,) for one target column); maybe validation data."""

    X: np.ndarray
    Y: np.ndarray
    X_val: np.ndarray | None
    Y_val: np.ndarray | None
    source: str
    targets: tuple[str, ...]  # the target columns' names ("Y" for an .npz)


def read(path: str | Path, outputs: int, labels: bool, targets: Sequence[str] = ()) -> Dataset:
    """The data in ``path`` (.npz or .csv) for a network with ``outputs`` outputs.

    ``labels``: whether the network takes class labels (so a default CSV target can be one
    column of whole numbers).
    """
    source = str(path)
    file = Path(path)
    if not file.is_file():
        raise DataError("", "no such file" if not file.exists() else "not a regular file", source)
    if file.suffix == ".npz":
        if targets:
            raise DataError("--target", "names CSV columns; an .npz holds the arrays X and Y", source)
        return _read_npz(file, source)
    if file.suffix == ".csv":
        return _read_csv(file, source, outputs, labels, tuple(targets))
    raise DataError("", f"expected a .npz or .csv file, got suffix {file.suffix!r}", source)


def _read_npz(file: Path, source: str) -> Dataset:
    try:
        with np.load(file, allow_pickle=False) as archive:
            names = list(archive.files)
            unexpected = [name for name in names if name not in NPZ_ARRAYS]
            if unexpected:
                raise DataError("", f"unexpected arrays {unexpected}; expected X, Y and optionally X_val, Y_val",
                                source)
            for name in ("X", "Y"):
                if name not in names:
                    raise DataError("", f"no array {name!r} (it holds {names})", source)
            if ("X_val" in names) != ("Y_val" in names):
                raise DataError("", "X_val and Y_val come together: it holds only one of them", source)
            arrays = {name: archive[name] for name in names}
    except DataError:
        raise
    except Exception as error:  # zipfile's, NumPy's and pickle's errors for a file that is not an .npz
        raise DataError("", f"not a NumPy .npz archive ({type(error).__name__}: {error})".replace("\n", " "),
                        source) from None
    for name, array in arrays.items():
        _numbers(array, name, source)
    return Dataset(arrays["X"], arrays["Y"], arrays.get("X_val"), arrays.get("Y_val"), source, ("Y",))


def _numbers(array: np.ndarray, name: str, source: str) -> None:
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) \
            or np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(name, f"expected real numbers, got dtype {array.dtype}", source)
    if (name.startswith("X") and array.ndim not in (2, 4)) or (name.startswith("Y") and array.ndim not in (1, 2)):
        raise DataError(name, f"expected a {'2- or 4' if name.startswith('X') else '1- or 2'}-D array, got shape "
                              f"{array.shape}", source)
    bad = np.argwhere(~np.isfinite(array)) if array.dtype.kind == "f" else np.empty((0, 2), int)
    if bad.size:
        where = ", ".join(str(int(i)) for i in bad[0])
        raise DataError(f"{name}[{where}]", f"{array[tuple(bad[0])]} is not a finite number", source)


def _read_csv(file: Path, source: str, outputs: int, labels: bool, targets: tuple[str, ...]) -> Dataset:
    header = header_of(file, source)
    values = _values(file, source, header)
    unknown = [name for name in targets if name not in header]
    if unknown:
        raise DataError("--target", f"no column {unknown[0]!r} (columns: {_shown(header)})", source)
    if not targets:
        targets = _default_targets(header, values, outputs, labels)
    chosen = [header.index(name) for name in targets]
    features = [index for index in range(len(header)) if index not in chosen]
    if not features:
        raise DataError("--target", "every column is a target: no features left", source)
    X = np.ascontiguousarray(values[:, features])
    Y = values[:, chosen[0]] if len(chosen) == 1 and labels else np.ascontiguousarray(values[:, chosen])
    return Dataset(X, Y, None, None, source, targets)


def _default_targets(header: list[str], values: np.ndarray, outputs: int, labels: bool) -> tuple[str, ...]:
    """The last column if it can be class labels, else the last ``outputs`` columns."""
    last = values[:, -1]
    if labels and (outputs == 1 or np.all((last == np.round(last)) & (last >= 0) & (last < outputs))):
        return (header[-1],)
    return tuple(header[-outputs:])


def header_of(file: Path, source: str) -> list[str]:
    """The column names on a CSV file's first line, stripped; a name missing or repeated is an error."""
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as error:
        raise DataError("", f"not UTF-8 text (byte {error.start}: {error.reason})", source) from None
    except csv.Error as error:
        raise DataError("line 1", str(error), source) from None
    if header is None:
        raise DataError("", "empty, expected a header row naming the columns", source)
    header = [name.strip() for name in header]
    for index, name in enumerate(header):
        if not name:
            raise DataError("line 1", f"column {index + 1} has no name", source)
        if name in header[:index]:
            raise DataError("line 1", f"column {name!r} appears twice", source)
    return header


def _values(file: Path, source: str, header: list[str]) -> np.ndarray:
    """The numbers below the header: np.loadtxt, and on any failure a row-by-row search for the culprit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": said below, in one line
            values = np.loadtxt(file, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2, encoding="utf-8-sig",
                                comments=None, quotechar='"')
    except ValueError as error:
        _find_bad_value(file, source, header)
        raise DataError("", f"cannot read the numbers ({error})".replace("\n", " "), source) from None
    if values.shape[0] == 0:
        raise DataError("", "no data rows below the header", source)
    if values.shape[1] != len(header):
        raise DataError("row 1 (line 2)", f"{values.shape[1]} fields, the header names {len(header)}", source)
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, column = (int(i) for i in bad[0])
        raise DataError(f"row {row + 1} (line {row + 2}), column {header[column]!r}",
                        f"{values[row, column]} is not a finite number", source)
    return values


def _find_bad_value(file: Path, source: str, header: list[str]) -> None:
    with file.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        next(rows, None)
        for row, fields in enumerate(rows, start=1):
            where = f"row {row} (line {rows.line_num})"
            if len(fields) != len(header):
                raise DataError(where, f"{len(fields)} fields, the header names {len(header)}", source)
            for name, text in zip(header, fields, strict=True):
                try:
                    number = float(text)
                except ValueError:
                    shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "…"
                    raise DataError(f"{where}, column {name!r}",
                                    f"{shown} is not a number" if text.strip() else "empty", source) from None
                if not math.isfinite(number):
                    raise DataError(f"{where}, column {name!r}", f"{text!r} is not a finite number", source)


def _shown(names: Sequence[str]) -> str:
    listed = ", ".join(names[:SHOWN_COLUMNS])
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
    if X.shape[1] != spec.inputs:
        raise DataError("X", f"has {X.shape[1]} columns; the network takes {spec.inputs} inputs", data.source)
    if Y.ndim == 1 and labels:
        Y = _one_hot_labels(Y, spec.outputs, data.source)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != (X.shape[0], spec.outputs):
        raise DataError("Y", f"has shape {Y.shape}; expected ({X.shape[0]}, {spec.outputs})", data.source)
    return Batch(X, Y, "file")


def _one_hot_labels(labels: np.ndarray, outputs: int, source: str) -> np.ndarray:
    classes = max(outputs, 2)
    wrong = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= classes))
    if wrong.size:
        raise DataError("Y", f"class labels must be whole numbers 0..{classes - 1}; row {wrong[0] + 1} is "
                             f"{labels[wrong[0]]:g}", source)
    if outputs == 1:
        return labels.reshape(-1, 1)
    return np.eye(outputs)[labels.astype(int)]

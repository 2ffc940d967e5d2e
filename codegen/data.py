"""A user's data for the derivation's worked example: ``--data FILE.npz`` or ``FILE.csv``, first rows.

``.npz``: arrays ``X`` (n × inputs) and ``Y`` (n × outputs, or n integer class labels).
``.csv``: a header row, then the inputs' columns followed by the targets' (or one column of integer
class labels for a softmax/cross_entropy network). Every problem is a one-line
:class:`~codegen.writer.OutputError`-like :class:`DataError` naming the file, the row or the column.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from derive.spec import Spec
from derive.worked import ROWS, Batch

MAX_BYTES = 64 << 20


class DataError(ValueError):
    """Data that cannot be used; ``str`` is one line naming the file and the place."""


def load_batch(path: str | Path, spec: Spec, rows: int = ROWS) -> Batch:
    """The first ``rows`` samples of the file as a worked example's batch."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    if source.stat().st_size > MAX_BYTES:
        raise DataError(f"{source}: larger than {MAX_BYTES >> 20} MB; the worked example needs a few rows")
    if source.suffix == ".npz":
        X, Y = _npz(source)
    elif source.suffix == ".csv":
        X, Y = _csv(source, spec.inputs, rows)
    else:
        raise DataError(f"{source}: expected a .npz or .csv file")
    X, Y = X[:rows], Y[:rows]
    if X.ndim != 2 or X.shape[1] != spec.inputs:
        raise DataError(f"{source}: X has shape {X.shape}; the network takes {spec.inputs} inputs")
    if Y.ndim == 1 or (Y.ndim == 2 and Y.shape[1] == 1 and spec.outputs > 1):
        Y = _one_hot(source, Y.reshape(-1), spec.outputs)
    if Y.ndim != 2 or Y.shape != (X.shape[0], spec.outputs):
        raise DataError(f"{source}: Y has shape {Y.shape}; expected ({X.shape[0]}, {spec.outputs})")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise DataError(f"{source}: contains NaN or infinite values in its first {rows} rows")
    return Batch(X.astype(float), Y.astype(float), "file")


def _npz(source: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(source, allow_pickle=False) as data:
            missing = [key for key in ("X", "Y") if key not in data.files]
            if missing:
                raise DataError(f"{source}: missing array {missing[0]} (it holds {', '.join(data.files) or 'nothing'})")
            return np.asarray(data["X"], dtype=float), np.asarray(data["Y"], dtype=float)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{source}: not a readable .npz file ({type(error).__name__})") from None


def _csv(source: Path, inputs: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        with source.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{source}: empty file")
            if len(header) <= inputs:
                raise DataError(f"{source}: {len(header)} columns; expected {inputs} inputs and then the targets")
            values = []
            for number, line in enumerate(reader, start=2):
                if len(values) == rows:
                    break
                if len(line) != len(header):
                    raise DataError(f"{source}: row {number} has {len(line)} columns, the header {len(header)}")
                try:
                    values.append([float(cell) for cell in line])
                except ValueError:
                    column = next(header[i] for i, cell in enumerate(line) if not _is_number(cell))
                    raise DataError(f"{source}: row {number}, column {column!r}: not a number") from None
    except UnicodeDecodeError:
        raise DataError(f"{source}: not UTF-8 text") from None
    if not values:
        raise DataError(f"{source}: no rows after the header")
    table = np.array(values)
    return table[:, :inputs], table[:, inputs:]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _one_hot(source: Path, labels: np.ndarray, classes: int) -> np.ndarray:
    if not np.all(labels == np.round(labels)) or labels.min() < 0 or labels.max() >= classes:
        raise DataError(f"{source}: class labels must be integers from 0 to {classes - 1}")
    return np.eye(classes)[labels.astype(int)]

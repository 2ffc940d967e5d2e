"""A user's data for the derivation's worked example: ``--data FILE.npz`` or ``FILE.csv``, first rows.

The file is read as ``chainrule train`` reads it (:mod:`codegen.dataset`: ``.npz`` arrays ``X``
and ``Y``; ``.csv`` with a header row, the network's inputs in its first columns and the targets in the rest),
then its first ``rows``
samples become the worked example's batch; class labels become one-hot rows. Every problem is a
one-line :class:`~codegen.dataset.DataError` naming the file and the place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codegen.dataset import DataError, header_of, read
from derive.spec import Spec
from derive.worked import ROWS, Batch

__all__ = ["DataError", "load_batch"]


def load_batch(path: str | Path, spec: Spec, rows: int = ROWS) -> Batch:
    """The first ``rows`` samples of the file as a worked example's batch."""
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
        Y = _one_hot(Y, spec.outputs, data.source)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != (X.shape[0], spec.outputs):
        raise DataError("Y", f"has shape {Y.shape}; expected ({X.shape[0]}, {spec.outputs})", data.source)
    return Batch(X, Y, "file")


def _one_hot(labels: np.ndarray, outputs: int, source: str) -> np.ndarray:
    classes = max(outputs, 2)
    wrong = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= classes))
    if wrong.size:
        raise DataError("Y", f"class labels must be whole numbers 0..{classes - 1}; row {wrong[0] + 1} is "
                             f"{labels[wrong[0]]:g}", source)
    if outputs == 1:
        return labels.reshape(-1, 1)
    return np.eye(outputs)[labels.astype(int)]

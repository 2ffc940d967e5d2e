"""The training data checked against the spec before anything is written, each problem one line
naming the file and the place in the user's terms: the CSV's row, line and column, or the
.npz array and index (:meth:`chainrule.data.Dataset.place`).

Checked here, in this order: validation data for ``--patience``; rows of X and Y; X's shape (rows of
``inputs`` values, or images (n, C, H, W)); class labels (whole numbers 0..K−1), targets in [0, 1]
for bce, rows of probabilities for cross_entropy, Y's columns; every value within the range of
the spec's dtype (1e39 does not fit in float32). The generated module's own checks then run as a
last guard. Validation rows are split off after the checks, so the rows named are the file's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.data import DataError, Dataset, label_error, shown_names

Arrays = tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]


def prepare(spec: Any, module: Any, data: Dataset, val_split: float | None, patience: int | None,
            seed: int) -> Arrays:
    """(X, Y, validation) ready for ``module.train``, or a ``DataError``."""
    if patience is not None and data.X_val is None and val_split is None:
        raise DataError("--patience", "early stopping watches the validation loss, and there is no validation "
                                      "data: add --val-split FRACTION, or X_val and Y_val to an .npz", data.source)
    if data.X_val is not None and val_split is not None:
        raise DataError("--val-split", "the file already holds X_val and Y_val; use one or the other", data.source)
    pairs = [("X", "Y", data.X, data.Y)]
    if data.X_val is not None and data.Y_val is not None:
        pairs.append(("X_val", "Y_val", data.X_val, data.Y_val))
    checked = []
    for x_name, y_name, X, Y in pairs:
        if X.shape[0] != Y.shape[0]:
            raise DataError(y_name, f"{Y.shape[0]} rows, but {x_name} has {X.shape[0]}", data.source)
        X = _features(spec, data, x_name, X)
        Y = _targets(spec, data, y_name, Y)
        for name, array in ((x_name, X), (y_name, Y)):
            _fits(spec.dtype, data, name, array)
        checked.append((X, Y))
    X, Y = checked[0]
    validation = checked[1] if len(checked) > 1 else None
    if val_split is not None:
        X, Y, validation = _split(X, Y, val_split, seed, data.source)
    for prefix, (features, targets) in (("", (X, Y)), ("validation: ", validation or (None, None))):
        if features is not None:
            try:
                module._check_data(features, targets, module.DTYPE)
            except ValueError as error:
                raise DataError("", f"{prefix}{error}", data.source) from None
    return X, Y, validation


def _features(spec: Any, data: Dataset, name: str, X: np.ndarray) -> np.ndarray:
    """X as (n, inputs) rows, or (n, C, H, W) images for a network whose input is an image."""
    shape = tuple(spec.input_shape)
    if len(shape) == 1:
        if X.ndim != 2:
            raise DataError(name, f"expected a 2-D array (n, {spec.inputs}), got shape {X.shape}", data.source)
    elif X.ndim == 2 and X.shape[1] == spec.inputs:
        return X.reshape(X.shape[0], *shape)
    elif X.ndim != 4 or tuple(X.shape[1:]) != tuple(shape):
        raise DataError(name, f"expected {spec.inputs} values per sample, as rows or as images "
                              f"(n, {', '.join(map(str, shape))}), got shape {X.shape}", data.source)
    else:
        return X
    if X.shape[1] != spec.inputs:
        if data.lines is not None:
            words = f"{X.shape[1]} input columns ({_names(data.features)})"
            raise DataError("", f"{words}, but the spec has inputs = {spec.inputs}; choose them with --inputs or "
                                "--drop", data.source)
        raise DataError(name, f"{X.shape[1]} columns, but the spec has inputs = {spec.inputs}", data.source)
    return X


def _targets(spec: Any, data: Dataset, name: str, Y: np.ndarray) -> np.ndarray:
    kind = spec.loss.targets  # "unit" (bce), "distribution" (cross_entropy) or anything
    outputs = spec.outputs
    if Y.ndim == 1 and kind in ("unit", "distribution"):
        error = label_error(data, name, Y, max(outputs, 2))
        if error is not None:
            raise error
        return Y
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape[1] != outputs:
        what = f"{Y.shape[1]} target columns ({_names(data.targets)})" if data.lines is not None else \
            f"{Y.shape[1]} columns"
        raise DataError(name if data.lines is None else "--target", f"{what}, but the network has {outputs} outputs",
                        data.source)
    if kind == "unit":
        outside = np.argwhere((Y < 0) | (Y > 1))
        if outside.size:
            row, column = (int(i) for i in outside[0])
            raise DataError(data.place(name, row, column), f"{Y[row, column]:g} is outside [0, 1], and "
                                                             f"{spec.loss.name} needs targets in [0, 1]", data.source)
    if kind == "distribution":
        sums = Y.sum(axis=1)
        wrong = np.flatnonzero((Y < 0).any(axis=1) | ~np.isclose(sums, 1, rtol=0, atol=1e-4))
        if wrong.size:
            row = int(wrong[0])
            raise DataError(data.place(name, row), f"the targets {_row(Y[row])} are not one-hot or probabilities "
                                                   f"summing to 1, which {spec.loss.name} needs", data.source)
    return Y


def _fits(dtype: str, data: Dataset, name: str, array: np.ndarray) -> None:
    """Every value within the range of ``dtype`` (the module converts the data to it)."""
    largest = float(np.finfo(dtype).max)
    if array.dtype.kind != "f" or np.finfo(array.dtype).max <= largest:  # integers fit float32's range too
        return
    with np.errstate(invalid="ignore"):
        too_large = np.abs(array) > largest
    if too_large.any():
        index = np.unravel_index(int(np.argmax(too_large)), array.shape)
        row, column = int(index[0]), (int(index[1]) if array.ndim == 2 else None)
        where = data.place(name, row, column) if array.ndim <= 2 else f"{name}[{', '.join(map(str, index))}]"
        raise DataError(where, f"{array[index]:g} does not fit in {dtype}, the spec's dtype (largest {largest:.4g})",
                        data.source)


def _split(X: np.ndarray, Y: np.ndarray, fraction: float, seed: int, source: str) -> Arrays:
    n = X.shape[0]
    held = math.ceil(fraction * n)
    if held >= n:
        raise DataError("--val-split", f"{fraction} of {n} samples leaves none to train on", source)
    order = np.random.default_rng(seed).permutation(n)
    kept, out = np.sort(order[held:]), np.sort(order[:held])
    return X[kept], Y[kept], (X[out], Y[out])


def _names(names: tuple[str, ...]) -> str:
    return shown_names(list(names))


def _row(values: np.ndarray) -> str:
    shown = ", ".join(f"{value:g}" for value in values[:6])
    return f"[{shown}{', …' if values.size > 6 else ''}]"

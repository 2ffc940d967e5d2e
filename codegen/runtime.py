"""The fixed runtime of every generated module: argument checks, gradients and their check, the
training loop, save and load.

Everything below the line :data:`codegen.verbatim.MARKER` is copied verbatim into each generated module, after the
network's own part, so that a generated module stays one file that imports only NumPy (and the
standard library's ``time``). Here it is a real module: linted, type-checked and unit-tested
(``tests/test_runtime.py``).

The network part, which ``codegen/templates/model.py.jinja`` writes from the derivation, defines
what this runtime reads; above the line they are stand-ins of the right types:

* constants: ``NAME``; ``SIZES`` (the input's shape or width, then each layer's, the last the
  outputs); ``DTYPE``; ``SHAPES`` (each parameter's shape, in order, the first a weight); ``TRAIN_DEFAULTS``;
  ``OPTIMIZERS`` (each optimizer's update function, how many state and scratch buffers of the
  parameters' size it needs, whether its gradient arrives scaled by η, whether it takes minibatches);
  ``SETTINGS`` (the optimizers' settings, train()'s keywords, and their bounds); ``INPUT_SHAPE``
  (one sample: ``(d,)`` or ``(C, H, W)``); ``LABELS`` (whether Y
  may be class labels) and ``CLASSES``; ``TARGETS`` (``any``, ``unit``: in [0, 1], ``distribution``:
  rows summing to 1) and ``LOSS``, the loss's name; ``Y_SHAPES`` (the shapes Y may have, in words);
  ``TASK`` (``argmax``, ``threshold`` or ``none`` for a regression) and ``KIND`` (its words);
  ``REDUCTION`` (``sum`` or ``mean``); ``SUMMARY``;
* functions: ``init_params(seed, dtype)``; ``_work(m, dtype, memory)``, the arrays of a batch of m
  samples; ``_forward(params, X, work)``, which returns the output; ``_loss(work, Y)``, E of the
  batch in work; ``_backward(params, X, Y, work, grads, scale)``, scale · ∂E/∂w into grads; ``train``,
  whose keywords are the optimizers' settings, calls :func:`_train`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeGuard

import numpy as np

NAME = "network"
SIZES: tuple[Any, ...] = (1, 1)
DTYPE: type = np.float64
SHAPES: dict[str, tuple[int, ...]] = {"W1": (1, 1), "b1": (1,)}
TRAIN_DEFAULTS: dict[str, Any] = {"optimizer": "gd", "learning_rate": 0.1, "epochs": 1, "batch_size": 32, "seed": 0}
SETTINGS: dict[str, str] = {}  # each optimizer setting's keyword and bounds: "fraction" [0, 1) or "positive"
INPUT_SHAPE: tuple[int, ...] = (1,)
LABELS = False
CLASSES = 2
TARGETS = "any"
LOSS = "sse"
Y_SHAPES = "shape (n, 1)"
TASK = "none"
KIND = "identity output, loss sse"
REDUCTION = "sum"
SUMMARY = "Network network"


def init_params(seed: int = 0, dtype: type = DTYPE) -> dict[str, np.ndarray]:
    raise NotImplementedError("the generated module's network part defines it")


def _work(m: int, dtype: type, memory: object = np) -> tuple[np.ndarray, ...]:
    raise NotImplementedError("the generated module's network part defines it")


def _forward(params: dict[str, np.ndarray], X: np.ndarray, work: tuple[np.ndarray, ...]) -> np.ndarray:
    raise NotImplementedError("the generated module's network part defines it")


def _loss(work: tuple[np.ndarray, ...], Y: np.ndarray) -> float:
    raise NotImplementedError("the generated module's network part defines it")


def _backward(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, work: tuple[np.ndarray, ...],
              grads: dict[str, np.ndarray], scale: float = 1.0) -> None:
    raise NotImplementedError("the generated module's network part defines it")


def _update_gd(theta: np.ndarray, g: np.ndarray, state: tuple[np.ndarray, ...], scratch: tuple[np.ndarray, ...],
               t: int, eta: float) -> None:
    theta -= g


OPTIMIZERS: dict[str, dict[str, Any]] = {
    "gd": {"update": _update_gd, "state": 0, "scratch": 0, "scaled": True, "minibatch": False},
}


# ---- copied verbatim into generated modules from here on ----

FIRST_WEIGHT = next(iter(SHAPES))  # the first parameter, a weight: its dtype is the params' dtype
SHUFFLE_WHOLE_BYTES = 1 << 22  # train(): data up to this size is shuffled whole each epoch
HUGE_PAGE = 1 << 21  # 2 MiB, the large page of x86-64 and arm64 Linux: train()'s arrays start on one



def _is_real(value: object) -> TypeGuard[int | float | np.integer | np.floating]:
    """A real number: a Python or NumPy int or float, or a rational such as fractions.Fraction; not a bool."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return hasattr(value, "numerator") and hasattr(value, "denominator") and _is_integer(value.numerator) \
        and _is_integer(value.denominator) and value.denominator != 0


SHOWN = 80  # characters of a value's repr in a message


def _shown(value: object) -> str:
    """repr(value) for a one-line message, at most SHOWN characters."""
    try:
        text = repr(value)
    except Exception:
        text = f"a {type(value).__name__}"
    return text if len(text) <= SHOWN else f"{text[:SHOWN - 20]}…{text[-19:]}"


def _is_integer(value: object) -> TypeGuard[int | np.integer]:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_seed(seed: object) -> int:
    if not _is_integer(seed) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    return int(seed)


def _as_matrix(value: object, name: str, columns: int, dtype: type, expected: str = "") -> np.ndarray:
    """value as an (n, columns) array of dtype, or ValueError; expected words the shapes allowed."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise ValueError(f"{name}: expected a 2-D array (n, {columns}) of numbers, got rows of unequal "
                         f"length or values that are not numbers") from None
    if array.ndim != 2 or array.shape[1] != columns:
        raise ValueError(f"{name}: expected {expected or f'shape (n, {columns})'}, got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got shape {array.shape}")
    return _real(array, name, dtype)


def _as_images(value: object, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise ValueError(f"{name}: expected a 4-D array (n, {', '.join(map(str, shape))}) of numbers, got nested "
                         f"lists of unequal length or values that are not numbers") from None
    if array.ndim != 4 or array.shape[1:] != shape:
        raise ValueError(f"{name}: expected shape (n, {', '.join(map(str, shape))}), got {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got shape {array.shape}")
    return _real(array, name, dtype)


def _real(array: np.ndarray, name: str, dtype: type) -> np.ndarray:
    """array as a contiguous array of dtype, or ValueError if it is not real numbers (integers or floats: not
    complex, bool, datetime or timedelta), all finite and within the range of dtype."""
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected real numbers, got dtype {array.dtype}")
    source = array
    with np.errstate(over="ignore"):  # a value beyond dtype's range becomes inf: said below, in its own words
        array = np.ascontiguousarray(array, dtype=dtype)
    # A finite sum proves every value finite (NaN and ±inf carry through a sum). The rows are summed
    # by one matrix-vector product, which BLAS runs on every core, then the row sums are added;
    # only a sum that overflows needs the value-by-value check.
    rows = array.reshape(array.shape[0] if array.ndim > 1 else 1, -1)
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(rows @ np.ones(rows.shape[1], rows.dtype))
    if not np.isfinite(total) and not np.all(np.isfinite(array)):
        finite = np.isfinite(source) if source.dtype.kind == "f" else np.ones(source.shape, bool)
        if np.all(finite):  # finite in the caller's dtype, beyond the range of ours
            index = np.unravel_index(int(np.argmin(np.isfinite(array))), array.shape)
            place = ", ".join(str(int(i)) for i in index)
            raise ValueError(f"{name}[{place}]: {source[index]:g} does not fit in {np.dtype(dtype).name} (largest "
                             f"{float(np.finfo(dtype).max):.4g})")
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


def _one_hot(labels: np.ndarray, name: str, dtype: type) -> np.ndarray:
    """Class labels, shape (n,), as one-hot rows (n, SIZES[-1]), or for one output as a column (n, 1) of 0 and 1."""
    if labels.dtype == np.bool_:
        labels = labels.astype(np.intp)
    if labels.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected integer class labels, got dtype {labels.dtype}")
    if labels.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample, got shape {labels.shape}")
    with np.errstate(invalid="ignore"):
        valid = (labels >= 0) & (labels <= CLASSES - 1) & (labels == np.round(labels))
    if not np.all(valid):
        row = int(np.argmin(valid))
        raise ValueError(f"{name}[{row}]: {labels[row].item()!r} is not a class label: expected a whole number "
                         f"0..{CLASSES - 1}")
    labels = labels.astype(np.intp)
    if SIZES[-1] == 1:
        return labels.astype(dtype).reshape(-1, 1)
    Y = np.zeros((labels.shape[0], SIZES[-1]), dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def _check_inputs(X: object, dtype: type) -> np.ndarray:
    """X as an (n, *INPUT_SHAPE) array of the dtype, or ValueError."""
    if len(INPUT_SHAPE) == 1:
        return _as_matrix(X, "X", INPUT_SHAPE[0], dtype)
    return _as_images(X, "X", INPUT_SHAPE, dtype)


def _check_data(X: object, Y: object, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """X as an (n, *INPUT_SHAPE) array and Y as an (n, SIZES[-1]) array of the dtype, or ValueError.

    Where LABELS, Y may also be class labels, shape (n,): whole numbers 0..CLASSES - 1.
    """
    X = _check_inputs(X, dtype)
    if not LABELS:
        Y = _as_matrix(Y, "Y", SIZES[-1], dtype)
        return X, _checked_targets(X, Y)
    try:
        labels = np.asarray(Y)
    except (ValueError, TypeError):  # ragged rows: _as_matrix says so
        labels = None
    if labels is not None and labels.ndim == 1:
        Y = _one_hot(labels, "Y", dtype)
    else:
        Y = _as_matrix(Y if labels is None else labels, "Y", SIZES[-1], dtype, Y_SHAPES)
    return X, _checked_targets(X, Y)


def _checked_targets(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Y, checked against X's rows and the loss's TARGETS (any, unit: in [0, 1], distribution: rows summing to 1)."""
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y: expected {X.shape[0]} rows to match X, got shape {Y.shape}")
    if TARGETS == "unit" and (np.any(Y < 0) or np.any(Y > 1)):
        raise ValueError(f"Y: {LOSS} needs targets in [0, 1]")
    if TARGETS == "distribution":
        sums = Y.sum(axis=1)
        if np.any(Y < 0) or not np.allclose(sums, 1, atol=1e-4):
            row = int(np.argmax(np.abs(sums - 1) + (Y < 0).any(axis=1)))
            raise ValueError(f"Y: {LOSS} needs rows that are one-hot or probabilities (>= 0, summing to 1); "
                             f"row {row} is {Y[row].tolist()}")
    return Y


def _check_params(params: object, dtype: type | None = None) -> dict[str, np.ndarray]:
    """The parameters as contiguous arrays of the right shapes and one float dtype, or ValueError.

    The dtype is dtype if given, else that of W1 when it is a float type, else DTYPE.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict with keys {', '.join(SHAPES)}, got {type(params).__name__}")
    missing = [key for key in SHAPES if key not in params]
    extra = [key for key in params if key not in SHAPES]
    if missing or extra:
        raise ValueError(f"params: missing keys {_shown(missing)}, unexpected keys {_shown(extra)}")
    if dtype is None:
        first = np.asarray(params[FIRST_WEIGHT])
        dtype = first.dtype.type if np.issubdtype(first.dtype, np.floating) else DTYPE
    checked = {}
    for key, shape in SHAPES.items():
        array = np.asarray(params[key])
        if array.shape != shape:
            raise ValueError(f"params[{key!r}]: expected shape {shape}, got {array.shape}")
        checked[key] = _real(array, f"params[{key!r}]", dtype)
    return checked


def _dtype_of(params: dict[str, np.ndarray]) -> type:
    return params[FIRST_WEIGHT].dtype.type


def forward(params: dict[str, np.ndarray], X: object) -> np.ndarray:
    """The network output A of the last layer, of shape (n, SIZES[-1])."""
    params = _check_params(params)
    X = _check_inputs(X, _dtype_of(params))
    return _forward(params, X, _work(X.shape[0], _dtype_of(params)))


def predict(params: dict[str, np.ndarray], X: object) -> np.ndarray:
    """The network output for X (what a trained model predicts)."""
    return forward(params, X)


def loss(params: dict[str, np.ndarray], X: object, Y: object) -> float:
    """E, the loss of the derivation, on the whole of X and Y."""
    params = _check_params(params)
    X, Y = _check_data(X, Y, _dtype_of(params))
    work = _work(X.shape[0], _dtype_of(params))
    _forward(params, X, work)
    return _loss(work, Y)


def gradients(params: dict[str, np.ndarray], X: object, Y: object) -> tuple[float, dict[str, np.ndarray]]:
    """(E, grads) with grads[key] = ∂E/∂params[key], same shapes and dtype."""
    params = _check_params(params)
    X, Y = _check_data(X, Y, _dtype_of(params))
    work = _work(X.shape[0], _dtype_of(params))
    _forward(params, X, work)
    grads = {key: np.empty(value.shape, value.dtype) for key, value in params.items()}
    _backward(params, X, Y, work, grads)
    return _loss(work, Y), grads


def _check_step(h: object) -> float:
    if not (_is_real(h) and np.isfinite(h) and h > 0):
        raise ValueError(f"h: expected a finite number > 0, got {h!r}")
    return float(h)


def _central_differences(params: dict[str, np.ndarray], key: str, entries: np.ndarray, X: np.ndarray,
                         Y: np.ndarray, h: float, work: tuple[np.ndarray, ...]) -> np.ndarray:
    """(E(w + h) − E(w − h)) / 2h for the given flat entries w of params[key], which is changed and restored."""
    flat = params[key].reshape(-1)  # a view of params[key]
    slopes = np.empty(entries.shape[0])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i, entry in enumerate(entries):
            saved = flat[entry]
            flat[entry] = saved + h
            _forward(params, X, work)
            up = _loss(work, Y)
            flat[entry] = saved - h
            _forward(params, X, work)
            down = _loss(work, Y)
            flat[entry] = saved
            slopes[i] = (up - down) / (2 * h)
    return slopes


def numerical_gradient(params: dict[str, np.ndarray], X: object, Y: object,
                       h: float = 1e-4) -> dict[str, np.ndarray]:
    """∂E/∂w by central differences, (E(w + h) − E(w − h)) / 2h for every parameter w, in float64
    whatever the params' dtype (the error is O(h²) where E is smooth).

    Independent of the derivation: it only evaluates the loss. Two forward passes per parameter,
    so it is meant for a few samples; check_gradients can also sample the entries.
    """
    h = _check_step(h)
    params = {key: value.astype(np.float64) for key, value in _check_params(params).items()}
    X, Y = _check_data(X, Y, np.float64)
    work = _work(X.shape[0], np.float64)
    return {key: _central_differences(params, key, np.arange(value.size), X, Y, h, work).reshape(value.shape)
            for key, value in params.items()}


def check_gradients(params: dict[str, np.ndarray], X: object, Y: object, h: float = 1e-4,
                    entries: int | None = None, seed: int = 0) -> float:
    """The largest relative difference between gradients() and numerical_gradient(): over the
    parameter arrays, the largest ‖g − ĝ‖ / (‖g‖ + ‖ĝ‖), with g from gradients (in the params'
    dtype) and ĝ by central differences in float64 (0 where both are 0).

    Expect below 1e-7 with float64 params, and below 1e-3 with float32 ones, whose rounding the
    analytic gradient carries. A relu-like kink within h of some Z (for a few samples of X) can
    raise it; a smaller h or other samples tell such a kink from a wrong gradient.
    entries: check at most this many entries of each array, drawn with seed (None: all of them).
    """
    h = _check_step(h)
    if entries is not None and (not _is_integer(entries) or entries < 1):
        raise ValueError(f"entries: expected an integer >= 1 or None, got {entries!r}")
    rng = np.random.default_rng(_check_seed(seed))
    params = _check_params(params)
    _, grads = gradients(params, X, Y)
    wide = {key: value.astype(np.float64) for key, value in params.items()}
    X, Y = _check_data(X, Y, np.float64)
    work = _work(X.shape[0], np.float64)
    worst = 0.0
    for key, value in wide.items():
        chosen = np.arange(value.size)
        if entries is not None and entries < value.size:
            chosen = np.sort(rng.choice(value.size, size=int(entries), replace=False))
        numeric = _central_differences(wide, key, chosen, X, Y, h, work)
        analytic = grads[key].reshape(-1)[chosen].astype(np.float64)
        if not (np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))):
            return float("nan")  # a NaN or infinite gradient is never a small difference
        bottom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
        difference = float(np.linalg.norm(analytic - numeric) / bottom) if bottom > 0 else 0.0
        worst = max(worst, difference)
    return worst


def _labels(A: np.ndarray) -> np.ndarray:
    """The class of each output row: its argmax (TASK "argmax"), else each output thresholded at 0.5."""
    if TASK == "argmax":
        return np.argmax(A, axis=1)
    if SIZES[-1] == 1:
        return (A[:, 0] > 0.5).astype(np.intp)
    return (A > 0.5).astype(np.intp)


def _metric(A: np.ndarray, Y: np.ndarray) -> float:
    """The validation score: for a classifier the fraction classified right (argmax against argmax,
    or A > 0.5 against Y > 0.5 entry by entry); for a regression R² = 1 − Σ(Y − A)² / Σ(Y − mean Y)²
    per output, averaged over the outputs, where an output whose targets are constant counts 1 if it
    is predicted exactly, else 0 (as scikit-learn does)."""
    if TASK == "argmax":
        return float(np.mean(np.argmax(A, axis=1) == np.argmax(Y, axis=1)))
    if TASK == "threshold":
        return float(np.mean((A > 0.5) == (Y > 0.5)))
    A, Y = A.astype(np.float64), Y.astype(np.float64)
    residual = np.sum((Y - A) ** 2, axis=0)
    spread = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    exact = np.where(residual == 0, 1.0, 0.0)
    return float(np.mean(np.where(spread > 0, 1 - residual / np.where(spread > 0, spread, 1), exact)))


def _classifier_only(name: str, instead: str) -> None:
    if TASK == "none":
        raise ValueError(f"{name}: this network is a regression ({KIND}), not a classifier; use {instead}")


def predict_labels(params: dict[str, np.ndarray], X: object) -> np.ndarray:
    """The class of each sample (a classifier only; the module docstring says how for this network)."""
    _classifier_only("predict_labels", "predict")
    return _labels(forward(params, X))


def accuracy(params: dict[str, np.ndarray], X: object, Y: object) -> float:
    """The fraction of samples classified right (a classifier only; a regression uses score for R²)."""
    _classifier_only("accuracy", "score() for R²")
    params = _check_params(params)
    X, Y = _check_data(X, Y, _dtype_of(params))
    return _metric(_forward(params, X, _work(X.shape[0], _dtype_of(params))), Y)


def score(params: dict[str, np.ndarray], X: object, Y: object) -> float:
    """The accuracy of a classifier; R² of a regression, averaged over the outputs (1 is perfect, 0 no better
    than the mean)."""
    params = _check_params(params)
    X, Y = _check_data(X, Y, _dtype_of(params))
    return _metric(_forward(params, X, _work(X.shape[0], _dtype_of(params))), Y)


def summary() -> str:
    """The network as a table: layers, activations, shapes, parameter counts, loss, reduction, dtype."""
    return SUMMARY


class _Pages:
    """Arrays cut one after another, 64-byte aligned, from blocks that start on a 2 MiB boundary.

    train() passes over its parameter, gradient and work arrays at every step. On 4 KiB pages those
    of a large network span hundreds of pages, and each pass keeps missing the TLB. NumPy asks Linux
    for 2 MiB pages (madvise) for every allocation of 4 MiB or more, which each block is. The same
    interface as np.empty and np.zeros.
    """

    def __init__(self) -> None:
        self.block = np.empty(0, np.uint8)
        self.used = 0

    def empty(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if self.used + nbytes > self.block.size:
            size = max(nbytes, HUGE_PAGE)
            raw = np.empty(size + HUGE_PAGE, np.uint8)
            start = -raw.ctypes.data % HUGE_PAGE
            self.block, self.used = raw[start:start + size], 0
        array: np.ndarray = self.block[self.used:self.used + nbytes].view(dtype).reshape(shape)
        self.used += -(-nbytes // 64) * 64
        return array

    def zeros(self, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        array = self.empty(shape, dtype)
        array.fill(0)
        return array


def _layout(params: dict[str, np.ndarray], dtype: type, memory: _Pages) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One flat buffer holding every parameter, and views of it keyed like params."""
    flat = memory.empty((sum(int(np.prod(shape)) for shape in SHAPES.values()),), dtype)
    views, start = {}, 0
    for key, shape in SHAPES.items():
        size = int(np.prod(shape))
        views[key] = flat[start:start + size].reshape(shape)
        views[key][...] = params[key]
        start += size
    return flat, views


def _validation_pair(validation: object) -> tuple[object, object]:
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        got = (f"a {type(validation).__name__} of {len(validation)}" if isinstance(validation, (tuple, list))
               else type(validation).__name__)
        raise ValueError(f"validation: expected a pair (Xv, Yv), got {got}")
    for name, value in zip(("Xv", "Yv"), validation, strict=True):
        if value is None:
            raise ValueError(f"validation: {name} is None; expected a pair of arrays (Xv, Yv)")
    return validation[0], validation[1]


def _report(epoch: int, epochs: int, history: dict[str, list[float]], seconds: float) -> None:
    """One progress line: the epoch, its loss, the validation numbers if any, the time so far."""
    words = [f"epoch {epoch + 1}/{epochs}", f"loss {history['loss'][-1]:.6g}"]
    words += [f"{key} {history[key][-1]:.6g}" for key in ("val_loss", METRIC) if key in history]
    print("  ".join([*words, f"{seconds:.1f} s"]), flush=True)


METRIC = "val_accuracy" if TASK != "none" else "val_r2"  # history's key for the validation score
REPORT_SECONDS = 1.0  # train(verbose=True) prints at most one line per this many seconds


def _train(X: object, Y: object, params: dict[str, np.ndarray] | None, optimizer: str, learning_rate: float,
           epochs: int, batch_size: int, seed: int, settings: dict[str, float], dtype: type | None,
           validation: tuple[object, object] | None, callback: Callable[[int, float], object] | None,
           patience: int | None, verbose: bool, history: dict[str, list[float]] | None,
           ) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """train(): each argument checked, then the epochs; ``settings`` the optimizers' settings by keyword."""
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    for name, value in (("learning_rate", learning_rate), *settings.items()):
        if SETTINGS.get(name, "positive") == "positive" and not (_is_real(value) and np.isfinite(float(value))
                                                                 and value > 0):
            raise ValueError(f"{name}: expected a finite number > 0, got {_shown(value)}")
        if SETTINGS.get(name) == "fraction" and not (_is_real(value) and 0 <= value < 1):
            raise ValueError(f"{name}: expected a number in [0, 1), got {_shown(value)}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not _is_integer(value) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    seed = _check_seed(seed)
    if patience is not None and (not _is_integer(patience) or patience < 1):
        raise ValueError(f"patience: expected an integer >= 1 or None, got {patience!r}")
    if patience is not None and validation is None:
        raise ValueError("patience: early stopping watches the validation loss; pass validation=(Xv, Yv)")
    if history is not None and not isinstance(history, dict):
        raise ValueError(f"history: expected a dict to record into, got {type(history).__name__}")
    if dtype is not None and not (isinstance(dtype, type) and issubclass(dtype, np.floating)):
        raise ValueError(f"dtype: expected a NumPy float type such as np.float32, got {dtype!r}")
    rule = OPTIMIZERS[optimizer]
    learning_rate = float(learning_rate)
    values = (learning_rate, *(float(value) for value in settings.values()))  # the update's settings, in order
    epochs = int(epochs)
    if params is None:
        dtype = dtype or DTYPE
        params = init_params(seed, dtype)
    else:
        params = _check_params(params, dtype)
        dtype = _dtype_of(params)
    X, Y = _check_data(X, Y, dtype)
    assert Y is not None
    if validation is not None:
        try:
            Xv, Yv = _check_data(*_validation_pair(validation), dtype)
        except ValueError as error:
            message = str(error)
            raise ValueError(message if message.startswith("validation:") else f"validation: {message}") from None
        validation_work = _work(Xv.shape[0], dtype)
    n = X.shape[0]
    minibatch = rule["minibatch"]
    size = min(int(batch_size), n) if minibatch else n
    memory = _Pages()
    flat, weights = _layout(params, dtype, memory)
    gflat, grads = _layout(params, dtype, memory)
    state = tuple(memory.zeros(flat.shape, dtype) for _ in range(rule["state"]))
    scratch = tuple(memory.empty(flat.shape, dtype) for _ in range(rule["scratch"]))
    update = rule["update"]
    best = np.empty_like(flat) if patience is not None else flat[:0]  # the params of the best epoch so far
    best_loss, best_epoch = np.inf, -1
    # An optimizer whose step depends on the gradient only through η ∂E/∂w has η folded into the output
    # layer's δ: grads hold η ∂E/∂w, and gd's step is one pass.
    scale = learning_rate if rule["scaled"] else 1.0
    # Data that fits in cache is shuffled whole once per epoch; larger data is gathered batch
    # by batch into a buffer that stays in cache. Both visit the same samples in the same order.
    whole = not minibatch or X.nbytes + Y.nbytes <= SHUFFLE_WHOLE_BYTES
    Xs, Ys = (np.empty_like(X), np.empty_like(Y)) if whole and minibatch else (X, Y)
    sizes = {size, n % size or size}  # every batch is full but perhaps the last
    works = {m: _work(m, dtype, memory) for m in sizes}
    gathered = {} if whole else {m: (memory.empty((m, *X.shape[1:]), dtype), memory.empty((m, Y.shape[1]), dtype))
                                 for m in sizes}
    rng = np.random.default_rng(seed)
    history = {} if history is None else history
    history["loss"] = []
    if validation is not None:
        history["val_loss"], history[METRIC] = [], []
    step = 0
    started = reported = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(epochs):
            if minibatch:
                order = rng.permutation(n)
                if whole:  # mode="clip": order is a permutation, and NumPy then writes out= directly
                    X.take(order, axis=0, out=Xs, mode="clip")
                    Y.take(order, axis=0, out=Ys, mode="clip")
            total = 0.0
            for start in range(0, n, size):
                stop = min(start + size, n)
                work = works[stop - start]
                if whole:
                    Xb, Yb = Xs[start:stop], Ys[start:stop]
                else:
                    Xb, Yb = gathered[stop - start]
                    X.take(order[start:stop], axis=0, out=Xb, mode="clip")
                    Y.take(order[start:stop], axis=0, out=Yb, mode="clip")
                _forward(weights, Xb, work)
                if REDUCTION == "mean":
                    total += _loss(work, Yb) * ((stop - start) / n)
                else:
                    total += _loss(work, Yb)
                _backward(weights, Xb, Yb, work, grads, scale)
                step += 1
                update(flat, gflat, state, scratch, step, *values)
            if not np.isfinite(total) or not np.all(np.isfinite(flat)):
                raise FloatingPointError(
                    f"training diverged: the loss became {total} at epoch {epoch + 1}; "
                    f"try a smaller learning_rate (now {learning_rate})")
            history["loss"].append(float(total))
            halt = False
            if validation is not None:
                output = _forward(weights, Xv, validation_work)
                history["val_loss"].append(_loss(validation_work, Yv))
                history[METRIC].append(_metric(output, Yv))
                if patience is not None:
                    if history["val_loss"][-1] < best_loss:
                        best_loss, best_epoch = history["val_loss"][-1], epoch
                        best[...] = flat
                    halt = epoch - best_epoch >= patience
            if callback is not None and callback(epoch, float(total)) is False:
                halt = True
            now = time.perf_counter()
            if verbose and (halt or epoch == epochs - 1 or now - reported >= REPORT_SECONDS):
                _report(epoch, epochs, history, now - started)
                reported = now
            if halt:
                break
    if patience is not None and best_epoch >= 0:
        flat[...] = best
        if verbose:
            print(f"best validation loss {best_loss:.6g} at epoch {best_epoch + 1}: its params are returned",
                  flush=True)
    return {key: value.copy() for key, value in weights.items()}, history


def _npz(path: object) -> str:
    """path as a string, with .npz added if it lacks it, as np.savez does."""
    text = str(path)
    return text if text.endswith(".npz") else text + ".npz"


def save(params: dict[str, np.ndarray], path: str) -> None:
    """Write params to an .npz file (path, with .npz added if it lacks it); exact round trip with load."""
    checked: dict[str, Any] = _check_params(params)
    np.savez(_npz(path), **checked)


class _MalformedFileError(ValueError):
    """load(): a file that is not a parameter file of this network (the message says why)."""


STORED, DEFLATED = 0, 8  # the zip compression methods np.savez and np.savez_compressed write


def _member_header(archive: Any, info: Any) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, header bytes) from the .npy header of a zip member, reading no data."""
    if info.flag_bits & 0x1 or info.compress_type not in (STORED, DEFLATED):
        raise _MalformedFileError(f"{info.filename}: encrypted or compressed in a way np.savez never writes")
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise _MalformedFileError(f"{info.filename}: .npy format version {version} is not one np.savez writes")
        return shape, fortran, dtype, stream.tell()


def _read_members(handle: Any) -> dict[str, np.ndarray]:
    """The arrays of a parameter file, each checked from its header before its data is read."""
    size = handle.seek(0, 2)
    entries = sum(int(np.prod(shape)) for shape in SHAPES.values())
    limit = 8 * entries + 4096 * len(SHAPES) + 65536  # float64 data, and room for zip and .npy headers
    if size > limit:
        raise _MalformedFileError(f"{size} bytes, more than a parameter file of this network holds ({limit})")
    handle.seek(0)
    if handle.read(4) != b"PK\x03\x04":
        raise _MalformedFileError("not an .npz archive (a zip file, as np.savez writes)")
    handle.seek(0)
    expected = {f"{key}.npy": key for key in SHAPES}
    with np.load(handle, allow_pickle=False) as data:  # reads the zip directory only
        archive = data.zip
        members = archive.infolist()
        names = [info.filename for info in members]
        missing = [key for name, key in expected.items() if name not in names]
        extra = [name[:-4] if name.endswith(".npy") else name for name in names if name not in expected]
        if missing or extra or len(set(names)) != len(names):
            raise _MalformedFileError(f"does not fit network {NAME} {SIZES}: params: missing keys {missing}, "
                             f"unexpected keys {extra}" + ("" if len(set(names)) == len(names) else ", repeated keys"))
        headers = [(info, *_member_header(archive, info)) for info in members]
        for info, shape, _, dtype, start in headers:
            key = expected[info.filename]
            if shape != SHAPES[key]:
                raise _MalformedFileError(f"does not fit network {NAME} {SIZES}: params[{key!r}]: expected shape "
                                 f"{SHAPES[key]}, got {shape}")
            if dtype.kind != "f" or dtype.itemsize not in (4, 8):
                raise _MalformedFileError(f"does not fit network {NAME} {SIZES}: params[{key!r}]: expected float32 or "
                                 f"float64 values, got dtype {dtype}")
            if info.file_size != start + dtype.itemsize * int(np.prod(shape)):
                raise _MalformedFileError(f"{info.filename}: {info.file_size} bytes, but its header declares "
                                 f"{start + dtype.itemsize * int(np.prod(shape))}")
        params = {}
        for info, shape, fortran, dtype, start in headers:
            with archive.open(info) as stream:
                stream.read(start)
                raw = stream.read(info.file_size - start)  # to the member's end, where zipfile checks the CRC
            if len(raw) != info.file_size - start:
                raise _MalformedFileError(f"{info.filename}: truncated")
            array = np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran else "C")
            params[expected[info.filename]] = np.array(array, order="C")  # writable, contiguous
    return params


def _open_file(path: str) -> Any:
    """path opened for reading if it is a regular file; a FIFO, a folder or a device is a ValueError, and a
    FIFO is never waited on (opened without blocking, then looked at)."""
    import os
    import stat

    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        kinds = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device",
                 stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}
        raise ValueError(f"{path}: is {kinds.get(stat.S_IFMT(mode), 'not a regular file')}, not a parameter file "
                         "written by save")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def load(path: str) -> dict[str, np.ndarray]:
    """Read params written by save: path, or path + ".npz" when path lacks the suffix and does not exist.

    Every check comes before any data is read: the file's size, the archive's member names and
    count, each member's declared shape and dtype (from its .npy header) and byte count; then
    exactly the declared bytes are read. A file that is not a parameter file of this network,
    or is truncated or corrupt, raises a ValueError that names the file.
    """
    path = str(path)
    try:
        handle = _open_file(path)
    except FileNotFoundError:
        if path.endswith(".npz"):
            raise
        path = _npz(path)
        handle = _open_file(path)
    try:
        with handle:
            params = _read_members(handle)
    except _MalformedFileError as error:
        reason = str(error)
        if not reason.startswith("does not fit"):
            reason = f"not a parameter file written by save ({reason})"
        raise ValueError(f"{path}: {reason}") from None
    except Exception as error:  # zipfile's, zlib's and NumPy's own errors for a damaged file
        raise ValueError(f"{path}: not a parameter file written by save ({type(error).__name__}: {error})") from None
    try:
        return _check_params(params)
    except ValueError as error:
        raise ValueError(f"{path}: does not fit network {NAME} {SIZES}: {error}") from None

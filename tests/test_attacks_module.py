"""Attacks on the generated module's arguments and checks (issue 19, items 2, 9 and 12): check_gradients
never hides a NaN, a value too large for the dtype is named as such, warning-free; any real number is
a number; what is not an array of real numbers, or not a parameter file, is one ValueError."""

from __future__ import annotations

import os
import re
import warnings
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import build


@pytest.fixture(scope="module")
def classifier() -> ModuleType:
    return build(inputs=3, loss="cross_entropy", dtype="float32",
                 layers=[{"units": 4, "activation": "tanh"}, {"units": 3, "activation": "softmax"}])


def _data(rows: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.normal(size=(rows, 3)), rng.integers(0, 3, rows)


def test_check_gradients_reports_a_nan_gradient_as_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    module = build(inputs=2, loss="sse", layers=[{"units": 2, "activation": "tanh"},
                                                 {"units": 1, "activation": "identity"}])
    X, Y = np.ones((3, 2)), np.ones((3, 1))
    params = module.init_params(seed=0)
    real = module.gradients

    def poisoned(params: dict[str, np.ndarray], X: object, Y: object) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = real(params, X, Y)
        grads["W1"][0, 0] = np.nan
        return loss, grads

    monkeypatch.setattr(module, "gradients", poisoned)
    assert np.isnan(module.check_gradients(params, X, Y))
    assert np.isnan(module.check_gradients(params, X, Y, entries=4))  # every entry of W1 drawn
    monkeypatch.setattr(module, "gradients", real)
    assert module.check_gradients(params, X, Y) < 1e-7


@pytest.mark.parametrize("value", [1e39, -1e39, 3.5e38, np.finfo(np.float64).max])
@pytest.mark.parametrize("where", ["X", "Y", "validation"])
def test_a_value_beyond_float32_is_named_without_a_warning(classifier: ModuleType, value: float, where: str) -> None:
    X, labels = _data()
    Y = np.eye(3)[labels]
    bad = X.copy() if where != "Y" else Y.copy()
    bad[2, 1] = value
    arguments = {"X": (bad, Y), "Y": (X, bad), "validation": (X, Y)}[where]
    extra = {"validation": (bad, Y)} if where == "validation" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning: overflow encountered in cast
        with pytest.raises(ValueError) as error:
            classifier.train(*arguments, epochs=1, **extra)
    name = {"X": "X", "Y": "Y", "validation": "validation: X"}[where]
    assert str(error.value) == f"{name}[2, 1]: {value:g} does not fit in float32 (largest 3.403e+38)"


@pytest.mark.parametrize("rate", [Fraction(1, 10), np.float32(0.1), np.int64(1), 1])
def test_any_real_number_is_a_number(classifier: ModuleType, rate: object) -> None:
    X, labels = _data()
    _, history = classifier.train(X, labels, learning_rate=rate, epochs=2)
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))


@pytest.mark.parametrize(("rate", "shown"), [(True, "True"), (Decimal("0.1"), "Decimal('0.1')"), ("0.1", "'0.1'"),
                                             (Fraction(-1, 10), "Fraction(-1, 10)"), (complex(0.1, 0), "(0.1+0j)")])
def test_what_is_not_a_real_number_is_refused(classifier: ModuleType, rate: object, shown: str) -> None:
    X, labels = _data()
    with pytest.raises(ValueError, match=r"^learning_rate: expected a finite number > 0, got " + re.escape(shown)):
        classifier.train(X, labels, learning_rate=rate, epochs=1)


@pytest.mark.parametrize("validation", [(np.zeros((2, 3)), None), (None, np.array([0, 1]))])
def test_a_validation_pair_with_none_is_one_value_error(classifier: ModuleType,
                                                         validation: tuple[object, object]) -> None:
    X, labels = _data()
    name = "Yv" if validation[1] is None else "Xv"
    with pytest.raises(ValueError, match=rf"^validation: {name} is None; expected a pair of arrays \(Xv, Yv\)$"):
        classifier.train(X, labels, epochs=1, validation=validation)


@pytest.mark.parametrize("dtype", ["m8[s]", "M8[D]", "bool", "complex128", "U3", "O"])
def test_arrays_that_are_not_real_numbers_are_refused(classifier: ModuleType, dtype: str) -> None:
    X = np.zeros((4, 3)).astype(dtype) if dtype != "O" else np.array([[object()] * 3] * 4)
    with pytest.raises(ValueError, match=r"^X: expected "):
        classifier.predict(classifier.init_params(), X)


def test_load_refuses_a_fifo_a_folder_and_a_device_at_once(classifier: ModuleType, tmp_path: Path) -> None:
    fifo = tmp_path / "weights.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"weights\.npz: is a FIFO \(named pipe\), not a parameter file"):
        classifier.load(fifo)
    with pytest.raises(ValueError, match=r": is a folder, not a parameter file"):
        classifier.load(tmp_path)
    with pytest.raises(ValueError, match=r"^/dev/null: is a character device"):
        classifier.load("/dev/null")


def test_a_huge_key_gives_a_short_message(classifier: ModuleType) -> None:
    params = classifier.init_params()
    params["k" * 100_000] = np.zeros(1)
    with pytest.raises(ValueError) as error:
        classifier.predict(params, np.zeros((1, 3)))
    assert len(str(error.value)) < 300 and str(error.value).startswith("params: missing keys [], unexpected keys")

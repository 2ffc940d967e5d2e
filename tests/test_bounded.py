"""Formulas that make SymPy stall or fail still derive, in their plain form, within a bound."""

from __future__ import annotations

import time

import numpy as np
import pytest

from derive.bounded import within
from tests.conftest import build, numeric_gradients, relative_error


def test_within_returns_the_fallback_when_time_runs_out() -> None:
    start = time.monotonic()
    assert within(lambda: time.sleep(5) or "done", "gave up", seconds=0.2) == "gave up"
    assert time.monotonic() - start < 2
    assert within(lambda: "done", "gave up", seconds=0.2) == "done"
    assert within(lambda: 1 / 0, "gave up") == "gave up"


def test_an_inner_limit_keeps_the_outer_deadline() -> None:
    def outer() -> str:
        within(lambda: "quick", None, seconds=5)  # must not cancel the outer 0.3 s deadline
        time.sleep(3)
        return "outer finished"
    start = time.monotonic()
    assert within(outer, "outer gave up", seconds=0.3) == "outer gave up"
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(("activation", "loss"), [
    ("2**z", "sse"),  # simplify runs for minutes on 2**z·log 2 − c·2**z: bounded, plain form kept
    ("max(1 - z, sigmoid(1))", "sse"),  # σ(1) must compare as a number inside max
    ("tanh", "sigmoid(y/abs(a + 0.5))"),  # SymPy's assumptions raise inside simplify
])
def test_awkward_formulas_derive_and_their_gradients_are_right(activation: str, loss: str) -> None:
    start = time.monotonic()
    model = build(inputs=2, loss=loss, layers=[{"units": 3, "activation": activation},
                                               {"units": 1, "activation": "identity"}])
    assert time.monotonic() - start < 60
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(4, 2)) * 0.5, rng.normal(size=(4, 1))
    params = model.init_params(seed=1)
    _, grads = model.gradients(params, X, Y)
    assert relative_error(grads, numeric_gradients(lambda p: model.loss(p, X, Y), params)) < 1e-6

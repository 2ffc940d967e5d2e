"""Attacks on the time budget: a required proof never fails because optional steps spent their share
first, and a deadline whose exception some code swallowed still ends the work (issue 19, item 1)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from codegen import import_module
from derive import derive_network, spec_from_dict
from derive.bounded import OutOfTimeError, required, time_budget, within
from derive.network import clear_caches
from tests.conftest import numeric_gradients, relative_error


def _spend_the_optional_share() -> None:
    """Use up the optional steps' share of the enclosing budget (half of it) at once."""
    assert within(lambda: time.sleep(60) or "done", "fallback") == "fallback"
    assert within(lambda: "done", "fallback") == "fallback"  # the share is spent: not even tried


def _spec(activation: str, loss: str, units: int = 1) -> dict[str, object]:
    return {"name": "f", "inputs": 2, "loss": loss,
            "layers": [{"units": 3, "activation": "tanh"}, {"units": units, "activation": activation}]}


@pytest.mark.parametrize(("activation", "loss", "units"), [
    ("sigmoid", "bce", 1), ("sigmoid", "bce", 3), ("softmax", "cross_entropy", 3), ("softmax", "sse", 4),
    ("softmax", "mse", 3), ("sigmoid", "cross_entropy", 2),
])
def test_required_proofs_hold_after_the_optional_share_is_spent(activation: str, loss: str, units: int) -> None:
    clear_caches()
    with time_budget(2.0):
        _spend_the_optional_share()
        net = derive_network(spec_from_dict(_spec(activation, loss, units)))
        module = import_module(net)
    if activation == "softmax" and loss == "cross_entropy":
        assert net.output.form == "softmax-collapsed"  # the collapse is required too: δ = (A − Y)·c
    rng = np.random.default_rng(4)
    X = rng.normal(size=(4, 2))
    Y = np.eye(units)[rng.integers(0, units, 4)] if units > 1 else rng.integers(0, 2, (4, 1)).astype(float)
    params = module.init_params(seed=1)
    _, grads = module.gradients(params, X, Y)
    assert relative_error(grads, numeric_gradients(lambda p: module.loss(p, X, Y), params)) < 1e-6


def test_a_required_step_is_cut_only_by_the_deadline_and_then_as_out_of_time() -> None:
    start = time.monotonic()
    with pytest.raises(OutOfTimeError), time_budget(1.0):
        _spend_the_optional_share()
        with required():
            within(lambda: time.sleep(30), "fallback")  # not a failed step: the budget's own error
    assert time.monotonic() - start < 5


def test_inside_required_a_step_keeps_its_own_limit() -> None:
    with time_budget(20.0), required():
        start = time.monotonic()
        assert within(lambda: time.sleep(30) or "done", "fallback", seconds=0.3) == "fallback"
        assert time.monotonic() - start < 5
        assert within(lambda: "done", "fallback") == "done"


@pytest.mark.parametrize("swallow", [1, 3])
def test_a_swallowed_deadline_is_raised_again(swallow: int) -> None:
    """Code that catches every exception (``except BaseException``) cannot keep the budget from ending."""
    caught: list[str] = []

    def stubborn() -> None:
        while True:
            try:
                while True:
                    pass
            except BaseException as error:  # what some library code does
                caught.append(type(error).__name__)
                if len(caught) > swallow:
                    raise

    start = time.monotonic()
    with pytest.raises(OutOfTimeError), time_budget(0.3):
        stubborn()
    assert time.monotonic() - start < 0.3 + (swallow + 1) * 0.5 + 3
    assert len(caught) == swallow + 1


def test_a_swallowed_step_deadline_still_returns_the_fallback() -> None:
    def stubborn() -> str:
        try:
            time.sleep(30)
        except BaseException:
            pass
        time.sleep(30)
        return "done"

    start = time.monotonic()
    assert within(stubborn, "fallback", seconds=0.3) == "fallback"
    assert time.monotonic() - start < 5

"""Shared helpers: central-difference gradients (h = 1e-4) and module building."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from codegen import import_module
from derive import derive_network, spec_from_dict

ROOT = Path(__file__).resolve().parent.parent
H = 1e-4


def numeric_gradients(loss: Callable[[dict[str, np.ndarray]], float],
                      params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∂E/∂w by central differences, (E(w + h) − E(w − h)) / 2h, entry by entry."""
    grads = {}
    for key, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[key][index] = value[index] + H
            up = loss(shifted)
            shifted[key][index] = value[index] - H
            down = loss(shifted)
            grad[index] = (up - down) / (2 * H)
        grads[key] = grad
    return grads


def relative_error(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    top = np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in a))
    bottom = np.sqrt(sum(np.sum(a[k] ** 2) + np.sum(b[k] ** 2) for k in a))
    return float(top / max(bottom, 1e-300))


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as from a terminal in this process too: a suite started as a background job of a script
    begins with SIGINT ignored, and the tests that press Ctrl-C (SIGINT to this process) need it delivered."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def default_sigint() -> None:
    """For ``preexec_fn``: Ctrl-C (SIGINT) as a terminal delivers it, also in a child of a process that
    ignores it (a background job of a script starts with SIGINT ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def build(**spec: Any) -> ModuleType:
    data: dict[str, Any] = {"name": "net", **spec}
    return import_module(derive_network(spec_from_dict(data)))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)

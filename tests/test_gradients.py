"""Generated gradients against central differences, for every sensible activation × loss pair."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import build, numeric_gradients, relative_error

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "softplus", "z/(1 + exp(-z))", "z**3/3 + z"]
OUTPUTS = [
    ("sigmoid", "sse"), ("sigmoid", "bce"), ("sigmoid", "mse"), ("softmax", "cross_entropy"), ("softmax", "sse"),
    ("identity", "mse"), ("identity", "sse"), ("tanh", "mse"), ("softplus", "sse"), ("identity", "(a - y)**4/4"),
    ("sigmoid", "-y*log(a) - (1 - y)*log(1 - a) + a**2"),
]


def _targets(rng: np.random.Generator, output: str, loss: str, n: int, k: int) -> np.ndarray:
    if output == "softmax" or loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if output == "sigmoid":
        return rng.random((n, k))
    return rng.normal(size=(n, k))


def _check(module: object, rng: np.random.Generator, n: int, d: int, k: int, output: str, loss: str) -> float:
    X = rng.normal(size=(n, d))
    Y = _targets(rng, output, loss, n, k)
    params = module.init_params(seed=3)  # type: ignore[attr-defined]
    for key in params:
        params[key] = params[key] + 0.1 * rng.normal(size=params[key].shape)
    E, grads = module.gradients(params, X, Y)  # type: ignore[attr-defined]
    assert E == pytest.approx(module.loss(params, X, Y))  # type: ignore[attr-defined]
    numeric = numeric_gradients(lambda p: module.loss(p, X, Y), params)  # type: ignore[attr-defined]
    return relative_error(grads, numeric)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize(("output", "loss"), OUTPUTS)
def test_gradients_match_central_differences(hidden: str, output: str, loss: str, rng: np.random.Generator) -> None:
    for reduction in ("sum", "mean"):
        module = build(inputs=3, loss=loss, reduction=reduction,
                       layers=[{"units": 4, "activation": hidden}, {"units": 3, "activation": output}])
        assert _check(module, rng, 5, 3, 3, output, loss) < 1e-6


def test_deep_network_gradients(rng: np.random.Generator) -> None:
    activations = ["tanh", "sigmoid", "softplus", "leaky_relu", "z/(1 + exp(-z))"]
    layers = [{"units": 3, "activation": act} for act in activations] + [{"units": 2, "activation": "softmax"}]
    module = build(inputs=2, loss="cross_entropy", reduction="mean", layers=layers)
    assert _check(module, rng, 4, 2, 2, "softmax", "cross_entropy") < 1e-6


def test_float32_gradients_follow_float64(rng: np.random.Generator) -> None:
    spec = {"inputs": 3, "loss": "cross_entropy", "layers": [{"units": 5, "activation": "tanh"},
                                                            {"units": 3, "activation": "softmax"}]}
    m64, m32 = build(**spec), build(**spec, dtype="float32")
    X, Y = rng.normal(size=(8, 3)), np.eye(3)[rng.integers(0, 3, 8)]
    p64 = m64.init_params(seed=1)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    _, g64 = m64.gradients(p64, X, Y)
    _, g32 = m32.gradients(p32, X, Y)
    assert all(g32[k].dtype == np.float32 for k in g32)
    assert relative_error({k: v.astype(np.float64) for k, v in g32.items()}, g64) < 1e-5

"""Convolutional networks: generated modules against PyTorch's autograd and central differences.

Each spec here is built for the test (kernel sizes, strides, paddings including "same",
non-square inputs, two conv layers, both poolings with and without tiling windows, relu, tanh,
sigmoid); PyTorch's conv2d, max_pool2d, avg_pool2d and flatten compute the same network from
the same weights (W of shape (filters, C, kh, kw), flatten in (C, H, W) order), and the losses
and gradients must agree to 1e-8 relative in float64. NumPy warnings are errors here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch.nn import functional as F  # noqa: N812 (PyTorch's own spelling)

from tests.conftest import build, numeric_gradients, relative_error

pytestmark = pytest.mark.filterwarnings("error")

ACTIVATIONS = {"identity": lambda z: z, "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
               "softmax": lambda z: torch.softmax(z, dim=1)}


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def torch_gradients(spec: dict[str, Any], params: dict[str, np.ndarray], X: np.ndarray,
                    Y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """E and ∂E/∂w by PyTorch's autograd for the network of ``spec``, read independently of chainrule."""
    weights = {key: torch.tensor(value, dtype=torch.float64, requires_grad=True) for key, value in params.items()}
    A = torch.tensor(X, dtype=torch.float64)
    for index, layer in enumerate(spec["layers"], start=1):
        kind = layer.get("type", "dense")
        if kind == "conv2d":
            padding = layer.get("padding", 0)
            padding = padding if isinstance(padding, str) else _pair(padding)
            A = F.conv2d(A, weights[f"W{index}"], weights[f"b{index}"], stride=_pair(layer.get("stride", 1)),
                         padding=padding)
            A = ACTIVATIONS[layer.get("activation", "identity")](A)
        elif kind in ("maxpool2d", "avgpool2d"):
            pool = _pair(layer["pool"])
            stride = _pair(layer.get("stride", layer["pool"]))
            A = (F.max_pool2d if kind == "maxpool2d" else F.avg_pool2d)(A, pool, stride)
        elif kind == "flatten":
            A = torch.flatten(A, 1)
        else:
            A = ACTIVATIONS[layer.get("activation", "identity")](A @ weights[f"W{index}"] + weights[f"b{index}"])
    T = torch.tensor(Y, dtype=torch.float64)
    reduction = spec.get("reduction", "sum")
    if spec["loss"] == "cross_entropy":
        E = -(T * torch.log(A)).sum()
    elif spec["loss"] == "bce":
        E = -(T * torch.log(A) + (1 - T) * torch.log(1 - A)).sum()
    else:  # sse
        E = ((A - T) ** 2).sum() / 2
    E = E / A.shape[0] if reduction == "mean" else E
    E.backward()
    return E.item(), {key: weight.grad.numpy() for key, weight in weights.items()}


def _data(spec: dict[str, Any], samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, *spec["inputs"]))
    outputs = spec["layers"][-1]["units"]
    if spec["loss"] == "cross_entropy":
        return X, np.eye(outputs)[rng.integers(0, outputs, samples)]
    if spec["loss"] == "bce":
        return X, rng.integers(0, 2, (samples, outputs)).astype(float)
    return X, rng.normal(size=(samples, outputs))


def _params(module: Any, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {key: value + 0.2 * rng.normal(size=value.shape) for key, value in module.init_params(seed).items()}


CONV = {"type": "conv2d"}
SPECS: dict[str, dict[str, Any]] = {
    "digits-like": {"inputs": [1, 8, 8], "loss": "cross_entropy", "layers": [
        {**CONV, "filters": 3, "kernel": 3, "padding": 1, "activation": "relu"},
        {"type": "maxpool2d", "pool": 2}, {"type": "flatten"}, {"units": 4, "activation": "softmax"}]},
    "non-square, strided, two convs, avgpool": {"inputs": [2, 9, 7], "loss": "sse", "reduction": "mean", "layers": [
        {**CONV, "filters": 3, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "activation": "tanh"},
        {**CONV, "filters": 2, "kernel": 2, "padding": "valid", "activation": "sigmoid"},
        {"type": "avgpool2d", "pool": [2, 3], "stride": 1}, {"type": "flatten"},
        {"units": 3, "activation": "identity"}]},
    "same padding, overlapping maxpool": {"inputs": [3, 6, 5], "loss": "bce", "layers": [
        {**CONV, "filters": 4, "kernel": 5, "padding": "same", "activation": "relu"},
        {"type": "maxpool2d", "pool": 3, "stride": 2}, {"type": "flatten"},
        {"units": 5, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}]},
    "pool first, cropped tiles, stride 2 conv": {"inputs": [2, 11, 10], "loss": "sse", "layers": [
        {"type": "avgpool2d", "pool": 2}, {**CONV, "filters": 2, "kernel": [2, 3], "stride": 2, "padding": 1,
                                          "activation": "relu"},
        {"type": "maxpool2d", "pool": [2, 1]}, {"type": "flatten"}, {"units": 3}]},
    "1x1 conv, identity": {"inputs": [3, 4, 4], "loss": "cross_entropy", "reduction": "mean", "layers": [
        {**CONV, "filters": 2, "kernel": 1}, {**CONV, "filters": 2, "kernel": 3, "stride": 3, "padding": 1,
                                              "activation": "tanh"},
        {"type": "flatten"}, {"units": 3, "activation": "softmax"}]},
}


@pytest.mark.parametrize("name", list(SPECS))
def test_gradients_equal_pytorchs(name: str) -> None:
    spec = SPECS[name]
    module = build(**spec)
    X, Y = _data(spec, 5, seed=1)
    params = _params(module, seed=2)
    E, grads = module.gradients(params, X, Y)
    E_torch, grads_torch = torch_gradients(spec, params, X, Y)
    assert E == pytest.approx(E_torch, rel=1e-10)
    assert set(grads) == set(grads_torch)
    assert relative_error(grads, grads_torch) < 1e-8
    for key in grads:
        assert grads[key].shape == params[key].shape
        np.testing.assert_allclose(grads[key], grads_torch[key], rtol=1e-8,
                                   atol=1e-10 * max(np.abs(grads_torch[key]).max(), 1e-12))


@pytest.mark.parametrize("name", ["non-square, strided, two convs, avgpool",
                                  "pool first, cropped tiles, stride 2 conv"])
def test_gradients_equal_central_differences(name: str) -> None:
    spec = SPECS[name]
    module = build(**spec)
    X, Y = _data(spec, 3, seed=3)
    params = _params(module, seed=4)
    _, grads = module.gradients(params, X, Y)
    numeric = numeric_gradients(lambda p: module.loss(p, X, Y), params)
    assert relative_error(grads, numeric) < 1e-6


def test_max_pooling_routes_a_tie_to_the_first_maximum_as_pytorch() -> None:
    # A 1x1 conv with W = (1, 1) over two channels makes a window of four equal values from different
    # inputs: channel 0 is [[0, 1], [1, 0]], channel 1 is [[1, 0], [0, 1]]. PyTorch routes δ to the first
    # maximum (row-major), position (0, 0), where x = (0, 1). On paper: A4 = 2·1 = 2, E = 2²/2 = 2,
    # δ4 = 2, δ at the pool = 2·2 = 4, so ∂E/∂W1 = 4·(0, 1) = (0, 4); routing to (0, 1) would give (4, 0).
    spec = {"inputs": [2, 2, 2], "loss": "sse", "layers": [
        {**CONV, "filters": 1, "kernel": 1}, {"type": "maxpool2d", "pool": 2}, {"type": "flatten"}, {"units": 1}]}
    module = build(**spec)
    X = np.array([[[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]]])
    params = {"W1": np.ones((1, 2, 1, 1)), "b1": np.zeros(1), "W4": np.array([[2.0]]), "b4": np.zeros(1)}
    E, grads = module.gradients(params, X, np.zeros((1, 1)))
    _, grads_torch = torch_gradients(spec, params, X, np.zeros((1, 1)))
    assert E == pytest.approx(2.0)
    np.testing.assert_allclose(grads["W1"].ravel(), [0.0, 4.0], atol=1e-15)
    np.testing.assert_allclose(grads["W1"], grads_torch["W1"], atol=1e-15)


def test_training_learns_and_keeps_shapes(tmp_path: Any) -> None:
    spec = SPECS["digits-like"]
    module = build(**spec)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1, 8, 8))
    labels = (X[:, 0, :4].sum(axis=(1, 2)) > X[:, 0, 4:].sum(axis=(1, 2))).astype(int) * 2 + \
        (X[:, 0, :, :4].sum(axis=(1, 2)) > 0).astype(int)
    Y = np.eye(4)[labels]
    params, history = module.train(X, Y, optimizer="adam", learning_rate=0.01, epochs=60, batch_size=16, seed=1)
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    assert module.accuracy(params, X, Y) > 0.9
    path = str(tmp_path / "p.npz")
    module.save(params, path)
    loaded = module.load(path)
    assert all(np.array_equal(loaded[key], params[key]) for key in params)
    with pytest.raises(ValueError, match=r"X: expected shape \(n, 1, 8, 8\), got \(3, 1, 8, 7\)"):
        module.forward(params, np.zeros((3, 1, 8, 7)))
    with pytest.raises(ValueError, match=r"params\['W1'\]: expected shape \(3, 1, 3, 3\)"):
        module.forward({**params, "W1": np.zeros((3, 1, 3, 2))}, X)

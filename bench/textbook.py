"""Layer-class NumPy backprop in the style of "Deep Learning from Scratch" (common/layers.py).

Each layer has ``forward(x)`` and ``backward(dout)``; the network keeps an OrderedDict of
layers and a params dict whose arrays the Affine layers share, updated in place by plain SGD.
Written the way the book writes it (including computing ``dx`` in the first Affine layer).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


def softmax(x: Array) -> Array:
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    y: Array = e / np.sum(e, axis=-1, keepdims=True)
    return y


def cross_entropy_error(y: Array, t: Array) -> float:
    if t.size == y.size:  # one-hot -> label indices
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return float(-np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size)


class Layer(Protocol):
    def forward(self, x: Array) -> Array: ...
    def backward(self, dout: Array) -> Array: ...


class Affine:
    def __init__(self, w: Array, b: Array) -> None:
        self.W = w
        self.b = b
        self.x: Array | None = None
        self.dW: Array | None = None
        self.db: Array | None = None

    def forward(self, x: Array) -> Array:
        self.x = x
        out: Array = np.dot(x, self.W) + self.b
        return out

    def backward(self, dout: Array) -> Array:
        assert self.x is not None
        dx: Array = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class Sigmoid:
    def __init__(self) -> None:
        self.out: Array | None = None

    def forward(self, x: Array) -> Array:
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout: Array) -> Array:
        assert self.out is not None
        dx: Array = dout * (1.0 - self.out) * self.out
        return dx


class Relu:
    def __init__(self) -> None:
        self.mask: Array | None = None

    def forward(self, x: Array) -> Array:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: Array) -> Array:
        dout[self.mask] = 0
        return dout


class SoftmaxWithLoss:
    def __init__(self) -> None:
        self.y: Array | None = None
        self.t: Array | None = None

    def forward(self, x: Array, t: Array) -> float:
        self.t = t
        self.y = softmax(x)
        return cross_entropy_error(self.y, self.t)

    def backward(self, dout: float = 1) -> Array:
        assert self.y is not None and self.t is not None
        batch_size = self.t.shape[0]
        dx: Array = (self.y - self.t) / batch_size
        return dx


ACTIVATIONS: dict[str, type[Sigmoid | Relu]] = {"sigmoid": Sigmoid, "relu": Relu}


class MultiLayerNet:
    """Affine -> activation -> ... -> Affine -> SoftmaxWithLoss; params shared with the layers."""

    def __init__(self, params: dict[str, Array], hidden: list[str]) -> None:
        self.params = params
        self.n_affine = len(hidden) + 1
        self.layers: OrderedDict[str, Layer] = OrderedDict()
        for i in range(1, self.n_affine + 1):
            self.layers[f"Affine{i}"] = Affine(params[f"W{i}"], params[f"b{i}"])
            if i <= len(hidden):
                self.layers[f"Activation{i}"] = ACTIVATIONS[hidden[i - 1]]()
        self.last_layer = SoftmaxWithLoss()

    def predict(self, x: Array) -> Array:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: Array, t: Array) -> float:
        return self.last_layer.forward(self.predict(x), t)

    def gradient(self, x: Array, t: Array) -> dict[str, Array]:
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads: dict[str, Array] = {}
        for i in range(1, self.n_affine + 1):
            affine = self.layers[f"Affine{i}"]
            assert isinstance(affine, Affine) and affine.dW is not None and affine.db is not None
            grads[f"W{i}"] = affine.dW
            grads[f"b{i}"] = affine.db
        return grads


def train_epoch(
    net: MultiLayerNet,
    x_train: Array,
    t_train: Array,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
) -> None:
    """One epoch of shuffled minibatch SGD (the book's loop, over a permutation)."""
    order = rng.permutation(x_train.shape[0])
    for start in range(0, x_train.shape[0], batch_size):
        batch = order[start : start + batch_size]
        grads = net.gradient(x_train[batch], t_train[batch])
        for key in net.params:
            net.params[key] -= learning_rate * grads[key]

"""Hand-written NumPy stand-in for the generated module (used when BENCH_STANDIN=1).

It mimics the toolchain entry points the benchmark calls (``spec_from_dict``,
``derive_network``, ``render_module``, ``import_module``) and the generated module's API
(``init_params``, ``forward``, ``loss``, ``gradients``, ``train``, ``predict``), so the
benchmark can be exercised before derive/ and codegen/ exist. It is not the product.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Params = dict[str, Array]


def spec_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    return data


def derive_network(spec: dict[str, Any]) -> list[Any]:
    """A token symbolic derivation (one SymPy derivative per layer) so W3 has work to time."""
    import sympy as sp

    out = []
    for i, _layer in enumerate(spec["layers"], start=1):
        w, a, b = sp.symbols(f"w{i} a{i} b{i}")
        out.append(sp.simplify(sp.diff(1 / (1 + sp.exp(-(w * a + b))), w)))
    return out


def render_module(derivation: list[Any]) -> str:
    return "\n".join(f"d{i} = {expr}" for i, expr in enumerate(derivation, start=1))


class StandinNet:
    """Dense network, hidden sigmoid/relu, softmax output, mean cross-entropy, plain SGD."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.sizes = [int(spec["inputs"])] + [int(layer["units"]) for layer in spec["layers"]]
        self.hidden = [str(layer["activation"]) for layer in spec["layers"][:-1]]
        self.dtype = np.dtype(spec.get("dtype", "float64"))
        self.defaults = dict(spec.get("train", {}))

    @property
    def n_affine(self) -> int:
        return len(self.sizes) - 1

    def init_params(self, seed: int = 0) -> Params:
        rng = np.random.default_rng(seed)
        params: Params = {}
        for i, (fan_in, fan_out) in enumerate(pairwise(self.sizes), start=1):
            scale = np.sqrt(2.0 / fan_in) if "relu" in self.hidden else np.sqrt(1.0 / fan_in)
            params[f"W{i}"] = (rng.standard_normal((fan_in, fan_out)) * scale).astype(self.dtype)
            params[f"b{i}"] = np.zeros(fan_out, dtype=self.dtype)
        return params

    def _activations(self, params: Params, x: Array) -> list[Array]:
        acts = [x]
        for i in range(1, self.n_affine + 1):
            z = acts[-1] @ params[f"W{i}"] + params[f"b{i}"]
            if i == self.n_affine:
                e = np.exp(z - z.max(axis=1, keepdims=True))
                acts.append(e / e.sum(axis=1, keepdims=True))
            elif self.hidden[i - 1] == "relu":
                acts.append(np.maximum(z, 0))
            else:
                acts.append(1 / (1 + np.exp(-z)))
        return acts

    def forward(self, params: Params, x: Array) -> Array:
        return self._activations(params, x)[-1]

    predict = forward

    def loss(self, params: Params, x: Array, y: Array) -> float:
        a = self.forward(params, x)
        return float(-np.sum(y * np.log(np.clip(a, 1e-300, None))) / x.shape[0])

    def gradients(self, params: Params, x: Array, y: Array) -> tuple[float, Params]:
        acts = self._activations(params, x)
        n = x.shape[0]
        loss = float(-np.sum(y * np.log(np.clip(acts[-1], 1e-300, None))) / n)
        delta = (acts[-1] - y) / n
        grads: Params = {}
        for i in range(self.n_affine, 0, -1):
            grads[f"W{i}"] = acts[i - 1].T @ delta
            grads[f"b{i}"] = delta.sum(axis=0)
            if i > 1:
                back = delta @ params[f"W{i}"].T
                a = acts[i - 1]
                delta = back * (a > 0) if self.hidden[i - 2] == "relu" else back * a * (1 - a)
        return loss, grads

    def train(
        self,
        x: Array,
        y: Array,
        params: Params | None = None,
        *,
        optimizer: str = "sgd",
        learning_rate: float | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        callback: Callable[[int, float], object] | None = None,
    ) -> tuple[Params, dict[str, list[float]]]:
        if optimizer != "sgd":
            raise ValueError(f"stand-in supports only sgd, not {optimizer!r}")
        lr = float(learning_rate if learning_rate is not None else self.defaults["learning_rate"])
        n_epochs = int(epochs if epochs is not None else self.defaults["epochs"])
        bs = int(batch_size if batch_size is not None else self.defaults["batch_size"])
        p = {k: v.copy() for k, v in (params or self.init_params(seed)).items()}
        rng = np.random.default_rng(seed)
        history: dict[str, list[float]] = {"loss": []}
        for epoch in range(n_epochs):
            order = rng.permutation(x.shape[0])
            total = 0.0
            for start in range(0, x.shape[0], bs):
                idx = order[start : start + bs]
                batch_loss, grads = self.gradients(p, x[idx], y[idx])
                total += batch_loss * idx.shape[0]
                for key, g in grads.items():
                    p[key] -= lr * g
            history["loss"].append(total / x.shape[0])
            if callback is not None:
                callback(epoch, history["loss"][-1])
        return p, history


def import_module(spec: dict[str, Any]) -> Any:
    net = StandinNet(spec)
    return SimpleNamespace(
        init_params=net.init_params,
        forward=net.forward,
        loss=net.loss,
        gradients=net.gradients,
        train=net.train,
        predict=net.predict,
    )

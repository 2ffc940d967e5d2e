"""Benchmark workloads (data + network spec) and a shared NumPy evaluator.

Every implementation is scored with the same evaluator on its final weights, so the
"final train loss" and "test accuracy" columns are computed identically for all of them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Params = dict[str, Array]

SPLIT_SEED = 0
BLOB_SEED = 0


@dataclass(frozen=True)
class Workload:
    """One training job: data, layer sizes, activations and SGD settings."""

    name: str
    title: str
    spec: dict[str, Any]
    x_train: Array
    y_train: Array  # one-hot, float, (n, outputs)
    x_test: Array
    y_test: Array

    @property
    def sizes(self) -> list[int]:
        """Layer widths including the input width, e.g. [64, 32, 10]."""
        return [int(self.spec["inputs"])] + [int(layer["units"]) for layer in self.spec["layers"]]

    @property
    def hidden_activations(self) -> list[str]:
        return [str(layer["activation"]) for layer in self.spec["layers"][:-1]]

    @property
    def dtype(self) -> np.dtype[Any]:
        dtype: np.dtype[Any] = np.dtype(self.spec["dtype"])
        return dtype

    @property
    def learning_rate(self) -> float:
        return float(self.spec["train"]["learning_rate"])

    @property
    def epochs(self) -> int:
        return int(self.spec["train"]["epochs"])

    @property
    def batch_size(self) -> int:
        return int(self.spec["train"]["batch_size"])

    @property
    def labels_train(self) -> npt.NDArray[np.int64]:
        labels: npt.NDArray[np.int64] = np.argmax(self.y_train, axis=1).astype(np.int64)
        return labels


def mlp_spec(
    name: str,
    sizes: list[int],
    hidden: str,
    dtype: str,
    train: dict[str, Any],
) -> dict[str, Any]:
    """A spec: dense layers ``sizes[1:]``, ``hidden`` activation, softmax + mean cross-entropy."""
    layers: list[dict[str, Any]] = [{"units": u, "activation": hidden} for u in sizes[1:-1]]
    layers.append({"units": sizes[-1], "activation": "softmax"})
    return {
        "name": name,
        "inputs": sizes[0],
        "loss": "cross_entropy",
        "reduction": "mean",
        "dtype": dtype,
        "layers": layers,
        "train": {"optimizer": "sgd", "seed": 0, **train},
    }


def one_hot(labels: Array, classes: int, dtype: np.dtype[Any]) -> Array:
    out = np.zeros((labels.shape[0], classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def standardise(x_train: Array, x_test: Array) -> tuple[Array, Array]:
    """Scale with the training mean/std; constant columns (std 0) get std 1."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, (x_test - mean) / std


def digits(epochs: int = 30) -> Workload:
    """W1: scikit-learn's 8x8 digits, 80/20 split, 64-32-10 sigmoid, float64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=SPLIT_SEED, stratify=y)
    x_tr, x_te = standardise(x_tr.astype(np.float64), x_te.astype(np.float64))
    dt = np.dtype(np.float64)
    spec = mlp_spec(
        "digits",
        [64, 32, 10],
        "sigmoid",
        "float64",
        {"learning_rate": 0.1, "epochs": epochs, "batch_size": 32},
    )
    return Workload(
        "W1",
        "digits 64-32-10 sigmoid, batch 32, lr 0.1, float64",
        spec,
        np.ascontiguousarray(x_tr),
        one_hot(y_tr, 10, dt),
        np.ascontiguousarray(x_te),
        one_hot(y_te, 10, dt),
    )


def gaussian_blobs(n: int, rng: np.random.Generator, centres: Array) -> tuple[Array, Array]:
    """``n`` float32 samples: a random centre per class plus unit Gaussian noise."""
    classes, dim = centres.shape
    labels = rng.integers(0, classes, size=n)
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x += centres[labels]
    return x, labels


def synthetic_mnist(n_train: int = 60000, n_test: int = 10000, epochs: int = 2) -> Workload:
    """W2: MNIST-shaped Gaussian blobs, 784-256-128-10 relu, float32.

    Class centres are random directions of length ``separation / sqrt(2)``, so two centres are
    about ``separation`` apart while the noise is unit-variance in every one of 784 dimensions:
    the classes overlap (a linear Bayes classifier is right roughly 85-90% of the time).
    """
    dim, classes, separation = 784, 10, 4.0
    rng = np.random.default_rng(BLOB_SEED)
    directions = rng.standard_normal((classes, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    centres = (directions * separation / np.sqrt(2.0)).astype(np.float32)
    x_tr, y_tr = gaussian_blobs(n_train, rng, centres)
    x_te, y_te = gaussian_blobs(n_test, rng, centres)
    dt = np.dtype(np.float32)
    spec = mlp_spec(
        "mnist_blobs",
        [dim, 256, 128, classes],
        "relu",
        "float32",
        {"learning_rate": 0.05, "epochs": epochs, "batch_size": 128},
    )
    return Workload(
        "W2",
        f"synthetic MNIST {n_train}x{dim} 784-256-128-10 relu, batch 128, lr 0.05, float32",
        spec,
        x_tr,
        one_hot(y_tr, classes, dt),
        x_te,
        one_hot(y_te, classes, dt),
    )


# --- shared evaluator -------------------------------------------------------------------


def logits(params: Params, x: Array, hidden: list[str]) -> Array:
    """Pre-softmax output of the dense network described by ``params``."""
    a = x
    for i, act in enumerate(hidden, start=1):
        z = a @ params[f"W{i}"] + params[f"b{i}"]
        a = np.maximum(z, 0) if act == "relu" else 1.0 / (1.0 + np.exp(-z))
    last = len(hidden) + 1
    return a @ params[f"W{last}"] + params[f"b{last}"]


def softmax_probs(params: Params, x: Array, hidden: list[str]) -> Array:
    z = logits(params, x, hidden)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    probs: Array = e / e.sum(axis=1, keepdims=True)
    return probs


def mean_cross_entropy(params: Params, x: Array, y: Array, hidden: list[str]) -> float:
    z = logits(params, x, hidden).astype(np.float64)
    zmax = z.max(axis=1, keepdims=True)
    log_norm = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(z.shape[0]), y.argmax(axis=1)]))


def accuracy(params: Params, x: Array, y: Array, hidden: list[str]) -> float:
    return float(np.mean(logits(params, x, hidden).argmax(axis=1) == y.argmax(axis=1)))


def glorot_params(sizes: list[int], dtype: np.dtype[Any], seed: int = 0) -> Params:
    """Seeded Glorot-normal weights and zero biases, keyed as the generated module keys them."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"W{index}"] = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out)).astype(dtype)
        params[f"b{index}"] = np.zeros(fan_out, dtype)
    return params


def copy_params(params: Params, dtype: np.dtype[Any]) -> Params:
    return {k: np.array(v, dtype=dtype, copy=True) for k, v in params.items()}


def max_abs_diff(a: Params, b: Params) -> float:
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)

"""Benchmark of the convolutional examples: the generated module against PyTorch CPU eager, the
textbook NumPy SimpleConvNet (bench/textbook_conv.py) and the floor of the epoch's matrix products.

    python bench/conv.py [--epochs N] [--samples N]

Every implementation starts from the generated module's init_params(seed) and visits the batches
in the generated train()'s order (one seeded permutation per epoch); plain SGD, float64, 2 threads.
C1: examples/digits_cnn.toml on scikit-learn's digits (1437 training images), batch 32.
C2: examples/lenet.toml on random 28×28 images with random labels (timing only), batch 64.
Prints a Markdown table (seconds per epoch, median over the epochs) and, after training, the
largest difference between the generated module's parameters and PyTorch's. A script, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import extend_path, pin_threads

pin_threads()
extend_path()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from textbook_conv import SimpleConvNet  # noqa: E402
from torch.nn import functional as F  # noqa: E402, N812

from codegen import import_module  # noqa: E402
from derive import derive_network, load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = 0
Array = np.ndarray


def workloads(samples: int) -> list[tuple[str, str, Array, Array, int, float]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, _, y_tr, _ = train_test_split((x / 16.0).reshape(-1, 1, 8, 8), y, test_size=0.2, random_state=0,
                                        stratify=y)
    rng = np.random.default_rng(SEED)
    x_big = rng.normal(size=(samples, 1, 28, 28))
    y_big = rng.integers(0, 10, samples)
    return [("C1 digits 1x8x8: conv 8@3x3 pad 1 relu, maxpool 2, 10 softmax; batch 32", "digits_cnn",
             np.ascontiguousarray(x_tr), np.eye(10)[y_tr], 32, 0.05),
            ("C2 LeNet 1x28x28: conv 16@5x5, maxpool 2, conv 32@5x5, maxpool 2, 10 softmax; batch 64", "lenet",
             x_big, np.eye(10)[y_big], 64, 0.01)]


def orders(n: int, epochs: int) -> list[Array]:
    """The batch order of the generated train(): one permutation per epoch from default_rng(seed)."""
    rng = np.random.default_rng(SEED)
    return [rng.permutation(n) for _ in range(epochs)]


def generated(module: Any, X: Array, Y: Array, batch: int, rate: float, epochs: int) -> tuple[list[float], dict]:
    stamps = [time.perf_counter()]
    params, _ = module.train(X, Y, module.init_params(SEED), optimizer="sgd", learning_rate=rate, epochs=epochs,
                             batch_size=batch, seed=SEED,
                             callback=lambda epoch, loss: stamps.append(time.perf_counter()))
    return [b - a for a, b in itertools.pairwise(stamps)], params


def pytorch(spec: Any, params: dict[str, Array], X: Array, Y: Array, batch: int, rate: float,
            epochs: int) -> tuple[list[float], dict]:
    torch.set_num_threads(2)
    weights = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    Xt, labels = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
    optimizer = torch.optim.SGD(list(weights.values()), lr=rate)

    def forward(a: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(spec.layers, start=1):
            kind = getattr(layer, "kind", "dense")
            if kind == "conv2d":
                a = F.relu(F.conv2d(a, weights[f"W{index}"], weights[f"b{index}"], stride=layer.stride,
                                    padding=layer.padding))
            elif kind == "maxpool2d":
                a = F.max_pool2d(a, layer.pool, layer.stride)
            elif kind == "flatten":
                a = a.flatten(1)
            else:
                a = a @ weights[f"W{index}"] + weights[f"b{index}"]
        return a

    times = []
    for order in orders(len(X), epochs):
        start = time.perf_counter()
        for first in range(0, len(X), batch):
            index = torch.from_numpy(order[first:first + batch])
            optimizer.zero_grad()
            F.cross_entropy(forward(Xt[index]), labels[index]).backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times, {key: value.detach().numpy() for key, value in weights.items()}


def textbook(spec: Any, params: dict[str, Array], X: Array, Y: Array, batch: int, rate: float,
             epochs: int) -> list[float]:
    net = SimpleConvNet(spec, params)
    times = []
    for order in orders(len(X), epochs):
        start = time.perf_counter()
        for first in range(0, len(X), batch):
            index = order[first:first + batch]
            net.step(X[index], Y[index], rate)
        times.append(time.perf_counter() - start)
    return times


def gemm_floor(net: Any, n: int, batch: int, epochs: int) -> list[float]:
    """Only the epoch's matrix products, with the generated module's shapes, into preallocated arrays."""
    rng = np.random.default_rng(SEED)
    products = []
    first = True
    for layer in net.layers:
        if layer.kind.name == "conv2d":
            rows = batch * layer.out_shape[1] * layer.out_shape[2]
            inner = layer.in_shape[0] * layer.settings.kernel[0] * layer.settings.kernel[1]
            shapes = [(rows, inner, layer.out_shape[0])]  # forward: im2col · Kᵀ
        elif layer.kind.name == "dense":
            rows, inner = batch, layer.in_shape[0]
            shapes = [(rows, inner, layer.out_shape[0])]
        else:
            continue
        out = layer.out_shape[0]
        shapes.append((out, rows, inner))  # ∂E/∂W: δᵀ · input
        if not first:
            shapes.append((rows, out, inner))  # ∂E/∂input: δ · K
        first = False
        for m, k, w in shapes:
            products.append((rng.random((m, k)), rng.random((k, w)), np.empty((m, w))))
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in range(0, n, batch):
            for left, right, out in products:
                np.matmul(left, right, out=out)
        times.append(time.perf_counter() - start)
    return times


def measure(name: str, implementation: str, epochs: int, samples: int, out: str) -> None:
    """One implementation on one workload, in this process: print its epoch times as JSON, save its params."""
    _, _, X, Y, batch, rate = next(w for w in workloads(samples) if w[1] == name)
    spec = load_spec(ROOT / "examples" / f"{name}.toml")
    net = derive_network(spec)
    module = import_module(net)
    params = module.init_params(SEED)
    trained: dict[str, Array] = {}
    if implementation == "generated":
        times, trained = generated(module, X, Y, batch, rate, epochs)
    elif implementation == "pytorch":
        times, trained = pytorch(spec, params, X, Y, batch, rate, epochs)
    elif implementation == "textbook":
        times = textbook(spec, params, X, Y, batch, rate, epochs)
    else:
        times = gemm_floor(net, len(X), batch, epochs)
    if trained:
        np.savez(out, **trained)
    print(json.dumps(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4096, help="C2's random 28x28 images")
    parser.add_argument("--one", nargs=3, metavar=("WORKLOAD", "IMPLEMENTATION", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure(*args.one[:2], args.epochs, args.samples, args.one[2])
        return 0
    print("| workload | generated | PyTorch eager | textbook NumPy | GEMM floor | generated / PyTorch | "
          "generated / textbook | max abs param diff vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    implementations = ("generated", "pytorch", "textbook", "floor")
    with tempfile.TemporaryDirectory() as folder:
        for title, name, *_ in workloads(args.samples):
            medians = {}
            for implementation in implementations:  # each in its own process: no BLAS or OpenMP threads left over
                print(f"{name}: {implementation}", file=sys.stderr)
                out = str(Path(folder) / f"{name}_{implementation}.npz")
                result = subprocess.run([sys.executable, __file__, "--epochs", str(args.epochs), "--samples",
                                         str(args.samples), "--one", name, implementation, out],
                                        check=True, capture_output=True, text=True)
                medians[implementation] = statistics.median(json.loads(result.stdout.splitlines()[-1]))
            with np.load(Path(folder) / f"{name}_generated.npz") as ours, \
                    np.load(Path(folder) / f"{name}_pytorch.npz") as theirs:
                diff = max(float(np.abs(ours[key] - theirs[key]).max()) for key in ours.files)
            a, b, c, d = (medians[implementation] for implementation in implementations)
            print(f"| {title} | {a:.3f} s | {b:.3f} s | {c:.3f} s | {d:.3f} s | {a / b:.2f} | {a / c:.2f} "
                  f"| {diff:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

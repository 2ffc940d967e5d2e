"""The implementations being compared; each trains from the same initial weights.

A builder takes the workload, the shared initial params and a ``Run`` (epochs, batch size) and
returns a ``Trainer``: ``step(epoch)`` trains one epoch, ``params()`` gives the current weights
in the generated module's layout (``W_l`` is (fan_in, fan_out), ``b_l`` is (fan_out,)).
``train_all`` interleaves the epochs of all implementations (epoch 1 of each, then epoch 2 of
each, in a rotating order), so a slow stretch of a shared machine hits them all alike.
"""

from __future__ import annotations

import gc
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from textbook import MultiLayerNet, train_epoch
from workloads import Array, Params, Workload, copy_params, softmax_probs

THREADS = 2


@dataclass(frozen=True)
class Run:
    epochs: int
    batch_size: int


@dataclass
class Result:
    name: str
    epoch_seconds: list[float] = field(default_factory=list)
    params: Params | None = None
    note: str = ""  # e.g. "not installed"

    @property
    def median_seconds(self) -> float | None:
        return float(np.median(self.epoch_seconds)) if self.epoch_seconds else None


@dataclass(frozen=True)
class Trainer:
    step: Callable[[int], None]
    params: Callable[[], Params | None]
    epoch_times: Callable[[], list[float]] | None = None  # its own per-epoch clock, if it has one


Builder = Callable[[Workload, Params, Run], Trainer]


def no_params() -> Params | None:
    return None


# --- 1. the generated module --------------------------------------------------------------


def generated_builder(module: Any, per_call: bool = False) -> Builder:
    """Builder for a generated module.

    Default: one ``train(..., epochs=N, callback=...)`` call, epochs timed between callbacks (what
    a user's training run costs per epoch; the call's setup lands in epoch 1). ``per_call``: one
    ``train(..., epochs=1)`` call per epoch, interleaved with the peers, setup paid every epoch.
    """

    def build(wl: Workload, params0: Params, cfg: Run) -> Trainer:
        state = {"params": copy_params(params0, wl.dtype)}
        times: list[float] = []

        def train(epochs: int, seed: int, callback: Callable[[int, float], None] | None) -> None:
            extra = {} if callback is None else {"callback": callback}
            state["params"], _history = module.train(
                wl.x_train,
                wl.y_train,
                params=state["params"],
                optimizer="sgd",
                learning_rate=wl.learning_rate,
                epochs=epochs,
                batch_size=cfg.batch_size,
                seed=seed,
                **extra,
            )

        def step_per_call(epoch: int) -> None:
            train(1, epoch, None)

        def step_once(epoch: int) -> None:
            if epoch == 0:
                stamps = [time.perf_counter()]
                train(cfg.epochs, 0, lambda _e, _loss: stamps.append(time.perf_counter()))
                times.extend(b - a for a, b in pairwise(stamps))

        if per_call:
            return Trainer(step_per_call, lambda: state["params"])
        return Trainer(step_once, lambda: state["params"], lambda: times)

    return build


# --- 2. PyTorch eager ---------------------------------------------------------------------


def torch_model(wl: Workload, params0: Params) -> Any:
    import torch
    from torch import nn

    torch.set_num_threads(THREADS)
    torch_dtype = torch.float64 if wl.dtype == np.float64 else torch.float32
    layers: list[nn.Module] = []
    n_affine = len(wl.sizes) - 1
    for i in range(1, n_affine + 1):
        linear = nn.Linear(wl.sizes[i - 1], wl.sizes[i], dtype=torch_dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(params0[f"W{i}"].T)))
            linear.bias.copy_(torch.from_numpy(params0[f"b{i}"]))
        layers.append(linear)
        if i < n_affine:
            layers.append(nn.ReLU() if wl.hidden_activations[i - 1] == "relu" else nn.Sigmoid())
    return nn.Sequential(*layers)


def torch_params(model: Any) -> Params:
    from torch import nn

    linears = [m for m in model if isinstance(m, nn.Linear)]
    out: Params = {}
    for i, linear in enumerate(linears, start=1):
        out[f"W{i}"] = linear.weight.detach().numpy().T.copy()
        out[f"b{i}"] = linear.bias.detach().numpy().copy()
    return out


def torch_trainer(wl: Workload, params0: Params, cfg: Run) -> Trainer:
    """nn.Linear + activation, CrossEntropyLoss(mean) on logits, SGD(momentum=0)."""
    import torch

    model = torch_model(wl, copy_params(params0, wl.dtype))
    x = torch.from_numpy(wl.x_train)
    y = torch.from_numpy(wl.labels_train)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=wl.learning_rate, momentum=0.0)
    gen = torch.Generator().manual_seed(0)
    n = x.shape[0]

    def step(_epoch: int) -> None:
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, cfg.batch_size):
            idx = perm[start : start + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()

    return Trainer(step, lambda: torch_params(model))


# --- 3. scikit-learn MLPClassifier --------------------------------------------------------


def sklearn_model(wl: Workload, params0: Params, batch_size: int) -> Any:
    """An MLPClassifier whose weights are exactly ``params0`` (checked), ready for partial_fit."""
    from sklearn.neural_network import MLPClassifier

    hidden = wl.hidden_activations
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(wl.sizes[1:-1]),
        activation="relu" if hidden[0] == "relu" else "logistic",
        solver="sgd",
        learning_rate="constant",
        learning_rate_init=wl.learning_rate,
        momentum=0.0,
        nesterovs_momentum=False,
        batch_size=batch_size,
        alpha=0.0,
        early_stopping=False,
        shuffle=True,
        random_state=0,
    )
    classes = np.arange(wl.sizes[-1])
    # A first partial_fit on a few rows only allocates coefs_/intercepts_ and the optimizer.
    clf.partial_fit(wl.x_train[:batch_size], wl.labels_train[:batch_size], classes=classes)
    # Overwrite in place: the SGD optimizer holds references to these very arrays.
    n_affine = len(wl.sizes) - 1
    for i in range(n_affine):
        clf.coefs_[i][...] = params0[f"W{i + 1}"]
        clf.intercepts_[i][...] = params0[f"b{i + 1}"]
    probe = wl.x_train[:64]
    got = clf.predict_proba(probe)
    want = softmax_probs(params0, probe, hidden)
    if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
        raise RuntimeError("scikit-learn did not take the shared initial weights")
    return clf


def sklearn_params(clf: Any) -> Params:
    out: Params = {}
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True), start=1):
        out[f"W{i}"] = np.array(w, copy=True)
        out[f"b{i}"] = np.array(b, copy=True)
    return out


def sklearn_trainer(wl: Workload, params0: Params, cfg: Run) -> Trainer:
    """MLPClassifier(solver='sgd', momentum=0, alpha=0), one partial_fit call per epoch."""
    clf = sklearn_model(wl, copy_params(params0, wl.dtype), cfg.batch_size)
    labels = wl.labels_train
    classes = np.arange(wl.sizes[-1])

    def step(_epoch: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(wl.x_train, labels, classes=classes)

    return Trainer(step, lambda: sklearn_params(clf))


# --- 4. textbook NumPy layer classes ------------------------------------------------------


def textbook_trainer(wl: Workload, params0: Params, cfg: Run) -> Trainer:
    """Affine/Sigmoid/Relu/SoftmaxWithLoss layer classes, plain SGD."""
    net = MultiLayerNet(copy_params(params0, wl.dtype), wl.hidden_activations)
    rng = np.random.default_rng(0)

    def step(_epoch: int) -> None:
        train_epoch(net, wl.x_train, wl.y_train, cfg.batch_size, wl.learning_rate, rng)

    return Trainer(step, lambda: net.params)


# --- 5. GEMM floor ------------------------------------------------------------------------


def gemm_buffers(sizes: list[int], batch: int, dtype: np.dtype[Any]) -> dict[str, list[Array]]:
    """Preallocated operands for one minibatch: activations, deltas, weights, weight grads."""
    rng = np.random.default_rng(0)
    return {
        "acts": [rng.standard_normal((batch, s)).astype(dtype) for s in sizes],
        "deltas": [rng.standard_normal((batch, s)).astype(dtype) for s in sizes],
        "weights": [rng.standard_normal((a, b)).astype(dtype) for a, b in pairwise(sizes)],
        "grads": [np.empty((a, b), dtype=dtype) for a, b in pairwise(sizes)],
    }


def gemm_minibatch(buf: dict[str, list[Array]]) -> None:
    """Forward: A_l = A_{l-1} @ W_l.  Backward: dW_l = A_{l-1}.T @ d_l, d_{l-1} = d_l @ W_l.T."""
    acts, deltas, weights, grads = buf["acts"], buf["deltas"], buf["weights"], buf["grads"]
    for layer, w in enumerate(weights):
        np.matmul(acts[layer], w, out=acts[layer + 1])
    for layer in range(len(weights) - 1, -1, -1):
        np.matmul(acts[layer].T, deltas[layer + 1], out=grads[layer])
        if layer > 0:
            np.matmul(deltas[layer + 1], weights[layer].T, out=deltas[layer])


def gemm_floor_trainer(wl: Workload, _params0: Params, cfg: Run) -> Trainer:
    """Only the matrix products of an epoch, on preallocated arrays (no data, no updates)."""
    n = wl.x_train.shape[0]
    full, rest = divmod(n, cfg.batch_size)
    plan = [(full, gemm_buffers(wl.sizes, cfg.batch_size, wl.dtype))]
    if rest:
        plan.append((1, gemm_buffers(wl.sizes, rest, wl.dtype)))

    def step(_epoch: int) -> None:
        for count, buf in plan:
            for _ in range(count):
                gemm_minibatch(buf)

    return Trainer(step, no_params)


# --- 6. the least a NumPy trainer does --------------------------------------------------

HUGE_PAGE = 1 << 21


def on_huge_pages(shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
    """An array starting on a 2 MiB boundary of a 4 MiB+ allocation (NumPy then asks for huge pages)."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(max(nbytes, HUGE_PAGE) + HUGE_PAGE, np.uint8)
    start = -raw.ctypes.data % HUGE_PAGE
    out: Array = raw[start:start + nbytes].view(dtype).reshape(shape)
    return out


def numpy_minimum_trainer(wl: Workload, params0: Params, cfg: Run) -> Trainer:
    """The least any NumPy minibatch-SGD step does, with nothing else: gather the shuffled batch
    (``take``, as the generated module), the GEMM floor's products on it, and one update pass
    ``flat -= gflat`` over the parameters. No bias, activation, softmax, loss or δ ⊙ f′: the
    output deltas stay fixed (tiny, so the weights barely move). Arrays on 2 MiB pages, as the module's."""
    sizes, dtype, n = wl.sizes, wl.dtype, wl.x_train.shape[0]
    counts = [a * b for a, b in pairwise(sizes)]
    flat, gflat = on_huge_pages((sum(counts),), dtype), on_huge_pages((sum(counts),), dtype)
    weights, grads, start = [], [], 0
    for (a, b), count in zip(pairwise(sizes), counts, strict=True):
        weights.append(flat[start:start + count].reshape(a, b))
        grads.append(gflat[start:start + count].reshape(a, b))
        weights[-1][...] = params0[f"W{len(weights)}"]
        start += count
    rng = np.random.default_rng(0)

    def buffers(m: int) -> tuple[list[Array], list[Array]]:
        acts = [on_huge_pages((m, s), dtype) for s in sizes]
        deltas = [on_huge_pages((m, s), dtype) for s in sizes]
        deltas[-1][...] = 1e-9 * rng.standard_normal((m, sizes[-1]))
        return acts, deltas

    plan = {m: buffers(m) for m in {cfg.batch_size, n % cfg.batch_size or cfg.batch_size}}

    def step(_epoch: int) -> None:
        order = rng.permutation(n)
        for first in range(0, n, cfg.batch_size):
            rows = order[first:first + cfg.batch_size]
            acts, deltas = plan[rows.shape[0]]
            wl.x_train.take(rows, axis=0, out=acts[0], mode="clip")
            for layer, w in enumerate(weights):
                np.matmul(acts[layer], w, out=acts[layer + 1])
            for layer in range(len(weights) - 1, -1, -1):
                np.matmul(acts[layer].T, deltas[layer + 1], out=grads[layer])
                if layer > 0:
                    np.matmul(deltas[layer + 1], weights[layer].T, out=deltas[layer])
            np.subtract(flat, gflat, out=flat)

    return Trainer(step, no_params)


GEMM_FLOOR = "GEMM floor (matmuls only)"
NUMPY_MINIMUM = "NumPy minimum (gather, matmuls, update)"
WITHOUT_PARAMS = (GEMM_FLOOR, NUMPY_MINIMUM)  # timing rows: no weights to compare or score
PEERS: list[tuple[str, Builder]] = [
    ("PyTorch eager", torch_trainer),
    ("scikit-learn MLP", sklearn_trainer),
    ("NumPy textbook layers", textbook_trainer),
    (NUMPY_MINIMUM, numpy_minimum_trainer),
    (GEMM_FLOOR, gemm_floor_trainer),
]


def failure(exc: Exception) -> str:
    if isinstance(exc, ImportError):
        return f"not installed ({exc.name})"
    return f"failed: {type(exc).__name__}: {exc}".splitlines()[0]


def build_all(
    entries: list[tuple[str, Builder]], wl: Workload, params0: Params, cfg: Run
) -> tuple[list[Result], dict[str, Trainer]]:
    """Build every trainer; a missing package or a failure becomes a note, not a crash."""
    results, trainers = [], {}
    for name, build in entries:
        results.append(Result(name))
        try:
            trainers[name] = build(wl, params0, cfg)
        except Exception as exc:  # a benchmark reports and goes on
            results[-1].note = failure(exc)
    return results, trainers


def train_all(entries: list[tuple[str, Builder]], wl: Workload, params0: Params, cfg: Run) -> list[Result]:
    """Train every implementation for ``cfg.epochs`` epochs, epochs interleaved, each timed."""
    results, trainers = build_all(entries, wl, params0, cfg)
    by_name = {r.name: r for r in results}
    for epoch in range(cfg.epochs):
        names = list(trainers)
        shift = epoch % max(len(names), 1)
        print(f"  {wl.name} epoch {epoch + 1}/{cfg.epochs}", file=sys.stderr, flush=True)
        for name in names[shift:] + names[:shift]:
            gc.collect()  # no pending full collection lands inside the timed epoch
            start = time.perf_counter()
            try:
                trainers[name].step(epoch)
            except Exception as exc:
                by_name[name].note = failure(exc)
                del trainers[name]
                continue
            by_name[name].epoch_seconds.append(time.perf_counter() - start)
            print(f"    {name}: {by_name[name].epoch_seconds[-1]:.4f} s", file=sys.stderr, flush=True)
    for name, trainer in trainers.items():
        by_name[name].params = trainer.params()
        if trainer.epoch_times is not None:
            by_name[name].epoch_seconds = list(trainer.epoch_times())
            shown = ", ".join(f"{t:.4f}" for t in by_name[name].epoch_seconds)
            print(f"    {name} epochs by callback: {shown} s", file=sys.stderr, flush=True)
    for r in results:  # a failure in a later epoch leaves no valid timing
        if r.note:
            r.epoch_seconds.clear()
    return results

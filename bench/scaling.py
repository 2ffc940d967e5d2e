"""W3: how derivation + code generation time grows with the number of layers."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workloads import mlp_spec

from derive.network import clear_caches

WIDTH = 64
DEPTHS = (1, 2, 4, 8, 16, 32)
QUICK_DEPTHS = (1, 2, 4)
REPEATS = 5
REPEAT_BUDGET_S = 2.0


@dataclass(frozen=True)
class Timing:
    layers: int
    derive_s: float
    render_s: float

    @property
    def total_s(self) -> float:
        return self.derive_s + self.render_s


def deep_spec(layers: int) -> dict[str, Any]:
    """``layers`` dense layers of width 64: sigmoid hidden, softmax + mean cross-entropy output."""
    return mlp_spec(
        f"deep{layers}",
        [WIDTH] * (layers + 1),
        "sigmoid",
        "float64",
        {"learning_rate": 0.1, "epochs": 1, "batch_size": 32},
    )


def clear_sympy_cache() -> None:
    """Each depth starts cold: no per-rule derivation or SymPy expression is cached from before."""
    clear_caches()


def time_once(
    spec: Any, derive_network: Callable[[Any], Any], render_module: Callable[[Any], Any]
) -> tuple[float, float]:
    clear_sympy_cache()
    gc.collect()  # no pending full collection lands inside the timed section
    start = time.perf_counter()
    derivation = derive_network(spec)
    mid = time.perf_counter()
    render_module(derivation)
    return mid - start, time.perf_counter() - mid


def time_depth(
    layers: int,
    spec_from_dict: Callable[[dict[str, Any]], Any],
    derive_network: Callable[[Any], Any],
    render_module: Callable[[Any], Any],
) -> Timing:
    """Best of up to ``REPEATS`` cold runs (fewer once ``REPEAT_BUDGET_S`` is spent), like timeit."""
    spec = spec_from_dict(deep_spec(layers))
    runs = [time_once(spec, derive_network, render_module)]
    while len(runs) < REPEATS and sum(map(sum, runs)) < REPEAT_BUDGET_S:
        runs.append(time_once(spec, derive_network, render_module))
    derive_s, render_s = min(runs, key=sum)
    return Timing(layers, derive_s, render_s)


def marginal(t: Timing, first: Timing) -> str:
    """Seconds each layer beyond the first adds: constant if growth is linear."""
    if t.layers == first.layers:
        return "—"
    return f"{(t.total_s - first.total_s) / (t.layers - first.layers):.4f}"


def markdown(timings: list[Timing], skipped: list[int], budget_s: float) -> str:
    lines = [
        "| dense layers (width 64) | derive s | render s | total s | s per layer | s per added layer |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        lines.append(
            f"| {t.layers} | {t.derive_s:.4f} | {t.render_s:.4f} | {t.total_s:.4f} "
            f"| {t.total_s / t.layers:.4f} | {marginal(t, timings[0])} |"
        )
    for layers in skipped:
        lines.append(f"| {layers} | skipped: previous depth over {budget_s:g} s | | | | |")
    return "\n".join(lines)

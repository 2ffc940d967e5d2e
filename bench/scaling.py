"""W3: how derivation + code generation time grows with the number of layers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sympy.core.cache import clear_cache
from workloads import mlp_spec

WIDTH = 64
DEPTHS = (1, 2, 4, 8, 16, 32)
QUICK_DEPTHS = (1, 2, 4)


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
    """Each depth starts cold, so no depth profits from an earlier one's cached expressions."""
    clear_cache()


def time_depth(
    layers: int,
    spec_from_dict: Callable[[dict[str, Any]], Any],
    derive_network: Callable[[Any], Any],
    render_module: Callable[[Any], Any],
) -> Timing:
    spec = spec_from_dict(deep_spec(layers))
    clear_sympy_cache()
    start = time.perf_counter()
    derivation = derive_network(spec)
    mid = time.perf_counter()
    render_module(derivation)
    end = time.perf_counter()
    return Timing(layers, mid - start, end - mid)


def markdown(timings: list[Timing], skipped: list[int], budget_s: float) -> str:
    lines = [
        "| dense layers (width 64) | derive s | render s | total s | s per layer |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        lines.append(
            f"| {t.layers} | {t.derive_s:.3f} | {t.render_s:.3f} | {t.total_s:.3f} "
            f"| {t.total_s / t.layers:.4f} |"
        )
    for layers in skipped:
        lines.append(f"| {layers} | skipped: previous depth over {budget_s:g} s | | | |")
    return "\n".join(lines)

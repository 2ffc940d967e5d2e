"""Pooling layers: their spec fields, the derivative of a window's max or mean with respect to each entry
by SymPy, the proof of the routing on a small instance, and their numbers.

For a pool of ph × pw with stride s, A[k, c, i, j] = max or mean over u < ph, v < pw of
A⁽ˡ⁻¹⁾[k, c, s·i + u, s·j + v]. The partial by the window's entry (u, v):

* max: SymPy differentiates Max(a₀₀, a₀₁, …) into a product of steps H(a_uv − a_u′v′) over the
  other entries: 1 for the window's maximum, 0 elsewhere. At a tie the derivative does not
  exist; the code routes δ to the first maximum in row-major order, as PyTorch does.
* mean: the sum (1/(ph·pw)) Σ_u Σ_v A⁽ˡ⁻¹⁾[…] differentiated by one entry gives 1/(ph·pw).

∂E/∂A⁽ˡ⁻¹⁾ then adds, over every window an entry lies in, ∂E/∂A times that partial (the routing).

Spec fields: ``pool`` (k or [ph, pw]) required, ``stride`` (default: the pool). No parameters.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import numpy as np
import sympy as sp

from derive.errors import SpecError
from derive.layers.kind import LayerKind, Settings, Shape
from derive.layers.windows import pair, window_out
from derive.naming import GENERIC

u, v, u2, v2 = sp.symbols("u v u' v'", integer=True)
PH, PW = sp.symbols("p_h p_w", integer=True, positive=True)


@dataclass(frozen=True)
class Pool2dSpec(Settings):
    """A[k, c, i, j] = max (or mean) over u < ph, v < pw of A⁽ˡ⁻¹⁾[k, c, s·i + u, s·j + v]."""

    kind: str  # maxpool2d | avgpool2d: two kinds, one settings class
    pool: tuple[int, int]
    stride: tuple[int, int]
    activation: ClassVar[None] = None
    init: ClassVar[str] = "auto"


@dataclass(frozen=True)
class PoolDerivation:
    kind: str  # maxpool2d | avgpool2d
    pool: tuple[int, int]
    window: tuple[sp.Symbol, ...]  # a₀₀, a₀₁, … of one window, row-major
    definition: sp.Expr  # the window's max or mean (mean: the indexed sum over symbolic ph, pw)
    partials: tuple[sp.Expr, ...]  # ∂A/∂a_uv for each entry of the window (max) or the one partial (mean)


def window_symbols(pool: tuple[int, int]) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"a_{{{r}{col}}}", real=True) for r in range(pool[0]) for col in range(pool[1]))


@cache
def derive_pool2d(kind: str, pool: tuple[int, int]) -> PoolDerivation:
    """The partials of one window's max (for this pool size) or mean (for every pool size)."""
    if kind == "maxpool2d":
        window = window_symbols(pool)
        definition = sp.Max(*window)
        return PoolDerivation(kind, pool, window, definition, tuple(sp.diff(definition, a) for a in window))
    A = sp.IndexedBase(GENERIC["A_prev"])
    definition = sp.Sum(A[u, v], (v, 0, PW - 1), (u, 0, PH - 1)) / (PH * PW)
    partial = sp.diff(definition, A[u2, v2]).doit()
    partial = partial.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)  # (u′, v′) in the window
    return PoolDerivation(kind, pool, (), definition, (partial,))


def mean_share(pool: tuple[int, int]) -> sp.Expr:
    """The derived ∂(mean)/∂(entry), 1/(ph·pw), for a window of ``pool``."""
    return derive_pool2d("avgpool2d", pool).partials[0].subs({PH: pool[0], PW: pool[1]})


def verify_pool2d(kind: str, pool: tuple[int, int], stride: tuple[int, int], channels: int = 2,
                  samples: int = 1, seed: int = 0) -> list[str]:
    """The input entries where the code's routing and ∂E/∂(entry) of the expanded E differ.

    E = Σ δ[k, c, i, j] pool(A⁽ˡ⁻¹⁾)[k, c, i, j] with the max written as SymPy's Max; the entries are
    distinct rationals (a tie has no derivative), so SymPy's derivative, a product of steps, is 0 or 1.
    The routing of the code (δ to the first maximum of each window; δ/(ph·pw) to every entry for the
    mean) must give the same numbers.
    """
    (ph, pw), (sh, sw) = pool, stride
    height, width = ph + sh + (1 if sh > ph else 0), pw + sw  # two windows per axis (and a gap when s > p)
    out_h, out_w = (height - ph) // sh + 1, (width - pw) // sw + 1
    generator = random.Random(seed)
    shape = (samples, channels, height, width)
    numbers = generator.sample(range(1, 10 * math.prod(shape)), math.prod(shape))  # distinct: no ties
    symbols = {index: sp.Symbol(f"a_{'_'.join(map(str, index))}", real=True)
               for index in itertools.product(*map(range, shape))}
    value = {symbols[index]: sp.Rational(number, 7) for index, number in zip(symbols, numbers, strict=True)}
    E = sp.Integer(0)
    routed: dict[tuple[int, ...], sp.Expr] = {index: sp.Integer(0) for index in symbols}
    for k, c, i, j in itertools.product(range(samples), range(channels), range(out_h), range(out_w)):
        delta = sp.Symbol(f"g_{k}_{c}_{i}_{j}", real=True)
        window = [(k, c, sh * i + row, sw * j + column) for row in range(ph) for column in range(pw)]
        entries = [symbols[index] for index in window]
        if kind == "maxpool2d":
            E += delta * sp.Max(*entries)
            first = max(range(len(window)), key=lambda position: (value[entries[position]], -position))
            routed[window[first]] += delta
        else:
            E += delta * sp.Add(*entries) / (ph * pw)
            for index in window:
                routed[index] += delta * mean_share(pool)
    failures = []
    for index, symbol in symbols.items():
        expanded = sp.diff(E, symbol).subs(value)
        if sp.expand(expanded - routed[index]) != 0:
            failures.append(f"dE/d{symbol}")
    return failures


class PoolKind(LayerKind):
    """maxpool2d or avgpool2d: one class, two registered kinds."""

    keys = ("pool", "stride")
    needs = "image"
    stage = "pool2d"

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, item: dict[str, Any], shape: Shape, path: str) -> tuple[Pool2dSpec, Shape]:
        if "pool" not in item:
            raise SpecError(f"{path}.pool", "missing (required)")
        pool = pair(item["pool"], f"{path}.pool")
        stride = pair(item.get("stride", item["pool"]), f"{path}.stride")
        height, width = window_out(shape, pool, stride, (0, 0), f"{path}.pool", "pooling window")
        return Pool2dSpec(self.name, pool, stride), (shape[0], height, width)

    def derive(self, settings: Settings) -> PoolDerivation:
        return derive_pool2d(self.name, settings.pool)  # type: ignore[attr-defined]

    def verify(self, layer: Any) -> list[str]:
        return verify_pool2d(self.name, layer.settings.pool, layer.settings.stride)

    def _offsets(self, layer: Any) -> list[tuple[int, int, tuple[slice, ...]]]:
        """Each window offset (u, v) and the slice that picks it from every window at once."""
        (ph, pw), (sh, sw) = layer.settings.pool, layer.settings.stride
        _, out_h, out_w = layer.out_shape
        return [(row, column, (slice(None), slice(None), slice(row, row + sh * (out_h - 1) + 1, sh),
                               slice(column, column + sw * (out_w - 1) + 1, sw)))
                for row in range(ph) for column in range(pw)]

    def forward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray) -> np.ndarray:
        entries = [A[where] for _, _, where in self._offsets(layer)]
        if self.name == "maxpool2d":
            result = entries[0]
            for entry in entries[1:]:
                result = np.where(entry > result, entry, result)
            return result
        share = mean_share(layer.settings.pool)
        total = entries[0]
        for entry in entries[1:]:
            total = total + entry
        return total * (share if A.dtype == object else float(share))

    def near_tie(self, layer: Any, A: np.ndarray, margin: float = 1e-9) -> bool:
        """Two entries of a window within ``margin`` of its maximum (both exactly 0 excepted: a ReLU's zeros,
        whose δ below is 0 whichever gets it)."""
        if self.name != "maxpool2d":
            return False
        entries = np.stack([np.asarray(A[where], dtype=float) for _, _, where in self._offsets(layer)])
        ordered = np.sort(entries, axis=0)
        top, second = ordered[-1], ordered[-2]
        return bool(np.any((top - second < margin) & ~((top == 0) & (second == 0))))

    def backward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray,
                         delta: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The routing: each window's ∂E/∂A to its first maximum (max), or 1/(ph·pw) of it to every entry (mean)."""
        grad = np.zeros(A.shape, dtype=A.dtype)
        offsets = self._offsets(layer)
        if self.name == "avgpool2d":
            share = mean_share(layer.settings.pool)
            for _, _, where in offsets:
                grad[where] = grad[where] + delta * (share if A.dtype == object else float(share))
            return {}, grad
        best = A[offsets[0][2]]
        first = np.zeros(best.shape, dtype=int)
        for position, (_, _, where) in enumerate(offsets[1:], start=1):
            greater = A[where] > best  # strictly: at a tie the first maximum keeps it
            first = np.where(greater, position, first)
            best = np.where(greater, A[where], best)
        for position, (_, _, where) in enumerate(offsets):
            grad[where] = grad[where] + np.where(first == position, delta, 0)
        return {}, grad

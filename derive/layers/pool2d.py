"""Pooling layers: the derivative of a window's max or mean with respect to each entry, by SymPy.

For a pool of ph × pw with stride s, A[k, c, i, j] = max or mean over u < ph, v < pw of
A⁽ˡ⁻¹⁾[k, c, s·i + u, s·j + v]. The partial by the window's entry (u, v):

* max: SymPy differentiates Max(a₀₀, a₀₁, …) into a product of steps H(a_uv − a_u′v′) over the
  other entries: 1 for the window's maximum, 0 elsewhere. At a tie the derivative does not
  exist; the code routes δ to the first maximum in row-major order, as PyTorch does.
* mean: the sum (1/(ph·pw)) Σ_u Σ_v A⁽ˡ⁻¹⁾[…] differentiated by one entry gives 1/(ph·pw).

∂E/∂A⁽ˡ⁻¹⁾ then adds, over every window an entry lies in, δ times that partial (the routing).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from derive.naming import GENERIC

u, v, u2, v2 = sp.symbols("u v u' v'", integer=True)
PH, PW = sp.symbols("p_h p_w", integer=True, positive=True)


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

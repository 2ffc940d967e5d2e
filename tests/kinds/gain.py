"""gain: A⁽ˡ⁾ = c·A⁽ˡ⁻¹⁾ entry by entry, for a fixed number c (the spec's ``factor``); no parameters.

SymPy differentiates c·a by a: ∂A/∂A⁽ˡ⁻¹⁾ = c on each entry, so ∂E/∂A⁽ˡ⁻¹⁾ = c·∂E/∂A⁽ˡ⁾.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import numpy as np
import sympy as sp

from derive.errors import SpecError
from derive.layers.kind import LayerKind, Settings, Shape

a, c = sp.symbols("a c", real=True)


@dataclass(frozen=True)
class GainSpec(Settings):
    factor: float
    kind: ClassVar[str] = "gain"
    activation: ClassVar[None] = None
    init: ClassVar[str] = "auto"


@cache
def derive_gain() -> tuple[sp.Expr, sp.Expr]:
    """(the definition c·a, its derivative by a, as SymPy gives it)."""
    definition = c * a
    return definition, sp.diff(definition, a)


class GainKind(LayerKind):
    name = "gain"
    keys = ("factor",)
    needs = "flat"
    stage = "gain"
    story_module = "tests.kinds.gain_story"
    code_module = "tests.kinds.gain_code"

    def read(self, item: dict[str, Any], shape: Shape, path: str) -> tuple[GainSpec, Shape]:
        factor = item.get("factor")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor):
            raise SpecError(f"{path}.factor", f"expected a finite number, got {factor!r}")
        return GainSpec(float(factor)), shape

    def derive(self, settings: Settings) -> tuple[sp.Expr, sp.Expr]:
        return derive_gain()

    def verify(self, layer: Any) -> list[str]:
        """E = Σ g·(c·a) over a small instance: ∂E/∂a from the expanded E against the routing g·∂A/∂a."""
        _, derivative = derive_gain()
        entries = sp.symbols("a0:3", real=True)
        upstream = sp.symbols("g0:3", real=True)
        factor = sp.Rational(str(layer.settings.factor))
        E = sum(g * factor * x for g, x in zip(upstream, entries, strict=True))
        return [f"dE/d{x}" for g, x in zip(upstream, entries, strict=True)
                if sp.expand(sp.diff(E, x) - g * derivative.subs(c, factor)) != 0]

    def forward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray) -> np.ndarray:
        return A * _factor(layer, A)

    def backward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray,
                         delta: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        _, derivative = derive_gain()
        return {}, delta * _factor(layer, A, derivative)


def _factor(layer: Any, A: np.ndarray, expr: sp.Expr = c) -> object:
    value = expr.subs(c, sp.Rational(str(layer.settings.factor)))
    return value if A.dtype == object else float(value)

"""Where a derivative has a kink: the step function H and the choice H(0) = 0."""

from __future__ import annotations

import sympy as sp

from derive.naming import z
from derive.network import NetworkDerivation


def has_step_function(net: NetworkDerivation) -> bool:
    """Whether any layer's f′ (as the code evaluates it) uses the step function H."""
    return any(layer.backward is not None and layer.backward.has(sp.Heaviside) for layer in net.layers)


def one_sided_slopes(derivative: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """f′ just left and just right of z = 0 for an f′ that is a step function of z: (0, 1) for ReLU.

    None when the one-sided values are not finite numbers (then the document states the choice
    without them).
    """
    sides = []
    for value in (0, 1):
        side = derivative.replace(sp.Heaviside, lambda *args, value=value: sp.Integer(value)).subs(z, 0)
        if not (side.is_number and side.is_finite):
            return None
        sides.append(side)
    return sides[0], sides[1]

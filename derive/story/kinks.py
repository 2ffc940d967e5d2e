"""Where a derivative has a kink: the step function H and the choice H(0) = 0."""

from __future__ import annotations

import sympy as sp

from derive.naming import z
from derive.network import NetworkDerivation


def has_step_function(net: NetworkDerivation) -> bool:
    """Whether any layer's f′ (as the code evaluates it) uses the step function H."""
    return any(layer.backward is not None and layer.backward.has(sp.Heaviside) for layer in net.layers)


def one_sided_slopes(derivative: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(z₀, f′ just left of z₀, f′ just right of z₀) for an f′ whose step functions all switch at one z₀.

    Each step is H(c(z − z₀)) with c > 0, so it is 0 left of z₀ and 1 right of it: (0, 0, 1) for ReLU.
    None when the steps switch at several points, or in the other direction, or the one-sided values
    are not finite numbers (then the document states the choice H(0) = 0 without them).
    """
    points = set()
    for step in derivative.atoms(sp.Heaviside):
        argument = step.args[0]
        if not argument.is_polynomial(z) or sp.degree(argument, z) != 1:
            return None
        slope = sp.diff(argument, z)
        if not slope.is_positive:
            return None
        points.add(sp.solve(argument, z)[0])
    if len(points) != 1:
        return None
    (point,) = points
    sides = []
    for value in (0, 1):
        side = derivative.replace(sp.Heaviside, lambda *args, value=value: sp.Integer(value)).subs(z, point)
        if not (side.is_number and side.is_finite):
            return None
        sides.append(side)
    return point, sides[0], sides[1]

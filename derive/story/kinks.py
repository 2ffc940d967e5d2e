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


def jump(derivative: sp.Expr, variable: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr] | None:
    """(point, value left of it, value right of it, value taken at it) where ``derivative`` jumps.

    Only for a derivative whose steps and signs all switch where one argument, linear in
    ``variable`` and rising with it, is 0 (|a − y| for l1: at a = y, from −1 to 1, taking sign(0) = 0);
    None otherwise, or where both sides agree.
    """
    atoms = derivative.atoms(sp.Heaviside, sp.sign)
    arguments = {atom.args[0] for atom in atoms}
    if len(arguments) != 1:
        return None
    (argument,) = arguments
    if not argument.is_polynomial(variable) or sp.degree(argument, variable) != 1 \
            or not sp.diff(argument, variable).is_positive:
        return None
    point = sp.solve(argument, variable)[0]
    sides = []
    for heaviside, sign in ((0, -1), (1, 1)):
        value = derivative.replace(sp.Heaviside, lambda *args, v=heaviside: sp.Integer(v))
        sides.append(sp.simplify(value.replace(sp.sign, lambda *args, v=sign: sp.Integer(v)).subs(variable, point)))
    if sides[0] == sides[1]:
        return None
    return point, sides[0], sides[1], derivative.subs(variable, point)

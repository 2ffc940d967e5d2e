"""Where an activation's derivative is infinite or undefined: a real z at which SymPy's f′ gives
∞ or NaN (``sqrt(abs(z))`` at 0), for a warning before training meets it.

The points looked at are z = 0 and the real zeros of every expression f divides by, takes a
non-integer power, a log, an absolute value or a sign of; each zero is found by ``solveset``
within a short limit. A kink where f′ jumps but stays finite (``abs``, ``max``) is not reported:
the backward pass takes a one-sided slope there (:mod:`derive.elementwise`).
"""

from __future__ import annotations

import sympy as sp

from derive.bounded import within

SOLVE_SECONDS = 1.0
MAX_POINTS = 8  # per expression


def infinite_slope(expr: sp.Expr, z: sp.Symbol) -> sp.Expr | None:
    """A real z at which SymPy finds d expr/dz infinite or undefined, if it finds one."""
    derivative = sp.diff(expr, z)
    for point in sorted(_candidates(expr, z), key=sp.default_sort_key):
        value = derivative.subs(z, point)
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or value.is_finite is False:
            return point
    return None


def _candidates(expr: sp.Expr, z: sp.Symbol) -> set[sp.Expr]:
    inner: set[sp.Expr] = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and not (node.exp.is_integer and node.exp.is_nonnegative):
            inner.add(node.base)
        elif isinstance(node, (sp.log, sp.Abs, sp.sign)):
            inner.add(node.args[0])
    points: set[sp.Expr] = {sp.Integer(0)}
    for part in inner:
        if z not in part.free_symbols or within(lambda part=part: part.is_positive is True, False, SOLVE_SECONDS):
            continue
        zeros = within(lambda part=part: sp.solveset(part, z, sp.S.Reals), sp.S.EmptySet, SOLVE_SECONDS)
        if isinstance(zeros, sp.FiniteSet):
            points.update(point for point in list(zeros)[:MAX_POINTS] if point.is_real)
    return points

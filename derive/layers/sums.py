"""What the kinds with parameters share: a partial of the indexed definition by one entry, and the
chain-rule sum that collects it over every pre-activation the entry reaches.

For a layer with pre-activation Z and δ = ∂E/∂Z, an entry w (a weight, a bias, an input) has
∂E/∂w = Σ over every entry of Z of δ · ∂Z/∂w. SymPy differentiates the indexed sum that defines Z by
w, which gives Kronecker deltas, and carries out the sums over them; what is left is the gradient's
formula. SymPy adds a branch "0 where the index is out of range" as it sums a delta;
:func:`in_range` drops the conditions that always hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy as sp

from derive import naming
from derive.notation import Partial, SumOver


@dataclass(frozen=True)
class IndexedPartial:
    """∂Z/∂(one entry): ``raw`` as SymPy's diff gives it (a sum of Kronecker deltas), ``done`` summed."""

    wrt: sp.Indexed
    raw: sp.Expr
    done: sp.Expr


@dataclass(frozen=True)
class ChainSum:
    """One gradient entry by the chain rule: ``chain`` the sum of partials, ``substituted`` the same sum
    with δ and the derived partial put in (unevaluated), ``summed`` what SymPy carried it out to."""

    wrt: sp.Indexed
    chain: sp.Expr
    substituted: sp.Expr
    summed: sp.Expr

    @property
    def target(self) -> Partial:
        return Partial(naming.E, self.wrt)


def partial(definition: sp.Expr, wrt: sp.Indexed, always: frozenset[sp.Symbol] | None = None) -> IndexedPartial:
    """∂definition/∂wrt as SymPy differentiates it, and summed over its Kronecker deltas."""
    raw = sp.diff(definition, wrt)
    return IndexedPartial(wrt, raw, in_range(raw.doit(), always))


def chain_sum(partial: IndexedPartial, delta: sp.Indexed, z: sp.Indexed, limits: Iterable[tuple[sp.Expr, ...]],
              always: frozenset[sp.Symbol] | None = None) -> ChainSum:
    """Σ over ``limits`` (outermost first) of δ · ∂Z/∂(entry), and what SymPy sums it to."""
    limits = tuple(limits)
    chain = SumOver(Partial(naming.E, z) * Partial(z, partial.wrt), *limits)
    substituted = sp.Sum(delta * partial.done, *reversed(limits))  # SymPy lists the innermost sum first
    return ChainSum(partial.wrt, chain, substituted, in_range(substituted.doit(), always))


def in_range(expr: sp.Expr, always: frozenset[sp.Symbol] | None = None) -> sp.Expr:
    """``expr`` without the conditions SymPy adds for an index out of range where they always hold: a
    branch Piecewise((e, c₁ ∧ c₂ ∧ …), (0, True)) keeps only the clauses that involve a symbol not in
    ``always`` (a kernel offset that depends on the position, say), and is ``e`` when none is left.
    ``always`` None: every index runs over its full range, so every such condition holds."""
    def settle(piecewise: sp.Piecewise) -> sp.Expr:
        (value, condition), *rest = piecewise.args
        if not rest or rest[0] != (0, True):
            return piecewise
        kept = [] if always is None else [clause for clause in sp.And.make_args(condition)
                                          if not clause.free_symbols <= always]
        return sp.Piecewise((value, sp.And(*kept)), (0, True)) if kept else value
    previous = None
    while previous != expr:
        previous, expr = expr, expr.replace(lambda e: isinstance(e, sp.Piecewise), settle)
    return expr

"""The dense layer: its partials from the indexed sum, and the chain-rule sums as matrix products.

For a layer l (written generically; every dense layer is the same)::

    Z_kj = Σ_{i=1}^{d⁽ˡ⁻¹⁾} A⁽ˡ⁻¹⁾_ki W_ij + b_j          k = 1…n, j = 1…d⁽ˡ⁾

SymPy differentiates the sum by one entry W_pq, b_q and A⁽ˡ⁻¹⁾_k′p, which gives Kronecker
deltas ([i = p], printed as indicators), and sums them away. The chain rule then sums over
every Z_kj a parameter reaches, with δ_kj = ∂E/∂Z_kj::

    ∂E/∂W_pq = Σ_k Σ_j δ_kj ∂Z_kj/∂W_pq,   ∂E/∂b_q = Σ_k Σ_j δ_kj ∂Z_kj/∂b_q,
    ∂E/∂A⁽ˡ⁻¹⁾_kp = Σ_k′ Σ_j δ_k′j ∂Z_k′j/∂A⁽ˡ⁻¹⁾_kp,

SymPy carries out each sum, and its array-expression conversion
(``convert_indexed_to_array`` then ``convert_array_to_matrix``) recognises what is left as a
matrix product: A⁽ˡ⁻¹⁾ᵀδ, 𝟏ᵀδ and δWᵀ. Nothing of the matrix form is typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy.tensor.array.expressions import convert_array_to_matrix, convert_indexed_to_array

from derive import naming
from derive.naming import GENERIC, i, j, k, k2, n, p, q
from derive.notation import EntryOf, Partial, Plus, SumOver

_ROW = sp.Symbol("r", integer=True)  # the single column index of 𝟏, n × 1


@dataclass(frozen=True)
class IndexedPartial:
    """∂Z_kj/∂(one entry): ``raw`` as SymPy's diff gives it (a sum of indicators), ``done`` summed."""

    wrt: sp.Indexed
    raw: sp.Expr
    done: sp.Expr


@dataclass(frozen=True)
class ChainSum:
    """One gradient entry: the chain-rule sum, its steps, and the matrix product it equals."""

    target: sp.Expr  # ∂E/∂W_pq
    chain: sp.Expr  # Σ_k Σ_j ∂E/∂Z_kj ∂Z_kj/∂W_pq
    substituted: sp.Expr  # the sum with δ and the partial put in
    summed: sp.Expr  # after SymPy summed the indicators away
    matrix: sp.MatrixExpr  # the matrix whose (free indices) entry that is
    entry: sp.Expr  # EntryOf(matrix, free indices)


@dataclass(frozen=True)
class AffineDerivation:
    definition: sp.Expr  # Σ_i A_ki W_ij + b_j
    written: sp.Expr  # the same, as notation in the written order
    weight: IndexedPartial
    bias: IndexedPartial
    input: IndexedPartial
    weight_sum: ChainSum
    bias_sum: ChainSum
    input_sum: ChainSum


def _bases() -> tuple[sp.IndexedBase, ...]:
    return tuple(sp.IndexedBase(GENERIC[role]) for role in ("A_prev", "W", "b", "Z", "delta"))


@lru_cache(maxsize=1)
def derive_affine() -> AffineDerivation:
    """The dense layer's partials and sums, derived once (they hold for every dense layer)."""
    A, W, b, Z, D = _bases()
    fan_in, units = GENERIC["width_prev"], GENERIC["width"]
    definition = sp.Sum(A[k, i] * W[i, j], (i, 1, fan_in)) + b[j]
    weight, bias, inputs = (_partial(definition, wrt) for wrt in (W[p, q], b[q], A[k2, p]))
    over_samples_and_units = ((k, 1, n), (j, 1, units))  # outer to inner: the indicator's index innermost
    weight_sum = _chain_sum(weight, D[k, j], Z[k, j], over_samples_and_units, (p, q))
    bias_sum = _chain_sum(bias, D[k, j], Z[k, j], over_samples_and_units, (q,))
    input_sum = _chain_sum(_renamed(inputs), D[k2, j], Z[k2, j], ((j, 1, units), (k2, 1, n)), (k, p))
    written = Plus(sp.Sum(A[k, i] * W[i, j], (i, 1, fan_in)), b[j])
    return AffineDerivation(definition, written, weight, bias, inputs, weight_sum, bias_sum, input_sum)


def _partial(definition: sp.Expr, wrt: sp.Indexed) -> IndexedPartial:
    raw = sp.diff(definition, wrt)
    return IndexedPartial(wrt, raw, in_range(raw.doit()))


def _renamed(partial: IndexedPartial) -> IndexedPartial:
    """∂Z_kj/∂A_k′p written as ∂Z_k′j/∂A_kp: the gradient entry keeps the free index k."""
    swap = {k: k2, k2: k}
    return IndexedPartial(partial.wrt.subs(swap, simultaneous=True), partial.raw.subs(swap, simultaneous=True),
                          partial.done.subs(swap, simultaneous=True))


def _chain_sum(partial: IndexedPartial, delta: sp.Indexed, z: sp.Indexed,
               limits: tuple[tuple[sp.Expr, ...], ...], free: tuple[sp.Symbol, ...]) -> ChainSum:
    target = Partial(naming.E, partial.wrt)
    chain = SumOver(Partial(naming.E, z) * Partial(z, partial.wrt), *limits)
    body = delta * partial.done
    substituted = sp.Sum(body, *reversed(limits))  # SymPy lists the innermost sum first
    summed = in_range(substituted.doit())
    matrix = as_matrix(summed, free)
    return ChainSum(target, chain, substituted, summed, matrix, EntryOf(matrix, *free))


def in_range(expr: sp.Expr) -> sp.Expr:
    """Drop the "index out of range" branch SymPy adds when it sums an indicator: every index
    here runs over its full range (1 ≤ p ≤ d⁽ˡ⁻¹⁾, …), so the first branch always holds."""
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)


def as_matrix(summed: sp.Expr, free: tuple[sp.Symbol, ...]) -> sp.MatrixExpr:
    """The matrix expression M with ``summed`` = M[free], found by SymPy's array conversion.

    Entries become entries of matrix symbols of the right shapes and each sum runs from 0, as
    the conversion expects; a single free index is a row of M = 𝟏ᵀ(…), 𝟏 being n × 1.
    """
    shapes = {GENERIC["A_prev"]: (n, GENERIC["width_prev"]), GENERIC["W"]: (GENERIC["width_prev"], GENERIC["width"]),
              GENERIC["delta"]: (n, GENERIC["width"]), GENERIC["b"]: (1, GENERIC["width"])}
    matrices = {symbol: sp.MatrixSymbol(symbol.name, *shape) for symbol, shape in shapes.items()}

    def to_matrix(entry: sp.Indexed) -> sp.Expr:
        return matrices[entry.base.label][entry.indices]

    expr = summed.replace(lambda e: isinstance(e, sp.Indexed), to_matrix)
    expr = expr.replace(lambda e: isinstance(e, sp.Sum),
                        lambda e: sp.Sum(e.function, *((x, lo - 1, hi - 1) for x, lo, hi in e.limits)))
    indices = list(free)
    if len(free) == 1:
        ones = sp.MatrixSymbol(naming.ONES.name, n, 1)
        expr = expr.replace(lambda e: isinstance(e, sp.Sum),
                            lambda e: sp.Sum(ones[e.limits[0][0], _ROW] * e.function, *e.limits))
        indices = [_ROW, *free]
    return convert_array_to_matrix(convert_indexed_to_array(expr, first_indices=indices))


def for_layer(matrix: sp.MatrixExpr, layer: int) -> sp.MatrixExpr:
    """A matrix form of the general layer l written for ``layer``: A⁽ˡ⁻¹⁾ᵀδ⁽ˡ⁾ → A⁽¹⁾ᵀδ⁽²⁾."""
    names = {GENERIC["A_prev"].name: naming.A(layer - 1), GENERIC["W"].name: naming.W(layer),
             GENERIC["b"].name: naming.b(layer), GENERIC["delta"].name: naming.delta(layer)}
    return matrix.xreplace({symbol: naming.matrix(names[symbol.name]) for symbol in matrix.atoms(sp.MatrixSymbol)
                            if symbol.name in names})

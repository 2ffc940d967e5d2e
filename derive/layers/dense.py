"""The dense layer: its spec fields, its partials from the indexed sum, and the chain-rule sums as matrix products.

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

Spec fields: ``units`` (required), ``activation`` (default identity), ``init``. Its input is a flat
vector; W has shape (fan_in, units), b (units,).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import sympy as sp
from sympy.tensor.array.expressions import convert_array_to_matrix, convert_indexed_to_array

from derive import naming
from derive.errors import SpecError
from derive.layers.kind import LayerKind, Settings, Shape
from derive.layers.sums import ChainSum, IndexedPartial, chain_sum, partial
from derive.naming import GENERIC, i, j, k, k2, n, p, q
from derive.notation import EntryOf, Plus
from derive.rules import ActivationRule

_ROW = sp.Symbol("r", integer=True)  # the single column index of 𝟏, n × 1


@dataclass(frozen=True)
class DenseSpec(Settings):
    """Z = A⁽ˡ⁻¹⁾W + 𝟏b, A = f(Z)."""

    units: int
    activation: ActivationRule
    init: str = "auto"
    kind: ClassVar[str] = "dense"


@dataclass(frozen=True)
class MatrixSum(ChainSum):
    """A chain-rule sum and the matrix product whose entry (at the free indices) it is."""

    matrix: sp.MatrixExpr
    entry: sp.Expr  # EntryOf(matrix, free indices)


@dataclass(frozen=True)
class AffineDerivation:
    definition: sp.Expr  # Σ_i A_ki W_ij + b_j
    written: sp.Expr  # the same, as notation in the written order
    weight: IndexedPartial
    bias: IndexedPartial
    input: IndexedPartial
    weight_sum: MatrixSum
    bias_sum: MatrixSum
    input_sum: MatrixSum


def _bases() -> tuple[sp.IndexedBase, ...]:
    return tuple(sp.IndexedBase(GENERIC[role]) for role in ("A_prev", "W", "b", "Z", "delta"))


@lru_cache(maxsize=1)
def derive_affine() -> AffineDerivation:
    """The dense layer's partials and sums, derived once (they hold for every dense layer)."""
    A, W, b, Z, D = _bases()
    fan_in, units = GENERIC["width_prev"], GENERIC["width"]
    definition = sp.Sum(A[k, i] * W[i, j], (i, 1, fan_in)) + b[j]
    weight, bias, inputs = (partial(definition, wrt) for wrt in (W[p, q], b[q], A[k2, p]))
    over_samples_and_units = ((k, 1, n), (j, 1, units))  # outer to inner: the indicator's index innermost
    weight_sum = _matrix_sum(weight, D[k, j], Z[k, j], over_samples_and_units, (p, q))
    bias_sum = _matrix_sum(bias, D[k, j], Z[k, j], over_samples_and_units, (q,))
    input_sum = _matrix_sum(_renamed(inputs), D[k2, j], Z[k2, j], ((j, 1, units), (k2, 1, n)), (k, p))
    written = Plus(sp.Sum(A[k, i] * W[i, j], (i, 1, fan_in)), b[j])
    return AffineDerivation(definition, written, weight, bias, inputs, weight_sum, bias_sum, input_sum)


def _renamed(indexed: IndexedPartial) -> IndexedPartial:
    """∂Z_kj/∂A_k′p written as ∂Z_k′j/∂A_kp: the gradient entry keeps the free index k."""
    swap = {k: k2, k2: k}
    return IndexedPartial(indexed.wrt.subs(swap, simultaneous=True), indexed.raw.subs(swap, simultaneous=True),
                          indexed.done.subs(swap, simultaneous=True))


def _matrix_sum(indexed: IndexedPartial, delta: sp.Indexed, z: sp.Indexed,
                limits: tuple[tuple[sp.Expr, ...], ...], free: tuple[sp.Symbol, ...]) -> MatrixSum:
    summed = chain_sum(indexed, delta, z, limits)
    matrix = as_matrix(summed.summed, free)
    return MatrixSum(summed.wrt, summed.chain, summed.substituted, summed.summed, matrix, EntryOf(matrix, *free))


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


def evaluate(matrix: sp.MatrixExpr, arrays: dict[str, np.ndarray], samples: int) -> np.ndarray:
    """A matrix form (products, transposes, 𝟏) evaluated on ``arrays``, keyed by the matrix symbols' names."""
    if isinstance(matrix, sp.MatMul):
        result = None
        for factor in matrix.args:
            value = evaluate(factor, arrays, samples)
            result = value if result is None else result @ value
        return result  # type: ignore[return-value]
    if isinstance(matrix, sp.Transpose):
        return evaluate(matrix.arg, arrays, samples).T
    if matrix.name == naming.ONES.name:
        return np.ones((samples, 1))
    return arrays[matrix.name]


class DenseKind(LayerKind):
    name = "dense"
    keys = ("units", "activation", "init")
    needs = "flat"
    has_parameters = True
    can_be_output = True
    stage = "dense"

    def read(self, item: dict[str, Any], shape: Shape, path: str) -> tuple[DenseSpec, Shape]:
        from derive.spec import INITS, MAX_UNITS, activation_rule, choice, integer

        if len(shape) != 1:
            raise SpecError(f"{path}.type", f"a dense layer needs a flat input, got shape {list(shape)}; "
                                            'add a layer with type = "flatten" before it')
        if "units" not in item:
            raise SpecError(f"{path}.units", "missing (required)")
        units = integer(item["units"], f"{path}.units", 1, MAX_UNITS)
        rule = activation_rule(item.get("activation", "identity"), f"{path}.activation")
        return DenseSpec(units, rule, choice(item.get("init", "auto"), f"{path}.init", INITS)), (units,)

    def derive(self, settings: Settings) -> AffineDerivation:
        return derive_affine()

    def fans(self, settings: Settings, in_shape: Shape, out_shape: Shape) -> tuple[int, int]:
        return in_shape[0], out_shape[0]

    def parameter_shapes(self, settings: Settings, in_shape: Shape, out_shape: Shape) -> dict[str, Shape]:
        return {"W": (in_shape[0], out_shape[0]), "b": (out_shape[0],)}

    def forward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray) -> np.ndarray:
        return A @ params["W"] + params["b"]  # the definition Z = A⁽ˡ⁻¹⁾W + 𝟏b, b a row

    def backward_numbers(self, layer: Any, params: dict[str, np.ndarray], A: np.ndarray,
                         delta: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The derived matrix forms A⁽ˡ⁻¹⁾ᵀδ, 𝟏ᵀδ and δWᵀ, evaluated."""
        d = derive_affine()
        arrays = {GENERIC["A_prev"].name: A, GENERIC["W"].name: params["W"], GENERIC["delta"].name: delta}
        samples = A.shape[0]
        grads = {"W": evaluate(d.weight_sum.matrix, arrays, samples),
                 "b": evaluate(d.bias_sum.matrix, arrays, samples).reshape(-1)}  # 𝟏ᵀδ, a row
        return grads, evaluate(d.input_sum.matrix, arrays, samples)

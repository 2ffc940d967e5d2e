"""The conv2d layer: its partials from the indexed definition, and the chain-rule sums.

For a layer l with stride s and padding p (written for one stride and padding on both axes;
the code takes (sh, sw) and (ph, pw) alike)::

    Z[k, f, i, j] = b[f] + Σ_{c<C} Σ_{u<kh} Σ_{v<kw} W[f, c, u, v] · A⁽ˡ⁻¹⁾[k, c, s·i + u − p, s·j + v − p]

(indices from 0, as in the code; an entry of A⁽ˡ⁻¹⁾ outside the image is the zero padding).
SymPy differentiates the sum by one entry W[g, c′, u′, v′], b[g] and A⁽ˡ⁻¹⁾[k′, c′, y, x]: the
Kronecker deltas it gives are summed away. The chain rule, with δ[k, f, i, j] = ∂E/∂Z[k, f, i, j],
then sums over every Z a parameter reaches; SymPy carries out the sums over the deltas and
leaves::

    ∂E/∂W[g, c′, u′, v′] = Σ_k Σ_i Σ_j δ[k, g, i, j] A⁽ˡ⁻¹⁾[k, c′, s·i + u′ − p, s·j + v′ − p]
                           (a correlation of the layer input with δ)
    ∂E/∂b[g]             = Σ_k Σ_i Σ_j δ[k, g, i, j]
    ∂E/∂A⁽ˡ⁻¹⁾[k′, c′, y, x] = Σ_f Σ_i Σ_j δ[k′, f, i, j] W[f, c′, y − s·i + p, x − s·j + p]
                           over the (i, j) where the kernel index is inside the kernel
                           (a full convolution of δ with the flipped kernel, for s = 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from derive.affine import IndexedPartial
from derive.naming import GENERIC

# Indices: sample k, filter f, output position (i, j), channel c, kernel offset (u, v);
# primed: the entry differentiated by; (y, x) a position of the layer input.
k, f, i, j, c, u, v = sp.symbols("k f i j c u v", integer=True)
k2, g, c2, u2, v2, y, x = sp.symbols("k' g c' u' v' y x", integer=True)
CHANNELS, FILTERS, SAMPLES = sp.symbols("C F n", integer=True, positive=True)
KH, KW = sp.symbols("k_h k_w", integer=True, positive=True)
HO, WO = sp.symbols("H_o W_o", integer=True, positive=True)  # output height and width
s, p = sp.Symbol("s", integer=True, positive=True), sp.Symbol("p", integer=True, nonnegative=True)
FULL_RANGE = frozenset({k2, g, c2, u2, v2, CHANNELS, FILTERS, SAMPLES, KH, KW})  # indices that always lie in range


@dataclass(frozen=True)
class ChainSum:
    """One gradient entry: Σ δ · ∂Z/∂(entry) over the Z it reaches, and what SymPy summed it to."""

    wrt: sp.Indexed
    substituted: sp.Expr  # Σ … δ[k, f, i, j] ∂Z[k, f, i, j]/∂(entry), unevaluated
    summed: sp.Expr


@dataclass(frozen=True)
class ConvDerivation:
    definition: sp.Expr
    weight: IndexedPartial
    bias: IndexedPartial
    input: IndexedPartial
    weight_sum: ChainSum
    bias_sum: ChainSum
    input_sum: ChainSum


def bases() -> tuple[sp.IndexedBase, ...]:
    """A⁽ˡ⁻¹⁾, W⁽ˡ⁾, b⁽ˡ⁾, Z⁽ˡ⁾, δ⁽ˡ⁾ as indexed bases, in the notation of a general layer."""
    return tuple(sp.IndexedBase(GENERIC[role]) for role in ("A_prev", "W", "b", "Z", "delta"))


def definition(stride: sp.Expr = s, pad: sp.Expr = p, channels: sp.Expr = CHANNELS,
               kernel: tuple[sp.Expr, sp.Expr] = (KH, KW)) -> sp.Expr:
    """Z[k, f, i, j] as the indexed sum (for symbolic or given stride, padding and sizes)."""
    A, W, b, _, _ = bases()
    return b[f] + sp.Sum(W[f, c, u, v] * A[k, c, stride * i + u - pad, stride * j + v - pad],
                         (v, 0, kernel[1] - 1), (u, 0, kernel[0] - 1), (c, 0, channels - 1))


@lru_cache(maxsize=1)
def derive_conv2d() -> ConvDerivation:
    """The conv layer's partials and chain-rule sums, derived once (they hold for every conv layer)."""
    A, W, b, _, D = bases()
    z = definition()
    weight, bias, inputs = (_partial(z, wrt) for wrt in (W[g, c2, u2, v2], b[g], A[k2, c2, y, x]))
    # Innermost first, as sp.Sum lists them: the index of the Kronecker delta innermost, so SymPy sums it away.
    positions = ((j, 0, WO - 1), (i, 0, HO - 1))
    filters, samples = (f, 0, FILTERS - 1), (k, 0, SAMPLES - 1)
    weight_sum = _chain(weight, D[k, f, i, j], (filters, *positions, samples))
    bias_sum = _chain(bias, D[k, f, i, j], (filters, *positions, samples))
    input_sum = _chain(inputs, D[k, f, i, j], (samples, *positions, filters))
    return ConvDerivation(z, weight, bias, inputs, weight_sum, bias_sum, input_sum)


def _partial(z: sp.Expr, wrt: sp.Indexed) -> IndexedPartial:
    raw = sp.diff(z, wrt)
    return IndexedPartial(wrt, raw, in_range(raw.doit()))


def _chain(partial: IndexedPartial, delta: sp.Indexed, limits: tuple[tuple[sp.Expr, ...], ...]) -> ChainSum:
    substituted = sp.Sum(delta * partial.done, *limits)
    return ChainSum(partial.wrt, substituted, in_range(substituted.doit()))


def in_range(expr: sp.Expr) -> sp.Expr:
    """Drop the branches SymPy adds for an index out of range where the index always lies in range
    (c′ < C, g < F, …); keep those that depend on the position (the kernel's edge in ∂Z/∂A)."""
    def settle(piecewise: sp.Piecewise) -> sp.Expr:
        (value, condition), *rest = piecewise.args
        if not rest or rest[0] != (0, True):
            return piecewise
        kept = [clause for clause in sp.And.make_args(condition) if not clause.free_symbols <= FULL_RANGE]
        return sp.Piecewise((value, sp.And(*kept)), (0, True)) if kept else value
    previous = None
    while previous != expr:
        previous, expr = expr, expr.replace(lambda e: isinstance(e, sp.Piecewise), settle)
    return expr

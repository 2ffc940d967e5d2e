"""∂A/∂Z for softmax, which is not elementwise, and its contraction with ∂E/∂A.

softmax: A_j = e^{Z_j} / Σ_k e^{Z_k} over the outputs of one sample. SymPy derives

* the Jacobian, from the indexed definition: ∂A_j/∂Z_i = A_j (δ_ij − A_i), i.e.
  diag(A) − A Aᵀ, proved entry by entry on a K-output instance;
* the contraction δ_i = Σ_j ∂E/∂A_j · ∂A_j/∂Z_i = A_i (G_i − Σ_j A_j G_j) with G = ∂E/∂A,
  proved on the instance from the Jacobian SymPy derived;
* the collapse: with Σ_j A_j = 1 and, for a loss on distributions, Σ_j Y_j = 1, the
  contraction may become elementwise. For cross_entropy, G_j = −Y_j/A_j, so
  δ_i = −Y_i + A_i Σ_j Y_j = A_i − Y_i.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.bounded import NotProvedError, cached, within
from derive.loss import LossDerivation
from derive.naming import a, y
from derive.stable import is_zero

INSTANCE_SIZE = 3


@dataclass(frozen=True)
class SoftmaxDerivation:
    indexed_definition: sp.Expr  # e^{z_j} / Σ_k e^{z_k}
    indexed_jacobian: sp.Expr  # diff(indexed_definition, z_i) as SymPy gives it
    jacobian: sp.Expr  # s_j (δ_ij − s_i), proved on the instance
    contraction_instance: sp.Expr  # δ_1 on the K-instance, in s_j and y_j
    collapsed: sp.Expr | None  # h(a, y) with δ_i = h(A_i, Y_i), when the contraction collapses
    uses_target_sum: bool  # the collapse needs Σ_j Y_j = 1


i, j, k = sp.symbols("i j k", integer=True)
K = sp.Symbol("K", integer=True, positive=True)
zi = sp.IndexedBase("Z")
si = sp.IndexedBase("A")


@cached(maxsize=64)
def derive_softmax(loss: LossDerivation) -> SoftmaxDerivation:
    indexed = sp.exp(zi[j]) / sp.Sum(sp.exp(zi[k]), (k, 1, K))
    indexed_jacobian = sp.diff(indexed, zi[i])
    zs = sp.symbols(f"z1:{INSTANCE_SIZE + 1}", real=True)
    total = sum(sp.exp(v) for v in zs)
    soft = [sp.exp(v) / total for v in zs]
    for row in range(INSTANCE_SIZE):
        for col in range(INSTANCE_SIZE):
            claim = soft[col] * (sp.KroneckerDelta(row, col) - soft[row])
            if not is_zero(sp.diff(soft[col], zs[row]) - claim):  # pragma: no cover
                raise AssertionError("softmax Jacobian is not diag(s) - s s^T")
    jacobian = si[j] * (sp.KroneckerDelta(i, j) - si[i])
    s = sp.symbols(f"s1:{INSTANCE_SIZE + 1}", positive=True)
    ys = sp.symbols(f"y1:{INSTANCE_SIZE + 1}", real=True)
    g = [loss.gradient.subs({a: s[m], y: ys[m]}) for m in range(INSTANCE_SIZE)]
    deltas = [sum(g[m] * s[m] * (sp.KroneckerDelta(m, row) - s[row]) for m in range(INSTANCE_SIZE))
              for row in range(INSTANCE_SIZE)]
    # The general vector form, proved on the instance with the real softmax substituted.
    real = {s[m]: soft[m] for m in range(INSTANCE_SIZE)}
    for row in range(INSTANCE_SIZE):
        from_diff = sum(loss.gradient.subs({a: soft[m], y: ys[m]}) * sp.diff(soft[m], zs[row])
                        for m in range(INSTANCE_SIZE))
        if not is_zero(from_diff - deltas[row].subs(real)):
            raise NotProvedError("SymPy could not prove the softmax contraction of this loss's gradient")
    contraction_instance = within(lambda: sp.simplify(deltas[0]), deltas[0])
    collapsed, uses_target_sum = _collapse(deltas, s, ys, loss.rule.targets == "distribution")
    return SoftmaxDerivation(indexed, indexed_jacobian, jacobian, contraction_instance, collapsed, uses_target_sum)


def _collapse(deltas: list[sp.Expr], s: tuple[sp.Symbol, ...], ys: tuple[sp.Symbol, ...],
              distribution: bool) -> tuple[sp.Expr | None, bool]:
    """h(a, y) with δ_i = h(s_i, y_i) for every i, using Σ s = 1 (and Σ y = 1 for distributions)."""
    last = INSTANCE_SIZE - 1
    constraints = [{s[last]: 1 - sum(s[:last])}]
    if distribution:
        constraints.append({s[last]: 1 - sum(s[:last]), ys[last]: 1 - sum(ys[:last])})
    for constraint in constraints:
        first = within(lambda constraint=constraint: sp.simplify(sp.expand(deltas[0].subs(constraint))), None)
        if first is None:
            continue
        if not first.free_symbols <= {s[0], ys[0]}:
            continue
        h = first.subs({s[0]: a, ys[0]: y})
        if all(is_zero((deltas[row] - h.subs({a: s[row], y: ys[row]})).subs(constraint))
               for row in range(1, last)):
            return h, ys[last] in constraint
    return None, False

"""∂A/∂Z for softmax, which is not elementwise, and its contraction with ∂ℓ/∂a.

Within one sample, with classes c = 1…K, z_c = Z⁽ᴸ⁾_kc and a_c = A⁽ᴸ⁾_kc::

    a_c = e^{z_c} / Σ_{c″} e^{z_c″}

SymPy differentiates the indexed definition by z_c′ and sums the indicator away; rewritten
in a, the Jacobian is a_c([c = c′] − a_c′) (proved entry by entry on a K = 3 instance).
The chain rule for one z_c sums over every output of the sample::

    ∂e/∂z_c = Σ_c′ ∂ℓ/∂a (a_c′, y_c′) · a_c′([c′ = c] − a_c)        (e = Σ_c′ ℓ(a_c′, y_c′))

SymPy expands and carries out that sum. When the loss lets it (cross_entropy), what remains
collapses to an elementwise formula using Σ_c′ a_c′ = 1 and Σ_c′ y_c′ = 1, e.g. a_c − y_c;
``uses_target_sum`` says whether the targets' sum was needed. The collapse is proved on the
instance too.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.simplify.simplify import factor_sum

from derive.bounded import NotProvedError, cached, required, within
from derive.layers.sums import in_range
from derive.loss import LossDerivation
from derive.naming import K, a, c, c2, c3, y, z
from derive.notation import SumOver, Times
from derive.stable import is_zero

INSTANCE_SIZE = 3

zs_, as_, ys_ = sp.IndexedBase(z), sp.IndexedBase(a), sp.IndexedBase(y)


@dataclass(frozen=True)
class SoftmaxDerivation:
    indexed_definition: sp.Expr  # a_c = e^{z_c} / Σ_c″ e^{z_c″}
    indexed_jacobian: sp.Expr  # ∂a_c/∂z_c′ as diff gives it
    summed_jacobian: sp.Expr  # after the indicator sum
    jacobian: sp.Expr  # a_c([c = c′] − a_c′), proved on the instance
    written: sp.Expr  # Σ_c′ ∂ℓ/∂a(a_c′, y_c′) · a_c′([c′ = c] − a_c), as notation (nothing cancelled)
    contraction: sp.Expr  # the same sum as SymPy forms it
    contracted: sp.Expr  # after SymPy carried out the sum
    collapsed: sp.Expr | None  # h(a, y) with ∂e/∂z_c = h(a_c, y_c), when the contraction collapses
    uses_target_sum: bool  # the collapse needs Σ_c′ y_c′ = 1


@cached(maxsize=64)
def derive_softmax(loss: LossDerivation) -> SoftmaxDerivation:
    total = sp.Sum(sp.exp(zs_[c3]), (c3, 1, K))
    indexed = sp.exp(zs_[c]) / total
    indexed_jacobian = sp.diff(indexed, zs_[c2])
    summed = in_range(indexed_jacobian.doit())
    S = sp.Dummy("S", positive=True)
    in_a = summed.subs(total, S).subs({sp.exp(zs_[c]): as_[c] * S, sp.exp(zs_[c2]): as_[c2] * S})
    jacobian = sp.factor(sp.cancel(in_a))
    with required():  # proofs and the collapse the code relies on: never cut by the optional share
        _prove_jacobian(jacobian)
        deltas, s, ys = _instance(loss)
        collapsed, uses_target_sum = _collapse(deltas, s, ys, loss.rule.targets == "distribution")
    gradient = loss.gradient.subs({a: as_[c2], y: ys_[c2]})
    swapped = jacobian.subs({c: c2, c2: c}, simultaneous=True)
    written = SumOver(Times(gradient, swapped), (c2, 1, K))
    contraction = sp.Sum(gradient * swapped, (c2, 1, K))
    contracted = _carried_out(contraction)
    return SoftmaxDerivation(indexed, indexed_jacobian, summed, jacobian, written, contraction, contracted,
                             collapsed, uses_target_sum)


def _carried_out(contraction: sp.Sum) -> sp.Expr:
    """The contraction with its indicator summed away and factors free of c′ pulled out."""
    def inner(expr: sp.Expr) -> sp.Expr:
        body, limits = sp.expand(expr.function), expr.limits
        return sp.Add(*(sp.Sum(term, *limits) for term in sp.Add.make_args(body)))
    expanded = contraction.replace(lambda e: isinstance(e, sp.Sum), inner)
    done = in_range(within(lambda: expanded.doit(), expanded))
    return done.replace(lambda e: isinstance(e, sp.Sum), factor_sum)


def _prove_jacobian(jacobian: sp.Expr) -> None:
    """a_c([c = c′] − a_c′) against diff of the softmax of K = 3 entries, entry by entry."""
    zs = sp.symbols(f"z1:{INSTANCE_SIZE + 1}", real=True)
    total = sum(sp.exp(v) for v in zs)
    soft = [sp.exp(v) / total for v in zs]
    for row in range(INSTANCE_SIZE):
        for col in range(INSTANCE_SIZE):
            claim = jacobian.subs({c: row, c2: col}).subs({as_[row]: soft[row], as_[col]: soft[col]})
            if not is_zero(sp.diff(soft[row], zs[col]) - claim):  # pragma: no cover - SymPy broke
                raise NotProvedError("the softmax Jacobian could not be proved on the instance")


def _instance(loss: LossDerivation) -> tuple[list[sp.Expr], tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """δ_c of one sample on K = 3 outputs in a_c, y_c, proved against diff of the real softmax."""
    zs = sp.symbols(f"z1:{INSTANCE_SIZE + 1}", real=True)
    total = sum(sp.exp(v) for v in zs)
    soft = [sp.exp(v) / total for v in zs]
    s = sp.symbols(f"s1:{INSTANCE_SIZE + 1}", positive=True)
    ys = sp.symbols(f"y1:{INSTANCE_SIZE + 1}", real=True)
    g = [loss.gradient.subs({a: s[m], y: ys[m]}) for m in range(INSTANCE_SIZE)]
    deltas = [sum(g[m] * s[m] * (sp.KroneckerDelta(m, row) - s[row]) for m in range(INSTANCE_SIZE))
              for row in range(INSTANCE_SIZE)]
    real = {s[m]: soft[m] for m in range(INSTANCE_SIZE)}
    for row in range(INSTANCE_SIZE):
        from_diff = sum(loss.gradient.subs({a: soft[m], y: ys[m]}) * sp.diff(soft[m], zs[row])
                        for m in range(INSTANCE_SIZE))
        if not is_zero(from_diff - deltas[row].subs(real)):
            raise NotProvedError("SymPy could not prove the softmax contraction of this loss's gradient")
    return deltas, s, ys


def _collapse(deltas: list[sp.Expr], s: tuple[sp.Symbol, ...], ys: tuple[sp.Symbol, ...],
              distribution: bool) -> tuple[sp.Expr | None, bool]:
    """h(a, y) with δ_c = h(s_c, y_c) for every c, using Σ s = 1 (and Σ y = 1 for distributions)."""
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

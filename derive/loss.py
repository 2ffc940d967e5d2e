"""∂E/∂A from the loss: E = c · Σ_k Σ_j ℓ(A_kj, Y_kj), so ∂E/∂A_kj = c · ∂ℓ/∂a (A_kj, Y_kj).

``c`` is 1/J for a loss that averages over the J outputs (mse) times 1/n for
``reduction = "mean"``. SymPy differentiates ℓ; nothing is typed in. For sse,
ℓ = ½(a − y)² gives ∂ℓ/∂a = a − y: the ½ cancels the 2 of the power rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.bounded import cached, within
from derive.naming import a
from derive.rules import LossRule
from derive.stable import tidy

n = sp.Symbol("n", positive=True, integer=True)  # samples in the batch


@dataclass(frozen=True)
class LossDerivation:
    rule: LossRule
    element: sp.Expr  # ℓ(a, y)
    derivative: sp.Expr  # ∂ℓ/∂a as diff gives it
    gradient: sp.Expr  # ∂ℓ/∂a simplified


@cached(maxsize=64)
def derive_loss(rule: LossRule) -> LossDerivation:
    element = rule.element()
    derivative = sp.diff(element, a)
    candidates = [within(lambda: tidy(sp.factor(sp.cancel(derivative))), derivative), derivative,
                  within(lambda: sp.simplify(derivative), derivative)]
    gradient = min(candidates, key=lambda form: len(str(form)))
    return LossDerivation(rule, element, derivative, gradient)


def scale(rule: LossRule, reduction: str, outputs: int) -> sp.Expr:
    """c in E = c · Σ_k Σ_j ℓ: 1/J for an output mean, times 1/n for a mean over samples."""
    factor: sp.Expr = sp.Integer(1)
    if rule.output_mean:
        factor /= outputs
    if reduction == "mean":
        factor /= n
    return factor

"""∂E/∂A from the loss: E = c · Σ_k Σ_j ℓ(A_kj, Y_kj), so ∂E/∂A_kj = c · ∂ℓ/∂a (A_kj, Y_kj).

``c`` is 1/J for a loss that averages over the J outputs (mse) times 1/n for
``reduction = "mean"``. SymPy differentiates ℓ; nothing is typed in. For sse,
ℓ = ½(a − y)² gives ∂ℓ/∂a = a − y: the ½ cancels the 2 of the power rule.

ℓ and ∂ℓ/∂a are evaluated in the code in a form that does not overflow where one is known
(log cosh d as |d| + log1p(e^{−2|d|}) − log 2, :mod:`derive.stable`), each proved equal
by SymPy. Where ∂ℓ/∂a has a step H, H(0) = 0 takes the value from the left (smaller a),
as for activations; sign(0) = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.bounded import cached, within
from derive.elementwise import at_kinks, kink_statement
from derive.naming import a, m, n
from derive.rules import LossRule
from derive.stable import proved_equal, stabilize, tidy, tidy_steps


@dataclass(frozen=True)
class LossDerivation:
    rule: LossRule
    element: sp.Expr  # ℓ(a, y)
    derivative: sp.Expr  # ∂ℓ/∂a as diff gives it
    gradient: sp.Expr  # ∂ℓ/∂a simplified
    evaluated: sp.Expr  # ℓ as the code evaluates it (proved equal to element; element itself if no rewrite)
    evaluated_gradient: sp.Expr  # ∂ℓ/∂a as the code evaluates it (proved equal to gradient; H(0) = 0)
    kink: str  # where ∂ℓ/∂a is piecewise and which value it takes where ℓ is not differentiable ("" if smooth)


@cached(maxsize=64)
def derive_loss(rule: LossRule) -> LossDerivation:
    element = rule.element()
    derivative = sp.diff(element, a)
    candidates = [within(lambda: tidy(sp.factor(sp.cancel(derivative))), derivative), derivative,
                  within(lambda: sp.simplify(derivative), derivative)]
    if derivative.has(sp.Heaviside, sp.sign):
        candidates.append(within(lambda: tidy_steps(derivative), derivative))
    gradient = min(candidates, key=lambda form: len(str(form)))
    evaluated = _stable(element)
    evaluated_gradient = at_kinks(_stable(gradient), a)
    return LossDerivation(rule, element, derivative, gradient, evaluated, evaluated_gradient,
                          kink_statement(rule.kink, evaluated_gradient, "a", "∂ℓ/∂a"))


def _stable(expr: sp.Expr) -> sp.Expr:
    """``expr`` rewritten not to overflow, if SymPy proves the rewrite; else ``expr``."""
    form = within(lambda: stabilize(expr), expr)
    return form if form == expr or proved_equal(expr, form) else expr


def display_scale(rule: LossRule, reduction: str) -> sp.Expr:
    """c as the document writes it: 1/m for an output mean (m outputs), times 1/n for a mean over samples."""
    return (1 / m if rule.output_mean else sp.Integer(1)) * (1 / n if reduction == "mean" else sp.Integer(1))


def scale(rule: LossRule, reduction: str, outputs: int) -> sp.Expr:
    """c in E = c · Σ_k Σ_j ℓ: 1/J for an output mean, times 1/n for a mean over samples."""
    factor: sp.Expr = sp.Integer(1)
    if rule.output_mean:
        factor /= outputs
    if reduction == "mean":
        factor /= n
    return factor

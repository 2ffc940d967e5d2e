"""Named functions that keep formulas evaluable without overflow, and the rewrite to them.

``Sigmoid(u)`` is 1/(1 + e^{-u}) and ``Softplus(u)`` is log(1 + e^{u}); kept whole, the
code printer evaluates them as ``0.5 + 0.5·tanh(u/2)`` and ``logaddexp(0, u)``, which never
overflow. :func:`stabilize` rewrites an expression to use them, and :func:`proved_equal`
is the SymPy proof that the rewrite did not change the function.
"""

from __future__ import annotations

import sympy as sp

from derive.bounded import within


class Sigmoid(sp.Function):
    """σ(u) = 1/(1 + e^{-u})."""

    is_real = True

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return 1 / (1 + sp.exp(-u))

    def _eval_evalf(self, prec: int) -> sp.Expr:  # σ(1) is a number SymPy can compare (max(z, σ(1)))
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)


class Softplus(sp.Function):
    """softplus(u) = log(1 + e^{u})."""

    is_real = True

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.log(1 + sp.exp(u))

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.log(1 + sp.exp(self.args[0]))._eval_evalf(prec)


class RowSum(sp.Function):
    """Σ_j over the outputs of one sample (a row of an n × J array), kept as one column."""

    nargs = 1


def stabilize(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``expr`` so that it evaluates without overflow, where a rewrite is known.

    ``log(1 + e^u)`` becomes ``Softplus(u)``; an expression whose exponentials all share one
    argument ±u is rewritten as a polynomial in σ(u) when it is one (e^{-u} = (1 − σ)/σ).
    """
    w = sp.Wild("w")
    expr = expr.replace(sp.log(sp.exp(w) + 1), lambda w: Softplus(w))
    exponents = {atom.args[0] for atom in expr.atoms(sp.exp)}
    if not exponents:
        return expr
    bases = {-e if e.could_extract_minus_sign() else e for e in exponents}
    if len(bases) != 1:
        return expr.replace(1 / (sp.exp(w) + 1), lambda w: Sigmoid(-w))
    (u,) = bases
    s = sp.Dummy("s")
    in_s = sp.cancel(expr.subs({sp.exp(-u): (1 - s) / s, sp.exp(u): s / (1 - s)}))
    numerator, denominator = sp.fraction(in_s)
    if in_s.has(sp.exp) or s in denominator.free_symbols or not numerator.is_polynomial(s):
        return expr.replace(1 / (sp.exp(w) + 1), lambda w: Sigmoid(-w))
    return tidy(in_s).subs(s, Sigmoid(u))


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few equivalent forms; on a tie the factored one (σ(1 − σ) reads best)."""
    forms = [_positive_factors(sp.factor(expr)), expr, sp.expand(expr)]
    return min(forms, key=lambda form: len(str(form)))


def _positive_factors(expr: sp.Expr) -> sp.Expr:
    """−a(a − 1) → a(1 − a): move a leading minus sign into a factor that takes it."""
    if not isinstance(expr, sp.Mul) or not expr.could_extract_minus_sign():
        return expr
    for factor in expr.args:
        if isinstance(factor, sp.Add):
            rest = [arg for arg in expr.args if arg is not factor]
            return sp.Mul(-sp.Mul(*rest), -factor)
    return expr


def unstable(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every named function written out in exponentials."""
    return expr.replace(Sigmoid, lambda u: 1 / (1 + sp.exp(-u))).replace(Softplus, lambda u: sp.log(1 + sp.exp(u)))


def is_zero(expr: sp.Expr) -> bool:
    """Whether SymPy proves ``expr`` identically zero (False when it cannot within the step limit)."""
    return within(lambda: _is_zero(expr), False)


def _is_zero(expr: sp.Expr) -> bool:
    expr = unstable(expr)
    if expr == 0 or sp.cancel(expr) == 0:
        return True
    return sp.simplify(expr) == 0 or sp.simplify(expr.rewrite(sp.exp)) == 0


def proved_equal(left: sp.Expr, right: sp.Expr) -> bool:
    """SymPy's proof that two expressions are the same function: simplify(left − right) == 0."""
    return is_zero(left - right)

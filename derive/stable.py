"""Named functions that keep formulas evaluable without overflow, and the rewrite to them.

``Sigmoid(u)`` is 1/(1 + e^{-u}) and ``Softplus(u)`` is log(1 + e^{u}); kept whole, the
code printer evaluates them as ``0.5 + 0.5·tanh(u/2)`` and ``logaddexp(0, u)``, which never
overflow. ``Log1p(u)`` = log(1 + u) and ``Expm1(u)`` = e^u − 1 print as ``np.log1p`` and
``np.expm1``, exact where 1 + u and e^u − 1 would lose the digits of a small u.
:func:`stabilize` rewrites an expression to use them (and log cosh u, which overflows for
|u| > 710, to |u| + log1p(e^{−2|u|}) − log 2), and :func:`proved_equal` is the SymPy proof
that the rewrite did not change the function.
"""

from __future__ import annotations

from typing import ClassVar

import mpmath
import numpy as np
import sympy as sp

from derive.bounded import within


class NamedFunctionBase(sp.Function):
    """A function this project names, with every spelling of it side by side, once. (SymPy's printers look
    up ``_print_<class>`` for a function's own class and for a parent whose name ends in "Base".)

    * ``definition(u)``: the function in exponentials and logarithms (what :func:`unstable` writes
      back, and what proofs and the central differences evaluate);
    * ``latex``: how the document writes it, a format string of ``{power}`` (``^{2}`` for a power of
      it, else empty), ``{arg}`` (the argument printed in parentheses), ``{u}`` (printed plainly) and
      ``{u_factor}`` (printed as a factor); ``latex_argument(u)`` is what ``{arg}`` holds (log1p:
      1 + u); ``latex_sum``: the text is a sum (e^u − 1), parenthesised as one;
    * ``numpy``: the generated module's expression, a format string of ``{u}`` and ``{u_factor}``;
    * ``inplace``: statements leaving it in the array ``{out}`` from ``{u}`` (an operand, or ``{out}``
      itself once the argument is evaluated into it, then ``inplace_self`` where given);
      ``evaluated_first``: the argument always goes into ``{out}`` first;
    * ``unicode``: the plain-text label of a graph's edge, a format string of ``{u}``;
    * ``mpmath(u)`` and ``float64(u)``: the worked example's numbers, with 30 digits and in float64.
    """

    latex: ClassVar[str] = ""
    latex_sum: ClassVar[bool] = False
    numpy: ClassVar[str] = ""
    inplace: ClassVar[tuple[str, ...]] = ()
    inplace_self: ClassVar[tuple[str, ...]] = ()
    evaluated_first: ClassVar[bool] = False
    unicode: ClassVar[str] = ""

    @staticmethod
    def definition(u: sp.Expr) -> sp.Expr:
        raise NotImplementedError

    @staticmethod
    def latex_argument(u: sp.Expr) -> sp.Expr:
        return u

    @staticmethod
    def mpmath(u: object) -> object:
        raise NotImplementedError

    @staticmethod
    def float64(u: object) -> object:
        raise NotImplementedError

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return self.definition(u)

    def _eval_evalf(self, prec: int) -> sp.Expr:  # σ(1) is a number SymPy can compare (max(z, σ(1)))
        return self.definition(self.args[0])._eval_evalf(prec)


class Sigmoid(NamedFunctionBase):
    """σ(u) = 1/(1 + e^{-u}), evaluated as (1 + tanh(u/2))/2: the same function, and tanh never overflows."""

    is_real = True
    latex = r"\sigma{power}{arg}"
    numpy = "(0.5*np.tanh(0.5*{u_factor}) + 0.5)"
    inplace = ("np.multiply({u}, 0.5, out={out})", "np.tanh({out}, out={out})", "{out} *= 0.5", "{out} += 0.5")
    inplace_self = ("{out} *= 0.5", "np.tanh({out}, out={out})", "{out} *= 0.5", "{out} += 0.5")
    unicode = "σ({u})"

    @staticmethod
    def definition(u: sp.Expr) -> sp.Expr:
        return 1 / (1 + sp.exp(-u))

    @staticmethod
    def mpmath(u: object) -> object:
        return 1 / (1 + mpmath.exp(-u))

    @staticmethod
    def float64(u: object) -> object:
        return 0.5 + 0.5 * np.tanh(0.5 * u)


class Softplus(NamedFunctionBase):
    """softplus(u) = log(1 + e^{u}), evaluated as logaddexp(0, u), which never overflows."""

    is_real = True
    latex = r"\operatorname{{softplus}}{power}{arg}"
    numpy = "np.logaddexp(0, {u})"
    inplace = ("np.logaddexp(0, {u}, out={out})",)
    unicode = "softplus({u})"

    @staticmethod
    def definition(u: sp.Expr) -> sp.Expr:
        return sp.log(1 + sp.exp(u))

    @staticmethod
    def mpmath(u: object) -> object:
        return mpmath.log(1 + mpmath.exp(u))

    @staticmethod
    def float64(u: object) -> object:
        return np.logaddexp(0, u)


class Log1p(NamedFunctionBase):
    """log1p(u) = log(1 + u), exact where 1 + u would lose the digits of a small u."""

    latex = r"\log{power}{arg}"
    numpy = "np.log1p({u})"
    inplace = ("np.log1p({u}, out={out})",)
    unicode = "log(1 + {u})"

    def _eval_is_real(self) -> bool | None:
        return (1 + self.args[0]).is_positive or None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 1 / (1 + self.args[0])

    @staticmethod
    def definition(u: sp.Expr) -> sp.Expr:
        return sp.log(1 + u)

    @staticmethod
    def latex_argument(u: sp.Expr) -> sp.Expr:
        return 1 + u

    def _eval_rewrite_as_log(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.log(1 + u)

    @staticmethod
    def mpmath(u: object) -> object:
        return mpmath.log1p(u)

    @staticmethod
    def float64(u: object) -> object:
        return np.log1p(u)


class Expm1(NamedFunctionBase):
    """expm1(u) = e^u − 1, exact where e^u − 1 would lose the digits of a small u; written as a reader writes it."""

    latex = "e^{{{u}}} - 1"
    latex_sum = True
    numpy = "np.expm1({u})"
    inplace = ("np.expm1({u}, out={out})",)
    unicode = "exp({u}) − 1"

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.exp(self.args[0])

    @staticmethod
    def definition(u: sp.Expr) -> sp.Expr:
        return sp.exp(u) - 1

    @staticmethod
    def mpmath(u: object) -> object:
        return mpmath.expm1(u)

    @staticmethod
    def float64(u: object) -> object:
        return np.expm1(u)


class RowSum(NamedFunctionBase):
    """Σ_j over the outputs of one sample (a row of an n × J array), kept as one column."""

    nargs = 1
    latex = r"\sum_{{c'}} {u_factor}"
    numpy = "np.sum({u}, axis=1, keepdims=True)"
    inplace = ("{out}[...] = np.add.reduce({out}, axis=1, keepdims=True)",)
    evaluated_first = True
    unicode = "Σ_c′ {u}"

    @staticmethod
    def definition(u: sp.Expr) -> sp.Expr:
        raise NotImplementedError("a row sum is a sum over a row of an array, not a function of one number")

    @staticmethod
    def float64(u: object) -> object:
        return np.sum(u, axis=1, keepdims=True)

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: object) -> sp.Expr:
        return self

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self


NAMED: tuple[type[NamedFunctionBase], ...] = (Sigmoid, Softplus, Log1p, Expm1, RowSum)


def stabilize(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``expr`` so that it evaluates without overflow, where a rewrite is known.

    ``log(cosh u)`` becomes ``|u| + Log1p(e^{−2|u|}) − log 2`` and ``log(1 + e^u)``
    becomes ``Softplus(u)``; an expression whose exponentials all share one argument ±u is
    rewritten as a polynomial in σ(u) when it is one (e^{-u} = (1 − σ)/σ); last, c·e^u − c
    becomes c·Expm1(u).
    """
    return _with_expm1(_in_sigmoids(_log_cosh(expr)))


def _log_cosh(expr: sp.Expr) -> sp.Expr:
    """log cosh u = |u| + log(1 + e^{−2|u|}) − log 2: cosh(u) = e^{|u|}(1 + e^{−2|u|})/2."""
    return expr.replace(lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.cosh),
                        lambda e: _log_cosh_of(e.args[0].args[0]))


def _log_cosh_of(u: sp.Expr) -> sp.Expr:
    return sp.Abs(u) + Log1p(sp.exp(-2 * sp.Abs(u))) - sp.log(2)


def _in_sigmoids(expr: sp.Expr) -> sp.Expr:
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


def _with_expm1(expr: sp.Expr) -> sp.Expr:
    """In every sum, c·e^u together with the constant −c becomes c·Expm1(u) (the first such pair)."""
    def rewrite(add: sp.Add) -> sp.Expr:
        constant, terms = add.as_coeff_Add()
        if constant == 0:
            return add
        for term in sp.Add.make_args(terms):
            coefficient, rest = term.as_coeff_Mul()
            if isinstance(rest, sp.exp) and coefficient == -constant:
                return add - term - constant + coefficient * Expm1(rest.args[0])
        return add
    return expr.replace(lambda e: isinstance(e, sp.Add), rewrite)


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few equivalent forms; on a tie the factored one (σ(1 − σ) reads best)."""
    forms = [_positive_factors(sp.factor(expr)), expr, sp.expand(expr)]
    return min(forms, key=lambda form: len(str(form)))


def tidy_steps(expr: sp.Expr) -> sp.Expr:
    """Products that a step or sign function leaves redundant, made plain (identities on all reals):
    u·sign(u) = |u|, H(u)·max(0, u) = max(0, u) and H(−u)·min(0, u) = min(0, u)."""
    def rewrite(product: sp.Mul) -> sp.Expr:
        factors = list(product.args)
        for factor in list(factors):
            if isinstance(factor, sp.sign) and factor.args[0] in factors:
                factors.remove(factor)
                factors.remove(factor.args[0])
                factors.append(sp.Abs(factor.args[0]))
            elif isinstance(factor, sp.Heaviside):
                u = factor.args[0]
                if sp.Max(0, u) in factors or sp.Min(0, -u) in factors:
                    factors.remove(factor)
        return sp.Mul(*factors)
    return expr.replace(lambda e: isinstance(e, sp.Mul), rewrite)


def factor_in_abs(expr: sp.Expr) -> sp.Expr:
    """``factor`` with |v| as the generator where v² appears beside it (v² = |v|² for real v):
    z² + 2|z| + 1 → (|z| + 1)²."""
    names = {atom: sp.Dummy("t", nonnegative=True) for atom in expr.atoms(sp.Abs)}
    in_t = expr.subs(names)
    for atom, t in names.items():
        in_t = in_t.subs(atom.args[0] ** 2, t**2)
    return sp.factor(in_t).subs({t: atom for atom, t in names.items()})


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
    """``expr`` with every named function written out in exponentials and logarithms."""
    for function in (Sigmoid, Softplus, Log1p, Expm1):
        expr = expr.replace(function, function.definition)
    return expr


def is_zero(expr: sp.Expr) -> bool:
    """Whether SymPy proves ``expr`` identically zero (False when it cannot within the step limit)."""
    return within(lambda: _is_zero(expr), False)


def _is_zero(expr: sp.Expr) -> bool:
    expr = unstable(expr)
    if expr == 0 or sp.cancel(expr) == 0:
        return True
    if not expr.free_symbols and abs(complex(expr.evalf(30))) > 1e-20:  # a constant: its value settles it
        return False  # (simplify(log(3)/2 − 1099/2000) would spend seconds in logcombine)
    if sp.simplify(expr) == 0 or sp.simplify(expr.rewrite(sp.exp)) == 0:
        return True
    return _zero_on_both_sides(expr)


def _zero_on_both_sides(expr: sp.Expr) -> bool:
    """Zero where the one argument w of its |·| is positive and where it is negative.

    For a continuous expression (no step or sign function) that is zero everywhere. On each
    side |w| = ±w; logarithms are then combined, so that log cosh t − t − log(1 + e^{−2t})
    + log 2 is seen to vanish.
    """
    if expr.has(sp.Heaviside, sp.sign, sp.Piecewise):
        return False
    arguments = {-w if w.could_extract_minus_sign() else w for w in (atom.args[0] for atom in expr.atoms(sp.Abs))}
    if len(arguments) != 1:
        return False
    (w,) = arguments
    variable = next((v for v in sorted(w.free_symbols, key=str) if sp.diff(w, v).is_number
                     and sp.diff(w, v) != 0), None)
    if variable is None:
        return False
    t = sp.Dummy("t", positive=True)
    slope = sp.diff(w, variable)
    for side in (t, -t):  # w = side, solved for the variable (w is linear in it)
        value = variable + (side - w) / slope
        case = expr.subs(variable, value).rewrite(sp.exp)
        if not sp.simplify(sp.logcombine(sp.expand_log(case, force=True), force=True)) == 0:
            return False
    return True


def proved_equal(left: sp.Expr, right: sp.Expr) -> bool:
    """SymPy's proof that two expressions are the same function: simplify(left − right) == 0."""
    return is_zero(left - right)

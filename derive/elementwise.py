"""∂A/∂Z for an elementwise activation: derived from f's definition, then rewritten.

For A = f(Z) applied element by element, ∂A_kj/∂Z_kj = f′(Z_kj) and all other entries
vanish, so the Jacobian is diagonal and the chain rule multiplies element by element.

Steps, each done by SymPy:

1. ``derivative = diff(f(z), z)``, as SymPy gives it, and ``simplified``;
2. ``in_output``: a form g(a) with f′(z) = g(f(z)), so the backward pass reuses the
   forward output A instead of recomputing exponentials. The candidate is fitted as
   c₀ + c₁a + c₂a² at sample points and accepted only when SymPy proves
   ``simplify(f′(z) − g(f(z))) == 0`` (σ′ → σ(1 − σ), tanh′ → 1 − tanh²);
3. ``named``: otherwise, a registered activation that f′ equals, proved the same way
   (softplus′ → σ(z));
4. ``forward`` and ``backward`` in a form that evaluates without overflow
   (:mod:`derive.stable`), proved equal to the definitions;
5. at a kink, where f′ does not exist and SymPy's step function H takes ½, the backward
   pass takes the one-sided slope from the left: a step H(u) whose argument rises with z
   gets H(0) = 0, and one whose argument falls is written 1 − H(−u), also with H(0) = 0
   (relu′(0) = 0, leaky_relu′(0) = 0.01, selu′(0) = λα, as PyTorch does). This is a choice
   of subgradient, made here once and stated in the derivation (``kink``); it changes f′ at
   single points only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.bounded import cached, within
from derive.naming import a, z
from derive.rules import ACTIVATIONS, ActivationRule
from derive.stable import factor_in_abs, proved_equal, stabilize, tidy, tidy_steps

SAMPLE_POINTS = (-2.3, -1.1, -0.45, 0.35, 0.8, 1.7, 2.6)


@dataclass(frozen=True)
class ElementwiseDerivation:
    rule: ActivationRule
    definition: sp.Expr  # f(z)
    forward: sp.Expr  # f(z) as the code evaluates it (proved equal to the definition)
    derivative: sp.Expr  # f′(z) as diff gives it
    simplified: sp.Expr  # f′(z) simplified
    in_output: sp.Expr | None  # g(a) with f′(z) = g(f(z)), proved
    named: ActivationRule | None  # a registered activation g with f′(z) = g(z), proved
    backward: sp.Expr  # f′ as the code evaluates it: in a when in_output, else in z
    kink: str  # which value f′ takes where it is not defined ("" where f′ is continuous)

    @property
    def uses_output(self) -> bool:
        return self.in_output is not None


@cached(maxsize=256)
def derive_elementwise(rule: ActivationRule) -> ElementwiseDerivation:
    definition = rule.definition()
    derivative = sp.diff(definition, z)
    simplified = _simplest(derivative)
    in_output = within(lambda: _in_output(definition, simplified), None)
    named = None if in_output is not None else within(lambda: _named(rule, simplified), None)
    forward = within(lambda: stabilize(definition), definition)
    if in_output is not None:
        backward = in_output
    elif named is not None:
        backward = stabilize(named.definition())
    else:
        backward = within(lambda: stabilize(simplified), simplified)
    if not proved_equal(definition, forward):  # a rewrite SymPy cannot prove is not used
        forward = definition
    if not proved_equal(simplified, backward.subs(a, definition)):
        in_output, named, backward = None, None, simplified
    if not complex_powers(backward.subs(a, definition)) <= complex_powers(derivative):  # a rewrite that NumPy
        in_output, named, backward = None, None, simplified  # would evaluate as NaN where f′ is real
    backward = at_kinks(backward)
    return ElementwiseDerivation(rule, definition, forward, derivative, simplified, in_output, named, backward,
                                 kink_statement(rule.kink, backward, "z", "f′"))


def at_kinks(expr: sp.Expr, variable: sp.Symbol = z) -> sp.Expr:
    """Every step H(u) takes at u = 0 the value from the left of the kink (``variable`` → 0⁻).

    H(u) gets H(0) = 0 where u rises with the variable; where u falls, H(u) is written
    1 − H(−u) with H(0) = 0; where the slope of u is not one sign, H(0) = 0.
    """
    def convention(arg: sp.Expr, *rest: sp.Expr) -> sp.Expr:
        slope = sp.diff(arg, variable)
        if slope.is_nonpositive and not slope.is_zero:
            return 1 - sp.Heaviside(-arg, 0)
        return sp.Heaviside(arg, 0)
    return expr.replace(sp.Heaviside, convention)


def kink_statement(stated: str, expr: sp.Expr, variable: str, derivative: str) -> str:
    """``stated`` (a rule's own words), else a generic statement for each step or sign in ``expr``."""
    if stated:
        return stated
    words = []
    if expr.has(sp.Heaviside):
        words.append(f"where {derivative} jumps it takes its value from the left of the jump (smaller {variable}); "
                     "H(0) = 0, the subgradient PyTorch uses for relu")
    if expr.has(sp.sign):
        words.append("sign(0) = 0")
    return "; ".join(words)


def _simplest(expr: sp.Expr) -> sp.Expr:
    """The shortest equivalent form that uses no function the expression did not use.

    (``simplify`` turns σ′ into 1/(4 cosh²(z/2)); true, but neither what a learner expects
    nor safe to evaluate, so forms that bring in new functions are passed over.)
    """
    functions = {type(f) for f in expr.atoms(sp.Function)}
    candidates = [expr, within(lambda: constants_apart(sp.simplify, expr), None),
                  within(lambda: sp.factor(sp.cancel(expr)), None)]
    if expr.has(sp.Heaviside):
        candidates.append(within(lambda: _normalise_heaviside(expr), None))
    if expr.has(sp.Heaviside, sp.sign):
        candidates.append(within(lambda: factor_in_abs(sp.cancel(tidy_steps(expr))), None))
    candidates = [real_powers(c) for c in candidates if c is not None]
    allowed = complex_powers(expr)
    candidates = [c for c in candidates if {type(f) for f in c.atoms(sp.Function)} <= functions
                  and complex_powers(c) <= allowed]
    return min(candidates, key=lambda form: (sp.count_ops(form), len(str(form))))


def real_powers(expr: sp.Expr) -> sp.Expr:
    """|u^p| written |u|^p, equal for real u and p (principal branch): NumPy evaluates u**p as NaN for u < 0, so
    π z |z^(π−2)|, which SymPy finds for (|z|^π)′, would be NaN for every negative z."""
    def fractional_inside(e: sp.Basic) -> bool:
        return isinstance(e, sp.Abs) and e.args[0].is_Pow and e.args[0].exp.is_real is True \
            and e.args[0].exp.is_integer is not True
    return expr.replace(fractional_inside, lambda e: sp.Abs(e.args[0].base) ** e.args[0].exp)


def complex_powers(expr: sp.Expr) -> set[sp.Expr]:
    """The bases raised to a power that is not a whole number without being known to be ≥ 0: there the
    printed code takes a real power of a negative number, NaN in NumPy."""
    return {power.base for power in expr.atoms(sp.Pow)
            if power.exp.is_integer is not True and power.base.is_nonnegative is not True}


def constants_apart(step: Callable[[sp.Expr], sp.Expr], expr: sp.Expr) -> sp.Expr:
    """``step(expr)`` with each irrational constant (√2, π, 1/√π) held as a positive symbol meanwhile.

    An identity for every positive value holds for the constant's; and SymPy factors over
    ℚ instead of ℚ(√2, √π), which takes a quarter of the time (gelu_tanh′: 1.3 s, not 4.9 s).
    """
    constants = {c: sp.Dummy("c", positive=True) for c in expr.atoms(sp.Pow, sp.NumberSymbol)
                 if c.is_number and not c.is_Rational and c.is_positive}
    return step(expr.xreplace(constants)).xreplace({symbol: c for c, symbol in constants.items()})


def _normalise_heaviside(expr: sp.Expr) -> sp.Expr:
    """θ(c·z) = θ(z) for c > 0 and 1 − θ(z) for c < 0 (both ½ at 0, SymPy's convention)."""
    def rewrite(arg: sp.Expr, *rest: sp.Expr) -> sp.Expr:
        coefficient, var = arg.as_coeff_Mul()
        if var == z and coefficient.is_positive:
            return sp.Heaviside(z)
        if var == z and coefficient.is_negative:
            return 1 - sp.Heaviside(z)
        return sp.Heaviside(arg, *rest)
    return sp.expand(expr.replace(sp.Heaviside, rewrite))


def _values(expr: sp.Expr) -> np.ndarray | None:
    try:
        values = np.array([complex(expr.subs(z, point).evalf()) for point in SAMPLE_POINTS])
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not np.all(np.isfinite(values)) or np.any(np.abs(values.imag) > 1e-12) \
            or np.max(np.abs(values.real)) > 1e150:  # squared in the fit
        return None
    return values.real


def _in_output(definition: sp.Expr, derivative: sp.Expr) -> sp.Expr | None:
    """g(a) = c₀ + c₁a + c₂a² with f′(z) = g(f(z)), when SymPy proves one."""
    if derivative.has(sp.Heaviside, sp.Piecewise, sp.sign):
        return None
    outputs, slopes = _values(definition), _values(derivative)
    if outputs is None or slopes is None:
        return None
    forms = [[sp.Integer(1), a, a**2]]
    if definition.has(sp.Abs):  # softsign′ = (1 − |a|)²
        forms.append([sp.Integer(1), a, a**2, sp.Abs(a)])
    for form in forms:
        with np.errstate(all="ignore"):  # exp(690) + z: squares overflow; no fit then, and no warning
            columns = [np.ones_like(outputs), outputs, outputs**2, np.abs(outputs)][:len(form)]
            basis = np.vstack(columns).T
            if not np.all(np.isfinite(basis)):
                return None
            coefficients, *_ = np.linalg.lstsq(basis, slopes, rcond=None)
            if not np.max(np.abs(basis @ coefficients - slopes)) <= 1e-9:
                continue
        exact = [sp.nsimplify(c, rational=True, tolerance=1e-9) for c in coefficients]
        candidate = tidy(factor_in_abs(sum(c * term for c, term in zip(exact, form, strict=True))))
        if proved_equal(derivative, candidate.subs(a, definition)):
            return candidate
    return None


def _named(rule: ActivationRule, derivative: sp.Expr) -> ActivationRule | None:
    """A registered activation that equals f′(z), e.g. softplus′ = σ."""
    slopes = _values(derivative)
    if slopes is None:
        return None
    for other in ACTIVATIONS.values():
        if other.kind != "elementwise" or other == rule:
            continue
        candidate = other.definition()
        values = _values(candidate)
        if values is not None and np.allclose(values, slopes, rtol=1e-12, atol=1e-12) \
                and proved_equal(derivative, candidate):
            return other
    return None

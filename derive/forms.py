"""Forms of an expression chosen for reading; the value never changes.

SymPy's canonical form of ∂ℓ/∂a for bce is (−a + y)/(a(a − 1)); the same function reads
(a − y)/(a(1 − a)), which shows the residual a − y and the factor a(1 − a) that σ′ cancels.
:func:`oriented` picks such signs; :func:`ordered_product` puts plain factors before
parenthesised ones (a_c([c = c′] − a_c′)). Both return expressions SymPy does not
re-evaluate, for display only, and each is checked to equal its input.
"""

from __future__ import annotations

import sympy as sp

from derive.notation import Chain


def oriented(expr: sp.Expr, lead: sp.Symbol) -> sp.Expr:
    """``expr`` factored, each sum in it signed for reading, no leading minus where a factor takes it.

    A factor with ``lead`` and other variables is written with ``lead`` positive (a − y); a factor
    with ``lead`` and constants only absorbs an overall minus sign (a − 1 → 1 − a).
    """
    coefficient: sp.Expr = sp.Integer(1)
    sides: dict[str, list[tuple[sp.Expr, sp.Expr]]] = {"num": [], "den": []}
    flexible: list[tuple[str, int]] = []
    flipped = False
    for factor in sp.Mul.make_args(sp.factor(expr)):  # not sp.fraction: it would distribute −2 over (−a + y)
        if factor.is_number:
            coefficient *= factor
            continue
        base, power = factor.as_base_exp()
        side = "den" if power.is_negative else "num"
        power = -power if power.is_negative else power
        if isinstance(base, sp.Add) and base.has(lead) and power.is_integer:
            odd = power % 2 == 1
            if base.free_symbols - {lead}:
                if base.coeff(lead).is_negative:
                    base, flipped = -base, True
                    coefficient = -coefficient if odd else coefficient
            elif odd:
                flexible.append((side, len(sides[side])))
        sides[side].append((base, power))
    if coefficient.is_negative and flexible:
        side, index = flexible[-1]
        base, power = sides[side][index]
        sides[side][index] = (-base, power)
        coefficient, flipped = -coefficient, True
    if not flipped:
        return expr

    def product(pairs: list[tuple[sp.Expr, sp.Expr]]) -> sp.Expr:
        factors = [base if power == 1 else sp.Pow(base, power, evaluate=False) for base, power in pairs]
        return factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)

    negative = coefficient.is_negative
    coefficient = -coefficient if negative else coefficient
    top = product(sides["num"]) if sides["num"] else sp.Integer(1)
    numerator_coefficient, denominator_coefficient = sp.fraction(coefficient)
    if numerator_coefficient != 1:
        top = sp.Mul(numerator_coefficient, top, evaluate=False)
    if denominator_coefficient != 1:
        sides["den"].insert(0, (denominator_coefficient, sp.Integer(1)))
    result = top if not sides["den"] else sp.Mul(top, sp.Pow(product(sides["den"]), -1, evaluate=False),
                                                 evaluate=False)
    if negative:
        result = sp.Mul(sp.S.NegativeOne, result, evaluate=False)
    return result if sp.simplify(result - expr) == 0 else expr


def ordered_product(expr: sp.Expr) -> sp.Expr:
    """A product with its plain factors first and its sums after, as one writes a_c(1 − a_c)."""
    if not isinstance(expr, sp.Mul) or sp.fraction(expr)[1] != 1:
        return expr
    coefficient, rest = expr.as_coeff_Mul()
    factors = sp.Mul.make_args(rest)
    plain = [f for f in factors if not isinstance(f.as_base_exp()[0], sp.Add)]
    sums = [f for f in factors if isinstance(f.as_base_exp()[0], sp.Add)]
    if not sums or not plain:
        return expr
    ordered = Chain(*([coefficient] if coefficient != 1 else []), sp.Mul(*plain), *sums)
    return ordered

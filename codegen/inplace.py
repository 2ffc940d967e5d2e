"""Elementwise SymPy expressions as NumPy statements that write into arrays that already exist.

The generated trainer allocates its arrays once per batch size and reuses them for every
minibatch; this module is what lets a derived expression land in such an array.
:meth:`InPlace.assign` turns ``target = expr`` into a short sequence of ufunc calls with
``out=`` (``np.subtract(1, A1, out=T1)``, ``np.tanh(T1, out=T1)``, ``T1 *= 0.5``), and
:meth:`InPlace.scale` turns ``target *= expr`` into the same. Each call is one pass over
the data, as in the expression itself; nothing of the batch's size is allocated. A step
function multiplied in goes through a boolean mask from a second pool
(``np.greater(Z1, 0, out=M1)`` then ``d1 *= M1``), so it allocates nothing either.

Operands. A symbol that names a full array prints as its name. A subexpression that has no
full array in it (numbers; scalars such as n; one-column arrays such as S) prints inline,
since it costs next to nothing. Anything else is evaluated first into a scratch array
taken from a :class:`Scratch` pool and given back as soon as it has been used, so a pool
holds as many arrays as the expression is deep, not as many as it is long.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from codegen.printers import ERF, code, plain_numbers
from derive.stable import NamedFunctionBase

UFUNCS: dict[type, str] = {
    sp.exp: "np.exp", sp.log: "np.log", sp.tanh: "np.tanh", sp.Abs: "np.abs", sp.sign: "np.sign",
    sp.sin: "np.sin", sp.cos: "np.cos", sp.cosh: "np.cosh", sp.sinh: "np.sinh", sp.atan: "np.arctan",
    sp.erf: ERF,
}
PAIRWISE: dict[type, str] = {sp.Max: "np.maximum", sp.Min: "np.minimum"}


class Scratch:
    """Names of scratch arrays of one shape: ``T1``, ``T1_2``, ... handed out lowest first."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.free: list[int] = []
        self.used = 0  # how many arrays the pool has needed at most

    def take(self) -> str:
        if self.free:
            index = min(self.free)
            self.free.remove(index)
        else:
            self.used += 1
            index = self.used
        return self.prefix if index == 1 else f"{self.prefix}_{index}"

    def give_back(self, name: str) -> None:
        self.free.append(1 if name == self.prefix else int(name.rsplit("_", 1)[1]))

    @property
    def names(self) -> list[str]:
        return [self.prefix if index == 1 else f"{self.prefix}_{index}" for index in range(1, self.used + 1)]


class InPlace:
    """Statements that evaluate elementwise expressions into existing arrays.

    ``small`` holds the symbols that are not full arrays (scalars, one-column arrays);
    every other symbol names an array of the target's shape. ``masks`` hands out boolean
    arrays of that shape (for ``target *= θ(u)``).
    """

    def __init__(self, scratch: Scratch, small: frozenset[sp.Symbol], masks: Scratch | None = None) -> None:
        self.scratch = scratch
        self.small = small
        self.masks = masks if masks is not None else Scratch(f"M{scratch.prefix}")
        self.lines: list[str] = []

    def emit(self, line: str) -> None:
        self.lines.append(line)

    # --- operands ---------------------------------------------------------------------

    def operand(self, expr: sp.Expr) -> str | None:
        """Inline text for ``expr`` if it allocates nothing of the batch's size, else None."""
        if isinstance(expr, sp.Symbol) or expr.free_symbols <= self.small:
            return code(expr)
        return None

    def with_value(self, expr: sp.Expr, use: Callable[[str], None]) -> None:
        """Call ``use`` with an operand for ``expr``, evaluating it into scratch if need be."""
        text = self.operand(expr)
        if text is not None:
            use(text)
            return
        name = self.scratch.take()
        self.assign(name, expr)
        use(name)
        self.scratch.give_back(name)

    # --- shared subexpressions --------------------------------------------------------

    def once(self, expr: sp.Expr, then: Callable[[sp.Expr], None]) -> None:
        """Evaluate each subexpression ``expr`` repeats into scratch once, then ``then(expr)``.

        (swish′ = σ(z)(1 + z − zσ(z)) computes σ(z) once, as a hand-writer would.) Common
        numeric factors are pulled out first: 2A − 2Y is evaluated as 2(A − Y).
        """
        replacements, (reduced,) = sp.cse(sp.factor_terms(plain_numbers(expr)), optimizations=None)
        names: dict[sp.Symbol, sp.Symbol] = {}
        for symbol, subexpression in replacements:
            if subexpression.free_symbols <= self.small:
                names[symbol] = subexpression.subs(names)
                continue
            name = self.scratch.take()
            self.assign(name, subexpression.subs(names))
            names[symbol] = sp.Symbol(name, real=True)
        then(reduced.subs(names))
        for symbol in names.values():
            if isinstance(symbol, sp.Symbol) and symbol.name.startswith(self.scratch.prefix):
                self.scratch.give_back(symbol.name)

    # --- target = expr ----------------------------------------------------------------

    def assign(self, target: str, expr: sp.Expr) -> None:
        """Statements leaving ``expr`` in the array ``target`` (which ``expr`` must not use)."""
        text = self.operand(expr)
        if text is not None:
            self.emit(f"np.copyto({target}, {text})")
        elif isinstance(expr, sp.Add):
            self._add(target, expr)
        elif isinstance(expr, sp.Mul):
            self._mul(target, expr)
        elif isinstance(expr, sp.Pow):
            self._pow(target, expr)
        elif type(expr) in UFUNCS:
            self._unary(target, UFUNCS[type(expr)], expr.args[0])
        elif isinstance(expr, NamedFunctionBase):
            self._named(target, expr)
        elif isinstance(expr, sp.Heaviside):
            self._heaviside(target, expr)
        elif type(expr) in PAIRWISE:
            self._pairwise(target, PAIRWISE[type(expr)], expr.args)
        else:  # a form with no in-place spelling: correct, and allocates
            self.emit(f"{target}[...] = {code(expr)}")

    def _unary(self, target: str, function: str, arg: sp.Expr, before: str = "", after: str = "") -> None:
        text = self.operand(arg)
        if text is None:
            self.assign(target, arg)
            text = target
        self.emit(f"{function}({before}{text}{after}, out={target})")

    def _named(self, target: str, expr: NamedFunctionBase) -> None:
        """σ, softplus, log1p, expm1, the row sum: each one's ``inplace`` spelling (derive/stable.py)."""
        arg = expr.args[0]
        text = None if expr.evaluated_first else self.operand(arg)
        if text is None:
            self.assign(target, arg)
            text = target
        for statement in expr.inplace_self if text == target and expr.inplace_self else expr.inplace:
            self.emit(statement.format(u=text, out=target))

    def _heaviside(self, target: str, expr: sp.Expr) -> None:
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
        if at_zero == 0:  # θ(u) with θ(0) = 0 is the comparison u > 0
            self._unary(target, "np.greater", expr.args[0], after=", 0")
        else:
            self._unary(target, "np.heaviside", expr.args[0], after=f", {float(at_zero)!r}")

    def _pairwise(self, target: str, function: str, args: tuple[sp.Expr, ...]) -> None:
        ordered = sorted(args, key=lambda arg: self.operand(arg) is not None)  # one to evaluate goes first
        first, second, *rest = ordered
        text = self.operand(first)
        if text is None:
            self.assign(target, first)
            text = target
        self.with_value(second, lambda other: self.emit(f"{function}({text}, {other}, out={target})"))
        for arg in rest:
            self.with_value(arg, lambda other: self.emit(f"{function}({target}, {other}, out={target})"))

    def _add(self, target: str, expr: sp.Add) -> None:
        constant = sp.Add(*[term for term in expr.args if term.free_symbols <= self.small])
        terms = [_signed(term) for term in expr.args if not term.free_symbols <= self.small]
        terms.sort(key=lambda term: (self.operand(term[1]) is not None, term[0] < 0))
        sign, body = terms.pop(0)
        text = self.operand(body)
        if text is None:
            self.assign(target, body)
            if sign < 0 and constant != 0:
                self.emit(f"np.subtract({code(constant)}, {target}, out={target})")
                constant = sp.Integer(0)
            elif sign < 0:
                self.emit(f"np.negative({target}, out={target})")
        elif terms and sign > 0:
            other_sign, other = terms.pop(0)
            function = "np.add" if other_sign > 0 else "np.subtract"
            self.with_value(other, lambda value: self.emit(f"{function}({text}, {value}, out={target})"))
        elif constant != 0:
            if sign < 0:
                self.emit(f"np.subtract({code(constant)}, {text}, out={target})")
            elif constant.could_extract_minus_sign():
                self.emit(f"np.subtract({text}, {code(-constant)}, out={target})")
            else:
                self.emit(f"np.add({text}, {code(constant)}, out={target})")
            constant = sp.Integer(0)
        else:
            self.emit(f"np.copyto({target}, {text})" if sign > 0 else f"np.negative({text}, out={target})")
        for sign, body in terms:
            operator = "+=" if sign > 0 else "-="
            self.with_value(body, lambda value, operator=operator: self.emit(f"{target} {operator} {value}"))
        if constant != 0:
            self.emit(f"{target} += {code(constant)}" if not constant.could_extract_minus_sign()
                      else f"{target} -= {code(-constant)}")

    def _mul(self, target: str, expr: sp.Mul) -> None:
        coefficient, numerators, denominators = self._factors(expr)
        if not numerators:
            self.with_value(denominators.pop(0), lambda value: self.emit(
                f"np.divide({code(coefficient)}, {value}, out={target})"))
            coefficient = sp.Integer(1)
        else:
            numerators.sort(key=lambda factor: self.operand(factor) is not None)
            first = numerators.pop(0)
            text = self.operand(first)
            if text is None:
                self.assign(target, first)
            elif numerators:
                other = numerators.pop(0)
                self.with_value(other, lambda value: self.emit(f"np.multiply({text}, {value}, out={target})"))
            elif coefficient == -1:
                self.emit(f"np.negative({text}, out={target})")
                coefficient = sp.Integer(1)
            elif coefficient != 1:
                self.emit(f"np.multiply({text}, {code(coefficient)}, out={target})")
                coefficient = sp.Integer(1)
            else:
                self.emit(f"np.copyto({target}, {text})")
        self._scale_by(target, coefficient, numerators, denominators)

    def _pow(self, target: str, expr: sp.Pow) -> None:
        base, exponent = expr.args
        if exponent == 2:
            self._unary(target, "np.square", base)
        elif exponent == sp.Rational(1, 2):
            self._unary(target, "np.sqrt", base)
        elif exponent == -1:
            self._unary(target, "np.reciprocal", base)
        elif exponent.is_number and exponent.is_negative:
            self.assign(target, base ** -exponent)
            self.emit(f"np.reciprocal({target}, out={target})")
        else:
            text = self.operand(base)
            if text is None:
                self.assign(target, base)
                text = target
            self.with_value(exponent, lambda value: self.emit(f"np.power({text}, {value}, out={target})"))

    # --- target *= expr ---------------------------------------------------------------

    def scale(self, target: str, expr: sp.Expr) -> None:
        """Statements for ``target *= expr``."""
        coefficient, numerators, denominators = self._factors(expr)
        self._scale_by(target, coefficient, numerators, denominators)

    def _scale_by(self, target: str, coefficient: sp.Expr, numerators: list[sp.Expr],
                  denominators: list[sp.Expr]) -> None:
        for factor in numerators:
            if isinstance(factor, sp.Heaviside) and len(factor.args) > 1 and factor.args[1] == 0 \
                    and self.operand(factor.args[0]) is not None:
                mask = self.masks.take()  # θ(u) with θ(0) = 0 is the mask u > 0: one compare, one multiply
                self.emit(f"np.greater({self.operand(factor.args[0])}, 0, out={mask})")
                self.emit(f"{target} *= {mask}")
                self.masks.give_back(mask)
            else:
                self.with_value(factor, lambda value: self.emit(f"{target} *= {value}"))
        for factor in denominators:
            self.with_value(factor, lambda value: self.emit(f"{target} /= {value}"))
        if coefficient == -1:
            self.emit(f"np.negative({target}, out={target})")
        elif coefficient != 1:
            self.emit(f"{target} *= {code(coefficient)}")

    def _factors(self, expr: sp.Expr) -> tuple[sp.Expr, list[sp.Expr], list[sp.Expr]]:
        """(c, numerators, denominators) with expr = c · Π numerators / Π denominators, c free of arrays."""
        factors = expr.args if isinstance(expr, sp.Mul) else (expr,)
        coefficient = sp.Mul(*[f for f in factors if f.free_symbols <= self.small])
        numerators, denominators = [], []
        for factor in factors:
            if factor.free_symbols <= self.small:
                continue
            if isinstance(factor, sp.Pow) and factor.exp.is_number and factor.exp.is_negative:
                denominators.append(factor.base ** -factor.exp)
            else:
                numerators.append(factor)
        return coefficient, numerators, denominators


def _signed(term: sp.Expr) -> tuple[int, sp.Expr]:
    """(±1, body) with term = ±body and body free of a leading minus sign."""
    return (-1, -term) if term.could_extract_minus_sign() else (1, term)

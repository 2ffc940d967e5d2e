"""Notation that is not an expression to evaluate: ∂E/∂W, a chain of partials, f(Z), W ← W − η g.

These are SymPy objects so that a derivation step is one tree from left side to right side
and every symbol in it is printed by the same printer (:mod:`codegen.printers`) with the
names of :mod:`derive.naming`. They carry no LaTeX; the printer decides how each looks.
None of them is ever evaluated or differentiated: they only stand in displays and prose.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str

ATOM, MUL, LOWEST = 1000, 50, 1  # how tightly each binds (SymPy's precedence scale)


class Notation(sp.Expr):
    """Base of the notation objects; non-commutative, so a product keeps its written order."""

    is_commutative = False


class Partial(Notation):
    """∂numerator/∂denominator."""

    precedence = ATOM

    def __new__(cls, numerator: sp.Basic, denominator: sp.Basic) -> Partial:
        return sp.Expr.__new__(cls, numerator, denominator)


class Chain(Notation):
    """Factors of the chain rule, written side by side in the given order."""

    precedence = MUL

    def __new__(cls, *factors: sp.Basic) -> Chain:
        return sp.Expr.__new__(cls, *factors)


class Times(Notation):
    """Factors written with a centred dot between them, in the given order (a worked product)."""

    precedence = MUL

    def __new__(cls, *factors: sp.Basic) -> Times:
        return sp.Expr.__new__(cls, *factors)

    def could_extract_minus_sign(self) -> bool:
        first = self.args[0]
        return isinstance(first, sp.Expr) and first.could_extract_minus_sign()

    def __neg__(self) -> Times:
        return Times(-self.args[0], *self.args[1:])


class Call(Notation):
    """``name(arguments)`` for a function known only by its name: σ(Z), φ′(z), SSE(A, Y).

    ``name`` is a :class:`FunctionName`; with no arguments it prints as the block ``name()``
    of a block diagram.
    """

    precedence = ATOM

    is_commutative = True  # a value, unlike the partials of a chain

    def __new__(cls, name: FunctionName, *arguments: sp.Basic) -> Call:
        return sp.Expr.__new__(cls, name, *arguments)


class FunctionName(Notation):
    """The name of a function: ``latex`` is how it is written (``\\sigma``, ``\\tanh``,
    ``\\operatorname{ReLU}``), ``prime`` the order of the derivative (σ′ is prime 1)."""

    precedence = ATOM

    def __new__(cls, latex: str, prime: int = 0) -> FunctionName:
        return sp.Expr.__new__(cls, Str(latex), sp.Integer(prime))

    @property
    def latex(self) -> str:
        return self.args[0].name

    @property
    def prime(self) -> int:
        return int(self.args[1])

    def derivative(self) -> FunctionName:
        return FunctionName(self.latex, self.prime + 1)


class Flow(Notation):
    """A block diagram row: items joined by arrows, read left to right."""

    precedence = LOWEST

    def __new__(cls, *items: sp.Basic) -> Flow:
        return sp.Expr.__new__(cls, *items)


class Span(Notation):
    """``index = first, …, last``."""

    precedence = LOWEST

    def __new__(cls, index: sp.Basic, first: sp.Basic, last: sp.Basic) -> Span:
        return sp.Expr.__new__(cls, index, sp.sympify(first), sp.sympify(last))


class Shape(Notation):
    """``rows × columns``."""

    precedence = LOWEST

    def __new__(cls, rows: sp.Basic, columns: sp.Basic) -> Shape:
        return sp.Expr.__new__(cls, sp.sympify(rows), sp.sympify(columns))


class Listing(Notation):
    """Items separated by commas: ``a, b, c``."""

    precedence = LOWEST

    def __new__(cls, *items: sp.Basic) -> Listing:
        return sp.Expr.__new__(cls, *items)


class Assign(Notation):
    """``target ← value``: an update of a parameter or a state."""

    precedence = LOWEST

    def __new__(cls, target: sp.Basic, value: sp.Basic) -> Assign:
        return sp.Expr.__new__(cls, target, value)


class Relation(Notation):
    """``left op right`` for a relation that is not an equation: ``≈``, ``≡``, ``∈``."""

    precedence = LOWEST

    def __new__(cls, left: sp.Basic, op: str, right: sp.Basic) -> Relation:
        return sp.Expr.__new__(cls, left, sp.Symbol(op), right)


class Elementwise(Notation):
    """``left ⊙ right``: the product of two arrays of one shape, entry by entry."""

    precedence = MUL

    def __new__(cls, *factors: sp.Basic) -> Elementwise:
        return sp.Expr.__new__(cls, *factors)


class Transposed(Notation):
    """``Mᵀ`` of a matrix named by a symbol."""

    precedence = ATOM

    def __new__(cls, matrix: sp.Basic) -> Transposed:
        return sp.Expr.__new__(cls, matrix)


class EntryOf(Notation):
    """``(M)_{ij}``: an entry of a matrix expression."""

    precedence = ATOM

    def __new__(cls, matrix: sp.Basic, *indices: sp.Basic) -> EntryOf:
        return sp.Expr.__new__(cls, matrix, *indices)


class Evaluated(Notation):
    """``expression |_{symbol = value}``: a derivative taken at a point."""

    precedence = ATOM

    def __new__(cls, expression: sp.Basic, *substitutions: sp.Basic) -> Evaluated:
        return sp.Expr.__new__(cls, expression, *substitutions)


class QuotientRule(Notation):
    """(u′v − uv′)/v², the quotient rule written out before it is evaluated."""

    precedence = ATOM

    def __new__(cls, du: sp.Basic, v: sp.Basic, u: sp.Basic, dv: sp.Basic) -> QuotientRule:
        return sp.Expr.__new__(cls, du, v, u, dv)


class Grouped(Notation):
    """An expression in parentheses, kept as written (e.g. ½(a² − 2ay + y²))."""

    precedence = ATOM

    def __new__(cls, inner: sp.Basic) -> Grouped:
        return sp.Expr.__new__(cls, inner)


class Scaled(Notation):
    """``coefficient · (inner)`` kept unevaluated: ½(2a − 2y) before the ½ cancels the 2."""

    precedence = MUL

    def __new__(cls, coefficient: sp.Basic, inner: sp.Basic) -> Scaled:
        return sp.Expr.__new__(cls, coefficient, inner)


class SumOver(Notation):
    """Σ_{index = first}^{last} body, kept as written (the body may be notation)."""

    precedence = MUL

    def __new__(cls, body: sp.Basic, *limits: tuple[sp.Basic, sp.Basic, sp.Basic]) -> SumOver:
        return sp.Expr.__new__(cls, body, *(sp.Tuple(*limit) for limit in limits))


class Difference(Notation):
    """``left − right`` in this order (θ − η ∂E/∂θ)."""

    precedence = 40

    def __new__(cls, left: sp.Basic, right: sp.Basic) -> Difference:
        return sp.Expr.__new__(cls, left, right)


class Fraction(Notation):
    """``numerator / denominator`` written as a fraction, kept as written."""

    precedence = MUL

    def __new__(cls, numerator: sp.Basic, denominator: sp.Basic) -> Fraction:
        return sp.Expr.__new__(cls, numerator, denominator)


class Norm(Notation):
    """``‖x‖``, the Euclidean length."""

    precedence = ATOM

    def __new__(cls, inner: sp.Basic) -> Norm:
        return sp.Expr.__new__(cls, inner)


class Plus(Notation):
    """Terms added in the written order (Σ_i A_ki W_ij + b_j, not b_j + Σ_i A_ki W_ij)."""

    precedence = 40

    def __new__(cls, *terms: sp.Basic) -> Plus:
        return sp.Expr.__new__(cls, *terms)


class Primed(Notation):
    """``(expr)′``: the derivative of an expression in one variable, in Lagrange's notation."""

    precedence = ATOM

    def __new__(cls, inner: sp.Basic) -> Primed:
        return sp.Expr.__new__(cls, inner)


class Scientific(Notation):
    """``mantissa · 10^exponent``, a small setting as it is written (ε = 10⁻⁸)."""

    precedence = MUL
    is_commutative = True

    def __new__(cls, mantissa: sp.Basic, exponent: int) -> Scientific:
        return sp.Expr.__new__(cls, sp.sympify(mantissa), sp.Integer(exponent))


class Value(Notation):
    """A computed number, shown rounded to ``digits`` significant digits."""

    precedence = ATOM
    is_commutative = True

    def __new__(cls, number: object, digits: int = 4) -> Value:
        return sp.Expr.__new__(cls, sp.Float(number, 30), sp.Integer(digits))

    def could_extract_minus_sign(self) -> bool:
        return bool(self.args[0] < 0)

    def __neg__(self) -> Value:
        return Value(-self.args[0], int(self.args[1]))


class Array(Notation):
    """A matrix of computed numbers; ``more_rows``/``more_columns`` mark rows or columns left out."""

    precedence = ATOM
    is_commutative = True

    def __new__(cls, rows: tuple[tuple[Value, ...], ...], more_rows: bool = False, more_columns: bool = False) -> Array:
        return sp.Expr.__new__(cls, sp.Tuple(*(sp.Tuple(*row) for row in rows)), sp.true if more_rows else sp.false,
                               sp.true if more_columns else sp.false)


class InRange(Notation):
    """``[low ≤ value < high]``: 1 inside, 0 outside (the kernel's edge in ∂Z/∂A)."""

    precedence = ATOM

    def __new__(cls, low: sp.Basic, value: sp.Basic, high: sp.Basic) -> InRange:
        return sp.Expr.__new__(cls, sp.sympify(low), sp.sympify(value), sp.sympify(high))

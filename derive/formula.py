"""Safe formulas: a whitelisted subset of Python expression syntax turned into SymPy.

A formula such as ``z/(1+exp(-z))`` (one line of printable ASCII, no ``#`` comment, no
backslash) is read with :func:`ast.parse` and walked node by node; nothing is ever evaluated
as Python (``sympify``/``parse_expr`` call ``eval`` and are never used on user text). Allowed:

* numbers (ints and decimals, read exactly: ``0.01`` becomes ``1/100``),
* the variables the caller names (``z`` for an activation; ``a`` and ``y`` for a loss),
* ``+ - * / **`` and unary ``-``/``+``,
* the functions ``exp log sqrt tanh sigmoid abs max min cosh sinh erf atan log1p expm1
  softplus`` and the constants ``pi`` and ``e``.

``sigmoid``, ``softplus``, ``log1p`` and ``expm1`` are read as their definitions
(1/(1 + e^{-u}), log(1 + e^u), log(1 + u), e^u − 1), so SymPy differentiates and simplifies
them like any other expression; :mod:`derive.stable` chooses how the code evaluates them.

Everything else (attribute access, subscripts, names such as ``__import__``, keywords,
comparisons, lambdas, strings) is refused with a :class:`~derive.errors.SpecError`.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence

import sympy as sp

from derive.errors import SpecError

MAX_LENGTH = 400
MAX_DEPTH = 40
MAX_LITERAL = 10**12
MAX_CONSTANT_EXPONENT = 64
MAX_EXPONENT_DENOMINATOR = 1000
MAX_CONSTANT = 1e300
MAX_CONSTANT_DIGITS = 300  # every constant after folding: 1e-300 <= |c| <= 1e300, or 0


def sigmoid_of(u: sp.Expr) -> sp.Expr:
    """The logistic function written out, 1/(1 + e^{-u}), so SymPy can differentiate it."""
    return 1 / (1 + sp.exp(-u))


def softplus_of(u: sp.Expr) -> sp.Expr:
    """softplus written out, log(1 + e^u)."""
    return sp.log(1 + sp.exp(u))


def log1p_of(u: sp.Expr) -> sp.Expr:
    """log(1 + u) written out."""
    return sp.log(1 + u)


def expm1_of(u: sp.Expr) -> sp.Expr:
    """e^u − 1 written out."""
    return sp.exp(u) - 1


def _max(*args: sp.Expr) -> sp.Expr:
    return sp.Max(*args)


def _min(*args: sp.Expr) -> sp.Expr:
    return sp.Min(*args)


FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], int, int]] = {
    # name: (builder, min args, max args)
    "exp": (sp.exp, 1, 1),
    "log": (sp.log, 1, 1),
    "sqrt": (sp.sqrt, 1, 1),
    "tanh": (sp.tanh, 1, 1),
    "sigmoid": (sigmoid_of, 1, 1),
    "abs": (sp.Abs, 1, 1),
    "max": (_max, 2, 8),
    "min": (_min, 2, 8),
    "cosh": (sp.cosh, 1, 1),
    "sinh": (sp.sinh, 1, 1),
    "erf": (sp.erf, 1, 1),
    "atan": (sp.atan, 1, 1),
    "log1p": (log1p_of, 1, 1),
    "expm1": (expm1_of, 1, 1),
    "softplus": (softplus_of, 1, 1),
}
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}
EXPONENTIAL = frozenset({"exp", "cosh", "sinh", "expm1", "softplus", "sigmoid"})  # built on e^u

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def variable(name: str) -> sp.Symbol:
    """The real-valued SymPy symbol that a formula variable stands for."""
    return sp.Symbol(name, real=True)


def parse_formula(text: object, variables: Sequence[str], field: str) -> sp.Expr:
    """Parse ``text`` into a SymPy expression in ``variables``; refuse anything else.

    ``field`` is the spec path used in error messages (e.g. ``layers[0].activation``).
    """
    if not isinstance(text, str):
        raise SpecError(field, f"expected a formula string, got {type(text).__name__}")
    source = text.strip()
    if not source:
        raise SpecError(field, "the formula is empty")
    if len(source) > MAX_LENGTH:
        raise SpecError(field, f"the formula is {len(source)} characters long; at most {MAX_LENGTH} are allowed")
    for column, char in enumerate(source, start=1):
        # One line of printable ASCII, no comment, no backslash: the text is quoted in generated
        # code and documents, where a newline or '#...' could otherwise carry anything.
        if not (char.isascii() and char.isprintable()) or char in "#\\":
            raise SpecError(field, f"formula {source!r} has {char!r} at column {column}; a formula is one line "
                                   "of ASCII without comments (#) or backslashes")
    if "^" in source:
        raise SpecError(field, "'^' is not a power in formulas; write ** (e.g. z**2)")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        column = (error.offset or 0)
        raise SpecError(field, f"formula {source!r} does not parse (column {column}): {error.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise SpecError(field, f"formula {source!r} does not parse") from None
    builder = _Builder(tuple(variables), field, source)
    expr = builder.build(tree.body, depth=1)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise SpecError(field, f"formula {source!r} is undefined (division by zero or infinity)")
    if expr.has(sp.I):
        raise SpecError(field, f"formula {source!r} is not real-valued")
    return expr


class _Builder:
    """Walks a parsed formula and builds the SymPy expression node by node."""

    def __init__(self, variables: tuple[str, ...], field: str, source: str) -> None:
        self.variables = variables
        self.field = field
        self.source = source

    def fail(self, node: ast.AST, message: str) -> SpecError:
        column = getattr(node, "col_offset", 0) + 1
        return SpecError(self.field, f"{message} at column {column} of formula {self.source!r}")

    def build(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH}")
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.build(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self.defined(node, self.binary(node, depth))
        if isinstance(node, ast.Call):
            return self.defined(node, self.call(node, depth))
        raise self.fail(node, f"{_describe(node)} is not allowed")

    def defined(self, node: ast.AST, expr: sp.Expr) -> sp.Expr:
        """``expr`` if it is finite and real; checked at every operation, so that no SymPy
        function (max, min, a power's exponent) is ever handed zoo, nan or I."""
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise self.fail(node, "undefined (division by zero, log(0) or infinity)")
        if expr.has(sp.I):
            raise self.fail(node, "not real-valued (e.g. log or sqrt of a negative constant)")
        if expr.is_number:
            value = _value(expr)
            if value is None or not abs(value) <= MAX_CONSTANT:
                raise self.fail(node, f"a constant that cannot be evaluated or exceeds {MAX_CONSTANT:.0e}")
            if value.imag != 0:
                raise self.fail(node, "not real-valued (e.g. log or sqrt of a negative constant)")
        for constant in _constants(expr):  # folded: (10**12)**20*(10**12)**20, exp(690)*exp(690)
            digits = _digits(constant)
            if digits is not None and abs(digits) > MAX_CONSTANT_DIGITS:
                size = "large" if digits > 0 else "small"
                raise self.fail(node, f"the constant {_short(constant)} (≈ 1e{digits:.0f}) is too {size}; "
                                      f"constants, after folding, lie within 1e-{MAX_CONSTANT_DIGITS} "
                                      f"and 1e{MAX_CONSTANT_DIGITS}")
        for product in expr.atoms(sp.Mul):  # SymPy may rewrite c*log(k) as log(k**c) and compute k**c
            for factor in product.args:
                if isinstance(factor, sp.log) and factor.args[0].is_number:
                    coefficient = sp.Mul(*(f for f in product.args if f.is_number and f is not factor))
                    if _too_large(factor.args[0], coefficient, both_ways=True):
                        raise self.fail(node, f"the constant {coefficient}*{factor} is too large to handle exactly")
        return expr

    def exponent(self, node: ast.AST, power: sp.Expr) -> None:
        """Refuse a constant exponent that SymPy would expand without end (z**1e12, z**1e-12)."""
        if not power.is_number:
            return
        if _magnitude(power) > MAX_CONSTANT_EXPONENT:
            raise self.fail(node, f"the exponent {power} is outside -{MAX_CONSTANT_EXPONENT}..{MAX_CONSTANT_EXPONENT}")
        if power.is_Rational and power.q > MAX_EXPONENT_DENOMINATOR:
            raise self.fail(node, f"the exponent {power} is a fraction with a denominator above "
                                  f"{MAX_EXPONENT_DENOMINATOR}; use a simpler one such as 0.5 or 1/3")

    def number(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"the constant {value!r} is not a number")
        if abs(value) > MAX_LITERAL:
            raise self.fail(node, f"the number {value!r} is larger than {MAX_LITERAL:.0e}")
        return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))

    def name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.variables:
            return variable(node.id)
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise self.fail(node, f"'{node.id}' is a function and needs an argument, e.g. {node.id}(...)")
        allowed = ", ".join(self.variables)
        raise self.fail(node, f"unknown name '{node.id}' (variables allowed here: {allowed})")

    def binary(self, node: ast.BinOp, depth: int) -> sp.Expr:
        left = self.build(node.left, depth + 1)
        right = self.build(node.right, depth + 1)
        op = type(node.op)
        if op is ast.Pow:
            self.exponent(node, right)
            if left.is_number and right.is_number and _too_large(left, right):
                raise self.fail(node, "the constant power is too large")
            if not right.is_number:  # SymPy may split b**(c + x) into b**c * b**x
                constant = right.as_coeff_Add()[0]
                if left.is_number and _too_large(left, constant, both_ways=True):
                    raise self.fail(node, "the constant power is too large")
                if not left.is_number:
                    self.exponent(node, constant)
            return left**right
        if op is ast.Div:
            if right.is_zero:
                raise self.fail(node, "division by zero")
            return left / right
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        return left * right

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"{_describe(node.func)} cannot be called; only {', '.join(FUNCTIONS)}")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(node, f"unknown function '{name}' (allowed: {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail(node, f"{name}() takes no *arguments")
        builder, least, most = FUNCTIONS[name]
        if not least <= len(node.args) <= most:
            wanted = str(least) if least == most else f"{least} to {most}"
            raise self.fail(node, f"{name}() takes {wanted} argument(s), got {len(node.args)}")
        args = [self.build(arg, depth + 1) for arg in node.args]
        if name in EXPONENTIAL:  # SymPy rewrites exp(c*log(u)) as u**c: the same limits on c as on an exponent
            for term in sp.Add.make_args(args[0]):
                factors = sp.Mul.make_args(term)
                if any(isinstance(factor, sp.log) for factor in factors):
                    self.exponent(node, sp.Mul(*(f for f in factors if f.is_number and not isinstance(f, sp.log))))
        try:
            return builder(*args)
        except (ValueError, TypeError, ArithmeticError) as error:  # SymPy refusing e.g. max of incomparable values
            raise self.fail(node, f"{name}() cannot be formed ({error})") from None


def _value(expr: sp.Expr) -> complex | None:
    """A constant's numeric value (None when SymPy cannot give one)."""
    try:
        return complex(expr)
    except (ArithmeticError, TypeError, ValueError):
        return None


def _constants(expr: sp.Expr) -> list[sp.Expr]:
    """The largest constant subexpressions of ``expr``: numbers, and calls and products of them."""
    found, stack = [], [expr]
    while stack:
        node = stack.pop()
        if node.is_number:
            found.append(node)
        else:
            stack.extend(node.args)
    return found


def _digits(constant: sp.Expr) -> float | None:
    """log10 of ``|constant|``: None for 0, inf when SymPy cannot evaluate it."""
    try:
        value = sp.Abs(constant).evalf(15)
        if value.is_zero:
            return None
        return float(sp.log(value, 10))
    except (ArithmeticError, TypeError, ValueError):
        return math.inf


def _short(constant: sp.Expr) -> str:
    text = str(constant)
    return text if len(text) <= 40 else f"{text[:20]}…{text[-10:]}"


def _magnitude(value: sp.Expr) -> float:
    """``|value|`` of a real constant as a float (inf when it cannot be told)."""
    try:
        return abs(float(value))
    except (ArithmeticError, TypeError, ValueError):
        return math.inf


def _too_large(base: sp.Expr, exponent: sp.Expr, both_ways: bool = False) -> bool:
    """Whether ``base**exponent`` of two constants would exceed about 1e300 (or, ``both_ways``,
    fall below 1e-300: exactly, that is a fraction with a 300-digit denominator)."""
    try:
        if base.is_zero:
            return False
        digits = float(exponent) * float(sp.log(sp.Abs(base), 10))  # not float(base): 1e-400 is no 0.0
    except (ArithmeticError, TypeError, ValueError):
        return True
    return (abs(digits) if both_ways else digits) > 300


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripting",
        ast.Compare: "a comparison",
        ast.BoolOp: "a boolean operator",
        ast.Lambda: "a lambda",
        ast.IfExp: "a conditional expression",
        ast.JoinedStr: "a string",
        ast.List: "a list",
        ast.Tuple: "a tuple",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.BinOp: "this operator",
        ast.UnaryOp: "this operator",
    }
    for kind, text in names.items():
        if isinstance(node, kind):
            return text
    return f"'{type(node).__name__}'"

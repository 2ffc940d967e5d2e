"""The two printers: LaTeX for the derivation, NumPy for the generated module.

Both follow SymPy's printer pattern: a subclass adds a ``_print_<Name>`` only for the
functions this project introduces (σ, softplus, the row sum) and for the few NumPy
spellings that read better than SymPy's defaults. Symbol names come from
:mod:`derive.naming`, so ``Z2`` in the code is ``Z^{(2)}`` in the LaTeX.
"""

from __future__ import annotations

from typing import Any, ClassVar

import mpmath
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE

from derive import naming
from derive.notation import Call, FunctionName
from derive.stable import NamedFunctionBase


def _unevaluated(expr: sp.Mul) -> bool:
    """Whether a product was built unevaluated (its factors are in the order written)."""
    return sp.Mul(*expr.args) != expr or list(expr.args) != list(sp.Mul(*expr.args).args)


def _negated_args(expr: sp.Mul) -> list[sp.Expr]:
    """The factors of −expr for an unevaluated product: the first number negated, or −1 dropped."""
    args = list(expr.args)
    for index, arg in enumerate(args):
        if arg.is_Number:
            args[index] = -arg
            return [a for a in args if a != 1] or [sp.Integer(1)]
    return [sp.Integer(-1), *args]


_TALL = (r"\frac", r"\sum", r"\prod", r"\sqrt", r"\int")


def _parens(text: str) -> str:
    """``text`` in parentheses: ( ) that keep their size, or \\left( \\right) around something tall."""
    return rf"\left({text}\right)" if any(tall in text for tall in _TALL) else f"({text})"


class DerivationLatexPrinter(LatexPrinter):
    """LaTeX in the notation of :mod:`derive.naming`; prints the notation of :mod:`derive.notation`.

    σ and softplus stay whole; the Kronecker delta is the indicator [i = j] (δ is only ever
    ∂E/∂Z); the step function is H(u), whose value at 0 the document states once; an entry is
    ``A^{(1)}_{kj}``. Products of notation keep their written order (the objects do not commute).
    """

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return self._print(expr.label)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        indices = [self._print(index) for index in expr.indices]
        joined = "".join(indices) if all(len(text.rstrip("'")) == 1 for text in indices) \
            else ",".join(indices)
        return f"{self._print(expr.base)}_{{{joined}}}"

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta, exp: object = None) -> str:
        left, right = expr.args
        return rf"[{self._print(left)} = {self._print(right)}]"

    def _print_Heaviside(self, expr: sp.Expr, exp: object = None) -> str:
        text = "H" + _parens(self._print(expr.args[0]))
        return f"{text}^{{{exp}}}" if exp else text

    def _print_NamedFunctionBase(self, expr: NamedFunctionBase, exp: object = None) -> str:
        """σ, softplus, log1p, expm1, the row sum: as each one's ``latex`` spelling says (derive/stable.py)."""
        u = expr.args[0]
        power = "" if not exp or expr.latex_sum else f"^{{{exp}}}"
        text = expr.latex.format(power=power, arg=_parens(self._print(expr.latex_argument(u))), u=self._print(u),
                                 u_factor=self.parenthesize(u, PRECEDENCE["Mul"], strict=True))
        return f"{_parens(text)}^{{{exp}}}" if exp and expr.latex_sum else text

    _default_settings: ClassVar[dict[str, object]] = {**LatexPrinter._default_settings, "fold_partials": False}

    def parenthesize(self, item: sp.Basic, level: int, is_neg: bool = False, strict: bool = False) -> str:
        if isinstance(item, NamedFunctionBase) and item.latex_sum:  # printed as a sum, e^u − 1
            return _parens(self._print(item)) if level > PRECEDENCE["Add"] or (level == PRECEDENCE["Add"]
                                                                                and not strict) else self._print(item)
        return super().parenthesize(item, level, is_neg, strict)

    def _add_parens(self, s: str) -> str:
        return _parens(s)

    def _add_parens_lspace(self, s: str) -> str:
        return _parens(s)

    def _print_Pow(self, expr: sp.Pow) -> str:
        """A power of a named function is written as SymPy writes tanh²(z): σ²(z), not σ(z)²."""
        if isinstance(expr.base, Call) and expr.exp.is_Integer and expr.exp > 0 and len(expr.base.args) > 1:
            name, *arguments = expr.base.args
            return f"{self._print(name)}^{{{self._print(expr.exp)}}}" + _parens(", ".join(map(self._print, arguments)))
        return super()._print_Pow(expr)

    def _helper_print_standard_power(self, expr: sp.Expr, template: str) -> str:
        """A power of an entry with a superscript, A⁽¹⁾_kj², is written (A⁽¹⁾_kj)²: no double superscript."""
        base = self._print(expr.base)
        if isinstance(expr.base, sp.Indexed) or (expr.base.is_Symbol and "^" in base):
            return template % (_parens(base), self._print(expr.exp))
        return super()._helper_print_standard_power(expr, template)

    def _print_Mul(self, expr: sp.Expr) -> str:
        """A product or a quotient, in this project's order and parentheses.

        A factor that a parenthesised sum repeats goes first: a(1 − a), σ(z)(1 − σ(z)); otherwise
        SymPy's order. Parentheses keep their size unless what they hold is tall. A number
        coefficient of a quotient stays in front: ½(a − y)², not (a − y)²/2 … except that SymPy's
        own c·u/v with c a fraction prints as one fraction, as a reader writes it.
        """
        if not isinstance(expr, sp.Mul) or not expr.is_commutative:
            return super()._print_Mul(expr)
        if expr.could_extract_minus_sign():
            return "- " + self._print_Mul_positive(-expr if expr.is_Mul and not _unevaluated(expr)
                                                   else sp.Mul(*_negated_args(expr), evaluate=False))
        return self._print_Mul_positive(expr)

    def _print_Mul_positive(self, expr: sp.Expr) -> str:
        if not isinstance(expr, sp.Mul):
            return self.parenthesize(expr, PRECEDENCE["Mul"], strict=False)
        numerator, denominator = sp.fraction(expr, exact=True)
        if denominator != 1:
            return rf"\frac{{{self._product(numerator)}}}{{{self._product(denominator)}}}"
        return self._product(expr)

    def _product(self, expr: sp.Expr) -> str:
        if not isinstance(expr, sp.Mul):
            return self._print(expr)
        factors = list(expr.args) if _unevaluated(expr) else list(expr.as_ordered_factors())
        coefficient = [f for f in factors if f.is_Number]
        rest = [f for f in factors if not f.is_Number]
        sums = [f for f in rest if isinstance(f.as_base_exp()[0], sp.Add)]
        inside = [f for f in rest if f not in sums and any(s.has(f) for s in sums)]
        ordered = coefficient + inside + [f for f in rest if f not in inside]
        parts = [self.parenthesize(f, PRECEDENCE["Mul"], strict=False) for f in ordered]
        text = parts[0]
        for previous, part in zip(ordered, parts[1:], strict=False):
            between_numbers = previous.is_Number and part[:1].isdigit()
            text += r" \cdot " + part if between_numbers else " " + part
        return text

    def _print_Sum(self, expr: sp.Sum) -> str:
        """Nested sums, outermost first, each with its own limits: Σ_{k=1}^{n} Σ_{j=1}^{m} …"""
        sums = " ".join(rf"\sum_{{{self._print(index)}={self._print(first)}}}^{{{self._print(last)}}}"
                        for index, first, last in reversed(expr.limits))
        return f"{sums} {self.parenthesize(expr.function, PRECEDENCE['Mul'], strict=True)}"

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        by_name = {symbol.name: text for symbol, text in self._settings["symbol_names"].items()}
        return by_name.get(expr.name, expr.name)

    def _print_Transpose(self, expr: sp.Expr) -> str:
        return rf"{{{self._print(expr.arg)}}}^{{\mathsf{{T}}}}"

    def _print_HadamardProduct(self, expr: sp.Expr) -> str:
        return r" \odot ".join(self.parenthesize(factor, PRECEDENCE["Mul"], strict=True) for factor in expr.args)

    def _print_MatMul(self, expr: sp.Expr) -> str:
        return " ".join(self.parenthesize(factor, PRECEDENCE["Mul"], strict=True) for factor in expr.args)

    # -- notation -------------------------------------------------------------------------------

    def _print_Partial(self, expr: sp.Expr) -> str:
        numerator, denominator = expr.args
        if isinstance(numerator, (sp.Symbol, sp.Indexed, Call, FunctionName)):
            top, bottom = self._print(numerator), self._print(denominator)
            if isinstance(denominator, (sp.Add, sp.Mul)):
                bottom = _parens(bottom)  # ∂E/∂(x₁w₁)
            if self._settings["fold_partials"]:  # ∂E/∂W in a table cell or beside an arrow
                return rf"\partial {top} / \partial {bottom}"
            return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"
        return rf"\frac{{\partial}}{{\partial {self._print(denominator)}}}\left({self._print(numerator)}\right)"

    def _factor(self, factor: sp.Basic, first: bool = False) -> str:
        """A factor of a written product: in parentheses if it is a sum, or negative and not the first."""
        negative = isinstance(factor, sp.Expr) and factor.could_extract_minus_sign() and not first
        return _parens(self._print(factor)) if negative else self.parenthesize(factor, PRECEDENCE["Mul"], strict=True)

    def _joined(self, expr: sp.Expr, separator: str) -> str:
        return separator.join(self._factor(factor, index == 0) for index, factor in enumerate(expr.args))

    def _print_Chain(self, expr: sp.Expr) -> str:
        return self._joined(expr, " ")

    def _print_Times(self, expr: sp.Expr) -> str:
        return self._joined(expr, r" \cdot ")

    def _print_Elementwise(self, expr: sp.Expr) -> str:
        return r" \odot ".join(_parens(self._print(factor)) if isinstance(factor, sp.MatMul)
                               else self._factor(factor, index == 0) for index, factor in enumerate(expr.args))

    def _print_FunctionName(self, expr: sp.Expr) -> str:
        if not expr.prime:
            return expr.latex
        base = f"{{{expr.latex}}}" if "^" in expr.latex else expr.latex  # h^{(l)}' would be a double superscript
        return base + "'" * expr.prime

    def _print_Call(self, expr: sp.Expr) -> str:
        name, *arguments = expr.args
        inner = ", ".join(self._print(argument) for argument in arguments)
        return self._print(name) + _parens(inner) if arguments else f"{self._print(name)}()"

    def _print_Flow(self, expr: sp.Expr) -> str:
        return r" \rightarrow ".join(self._print(item) for item in expr.args)

    def _print_Span(self, expr: sp.Expr) -> str:
        index, first, last = expr.args
        if first.is_Integer and last.is_Integer and int(last) - int(first) < 3:
            values = ", ".join(str(value) for value in range(int(first), int(last) + 1))
            return f"{self._print(index)} = {values}"
        return rf"{self._print(index)} = {self._print(first)}, \dots, {self._print(last)}"

    def _print_Shape(self, expr: sp.Expr) -> str:
        rows, columns = (self._print(part) for part in expr.args)
        return rf"{rows} \times {columns}"

    def _print_Listing(self, expr: sp.Expr) -> str:
        return ", ".join(self._print(item) for item in expr.args)

    def _print_Assign(self, expr: sp.Expr) -> str:
        target, value = expr.args
        return rf"{self._print(target)} \leftarrow {self._print(value)}"

    def _print_Relation(self, expr: sp.Expr) -> str:
        left, op, right = expr.args
        symbol = {"approx": r"\approx", "in": r"\in", "equiv": r"\equiv", "le": r"\le", "ge": r"\ge",
                  "lt": "<", "gt": ">", "ne": r"\ne", "eq": "=", "to": r"\to"}[op.name]
        return rf"{self._print(left)} {symbol} {self._print(right)}"

    def _print_Transposed(self, expr: sp.Expr) -> str:
        return rf"{{{self._print(expr.args[0])}}}^{{\mathsf{{T}}}}"

    def _print_EntryOf(self, expr: sp.Expr) -> str:
        matrix, *indices = expr.args
        joined = "".join(self._print(index) for index in indices)
        return _parens(self._print(matrix)) + f"_{{{joined}}}"

    def _print_InRange(self, expr: sp.Expr) -> str:
        low, value, high = (self._print(arg) for arg in expr.args)
        return rf"[{low} \le {value} < {high}]"

    def _print_Evaluated(self, expr: sp.Expr) -> str:
        inner, *points = expr.args
        at = ", ".join(rf"{self._print(point.lhs)} = {self._print(point.rhs)}" for point in points)
        return rf"\left.{self._print(inner)}\right|_{{{at}}}"

    def _print_QuotientRule(self, expr: sp.Expr) -> str:
        du, v, u, dv = expr.args

        def product(left: sp.Basic, right: sp.Basic) -> str:
            return rf"{self._factor(left)} \cdot {self._factor(right)}"
        second = product(u, dv)
        return (rf"\frac{{{product(du, v)} - {second}}}"
                rf"{{{self.parenthesize(v, PRECEDENCE['Pow'], strict=True)}^{{2}}}}")

    def _print_Grouped(self, expr: sp.Expr) -> str:
        return _parens(self._print(expr.args[0]))

    def _print_Scaled(self, expr: sp.Expr) -> str:
        coefficient, inner = expr.args
        return f"{self._print(coefficient)} {self._factor(inner)}"

    def _print_Plus(self, expr: sp.Expr) -> str:
        text = self._print(expr.args[0])
        for term in expr.args[1:]:
            if term.could_extract_minus_sign():
                text += f" - {self.parenthesize(-term, PRECEDENCE['Add'], strict=True)}"
            else:
                text += f" + {self._print(term)}"
        return text

    def _print_Difference(self, expr: sp.Expr) -> str:
        left, right = expr.args
        return f"{self._print(left)} - {self.parenthesize(right, PRECEDENCE['Add'], strict=False)}"

    def _print_Fraction(self, expr: sp.Expr) -> str:
        numerator, denominator = expr.args
        return rf"\frac{{{self._print(numerator)}}}{{{self._print(denominator)}}}"

    def _print_Primed(self, expr: sp.Expr) -> str:
        inner = expr.args[0]
        text = self._print(inner)
        return f"{text}'" if isinstance(inner, sp.Symbol) else _parens(text) + "'"

    def _print_Scientific(self, expr: sp.Expr) -> str:
        mantissa, exponent = expr.args
        power = f"10^{{{self._print(exponent)}}}"
        return power if mantissa == 1 else rf"{self._print(mantissa)} \cdot {power}"

    def _print_Value(self, expr: sp.Expr) -> str:
        number, digits = expr.args
        text = mpmath.nstr(number._to_mpmath(100), int(digits), min_fixed=-4, max_fixed=6, strip_zeros=True)
        if text.endswith(".0"):
            text = text[:-2]
        if "e" in text:
            mantissa, exponent = text.split("e")
            return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
        return text

    def _print_Array(self, expr: sp.Expr) -> str:
        rows, more_rows, more_columns = expr.args
        lines = []
        for row in rows:
            cells = [self._print(value) for value in row] + ([r"\cdots"] if more_columns else [])
            lines.append(" & ".join(cells))
        if more_rows:
            lines.append(" & ".join([r"\vdots"] * (len(rows[0]) + (1 if more_columns else 0))))
        return r"\begin{pmatrix}" + r" \\ ".join(lines) + r"\end{pmatrix}"

    def _print_Norm(self, expr: sp.Expr) -> str:
        return rf"\lVert {self._print(expr.args[0])} \rVert"

    def _print_SumOver(self, expr: sp.Expr) -> str:
        body, *limits = expr.args
        sums = " ".join(rf"\sum_{{{self._print(index)}={self._print(first)}}}^{{{self._print(last)}}}"
                        for index, first, last in limits)
        return f"{sums} {self.parenthesize(body, PRECEDENCE['Mul'], strict=True)}"


def latex(expr: sp.Basic, depth: int) -> str:
    """LaTeX of ``expr`` with the symbol names of a network of ``depth`` layers."""
    return DerivationLatexPrinter({"symbol_names": naming.latex_names(depth)}).doprint(expr)


ERF = "_erf"  # the generated module's own erf (NumPy has none); see codegen/templates/erf.py.jinja
LONG_RATIONAL = 20  # characters of p/q above which a rational prints as the float it evaluates to


class ModelNumPyPrinter(NumPyPrinter):
    """NumPy code that reads like hand-written code: ``np.tanh``, ``np.maximum``; erf as ``_erf``."""

    def _module_format(self, fqn: str, register: bool = True) -> str:
        name = super()._module_format(fqn, register)
        return "np." + name[len("numpy."):] if name.startswith("numpy.") else name

    def _print_NamedFunctionBase(self, expr: NamedFunctionBase) -> str:
        """σ, softplus, log1p, expm1, the row sum: as each one's ``numpy`` spelling says (derive/stable.py)."""
        u = expr.args[0]
        return expr.numpy.format(u=self._print(u), u_factor=self.parenthesize(u, 50))

    def _print_erf(self, expr: sp.Expr) -> str:
        return f"{ERF}({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
        return f"np.heaviside({self._print(expr.args[0])}, {float(at_zero)!r})"

    def _print_Max(self, expr: sp.Expr) -> str:
        return self._pairwise("np.maximum", expr.args)

    def _print_Min(self, expr: sp.Expr) -> str:
        return self._pairwise("np.minimum", expr.args)

    def _pairwise(self, function: str, args: Any) -> str:
        first, *rest = args
        text = self._print(first)
        for arg in rest:
            text = f"{function}({text}, {self._print(arg)})"
        return text

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if expr.exp == -1:  # 1/n, not n**(-1.0)
            return f"1/{self.parenthesize(expr.base, 60)}"
        return super()._print_Pow(expr, rational)

    def _print_Rational(self, expr: sp.Rational) -> str:
        if expr.q == 1:
            return str(expr.p)
        text = f"{expr.p}/{expr.q}"
        # p/q in Python is the correctly rounded float, so a long one prints as that float (SELU's λα).
        return text if len(text) <= LONG_RATIONAL else repr(float(expr))


def plain_numbers(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each long rational (SELU's λα, 8790…/5·10³⁰) as the float it rounds to, so
    that code which factors out common numbers does not multiply by ``2500000000000000``."""
    def long(number: sp.Basic) -> bool:
        return isinstance(number, sp.Rational) and number.q != 1 and len(f"{number.p}/{number.q}") > LONG_RATIONAL
    return expr.replace(long, lambda number: sp.Float(float(number), 17))


def code(expr: sp.Basic) -> str:
    """NumPy source for ``expr``; symbols print as their names (``A2``, ``Y``, ``n``)."""
    return ModelNumPyPrinter({"fully_qualified_modules": True, "strict": False}).doprint(expr)

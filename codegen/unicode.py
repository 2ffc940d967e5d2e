"""Math as plain Unicode text, for labels where LaTeX is not read: the edges of a Mermaid diagram.

``x₁ = 0``, ``∂E/∂w₁``, ``σ′(z)``, ``A⁽¹⁾ᵀδ⁽²⁾``, ``a(1 − a)``: a :class:`~sympy.printing.str.StrPrinter`
that writes the symbols of :mod:`derive.naming` and the notation of :mod:`derive.notation` the way
the LaTeX printer does, with Unicode super- and subscripts instead of ``^`` and ``_``.
"""

from __future__ import annotations

import re

import mpmath
import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from derive import naming
from derive.stable import NamedFunctionBase

SUPERSCRIPT = str.maketrans("0123456789()-+lLTt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁻⁺ˡᴸᵀᵗ")
SUBSCRIPT = str.maketrans("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
GREEK = {r"\sigma": "σ", r"\delta": "δ", r"\eta": "η", r"\mu": "μ", r"\varphi": "φ", r"\ell": "ℓ", r"\theta": "θ",
         r"\beta": "β", r"\varepsilon": "ε", r"\mathbf{1}": "𝟏", r"\tanh": "tanh", r"\nabla": "∇", r"\Delta": "Δ",
         r"\tilde{Z}": "Z̃", r"\hat{M}": "M̂", r"\hat{V}": "V̂",
         r"\times": "×", r"\cdot": "·", r"\lambda": "λ", r"\alpha": "α"}


def from_latex_name(text: str) -> str:
    """A symbol's LaTeX name (``A^{(1)}``, ``\\delta^{(l)}``, ``w_{1}``) as Unicode (``A⁽¹⁾``, ``δ⁽ˡ⁾``, ``w₁``)."""
    for command, letter in GREEK.items():
        text = text.replace(command, letter)
    text = re.sub(r"\\operatorname\{(\w+)\}|\\mathrm\{(\w+)\}", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"\^\{([^{}]*)\}", lambda m: m.group(1).translate(SUPERSCRIPT), text)
    text = re.sub(r"_\{([^{}]*)\}", lambda m: m.group(1).translate(SUBSCRIPT), text)
    text = re.sub(r"_(\w)", lambda m: m.group(1).translate(SUBSCRIPT), text)
    return text.replace("'", "′")


class UnicodePrinter(StrPrinter):
    """Plain-text math in the document's notation."""

    printmethod = "_unicode"  # not StrPrinter's _sympystr, which Indexed and others define for themselves

    def __init__(self, depth: int) -> None:
        super().__init__({"order": None})
        self.names = {symbol: from_latex_name(text) for symbol, text in naming.latex_names(depth).items()}

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr in self.names:
            return self.names[expr]
        return from_latex_name("\\" + expr.name if "\\" + expr.name in GREEK else expr.name)

    def _print_Dummy(self, expr: sp.Dummy) -> str:
        return self._print_Symbol(expr)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        by_name = {symbol.name: text for symbol, text in self.names.items()}
        return by_name.get(expr.name, expr.name)

    def _print_Transpose(self, expr: sp.Expr) -> str:
        return self._print(expr.arg) + "ᵀ"

    def _print_MatMul(self, expr: sp.Expr) -> str:
        return "".join(self.parenthesize(factor, PRECEDENCE["Mul"]) for factor in expr.args)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        indices = "".join(self._print(index) for index in expr.indices)
        return self._print(expr.base.label) + indices.translate(SUBSCRIPT)

    def _print_Integer(self, expr: sp.Integer) -> str:
        return str(expr)

    def _print_Mul(self, expr: sp.Expr) -> str:
        if expr.could_extract_minus_sign():
            return "−" + self._print(-expr)
        numerator, denominator = sp.fraction(expr)
        if denominator != 1:
            top = self.parenthesize(numerator, PRECEDENCE["Mul"])
            return f"{top}/{self.parenthesize(denominator, PRECEDENCE['Pow'])}"
        factors = expr.as_ordered_factors()
        sums = [f for f in factors if isinstance(f.as_base_exp()[0], sp.Add)]
        first = [f for f in factors if f not in sums]
        return "".join(self.parenthesize(f, PRECEDENCE["Mul"]) for f in first + sums)

    def _print_Add(self, expr: sp.Expr, order: str | None = None) -> str:
        terms = self._as_ordered_terms(expr, order=None)
        text = self._print(terms[0])
        for term in terms[1:]:
            text += f" − {self.parenthesize(-term, PRECEDENCE['Add'])}" if term.could_extract_minus_sign() \
                else f" + {self._print(term)}"
        return text

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if expr.exp.is_Integer and expr.exp > 0:
            return self.parenthesize(expr.base, PRECEDENCE["Pow"]) + str(expr.exp).translate(SUPERSCRIPT)
        if expr.exp == sp.Rational(1, 2):
            return "√" + self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=True)
        if expr.exp.is_Symbol and len(expr.exp.name) == 1 and expr.exp.name.translate(SUPERSCRIPT) != expr.exp.name:
            return self.parenthesize(expr.base, PRECEDENCE["Pow"]) + expr.exp.name.translate(SUPERSCRIPT)
        return super()._print_Pow(expr, rational)

    def _print_Partial(self, expr: sp.Expr) -> str:
        numerator, denominator = expr.args
        bottom = self._print(denominator)
        if isinstance(denominator, (sp.Add, sp.Mul)):
            bottom = f"({bottom})"
        return f"∂{self._print(numerator)}/∂{bottom}"

    def _print_FunctionName(self, expr: sp.Expr) -> str:
        return from_latex_name(expr.latex) + "′" * expr.prime

    def _print_Call(self, expr: sp.Expr) -> str:
        name, *arguments = expr.args
        return f"{self._print(name)}({', '.join(self._print(a) for a in arguments)})"

    def _print_NamedFunctionBase(self, expr: NamedFunctionBase) -> str:
        return expr.unicode.format(u=self._print(expr.args[0]))

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        return f"H({self._print(expr.args[0])})"

    def _print_Value(self, expr: sp.Expr) -> str:
        number, digits = expr.args
        text = mpmath.nstr(number._to_mpmath(100), int(digits), min_fixed=-4, max_fixed=6, strip_zeros=True)
        text = text[:-2] if text.endswith(".0") else text
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}·10{str(int(exponent)).translate(SUPERSCRIPT)}"
        return text.replace("-", "−")

    def _print_Elementwise(self, expr: sp.Expr) -> str:
        return " ⊙ ".join(self.parenthesize(factor, PRECEDENCE["Mul"]) for factor in expr.args)

    def _print_Times(self, expr: sp.Expr) -> str:
        return "·".join(self.parenthesize(factor, PRECEDENCE["Mul"]) for factor in expr.args)

    def _print_Chain(self, expr: sp.Expr) -> str:
        return " ".join(self.parenthesize(factor, PRECEDENCE["Mul"]) for factor in expr.args)

    def _print_Equality(self, expr: sp.Equality) -> str:
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"

    def _print_Assign(self, expr: sp.Expr) -> str:
        target, value = expr.args
        return f"{self._print(target)} ← {self._print(value)}"

    def _print_Difference(self, expr: sp.Expr) -> str:
        left, right = expr.args
        return f"{self._print(left)} − {self.parenthesize(right, PRECEDENCE['Add'], strict=True)}"

    def _print_Plus(self, expr: sp.Expr) -> str:
        return " + ".join(self._print(term) for term in expr.args)

    def _print_Fraction(self, expr: sp.Expr) -> str:
        numerator, denominator = (self.parenthesize(part, PRECEDENCE["Mul"], strict=True) for part in expr.args)
        return f"{numerator}/{denominator}"

    def _print_Transposed(self, expr: sp.Expr) -> str:
        return self.parenthesize(expr.args[0], PRECEDENCE["Pow"], strict=True) + "ᵀ"

    def _print_EntryOf(self, expr: sp.Expr) -> str:
        matrix, *indices = expr.args
        return f"({self._print(matrix)})" + "".join(self._print(index) for index in indices).translate(SUBSCRIPT)


def unicode(expr: sp.Basic, depth: int) -> str:
    return UnicodePrinter(depth).doprint(expr)

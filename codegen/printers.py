"""The two printers: LaTeX for the derivation, NumPy for the generated module.

Both follow SymPy's printer pattern: a subclass adds a ``_print_<Name>`` only for the
functions this project introduces (σ, softplus, the row sum) and for the few NumPy
spellings that read better than SymPy's defaults. Symbol names come from
:mod:`derive.naming`, so ``Z2`` in the code is ``Z^{(2)}`` in the LaTeX.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.numpy import NumPyPrinter

from derive import naming


class DerivationLatexPrinter(LatexPrinter):
    """LaTeX in the seeds' notation; σ and softplus stay whole."""

    def _print_Sigmoid(self, expr: sp.Expr) -> str:
        return rf"\sigma\left({self._print(expr.args[0])}\right)"

    def _print_Softplus(self, expr: sp.Expr) -> str:
        return rf"\operatorname{{softplus}}\left({self._print(expr.args[0])}\right)"

    def _print_RowSum(self, expr: sp.Expr) -> str:
        return rf"\left({self._print(expr.args[0])}\right)\mathbf{{1}}\mathbf{{1}}^{{\mathsf{{T}}}}"

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        return rf"H\left({self._print(expr.args[0])}\right)"


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

    def _print_Sigmoid(self, expr: sp.Expr) -> str:
        # σ(u) = (1 + tanh(u/2))/2: the same function, and tanh never overflows.
        return f"(0.5*np.tanh(0.5*{self.parenthesize(expr.args[0], 50)}) + 0.5)"

    def _print_Softplus(self, expr: sp.Expr) -> str:
        return f"np.logaddexp(0, {self._print(expr.args[0])})"

    def _print_Log1p(self, expr: sp.Expr) -> str:
        return f"np.log1p({self._print(expr.args[0])})"

    def _print_Expm1(self, expr: sp.Expr) -> str:
        return f"np.expm1({self._print(expr.args[0])})"

    def _print_erf(self, expr: sp.Expr) -> str:
        return f"{ERF}({self._print(expr.args[0])})"

    def _print_RowSum(self, expr: sp.Expr) -> str:
        return f"np.sum({self._print(expr.args[0])}, axis=1, keepdims=True)"

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

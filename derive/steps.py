"""The derivation as data: sections of equations, laid out later by a template.

An :class:`Equation` is ``lhs = rhs[0] = rhs[1] = …``. Each side is either a SymPy
expression (printed by the LaTeX printer with the network's symbol names) or a
:class:`Tex` fragment of notation, such as ∂E/∂W⁽¹⁾, that is not an expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp


@dataclass(frozen=True)
class Tex:
    """A fragment of LaTeX notation (built by :mod:`derive.naming`, never from user text)."""

    text: str


Side = sp.Basic | Tex


@dataclass(frozen=True)
class Equation:
    lhs: Side
    rhs: tuple[Side, ...]
    note: str = ""  # plain words, e.g. "proved: simplify(f′(z) − g(f(z))) = 0"


@dataclass(frozen=True)
class Section:
    title: str
    text: str = ""  # plain words
    equations: tuple[Equation, ...] = field(default_factory=tuple)


def eq(lhs: Side | str, *rhs: Side | str, note: str = "") -> Equation:
    """An equation; plain strings are taken as LaTeX notation."""
    def side(part: Side | str) -> Side:
        return Tex(part) if isinstance(part, str) else part
    return Equation(side(lhs), tuple(side(part) for part in rhs), note)

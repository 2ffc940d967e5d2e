"""The derivation as data: sections of blocks that say what each piece is.

A :class:`Section` holds blocks: a :class:`Paragraph` (runs of words and inline math), a
:class:`Display` (rows of equations aligned at their relation sign), a :class:`Table`, or a
:class:`Figure`. Math is always a SymPy object (an expression SymPy derived, or notation from
:mod:`derive.notation`); words are plain text in the document's language. Nothing here is
LaTeX: :mod:`codegen.document` prints the math and escapes the words for each format.

Words are written with :func:`say`: a message with ``{name}`` placeholders, the math for
each passed by keyword, so that a translation may move the math within the sentence::

    say(_("Each row of {X} is one sample."), X=naming.X)
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import sympy as sp


@dataclass(frozen=True)
class Words:
    text: str


@dataclass(frozen=True)
class Math:
    expr: sp.Basic


Run = Words | Math


@dataclass(frozen=True)
class Paragraph:
    runs: tuple[Run, ...]
    kind: str = "text"  # text | note (a remark set apart) | caption


@dataclass(frozen=True)
class Row:
    """``lhs = rhs[0] = rhs[1] = …``; ``lhs`` None continues the row above (``= rhs[0] …``).

    ``relation`` is the sign between the sides: ``=``, ``approx`` (≈) or ``""`` (a row of
    notation with no left side, such as a block diagram or an update ``W ← …``).
    """

    lhs: sp.Basic | None
    rhs: tuple[sp.Basic, ...]
    relation: str = "="


@dataclass(frozen=True)
class Display:
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Table:
    """A table: ``glossary`` (a symbol and its meaning in words) or ``grid`` (short cells, numbers)."""

    header: tuple[Paragraph, ...]
    rows: tuple[tuple[Paragraph, ...], ...]
    style: str = "grid"


@dataclass(frozen=True)
class Node:
    """A node of a computational graph at (column, row) of a grid: a value or an operation."""

    key: str  # an identifier: letters, digits and _
    label: sp.Basic
    kind: str  # value | operation
    column: float
    row: float


@dataclass(frozen=True)
class Edge:
    """An edge of a computational graph: what flows forward, and what flows back.

    ``local`` is the local derivative ∂(target)/∂(source) as derived (the other input of a ×,
    1 for a +, σ′ = a(1 − a)); ``backward`` what arrives at the source: ∂E/∂(source), possibly
    with its number.
    """

    source: str
    target: str
    forward: sp.Basic
    local: sp.Basic | None
    backward: sp.Basic | None


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclass(frozen=True)
class Figure:
    """A drawing: a computational graph, drawn as TikZ in LaTeX and as Mermaid in Markdown."""

    graph: Graph
    caption: Paragraph | None = None


Block = Paragraph | Display | Table | Figure


@dataclass(frozen=True)
class Section:
    key: str  # a stable name, e.g. "loss", "activation:sigmoid"
    title: Paragraph
    blocks: tuple[Block, ...] = field(default_factory=tuple)


def say(message: str, kind: str = "text", **math: sp.Basic | str | Words) -> Paragraph:
    """A paragraph from ``message`` with each ``{name}`` replaced by the math (or words) given.

    A value that is a SymPy object becomes inline math; a :class:`Words` value stays words (a
    name such as ``sigmoid``); a plain ``str`` value is words too. Unknown or unused
    placeholders are errors, so a translation cannot drop a formula silently.
    """
    runs: list[Run] = []
    used: set[str] = set()
    for literal, name, _, _ in string.Formatter().parse(message):
        if literal:
            runs.append(Words(literal))
        if name is None:
            continue
        if name not in math:
            raise KeyError(f"placeholder {{{name}}} of {message!r} has no value")
        used.add(name)
        value = math[name]
        runs.append(value if isinstance(value, Words) else Words(value) if isinstance(value, str) else Math(value))
    if unused := set(math) - used:
        raise KeyError(f"{message!r} does not use {sorted(unused)}")
    return Paragraph(_merged(runs), kind)


def _merged(runs: list[Run]) -> tuple[Run, ...]:
    out: list[Run] = []
    for run in runs:
        if out and isinstance(run, Words) and isinstance(out[-1], Words):
            out[-1] = Words(out[-1].text + run.text)
        else:
            out.append(run)
    return tuple(out)


def row(lhs: sp.Basic | None, *rhs: sp.Basic, relation: str = "=") -> Row:
    return Row(lhs, tuple(rhs), relation)


def display(*rows: Row) -> Display:
    return Display(tuple(rows))


def substituted(block: Block, mapping: dict[sp.Expr, sp.Expr]) -> Block:
    """``block`` with ``mapping`` applied to every formula in it (e.g. a rule's constants by name)."""
    if not mapping:
        return block

    def math(expr: sp.Basic | None) -> sp.Basic | None:
        return None if expr is None else expr.xreplace(mapping)

    if isinstance(block, Paragraph):
        return Paragraph(tuple(Math(math(run.expr)) if isinstance(run, Math) else run for run in block.runs),
                         block.kind)
    if isinstance(block, Display):
        return Display(tuple(Row(math(r.lhs), tuple(math(side) for side in r.rhs), r.relation) for r in block.rows))
    if isinstance(block, Figure):
        edges = tuple(Edge(e.source, e.target, math(e.forward), math(e.local), math(e.backward))
                      for e in block.graph.edges)
        return Figure(Graph(block.graph.nodes, edges), block.caption)
    return block

"""A computational graph drawn two ways: a TikZ picture for LaTeX, a Mermaid flowchart for Markdown.

Nodes sit on the grid :mod:`derive.story.graph` chose (columns left to right, rows downward).
TikZ draws each edge twice: the forward number above a black arrow, and below a red arrow pointing
back, the local derivative and the number ∂E/∂(source) that arrives; the nodes name the
quantities. Mermaid (as GitHub and many Markdown
viewers render it) puts both on one edge label, in plain Unicode math.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from codegen.printers import DerivationLatexPrinter
from codegen.unicode import UnicodePrinter
from derive.steps import Edge, Graph

COLUMN_CM, ROW_CM = 2.6, 1.35


@dataclass(frozen=True)
class PrintedFigure:
    tikz: str
    mermaid: str
    caption: str
    kind: str = "figure"


def tikz(graph: Graph, printer: DerivationLatexPrinter) -> str:
    nodes = {node.key: node for node in graph.nodes}
    lines = [r"\begin{tikzpicture}[>=stealth, every node/.style={font=\small},",
             r"  value/.style={inner sep=2pt}, operation/.style={circle, draw, minimum size=7mm, inner sep=1pt},",
             r"  label/.style={font=\scriptsize, inner sep=1pt, align=center}]"]
    for node in graph.nodes:
        lines.append(rf"\node[{node.kind}] ({node.key}) at ({node.column * COLUMN_CM:.2f}, "
                     rf"{-node.row * ROW_CM:.2f}) {{${printer.doprint(node.label)}$}};")
    for edge in graph.edges:
        source, target = nodes[edge.source], nodes[edge.target]
        vertical = source.column == target.column
        above, below = ("left", "right") if vertical else ("above, sloped", "below, sloped")
        forward = printer.doprint(_value(edge.forward))
        lines.append(rf"\draw[->] ({edge.source}) -- node[label, {above}] {{${forward}$}} ({edge.target});")
        if edge.backward is not None:
            shift = "xshift=3pt" if vertical else "yshift=-3pt"
            lines.append(rf"\draw[<-, red!75!black, transform canvas={{{shift}}}] ({edge.source}) -- "
                         rf"node[label, {below}, red!75!black] {{{_back_label(edge, printer)}}} ({edge.target});")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def _value(labelled: sp.Basic) -> sp.Basic:
    """The number of ``quantity = number``: the nodes already name the quantities, the arrows carry numbers."""
    return labelled.rhs if isinstance(labelled, sp.Equality) else labelled


def _back_label(edge: Edge, printer: DerivationLatexPrinter) -> str:
    local = "" if edge.local is None else rf"$\times\,{printer.doprint(edge.local)}$\\"
    return local + f"${printer.doprint(_value(edge.backward))}$"


def mermaid(graph: Graph, printer: UnicodePrinter) -> str:
    lines = ["flowchart LR"]
    for node in graph.nodes:
        text = _quoted(printer.doprint(node.label))
        lines.append(f"  {node.key}(({text}))" if node.kind == "operation" else f"  {node.key}[{text}]")
    for edge in graph.edges:
        label = printer.doprint(edge.forward)
        if edge.backward is not None:
            local = "" if edge.local is None else f"×{printer.doprint(edge.local)}: "
            label += f"<br/>← {local}{printer.doprint(edge.backward)}"
        lines.append(f"  {edge.source} -->|{_quoted(label)}| {edge.target}")
    return "\n".join(lines)


def _quoted(text: str) -> str:
    """A Mermaid label in double quotes; a double quote in it is written as its entity."""
    return '"' + text.replace('"', "#quot;") + '"'

"""The derivation document printed for a format: every decision about what goes where is made here;
``derivation.tex.jinja`` and ``derivation.md.jinja`` only lay the pieces out.

Math is printed by :class:`~codegen.printers.DerivationLatexPrinter` (LaTeX for both formats:
KaTeX and MathJax read it in Markdown); words are escaped for the format. A row of equations
wider than the line is broken: a sum at its terms, a product at its factors, a chain of
partials between factors; a part that is too wide by itself gets a name (u₁, u₂, …) defined in
"where" rows below it, so nothing is cut off whatever a formula produces.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from codegen.env import source_label
from codegen.graphs import PrintedFigure, mermaid, tikz
from codegen.layout import width
from codegen.printers import DerivationLatexPrinter
from codegen.unicode import UnicodePrinter
from derive import naming
from derive.i18n import _, language
from derive.notation import Array, Assign, Chain, Difference, Elementwise, Flow, Listing, Times, Value
from derive.steps import Display, Figure, Paragraph, Row, Table, Words
from derive.story import Document

LINE = 44.0  # ems of display math per line (10 pt on a 17 cm text block is 48)
INDENT = r"\quad "
RELATIONS = {"=": "=", "approx": r"\approx", "": ""}


@dataclass(frozen=True)
class PrintedParagraph:
    text: str
    style: str  # text | note
    kind: str = "paragraph"
    follows_paragraph: bool = False  # LaTeX needs a blank line here, or the two run together as one


@dataclass(frozen=True)
class PrintedDisplay:
    lines: tuple[str, ...]  # rows of an align* / aligned block, aligned at &
    kind: str = "display"


@dataclass(frozen=True)
class PrintedTable:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    columns: str  # the LaTeX column specification
    environment: str  # longtable (fixed widths, may break across pages) or tabular (widths from the content)
    kind: str = "table"


GLOSSARY_COLUMNS = (r"@{}>{\raggedright\arraybackslash}p{0.2\linewidth}"
                    r">{\raggedright\arraybackslash}p{0.76\linewidth}@{}")


PrintedBlock = PrintedParagraph | PrintedDisplay | PrintedTable | PrintedFigure


@dataclass(frozen=True)
class PrintedSection:
    key: str
    title: str
    blocks: tuple[PrintedBlock, ...]


@dataclass(frozen=True)
class DocumentContext:
    title: str
    source: str
    tool: str
    version: str
    language: str
    sections: tuple[PrintedSection, ...]
    preamble: tuple[str, ...]  # the LaTeX class and packages for the language


COMMON_PACKAGES = (r"\usepackage[a4paper,margin=2cm]{geometry}", r"\usepackage{amsmath,amssymb}",
                   r"\usepackage{array,booktabs,longtable}", r"\usepackage{tikz}")
PREAMBLES = {
    # pdflatex: Latin Modern in T1, compact section headings
    "en": (r"\documentclass[10pt]{article}", *COMMON_PACKAGES, r"\usepackage[T1]{fontenc}",
           r"\usepackage[utf8]{inputenc}", r"\usepackage{lmodern}", r"\usepackage[small,compact]{titlesec}"),
    # lualatex: LuaTeX-ja's article class and its Japanese fonts
    "ja": (r"\documentclass[10pt]{ltjsarticle}", *COMMON_PACKAGES),
}


class Format:
    """How words and inline math are written in one output format."""

    name = ""

    def words(self, text: str) -> str:
        raise NotImplementedError

    def inline(self, tex: str) -> str:
        return f"${tex}$"

    def table_math(self, tex: str) -> str:
        return tex


class LatexFormat(Format):
    name = "latex"
    _SPECIAL: ClassVar[dict[str, str]] = {
        "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
        "&": r"\&", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}

    def words(self, text: str) -> str:
        return "".join(self._SPECIAL.get(char, char) for char in text)


class MarkdownFormat(Format):
    name = "markdown"
    _SPECIAL: ClassVar[frozenset[str]] = frozenset("\\`*_[]<>|$#")

    def words(self, text: str) -> str:
        return "".join("\\" + char if char in self._SPECIAL else char for char in text)

    def table_math(self, tex: str) -> str:
        return tex.replace("|", r"\vert ")  # a bare | would end the table cell


def document_context(doc: Document, fmt: Format, tool: str, version: str) -> DocumentContext:
    printer = DerivationLatexPrinter({"symbol_names": naming.latex_names(doc.depth)})
    with language(doc.language):
        writer = _Writer(printer, fmt, doc.depth)
        sections = tuple(PrintedSection(section.key, writer.paragraph(section.title),
                                        _separated(tuple(writer.block(block) for block in section.blocks)))
                         for section in doc.sections)
        title = writer.paragraph(doc.title)
    return DocumentContext(title, source_label(doc.source), tool, version, doc.language, sections,
                           PREAMBLES[doc.language])


def _separated(blocks: tuple[PrintedBlock, ...]) -> tuple[PrintedBlock, ...]:
    """The blocks, each paragraph that comes right after another paragraph marked as a new one."""
    marked: list[PrintedBlock] = []
    for block in blocks:
        if isinstance(block, PrintedParagraph) and marked and isinstance(marked[-1], PrintedParagraph):
            block = replace(block, follows_paragraph=True)
        marked.append(block)
    return tuple(marked)


class _Writer:
    def __init__(self, printer: DerivationLatexPrinter, fmt: Format, depth: int) -> None:
        self.printer = printer
        self.compact = DerivationLatexPrinter({"symbol_names": printer._settings["symbol_names"],
                                               "fold_partials": True})  # for table cells and graph labels
        self.plain = UnicodePrinter(depth)  # for Mermaid labels
        self.fmt = fmt

    def tex(self, expr: sp.Basic) -> str:
        return self.printer.doprint(expr)

    def paragraph(self, paragraph: Paragraph) -> str:
        return "".join(self.fmt.words(run.text) if isinstance(run, Words) else self.fmt.inline(self.tex(run.expr))
                       for run in paragraph.runs)

    def block(self, block: object) -> PrintedBlock:
        if isinstance(block, Paragraph):
            return PrintedParagraph(self.paragraph(block), block.kind)
        if isinstance(block, Display):
            return PrintedDisplay(tuple(self.display(block)))
        if isinstance(block, Table):
            glossary = block.style == "glossary"  # longtable settles widths in one pass only when they are fixed
            columns = GLOSSARY_COLUMNS if glossary else "@{}" + "c" * len(block.header) + "@{}"
            return PrintedTable(tuple(self.paragraph(cell) for cell in block.header),
                                tuple(tuple(self.cell(cell) for cell in cells) for cells in block.rows), columns,
                                "longtable" if glossary else "tabular")
        if isinstance(block, Figure):
            return PrintedFigure(tikz(block.graph, self.compact), mermaid(block.graph, self.plain),
                                 self.paragraph(block.caption) if block.caption else "")
        raise TypeError(f"unknown block {block!r}")

    def cell(self, paragraph: Paragraph) -> str:
        return "".join(self.fmt.words(run.text) if isinstance(run, Words)
                       else self.fmt.inline(self.fmt.table_math(self.compact.doprint(run.expr)))
                       for run in paragraph.runs)

    def display(self, display: Display) -> list[str]:
        lhs_width = max((width(self.tex(r.lhs)) for r in display.rows if r.lhs is not None), default=0.0)
        lines: list[str] = []
        for r in display.rows:
            lines += self.row(r, lhs_width)
        return lines

    def row(self, r: Row, lhs_width: float) -> list[str]:
        lhs = self.tex(r.lhs) if r.lhs is not None else ""
        relation = RELATIONS[r.relation]
        budget = LINE - lhs_width - width(relation)
        namer = _Namer(self, budget)
        lines: list[str] = []
        seen = {lhs}
        room = 0.0  # how much more the last line can take
        for side in r.rhs:
            pieces = _fit(side, budget, self, namer)
            if " ".join(pieces) in seen:
                continue  # a step that repeats one before it (id′(z) = 1 = 1)
            seen.add(" ".join(pieces))
            sign = relation if not lines else (relation or "=")  # W ← … = value: later steps are equal
            step = f"{sign} {pieces[0]}" if sign else pieces[0]
            if lines and len(pieces) == 1 and width(step) + 1 <= room:
                lines[-1] += f" {step}"  # a short step joins the line before it
                room -= width(step) + 1
                continue
            head = f"{lhs} &".lstrip() if not lines else "&"
            lines.append(head + step)
            lines += [f"&{INDENT}{piece}" for piece in pieces[1:]]
            room = budget - width(pieces[-1]) if len(pieces) == 1 else 0.0
        for symbol, pieces in namer.defined:
            word = _("where")  # before the definition of a name u₁ for a part too wide for the line
            where = rf"\text{{{self.fmt.words(word) if self.fmt.name == 'latex' else word}}}\ "
            lines.append(f"{where}{self.tex(symbol)} &= {pieces[0]}")
            lines += [f"&{INDENT}{piece}" for piece in pieces[1:]]
        return lines


class _Namer:
    """Names for subexpressions too wide to print in one line: u₁, u₂, … each defined once."""

    def __init__(self, writer: _Writer, budget: float) -> None:
        self.writer = writer
        self.budget = budget
        self.defined: list[tuple[sp.Symbol, list[str]]] = []
        self.names: dict[sp.Basic, sp.Symbol] = {}

    def name(self, expr: sp.Basic) -> sp.Symbol:
        if expr not in self.names:
            symbol = sp.Symbol(f"u_{len(self.names) + 1}")
            self.names[expr] = symbol
            self.defined.append((symbol, _fit(expr, LINE - 8, self.writer, self)))
        return self.names[expr]


Part = tuple[str, sp.Basic, int | None]  # the operator before a piece, the piece, its precedence for parentheses


def _fit(expr: sp.Basic, budget: float, writer: _Writer, namer: _Namer) -> list[str]:
    """``expr`` as one or more lines, each at most ``budget`` ems wide (continuations start with their operator)."""
    tex = writer.tex(expr)
    if width(tex) <= budget or isinstance(expr, (Array, Value)):  # an array of numbers is one piece
        return [tex]
    parts = _split(expr, writer)
    if parts is None:
        child = _widest_child(expr, writer)
        if child is None:
            return [tex]  # an atom wider than the line: nothing to break
        return _fit(expr.xreplace({child: namer.name(child)}), budget, writer, namer)
    lines: list[str] = []
    current = ""
    for joiner, piece, level in parts:
        piece_tex = _piece(piece, level, writer)
        if width(piece_tex) > budget - 3:
            piece_tex = _piece(namer.name(piece), level, writer)
        comma = joiner == ","  # a comma ends the line it breaks; other operators begin the next one
        text = piece_tex if comma or not joiner else f"{joiner} {piece_tex}"
        candidate = (f"{current}, {text}" if comma else f"{current} {text}") if current else text
        if not current or width(candidate) <= (budget if not lines else budget - 1.5):
            current = candidate
        else:
            lines.append(current + ("," if comma else ""))
            current = text
    lines.append(current)
    return lines


def _piece(piece: sp.Basic, level: int | None, writer: _Writer) -> str:
    return writer.tex(piece) if level is None else writer.printer.parenthesize(piece, level, strict=True)


def _split(expr: sp.Basic, writer: _Writer) -> list[Part] | None:
    """The pieces of ``expr`` and the operator before each, where a line may break; None for no such place."""
    printer = writer.printer
    mul = PRECEDENCE["Mul"]
    if isinstance(expr, sp.Add):
        parts: list[Part] = []
        for index, term in enumerate(printer._as_ordered_terms(expr, order=None)):
            if index and term.could_extract_minus_sign():
                parts.append(("-", -term, None))
            else:
                parts.append(("+" if index else "", term, None))
        return parts
    if isinstance(expr, Difference):
        return [("", expr.args[0], None), ("-", expr.args[1], PRECEDENCE["Add"])]
    if isinstance(expr, sp.Mul) and sp.fraction(expr)[1] == 1 and not expr.could_extract_minus_sign():
        return [("" if index == 0 else r"\cdot", factor, mul) for index, factor in enumerate(expr.as_ordered_factors())]
    joiners: dict[type, tuple[str, int | None]] = {
        Chain: ("", mul), Times: (r"\cdot", mul), Elementwise: (r"\odot", mul), Flow: (r"\rightarrow", None),
        Listing: (",", None), sp.MatMul: ("", mul)}
    for kind, (joiner, level) in joiners.items():
        if isinstance(expr, kind):
            return [("" if index == 0 else joiner, piece, level) for index, piece in enumerate(expr.args)]
    if isinstance(expr, Assign):
        return [("", expr.args[0], None), (r"\leftarrow", expr.args[1], None)]
    if isinstance(expr, sp.Equality):
        return [("", expr.lhs, None), ("=", expr.rhs, None)]
    return None


def _widest_child(expr: sp.Basic, writer: _Writer) -> sp.Basic | None:
    children = [arg for arg in expr.args
                if isinstance(arg, sp.Basic) and not arg.is_Atom and not isinstance(arg, sp.Tuple)]
    if not children:
        return None
    return max(children, key=lambda child: width(writer.tex(child)))


"""The derivation as a document: sections of printed equations for the LaTeX and
Markdown templates (``derivation.tex.jinja``, ``derivation.md.jinja``)."""

from __future__ import annotations

from dataclasses import dataclass

from codegen.env import source_label
from codegen.printers import latex
from derive.network import NetworkDerivation
from derive.steps import Side, Tex


@dataclass(frozen=True)
class PrintedEquation:
    lhs: str
    rhs: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class PrintedSection:
    title: str
    text: str
    equations: tuple[PrintedEquation, ...]


@dataclass(frozen=True)
class DocumentContext:
    title: str
    source: str
    tool: str
    version: str
    sections: tuple[PrintedSection, ...]


def _side(side: Side, depth: int) -> str:
    return side.text if isinstance(side, Tex) else latex(side, depth)


def document_context(net: NetworkDerivation, source: str, tool: str, version: str) -> DocumentContext:
    depth = net.depth
    sections = tuple(
        PrintedSection(
            section.title,
            section.text,
            tuple(PrintedEquation(_side(e.lhs, depth), tuple(_side(r, depth) for r in e.rhs), e.note)
                  for e in section.equations),
        )
        for section in net.sections
    )
    return DocumentContext(f"Backpropagation for {net.spec.name}", source_label(source), tool, version, sections)

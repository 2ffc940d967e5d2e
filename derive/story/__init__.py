"""The derivation told step by step, as data (:mod:`derive.steps`), in the notation of
:mod:`derive.naming`.

Order, the same for every network: the notation; the network and its block diagram; the chain
rule; the computational graph; ∂E/∂A from the loss; ∂A/∂Z for each activation (softmax with the
output δ); each layer kind's derivation, in the order the kinds first appear (the dense layer's
partials and the sums that make them matrix products, for a single neuron weight by weight; the
convolution's; the pooling's routing; flatten); backpropagation through this network layer by
layer; the update rule; a worked example with numbers. The sections that walk the network ask
each layer's kind for its part (:mod:`derive.story.layers`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from derive import i18n
from derive.bounded import Task, working_on
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.steps import Paragraph, Section, Words, say, substituted
from derive.story import (
    activation,
    backprop,
    chain,
    forward,
    graph,
    loss,
    notation_table,
    softmax,
    update,
    worked,
)
from derive.story.cast import cast_of
from derive.worked import Batch, work_example


@dataclass(frozen=True)
class Document:
    """A derivation document: a title and sections, in one language."""

    name: str
    source: str
    language: str
    depth: int
    title: Paragraph
    sections: tuple[Section, ...]

    def section(self, key: str) -> Document:
        """The document with only the section named ``key`` (``"loss"``, ``"activation:sigmoid"``, …)."""
        for section in self.sections:
            if section.key == key:
                return replace(self, sections=(section,))
        raise KeyError(f"no section {key!r}; sections: {', '.join(s.key for s in self.sections)}")

    def _repr_markdown_(self) -> str:
        """The document as Markdown with KaTeX/MathJax math: how Jupyter shows it."""
        from codegen import markdown_of  # rendering is codegen's; imported here only to display
        return markdown_of(self)

    def _repr_latex_(self) -> str:
        """The document's equations as display math, as SymPy objects show themselves."""
        from codegen import equations_of
        return equations_of(self)


def document(net: NetworkDerivation, language: str = "en", batch: Batch | None = None) -> Document:
    """The derivation of ``net`` as a document in ``language``; its worked example runs on ``batch``
    (default: the spec's ``[data]``, else a seeded batch)."""
    with i18n.language(language):
        cast = cast_of(net)
        task = Task("", net.spec.source, "computing the worked example's numbers",
                    "its cost grows with the network's size; try a smaller network or fewer rows of --data")
        with working_on(task):
            example = work_example(net, batch)
        shown = example.representable()  # numbers a table can show: else no graph's numbers, no worked example
        sections = [
            notation_table.section(net, cast),
            forward.section(net, cast),
            chain.section(net, cast),
            *([graph.section(net, cast, example)] if shown else []),
            loss.section(net, cast),
            *activation.sections(net, cast),
            *softmax.sections(net, cast),
        ]
        for kind in notation_table.kinds_of(net):
            sections += kind.story().sections(net, cast, kind)  # type: ignore[attr-defined]
        sections += [backprop.section(net, cast), update.section(net, cast),
                     worked.section(net, cast, example) if shown else worked.left_out(example)]
        if cast.constants:  # named constants (SELU's λ, α) by name everywhere, not as 31-digit fractions
            sections = [replace(section, blocks=tuple(substituted(block, cast.constants) for block in section.blocks))
                        for section in sections]
        title = say(_("Backpropagation for {name}"), name=Words(net.spec.name))  # 誤差逆伝播法
    return Document(net.spec.name, net.spec.source, language, net.depth, title, tuple(sections))

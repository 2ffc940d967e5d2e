"""codegen: render a derivation as a NumPy training module and as LaTeX / Markdown.

Python API::

    from derive import load_spec, derive_network
    from codegen import render_module, render_latex, render_markdown, import_module
    net = derive_network(load_spec("examples/xor.toml"))
    source = render_module(net)        # the module's text
    xor = import_module(net)           # the module, imported
"""

from __future__ import annotations

import types
from pathlib import Path

from codegen.document import LatexFormat, MarkdownFormat, document_context
from codegen.env import render
from codegen.model import model_context
from codegen.writer import OutputError, write_atomic
from derive import TOOL, __version__
from derive.network import NetworkDerivation, derive_network
from derive.spec import Spec, load_spec
from derive.story import Document, document
from derive.worked import Batch

__all__ = [
    "OutputError", "equations_of", "generate", "import_module", "latex_of", "markdown_of", "render_latex",
    "render_markdown",
    "render_module",
]


def _net(target: NetworkDerivation | Spec) -> NetworkDerivation:
    return target if isinstance(target, NetworkDerivation) else derive_network(target)


def render_module(target: NetworkDerivation | Spec) -> str:
    """The generated module's source text."""
    net = _net(target)
    return render("model.py.jinja", m=model_context(net, net.spec.source, TOOL, __version__))


def render_latex(target: NetworkDerivation | Spec, language: str = "en", batch: Batch | None = None) -> str:
    """The derivation as a standalone LaTeX document (pdflatex; lualatex for Japanese)."""
    return latex_of(document(_net(target), language, batch))


def latex_of(doc: Document) -> str:
    """A document (or some of its sections) as LaTeX."""
    return render("derivation.tex.jinja", d=document_context(doc, LatexFormat(), TOOL, __version__))


def render_markdown(target: NetworkDerivation | Spec, language: str = "en", batch: Batch | None = None) -> str:
    """The derivation as Markdown, math in $…$ and $$…$$ blocks (KaTeX, MathJax), graphs in Mermaid."""
    return markdown_of(document(_net(target), language, batch))


def markdown_of(doc: Document) -> str:
    """A document (or one section of it) as Markdown."""
    return render("derivation.md.jinja", d=document_context(doc, MarkdownFormat(), TOOL, __version__))


def equations_of(doc: Document) -> str:
    """The display equations of a document (or of one section) as ``$$…$$`` blocks, for a notebook."""
    context = document_context(doc, MarkdownFormat(), TOOL, __version__)
    return render("equations.tex.jinja", d=context)


def import_module(target: NetworkDerivation | Spec) -> types.ModuleType:
    """Render the module and import it (without writing a file)."""
    net = _net(target)
    module = types.ModuleType(net.spec.name)
    module.__file__ = f"<generated {net.spec.name}>"
    exec(compile(render_module(net), module.__file__, "exec"), module.__dict__)
    return module


def generate(spec: str | Path | Spec, out: str | Path = "generated", force: bool = False) -> Path:
    """Write ``<out>/<name>.py`` for the spec, a path or a loaded Spec (``out`` may also name the .py file)."""
    net = derive_network(spec if isinstance(spec, Spec) else load_spec(spec))
    target = Path(out)
    if target.suffix != ".py":
        target = target / f"{net.spec.name}.py"
    return write_atomic(target, render_module(net), force=force)

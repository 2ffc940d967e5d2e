"""codegen: render a derivation as a NumPy training module and as LaTeX / Markdown.

Python API::

    from derive import load_spec, derive_network
    from codegen import render_module, render_latex, render_markdown, import_module
    net = derive_network(load_spec("examples/xor.toml"))
    source = render_module(net)        # the module's text
    xor = import_module(net)           # the module, imported

Each function derives (when given a Spec) and prints within one time budget: ``time_limit``
seconds, by default the enclosing :func:`derive.bounded.time_budget` or 30 s; past it a
``SpecError`` names the layer or the loss whose expressions are too long to print.

SymPy and the templates are imported when first used, so that ``import codegen`` (and the
command line's start) stays quick.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import TYPE_CHECKING

from codegen.writer import OutputError, check_target, write_atomic

if TYPE_CHECKING:
    from derive.network import NetworkDerivation
    from derive.spec import Spec
    from derive.story import Document
    from derive.worked import Batch

__all__ = [
    "DOCUMENT_KINDS", "DOCUMENT_SUFFIXES", "OutputError", "document_kind", "equations_of", "generate",
    "import_module", "latex_of", "markdown_of", "prepare_module", "render_document", "render_latex",
    "render_markdown", "render_module",
]

# The derivation's output kinds, and the file suffix that asks for each: one table for the CLI,
# its help and its errors. A kind also needs a header (codegen/headers.py, or a check of its own in
# codegen/writer.py for a PDF) and a renderer below.
DOCUMENT_KINDS = {"tex": "LaTeX", "md": "Markdown", "pdf": "PDF"}  # kind → what it is
DOCUMENT_SUFFIXES = {".tex": "tex", ".md": "md", ".markdown": "md", ".pdf": "pdf"}  # output suffix → kind


def document_kind(path: str | Path, requested: str | None = None) -> str:
    """The document kind a file name asks for; ``OutputError`` for a suffix not in the table,
    or one that contradicts ``requested`` (the ``--format`` given)."""
    from derive.errors import shown

    suffix = Path(path).suffix
    kind = DOCUMENT_SUFFIXES.get(suffix.lower())
    if kind is None:
        known = ", ".join(f"{s} ({DOCUMENT_KINDS[k]})" for s, k in DOCUMENT_SUFFIXES.items())
        what = shown(repr(suffix), 40) if suffix else "(none)"
        raise OutputError(f"{shown(path)}: unknown output suffix {what}; known: {known}")
    if requested is not None and requested != kind:
        raise OutputError(f"{shown(path)}: the suffix {suffix} means {DOCUMENT_KINDS[kind]}, "
                          f"but --format asks for {DOCUMENT_KINDS[requested]}")
    return kind


def _net(target: NetworkDerivation | Spec) -> NetworkDerivation:
    from derive.network import NetworkDerivation, derive_network

    return target if isinstance(target, NetworkDerivation) else derive_network(target)


def render_module(target: NetworkDerivation | Spec, time_limit: float | None = None) -> str:
    """The generated module's source text."""
    from codegen.env import render
    from codegen.headers import header
    from codegen.model import model_context
    from codegen.verbatim import copied
    from derive import TOOL, __version__
    from derive.bounded import time_budget, working_on
    from derive.network import costliest

    with time_budget(time_limit):
        net = _net(target)
        source = net.spec.source
        with working_on(costliest(net, "printing the module")):
            context = model_context(net, source, TOOL, __version__)
            return render("model.py.jinja", m=context, header=header("py", source), runtime=copied("runtime"),
                          erf=copied("erf"))


def render_latex(target: NetworkDerivation | Spec, language: str = "en", batch: Batch | None = None,
                 time_limit: float | None = None) -> str:
    """The derivation as a standalone LaTeX document (pdflatex; lualatex for Japanese)."""
    return _render_document(target, "tex", language, batch, time_limit)


def render_markdown(target: NetworkDerivation | Spec, language: str = "en", batch: Batch | None = None,
                    time_limit: float | None = None) -> str:
    """The derivation as Markdown, math in $…$ and $$…$$ blocks (KaTeX, MathJax), graphs in Mermaid."""
    return _render_document(target, "md", language, batch, time_limit)


def _render_document(target: NetworkDerivation | Spec, kind: str, language: str, batch: Batch | None,
                     time_limit: float | None) -> str:
    """Derive if needed, lay the document out and print it as ``kind`` (tex, md), all within one budget."""
    from derive.bounded import time_budget, working_on
    from derive.network import costliest
    from derive.story import document

    with time_budget(time_limit):
        net = _net(target)
        with working_on(costliest(net, "printing the derivation")):
            return _printed(document(net, language, batch), kind)


def _printed(doc: Document, kind: str) -> str:
    from codegen.document import LatexFormat, MarkdownFormat, document_context
    from codegen.env import render
    from codegen.headers import header
    from derive import TOOL, __version__

    fmt, template = {"tex": (LatexFormat(), "derivation.tex.jinja"),
                     "md": (MarkdownFormat(), "derivation.md.jinja")}[kind]
    return render(template, d=document_context(doc, fmt, TOOL, __version__), header=header(kind, doc.source))


def latex_of(doc: Document) -> str:
    """A document (or some of its sections) as LaTeX."""
    return _printed(doc, "tex")


def markdown_of(doc: Document) -> str:
    """A document (or one section of it) as Markdown."""
    return _printed(doc, "md")


def equations_of(doc: Document) -> str:
    """The display equations of a document (or of one section) as ``$$…$$`` blocks, for a notebook."""
    from codegen.document import MarkdownFormat, document_context
    from codegen.env import render
    from derive import TOOL, __version__

    return render("equations.tex.jinja", d=document_context(doc, MarkdownFormat(), TOOL, __version__))


def render_document(target: NetworkDerivation | Spec, kind: str, language: str = "en", batch: Batch | None = None,
                    time_limit: float | None = None) -> str | bytes:
    """The derivation as a document of ``kind``, a key of ``DOCUMENT_KINDS`` (bytes for a PDF)."""
    if kind == "pdf":
        from codegen.pdf import compile_pdf

        return compile_pdf(_render_document(target, "tex", language, batch, time_limit), language)
    return _render_document(target, kind, language, batch, time_limit)


def import_module(target: NetworkDerivation | Spec, time_limit: float | None = None) -> types.ModuleType:
    """Render the module and import it (without writing a file)."""
    from derive.bounded import time_budget

    with time_budget(time_limit):
        net = _net(target)
        source = render_module(net)
    module = types.ModuleType(net.spec.name)
    module.__file__ = f"<generated {net.spec.name}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def prepare_module(spec: str | Path | Spec, out: str | Path = "generated", force: bool = False,
                   time_limit: float | None = None) -> tuple[Path, str]:
    """What :func:`generate` writes, and where, checked and rendered but not yet written.

    Refuses (``SpecError`` on ``name``) a name that is a module importable where the file goes,
    and (``OutputError``) a target that may not be overwritten, before any derivation.
    """
    from codegen.shadowing import check_module_name
    from derive.bounded import time_budget
    from derive.spec import Spec, load_spec

    with time_budget(time_limit):
        loaded = spec if isinstance(spec, Spec) else load_spec(spec)
        target = Path(out)
        if target.suffix != ".py":
            target = target / f"{loaded.name}.py"
        check_module_name(loaded, target)
        check_target(target, "py", force)
        return target, render_module(loaded)


def generate(spec: str | Path | Spec, out: str | Path = "generated", force: bool = False,
             time_limit: float | None = None) -> Path:
    """Write ``<out>/<name>.py`` for the spec, a path or a loaded Spec (``out`` may also name the .py file)."""
    target, text = prepare_module(spec, out, force, time_limit)
    return write_atomic(target, text, force=force, kind="py")

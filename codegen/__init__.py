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

__all__ = [
    "DOCUMENT_KINDS", "DOCUMENT_SUFFIXES", "OutputError", "document_kind", "generate", "import_module",
    "prepare_module", "render_document", "render_latex", "render_markdown", "render_module",
]

# The derivation's output kinds, and the file suffix that asks for each: one table for the CLI,
# its help and its errors. A kind also needs a header (codegen/headers.py) and a renderer below.
DOCUMENT_KINDS = {"tex": "LaTeX", "md": "Markdown"}  # kind → what it is
DOCUMENT_SUFFIXES = {".tex": "tex", ".md": "md", ".markdown": "md"}  # output suffix → kind


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


def _render(target: NetworkDerivation | Spec, kind: str, template: str, time_limit: float | None) -> str:
    """Derive if needed, then print ``template`` (of output ``kind``), all within one budget."""
    from codegen.document import document_context
    from codegen.env import render
    from codegen.headers import header
    from codegen.model import model_context
    from derive import TOOL, __version__
    from derive.bounded import time_budget, working_on
    from derive.network import costliest

    with time_budget(time_limit):
        net = _net(target)
        source = net.spec.source
        with working_on(costliest(net, f"printing the {'module' if kind == 'py' else 'derivation'}")):
            if kind == "py":
                return render(template, m=model_context(net, source, TOOL, __version__), header=header(kind, source))
            return render(template, d=document_context(net, source, TOOL, __version__), header=header(kind, source))


def render_module(target: NetworkDerivation | Spec, time_limit: float | None = None) -> str:
    """The generated module's source text."""
    return _render(target, "py", "model.py.jinja", time_limit)


def render_latex(target: NetworkDerivation | Spec, time_limit: float | None = None) -> str:
    """A standalone LaTeX document (amsmath only) of the derivation."""
    return _render(target, "tex", "derivation.tex.jinja", time_limit)


def render_markdown(target: NetworkDerivation | Spec, time_limit: float | None = None) -> str:
    """The derivation as Markdown with $$ blocks."""
    return _render(target, "md", "derivation.md.jinja", time_limit)


def render_document(target: NetworkDerivation | Spec, kind: str, time_limit: float | None = None) -> str:
    """The derivation as a document of ``kind``, a key of ``DOCUMENT_KINDS``."""
    renderers = {"tex": render_latex, "md": render_markdown}
    return renderers[kind](target, time_limit)


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

"""Source that generated modules carry verbatim: the part of a real module of this package below its
marker line (:mod:`codegen.runtime`, :mod:`codegen.erf`). Above the line, a module has what it needs
to be linted, type-checked and tested on its own; below it, exactly what a generated module holds.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

MARKER = "# ---- copied verbatim into generated modules from here on ----"


@cache
def copied(module: str) -> str:
    """The text below ``MARKER`` in ``codegen/<module>.py``, without the blank lines that start it."""
    source = resources.files("codegen").joinpath(f"{module}.py").read_text(encoding="utf-8")
    _, marker, body = source.partition(MARKER + "\n")
    if not marker:
        raise ValueError(f"codegen/{module}.py has no line {MARKER!r}")
    return body.lstrip("\n")

"""Regenerate generated/ from examples/: the golden files the tests compare against.

For every ``examples/<name>.toml``: ``generated/<name>.py`` (the module) and
``generated/derivations/<name>.md`` / ``.tex`` (the derivation) and the same in Japanese under
``generated/derivations/ja/``. Paths in the headers are relative to the repository root, so the
output is the same wherever it runs. This works in a source checkout only; without ``examples/``
beside the package it is an error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from derive.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Relative path → text of every golden file."""
    from codegen import render_latex, render_markdown, render_module
    from derive import derive_network, load_spec

    examples = root / "examples"
    if not examples.is_dir():
        raise SpecError("", "no such folder; regenerate rewrites generated/ from the examples of a source "
                            "checkout of chainrule, which this installation is not", str(examples))
    specs = sorted(path.name for path in examples.glob("*.toml"))
    if not specs:
        raise SpecError("", "no *.toml spec in this folder; nothing to regenerate", str(examples))
    files: dict[Path, str] = {}
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for name in specs:
            net = derive_network(load_spec(f"examples/{name}"))
            files[Path("generated") / f"{net.spec.name}.py"] = render_module(net)
            files[Path("generated") / "derivations" / f"{net.spec.name}.md"] = render_markdown(net)
            files[Path("generated") / "derivations" / f"{net.spec.name}.tex"] = render_latex(net)
            files[Path("generated") / "derivations" / "ja" / f"{net.spec.name}.md"] = render_markdown(net, "ja")
            files[Path("generated") / "derivations" / "ja" / f"{net.spec.name}.tex"] = render_latex(net, "ja")
    finally:
        os.chdir(cwd)
    return files


def regenerate(root: Path = ROOT, into: Path | None = None) -> list[Path]:
    """Write every golden file below ``into`` (default: the repository root)."""
    from codegen.writer import write_atomic

    base = into or root
    return [write_atomic(base / relative, text, force=True) for relative, text in outputs(root).items()]


if __name__ == "__main__":
    from chainrule.cli import regenerate_main

    sys.exit(regenerate_main())

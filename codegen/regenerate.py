"""Regenerate generated/ from examples/: the golden files the tests compare against.

For every ``examples/<name>.toml``: ``generated/<name>.py`` (the module) and
``generated/derivations/<name>.md`` / ``.tex`` (the derivation) and the same in Japanese under
``generated/derivations/ja/``. Paths in the headers are
relative to the repository root, so the output is the same wherever it runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from codegen import render_latex, render_markdown, render_module
from codegen.writer import write_atomic
from derive import derive_network, load_spec

ROOT = Path(__file__).resolve().parent.parent


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Relative path → text of every golden file."""
    files: dict[Path, str] = {}
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for spec_path in sorted(Path("examples").glob("*.toml")):
            net = derive_network(load_spec(spec_path.as_posix()))
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
    base = into or root
    return [write_atomic(base / relative, text, force=True) for relative, text in outputs(root).items()]


if __name__ == "__main__":
    for written in regenerate():
        print(f"wrote {written.relative_to(ROOT)}")

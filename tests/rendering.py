"""Compile LaTeX and render Markdown math, as the documents' readers do: pdflatex/lualatex with
no overfull box and every page rendered by pdftoppm with ink on it, KaTeX with every math block.
In CI (``CI`` set) a missing tool fails the test instead of skipping it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RENDER_MATH = ROOT / "tests" / "tools" / "render_math.js"


def require(tool: str, hint: str) -> str:
    """The path of ``tool``; without it the test fails in CI and is skipped elsewhere."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed ({hint})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_katex() -> str:
    node = require("node", "apt-get install nodejs")
    if not (ROOT / "node_modules" / "katex").is_dir():
        message = "KaTeX is not installed (npm ci in the repository)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return node


def compile_tex(tex: str, folder: Path, name: str = "doc", engine: str = "pdflatex") -> str:
    """Compile ``tex`` in ``folder``; returns the log. Fails the test on a TeX error or an overfull box."""
    require(engine, "apt-get install texlive-latex-extra texlive-luatex texlive-lang-japanese")
    source = folder / f"{name}.tex"
    source.write_text(tex, encoding="utf-8")
    result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", source.name], cwd=folder,
                            capture_output=True, text=True, errors="replace", timeout=300, check=False)
    log = (folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, f"{engine} failed on {name}: {errors[:3]}"
    overfull = re.findall(r"Overfull \\hbox \((.*?)\)[^\n]*", log)
    assert not overfull, f"{name}: overfull boxes {overfull[:5]}"
    for page, ink in enumerate(ink_per_page(folder / f"{name}.pdf"), start=1):
        assert ink > 0, f"{name}: page {page} is blank"
    return log


def ink_per_page(pdf: Path, dpi: int = 30) -> list[float]:
    """Render every page with pdftoppm (grey PGM) and return the fraction of dark pixels on each."""
    require("pdftoppm", "apt-get install poppler-utils")
    prefix = pdf.with_name(f"{pdf.stem}-page")
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(pdf), str(prefix)], check=True, timeout=300)
    fractions = []
    for image in sorted(pdf.parent.glob(f"{prefix.name}-*.pgm")):
        data = image.read_bytes()
        magic, width, height, top, pixels = data.split(maxsplit=4)
        assert magic == b"P5" and int(top) == 255, f"{image.name}: not an 8-bit PGM"
        grey = np.frombuffer(pixels[: int(width) * int(height)], dtype=np.uint8)
        fractions.append(float(np.mean(grey < 200)))
    assert fractions, f"{pdf.name}: pdftoppm rendered no page"
    return fractions


def pages(pdf: Path) -> int:
    require("pdfinfo", "apt-get install poppler-utils")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]


def katex_errors(files: list[Path]) -> dict[str, list[dict[str, str]]]:
    """Math blocks KaTeX cannot render, per file (an empty list: everything renders)."""
    node = require_katex()
    result = subprocess.run([node, str(RENDER_MATH), *map(str, files)], capture_output=True, text=True,
                            timeout=300, check=False, cwd=ROOT)
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == len(files), result.stderr
    for report in reports:
        assert report["blocks"] > 0, f"{report['file']}: no math found"
    return {report["file"]: report["errors"] for report in reports}


MMDC = ROOT / "node_modules" / ".bin" / "mmdc"
PUPPETEER = ROOT / "tests" / "tools" / "puppeteer.json"


def render_mermaid(markdown: Path, folder: Path) -> list[Path]:
    """Render every Mermaid block of ``markdown`` to SVG (mermaid-cli in Debian's chromium); the SVGs."""
    require("chromium", "apt-get install chromium")
    if not MMDC.exists():
        message = "mermaid-cli is not installed (PUPPETEER_SKIP_DOWNLOAD=1 npm ci in the repository)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = folder / f"{markdown.stem}.rendered.md"
    result = subprocess.run([str(MMDC), "-p", str(PUPPETEER), "-i", str(markdown), "-o", str(out), "-e", "svg"],
                            capture_output=True, text=True, timeout=300, check=False, cwd=folder)
    output = result.stdout[-500:] + result.stderr[-500:]
    assert result.returncode == 0, f"mermaid-cli failed on {markdown.name}: {output}"
    return sorted(folder.glob(f"{markdown.stem}.rendered-*.svg"))

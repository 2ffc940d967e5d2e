"""The derivation as a PDF: the LaTeX document compiled by a TeX engine found on the PATH.

English documents compile with ``pdflatex``; documents in a language that needs Unicode fonts
(Japanese) with ``lualatex``. Compilation runs in a temporary folder with a time limit; a
missing engine or a failed compile is an :class:`~codegen.writer.OutputError` naming what to
install or the first TeX error, and nothing is written.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from codegen.writer import OutputError

SECONDS = 120
ENGINES = {"en": "pdflatex"}
INSTALL = {
    "pdflatex": "texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended",
    "lualatex": "texlive-luatex texlive-lang-japanese texlive-latex-extra",
}


def engine_for(language: str) -> str:
    return ENGINES.get(language, "lualatex")


def compile_pdf(tex: str, language: str = "en") -> bytes:
    """The PDF of the LaTeX document ``tex``."""
    engine = engine_for(language)
    if shutil.which(engine) is None:
        raise OutputError(f"building a PDF needs {engine}, which is not on the PATH (on Debian: apt-get install "
                          f"{INSTALL[engine]}); or write .tex and compile it yourself")
    with tempfile.TemporaryDirectory(prefix="chainrule-pdf-") as folder:
        source = Path(folder) / "derivation.tex"
        source.write_text(tex, encoding="utf-8")
        try:
            subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", source.name],
                           cwd=folder, capture_output=True, timeout=SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise OutputError(f"{engine} did not finish within {SECONDS} s") from None
        pdf = source.with_suffix(".pdf")
        if not pdf.exists():
            raise OutputError(f"{engine} could not compile the derivation: {_first_error(source.with_suffix('.log'))}")
        return pdf.read_bytes()


def _first_error(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log was written"
    errors = [line for line in lines if line.startswith("!")]
    return errors[0].lstrip("! ") if errors else "see its log"

"""Written files as a user expects them: modes from the umask (a replaced file keeps its own),
`--help` that never writes, regenerate only where there is something to regenerate, `derive -o`
that says what it wrote, and output suffixes that mean one format each."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainrule.cli import codegen_main, derive_main, main
from codegen import DOCUMENT_SUFFIXES
from codegen.headers import header
from tests.conftest import ROOT

XOR = ROOT / "examples" / "xor.toml"


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask")
def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    assert codegen_main([str(XOR), "-o", str(tmp_path)]) == 0
    assert derive_main([str(XOR), "-o", str(tmp_path / "xor.md")]) == 0
    assert mode(tmp_path / "xor.py") == mode(tmp_path / "xor.md") == 0o640  # 0666 less 027, as open() gives


@pytest.mark.usefixtures("umask")
def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "xor.py"
    target.write_text(header("py", "old.toml") + "\n")
    target.chmod(0o664)
    assert codegen_main([str(XOR), "-o", str(target)]) == 0
    assert mode(target) == 0o664 and target.read_text().startswith(header("py", str(XOR)))
    foreign = tmp_path / "notes.md"
    foreign.write_text("my notes\n")
    foreign.chmod(0o600)
    assert derive_main([str(XOR), "-o", str(foreign), "--force"]) == 0
    assert mode(foreign) == 0o600


def source_copy(tmp_path: Path, with_examples: bool) -> Path:
    """The packages (and examples/, if asked), as an installation without a checkout would have them."""
    root = tmp_path / "copy"
    for package in ("derive", "codegen", *(("examples",) if with_examples else ())):
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_regenerate_help_prints_help_and_writes_nothing(tmp_path: Path) -> None:
    root = source_copy(tmp_path, with_examples=True)
    for command in (["-m", "codegen.regenerate", "--help"], ["-m", "codegen.regenerate", "-h"]):
        result = subprocess.run([sys.executable, *command], cwd=root, capture_output=True, text=True, check=False)
        assert result.returncode == 0 and result.stdout.startswith("usage: python -m codegen.regenerate")
        assert sorted(path.name for path in root.iterdir()) == ["codegen", "derive", "examples"]


CHAINRULE_REGENERATE = "import sys; from chainrule.cli import main; sys.exit(main(['regenerate']))"


@pytest.mark.parametrize("command", [["-m", "codegen.regenerate"], ["-c", CHAINRULE_REGENERATE]])
def test_regenerate_without_examples_is_an_error(tmp_path: Path, command: list[str]) -> None:
    root = source_copy(tmp_path, with_examples=False)
    result = subprocess.run([sys.executable, *command], cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {root / 'examples'}: no such folder; regenerate rewrites generated/ from the examples of a "
        "source checkout of chainrule, which this installation is not"]
    assert sorted(path.name for path in root.iterdir()) == ["codegen", "derive"]


def test_derive_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "xor.md"
    assert derive_main([str(XOR), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"wrote {out}\n" and captured.out == ""
    assert out.read_text().startswith(header("md", str(XOR)))


@pytest.mark.parametrize(("suffix", "kind"), [(".tex", "tex"), (".md", "md"), (".markdown", "md"), (".MD", "md")])
def test_each_known_suffix_writes_its_format(tmp_path: Path, suffix: str, kind: str) -> None:
    out = tmp_path / f"xor{suffix}"
    assert main(["derive", str(XOR), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == header(kind, str(XOR))


@pytest.mark.parametrize("name", ["xor.markdwn", "xor.txt", "xor.py", "xor", "xor.pdf.bak"])
def test_an_unknown_suffix_is_an_error_listing_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              name: str) -> None:
    out = tmp_path / name
    assert derive_main([str(XOR), "-o", str(out)]) == 2
    suffix = f"'{Path(name).suffix}'" if Path(name).suffix else "(none)"
    assert capsys.readouterr().err.splitlines() == [
        f"error: {out}: unknown output suffix {suffix}; "
        "known: .tex (LaTeX), .md (Markdown), .markdown (Markdown), .pdf (PDF)"]
    assert list(tmp_path.iterdir()) == []
    assert set(DOCUMENT_SUFFIXES) == {".tex", ".md", ".markdown", ".pdf"}


def test_a_format_that_contradicts_the_suffix_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "xor.tex"
    assert derive_main([str(XOR), "-o", str(out), "--format", "md"]) == 2
    assert capsys.readouterr().err == f"error: {out}: the suffix .tex means LaTeX, but --format asks for Markdown\n"
    assert not out.exists()

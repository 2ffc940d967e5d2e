"""generated/ is exactly what the generator makes today."""

from __future__ import annotations

from pathlib import Path

from codegen.regenerate import outputs, regenerate
from tests.conftest import ROOT


def test_regenerating_into_a_temporary_folder_matches_the_checked_in_files(tmp_path: Path) -> None:
    written = regenerate(into=tmp_path)
    assert len(written) == 5 * len(list((ROOT / "examples").glob("*.toml")))  # module, md, tex, ja md, ja tex
    for path in written:
        relative = path.relative_to(tmp_path)
        assert (ROOT / relative).read_bytes() == path.read_bytes(), f"{relative} is stale: run chainrule regenerate"


def test_generated_holds_nothing_else() -> None:
    expected = {ROOT / relative for relative in outputs()}
    present = {path for path in (ROOT / "generated").rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    assert present == expected


def test_generated_modules_import_only_numpy() -> None:
    for path in (ROOT / "generated").glob("*.py"):
        imports = {line.split()[1] for line in path.read_text().splitlines()
                   if line.startswith(("import ", "from ")) and "__future__" not in line}
        # time: train(verbose=True)'s clock; typing: the annotations Any and TypeGuard of the runtime
        assert imports <= {"numpy", "collections.abc", "time", "typing"}, path
        assert "Generated, do not edit" in path.read_text()

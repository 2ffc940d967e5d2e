"""A non-editable install carries every subpackage, template and catalog."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_and_data_file_is_listed_for_the_wheel() -> None:
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(find_packages(str(ROOT), include=config["packages"]["find"]["include"]))
    found = {str(init.parent.relative_to(ROOT)).replace("/", ".")
             for top in ("chainrule", "derive", "codegen") for init in (ROOT / top).rglob("__init__.py")}
    assert found == packages, f"not found by the wheel: {found - packages}; found but not ours: {packages - found}"
    assert config["packages"]["find"]["namespaces"] is False  # the locale and template folders are data
    data = config["package-data"]
    needed = {"codegen": sorted((ROOT / "codegen").glob("templates/*.jinja")),
              "derive": [*sorted((ROOT / "derive").glob("locale/**/*.po")), ROOT / "derive/locale/chainrule.pot"]}
    for package, files in needed.items():
        assert files
        for file in files:
            relative = str(file.relative_to(ROOT / package))
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in data[package]), relative

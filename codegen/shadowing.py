"""A generated module must not take the name of a module Python would otherwise import.

``import <name>`` run from the folder the module is written to finds that folder first, so a
generated ``numpy.py`` breaks every module there that imports NumPy, and a generated ``os.py``
loses to the standard library's. The spec already refuses standard-library and NumPy names
(:mod:`derive.spec`); here the rest of the import path is searched, as it is where the file goes.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from derive.errors import SpecError

if TYPE_CHECKING:
    from derive.spec import Spec


def importable(name: str, target: Path) -> str | None:
    """Where ``import name`` resolves from ``target``'s folder, if that is not ``target`` itself.

    The current directory counts only when it is that folder: it is where this command runs,
    not where the module will be imported.
    """
    if name in sys.builtin_module_names:
        return "a built-in module"
    folder = _real(target.parent)
    here = _real(Path.cwd())
    search = [str(folder)] + [entry for entry in sys.path if entry and _real(Path(entry)) not in (here, folder)]
    try:
        found = importlib.machinery.PathFinder.find_spec(name, search)
    except (ImportError, OSError, ValueError):
        return None
    if found is None or found.origin in (None, "namespace"):  # a namespace package never hides a module
        return None
    if _real(Path(found.origin)) == _real(target):
        return None
    return found.origin


def check_module_name(spec: Spec, target: Path) -> None:
    """Refuse a target whose module name would shadow, or be shadowed by, an importable module."""
    name = target.stem
    where = importable(name, target)
    if where is not None:
        raise SpecError("name", f"{name!r} is already a module importable from {target.parent}/ ({where}); "
                                f"a generated {target.name} there would shadow it or be shadowed; choose another name",
                        spec.source)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))

"""derive: a declared network → SymPy-derived chain-rule factors and derivation steps.

Python API::

    from derive import load_spec, spec_from_dict, derive_network
    spec = load_spec("examples/xor.toml")       # or spec_from_dict({...})
    net = derive_network(spec)                  # NetworkDerivation: layers, output, sections

The names below load SymPy when first used (PEP 562), so that ``import derive`` and the
command line's start stay quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from derive.errors import SpecError

if TYPE_CHECKING:
    from derive.network import NetworkDerivation, derive_network
    from derive.spec import Spec, load_spec, parse_spec, spec_from_dict

__version__ = "0.1.0"
TOOL = "chainrule"

_LAZY = {
    "NetworkDerivation": "derive.network", "derive_network": "derive.network",
    "Spec": "derive.spec", "load_spec": "derive.spec", "parse_spec": "derive.spec", "spec_from_dict": "derive.spec",
}

__all__ = [
    "TOOL", "NetworkDerivation", "Spec", "SpecError", "__version__",
    "derive_network", "load_spec", "parse_spec", "spec_from_dict",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'derive' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value

"""derive: a declared network → SymPy-derived chain-rule factors and derivation steps.

Python API::

    from derive import load_spec, spec_from_dict, derive_network
    spec = load_spec("examples/xor.toml")       # or spec_from_dict({...})
    net = derive_network(spec)                  # NetworkDerivation: layers, output, sections
"""

from derive.errors import SpecError
from derive.network import NetworkDerivation, derive_network
from derive.spec import Spec, load_spec, parse_spec, spec_from_dict

__version__ = "0.1.0"
TOOL = "chainrule"

__all__ = [
    "TOOL", "NetworkDerivation", "Spec", "SpecError", "__version__",
    "derive_network", "load_spec", "parse_spec", "spec_from_dict",
]

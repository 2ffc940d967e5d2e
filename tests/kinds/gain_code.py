"""gain in the generated module: one multiply forward, one backward."""

from __future__ import annotations

from codegen.layers.base import gradient_of, output_of, reads_input, step
from codegen.model import Line, Work
from derive.network import LayerDerivation, NetworkDerivation

__all__ = [
    "formula",
    "forward",
    "gradient",
    "input_gradient",
    "layout",
    "output",
    "parameters",
    "reads_input",
    "words",
]


def output(layer: LayerDerivation) -> str:
    return f"A{layer.index}"


def gradient(layer: LayerDerivation) -> str:
    return f"g{layer.index}"


def formula(net: NetworkDerivation) -> str:
    return "gain: Al = c A(l-1)"


def layout(net: NetworkDerivation) -> str:
    return ""


def words(layer: LayerDerivation) -> str:
    return f"[gain {layer.settings.factor!r}]"


def forward(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l = layer.index
    work.array(f"A{l}", f"(m, {layer.out_shape[0]})", f"layer {l}: A{l} and g{l} = ∂E/∂A{l}")
    work.array(f"g{l}", f"(m, {layer.out_shape[0]})")
    factor = layer.settings.factor
    return [Line(f"np.multiply({output_of(net, l - 1)}, {factor!r}, out=A{l})",
                 (f"Layer {l}: A{l} = {factor!r} A{l - 1}",))]


def parameters(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    return []


def input_gradient(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l, factor = layer.index, layer.settings.factor
    return [Line(f"np.multiply(g{l}, {factor!r}, out={gradient_of(net, l - 1)})",
                 (step(net, layer, f"{factor!r} g{l}", f"∂A{l}/∂A{l - 1} = {factor!r}"),))]

"""flatten in the generated module: a transposing copy into PyTorch's (C, H, W) order, and back."""

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
    return "flatten: Al[k, (c·H + i)·W + j] = A(l-1)[k, c, i, j]"


def layout(net: NetworkDerivation) -> str:
    return ""


def words(layer: LayerDerivation) -> str:
    return "[flatten]"


def parameters(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    return []


def forward(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l = layer.index
    channels, height, width = layer.in_shape
    work.array(f"A{l}", layer.out_shape[0], f"layer {l}: flatten in PyTorch's (C, H, W) order, and g{l} = ∂E/∂A{l}")
    work.array(f"g{l}", layer.out_shape[0])
    source = output_of(net, l - 1)
    return [Line(f"np.copyto(A{l}.reshape(-1, {channels}, {height}, {width}), {source}.transpose(0, 3, 1, 2))",
                 (f"Layer {l}: flatten, A{l}[k, (c·{height} + i)·{width} + j] = A{l - 1}[k, c, i, j]",))]


def input_gradient(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l = layer.index
    channels, height, width = layer.in_shape
    return [Line(f"np.copyto({gradient_of(net, l - 1)}, g{l}.reshape(-1, {channels}, {height}, {width})"
                 f".transpose(0, 2, 3, 1))", (step(net, layer, f"reshape(g{l})", "flatten moves each entry"),))]

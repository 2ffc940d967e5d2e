"""flatten in the generated module: a transposing copy into PyTorch's (C, H, W) order, and back."""

from __future__ import annotations

from codegen.layers.base import GridWork, KindCode, image, image_gradient, no_parameters
from codegen.model import Line
from derive.layers.network import GridLayer, GridNetworkDerivation


def _flatten_forward(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    channels, height, width = layer.in_shape
    work.array(f"A{l}", layer.out_shape[0], f"layer {l}: flatten in PyTorch's (C, H, W) order, and g{l} = ∂E/∂A{l}")
    work.array(f"g{l}", layer.out_shape[0])
    source = image(net, l - 1)
    return [Line(f"np.copyto(A{l}.reshape(-1, {channels}, {height}, {width}), {source}.transpose(0, 3, 1, 2))",
                 (f"Layer {l}: flatten, A{l}[k, (c·{height} + i)·{width} + j] = A{l - 1}[k, c, i, j]",))]


def _flatten_input(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    channels, height, width = layer.in_shape
    return [Line(f"np.copyto({image_gradient(net, l - 1)}, g{l}.reshape(-1, {channels}, {height}, {width})"
                 f".transpose(0, 2, 3, 1))", (f"flatten: ∂E/∂A{l - 1} is g{l} put back in shape",))]


CODE = KindCode(_flatten_forward, no_parameters, _flatten_input)

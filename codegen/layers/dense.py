"""A dense layer in a network with typed layers: Z = A W + b, as in :mod:`codegen.model`."""

from __future__ import annotations

from codegen.layers.base import GridWork, KindCode, activation_lines, flat_gradient
from codegen.model import Line, parameter_gradients
from derive.layers.network import GridLayer, GridNetworkDerivation


def _dense_forward(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l, unit = layer.index, layer.unit
    assert unit is not None
    previous = f"A{l - 1}"
    work.array(f"Z{l}", layer.out_shape[0], f"layer {l}: Z{l}, A{l} and δ{l} = ∂E/∂Z{l}")
    lines = [Line(f"np.matmul({previous}, params[\"W{l}\"], out=Z{l})",
                  (f"Layer {l}: Z{l} = {previous} W{l} + b{l}, A{l} = {unit.rule.name}(Z{l})",)),
             Line(f"Z{l} += params[\"b{l}\"]")]
    lines += activation_lines(layer, work)
    work.array(f"d{l}", layer.out_shape[0])
    return lines


def _dense_parameters(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    return parameter_gradients(layer.index, f"A{layer.index - 1}")


def _dense_input(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    l = layer.index
    target = flat_gradient(net, l - 1)
    return [Line(f"np.matmul(d{l}, params[\"W{l}\"].T, out={target})",
                 (f"∂E/∂A{l - 1} = δ{l} W{l}ᵀ   (∂Z{l}/∂A{l - 1} = W{l})",))]


CODE = KindCode(_dense_forward, _dense_parameters, _dense_input)

"""What every layer kind's generated code shares: the batch's arrays (``_work``) and the names of
a layer's outputs and of the gradients flowing into them.

Names of layer l: conv2d keeps Z{l}, A{l}, d{l} = δ{l} as (m·Ho·Wo, F) matrices with (m, Ho, Wo, F)
views A{l}g, d{l}g; a pooling layer A{l}, g{l} = ∂E/∂A{l} as (m, Ho, Wo, C); flatten A{l}, g{l} as
(m, C·H·W); dense Z{l}, A{l}, d{l} as (m, units). The input, X (m, C, H, W), is copied once into
A0 (m, H, W, C), or straight into a padded first conv layer's P1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codegen.model import Line, Work, _commented
from codegen.printers import code
from derive.layers.network import GridLayer, GridNetworkDerivation

Emit = Callable[[GridNetworkDerivation, GridLayer, "GridWork"], list[Line]]


@dataclass(frozen=True)
class KindCode:
    """A layer kind's generated code: its forward lines, its parameters' gradient lines (empty for a
    kind without parameters) and the lines that turn ∂E/∂(its output) into ∂E/∂(its input)."""

    forward: Emit
    parameters: Emit
    input_gradient: Emit


def no_parameters(net: GridNetworkDerivation, layer: GridLayer, work: GridWork) -> list[Line]:
    return []


class GridWork(Work):
    """:class:`~codegen.model.Work` for a network with typed layers: a conv layer's Z is (m·Ho·Wo, F)."""

    def __init__(self, net: GridNetworkDerivation) -> None:
        super().__init__({layer.index: rows_by_columns(layer) for layer in net.layers if layer.unit is not None})


def rows_by_columns(layer: GridLayer) -> str:
    """The shape of Z{l}: (m, units) for dense, (m·Ho·Wo, F) for conv2d."""
    if layer.kind == "dense":
        return f"(m, {layer.out_shape[0]})"
    filters, height, width = layer.out_shape
    return f"(m * {height * width}, {filters})"


def image(net: GridNetworkDerivation, index: int) -> str:
    """The (m, H, W, C) array holding the output of layer ``index`` (0: the input)."""
    if index == 0:  # a padded first conv layer copies X straight into its padded input
        first = net.layers[0]
        padded = first.kind == "conv2d" and first.settings.padding != (0, 0)
        return "X.transpose(0, 2, 3, 1)" if padded else "A0"
    return f"A{index}g" if net.layers[index - 1].kind == "conv2d" else f"A{index}"


def image_gradient(net: GridNetworkDerivation, index: int) -> str:
    """The (m, H, W, C) array receiving ∂E/∂(output of layer ``index``)."""
    return f"d{index}g" if net.layers[index - 1].kind == "conv2d" else f"g{index}"


def flat_gradient(net: GridNetworkDerivation, index: int) -> str:
    return f"d{index}" if net.layers[index - 1].kind == "dense" else f"g{index}"


def activation_lines(layer: GridLayer, work: GridWork) -> list[Line]:
    """A{l} = f(Z{l}) into an array of Z{l}'s shape (or A{l} is Z{l} itself for the identity)."""
    unit, l = layer.unit, layer.index
    assert unit is not None
    shape = rows_by_columns(layer)
    if unit.rule.kind == "softmax":
        work.array("Zs", shape, "softmax: Z shifted by its row maximum, and S = Σ_j exp(Zs) per row")
        work.array("S", "(m, 1)")
        work.array(f"A{l}", shape)
        return _commented("softmax, shifted by the row maximum so exp never overflows", [
            f"np.subtract(Z{l}, Z{l}.max(axis=1, keepdims=True), out=Zs)",
            f"np.exp(Zs, out=A{l})",
            f"np.add.reduce(A{l}, axis=1, keepdims=True, out=S)",
            f"A{l} /= S",
        ])
    if unit.forward == unit.Z:
        work.alias(f"A{l}", f"Z{l}", f"{unit.rule.name}: A{l} is Z{l} itself")
        return []
    assert unit.forward is not None
    work.array(f"A{l}", shape)
    emitter = work.emitter(l)
    emitter.once(unit.forward, lambda expr: emitter.assign(f"A{l}", expr))
    return _commented(f"A{l} = {code(unit.forward)}", emitter.lines)


def strided(sh: int, sw: int) -> str:
    """The slice that keeps every s-th window (nothing for stride 1)."""
    return "" if (sh, sw) == (1, 1) else f"[:, ::{sh}, ::{sw}]"


def offset_slice(offset: str, stride: int, count: int) -> str:
    """The ``count`` positions offset, offset + stride, … as a slice (no step for stride 1)."""
    return f"{offset}:{offset} + {stride * (count - 1) + 1}" + (f":{stride}" if stride != 1 else "")

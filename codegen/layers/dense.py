"""A dense layer in the generated module: Z = A W + b as one matrix product and one broadcast add,
∂E/∂W = Aᵀδ, ∂E/∂b = Σ_k δ, and ∂E/∂A⁽ˡ⁻¹⁾ = δWᵀ into the layer below's buffer."""

from __future__ import annotations

from codegen.layers.base import activation_lines, gradient_of, output_of, reads_input, step
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
    "rows",
    "words",
]


def rows(layer: LayerDerivation) -> str:
    return f"(m, {layer.out_shape[0]})"


def output(layer: LayerDerivation) -> str:
    return f"A{layer.index}"


def gradient(layer: LayerDerivation) -> str:
    return f"d{layer.index}"


def formula(net: NetworkDerivation) -> str:
    alone = all(layer.kind.name == "dense" for layer in net.layers)
    return "Zl = A(l-1) Wl + bl" if alone else "dense: Zl = A(l-1) Wl + bl"


def layout(net: NetworkDerivation) -> str:
    if len(net.spec.input_shape) == 1:
        return "X has one sample per row, so W has shape (fan_in, fan_out)."
    return "a dense layer's W has shape (fan_in, fan_out): its input has one sample per row."


def words(layer: LayerDerivation) -> str:
    assert layer.rule is not None
    return f"[{layer.out_shape[0]} {layer.rule.name}]"


def forward(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l, previous = layer.index, output_of(net, layer.index - 1)
    assert layer.rule is not None
    work.array(f"Z{l}", rows(layer), f"layer {l}: Z{l}, A{l} and δ{l} = ∂E/∂Z{l}")
    lines = [Line(f"np.matmul({previous}, params[\"W{l}\"], out=Z{l})",
                  (f"Layer {l}: Z{l} = {previous} W{l} + b{l}, A{l} = {layer.rule.name}(Z{l})",)),
             Line(f"Z{l} += params[\"b{l}\"]")]
    lines += activation_lines(layer, work)
    work.array(f"d{l}", rows(layer))
    return lines


def parameters(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    """∂E/∂b and ∂E/∂W from δ. Σ_k δ comes first, while δ is still in cache; the product for ∂E/∂W
    streams far more memory."""
    l, previous = layer.index, output_of(net, layer.index - 1)
    return [Line(f"np.add.reduce(d{l}, axis=0, out=grads[\"b{l}\"])", (f"∂E/∂b{l} = Σ_k δ{l}   (∂Z{l}/∂b{l} = 1)",)),
            Line(f"np.matmul({previous}.T, d{l}, out=grads[\"W{l}\"])",
                 (f"∂E/∂W{l} = {previous}ᵀ δ{l}   (∂Z{l}/∂W{l} = {previous})",))]


def input_gradient(net: NetworkDerivation, layer: LayerDerivation, work: Work) -> list[Line]:
    l = layer.index
    return [Line(f"np.matmul(d{l}, params[\"W{l}\"].T, out={gradient_of(net, l - 1)})",
                 (step(net, layer, f"(δ{l} W{l}ᵀ)", f"∂Z{l}/∂A{l - 1} = W{l}"),))]

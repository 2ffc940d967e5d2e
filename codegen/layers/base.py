"""What every layer kind's generated code shares: the names of a layer's arrays, an activation's lines,
and the comment of the step that passes the error down.

Names of layer l: a kind with an activation keeps Z{l}, A{l} and d{l} = δ{l} = ∂E/∂Z{l} as matrices
(dense: (m, units); conv2d: (m·Ho·Wo, F), seen as (m, Ho, Wo, F) through A{l}g, d{l}g); a kind
without one keeps A{l} and g{l} = ∂E/∂A{l} (pooling: (m, Ho, Wo, C); flatten: (m, C·H·W)). The
input X is (m, d) for a flat network, or (m, C, H, W) copied once into A0 (m, H, W, C).

Each kind's module (``codegen/layers/<stage>.py``) provides:

* ``rows(layer)``: Z's shape as code, for a kind with an activation;
* ``output(layer)`` and ``gradient(layer)``: the arrays holding A⁽ˡ⁾ and receiving ∂E/∂A⁽ˡ⁾, in the
  layout the kind keeps them (an image (m, H, W, C), or a matrix);
* ``forward(net, layer, work)``, ``parameters(net, layer, work)``, ``input_gradient(net, layer, work)``:
  its lines of the forward pass, of its parameters' gradients, and of ∂E/∂A⁽ˡ⁻¹⁾ into ``gradient`` of
  the layer below;
* ``formula(net)``, ``layout(net)``: its lines of the module docstring's notation; ``words(layer)``:
  the layer in the one-line summary;
* ``reads_input(layer)``: whether, as the first layer, it reads X itself (no copy into A0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codegen.printers import code

if TYPE_CHECKING:
    from codegen.model import Line, Work
    from derive.network import LayerDerivation, NetworkDerivation

NARROW = 64  # below this many columns a row maximum is faster through the transpose


def output_of(net: NetworkDerivation, index: int) -> str:
    """The array holding A⁽ⁱⁿᵈᵉˣ⁾ in its kind's layout; A⁽⁰⁾ is X (flat), A0 (an image copied once), or X
    seen as (m, H, W, C) when the first layer reads it itself."""
    if index > 0:
        below = net.layers[index - 1]
        return below.kind.code().output(below)  # type: ignore[no-any-return]
    if len(net.spec.input_shape) == 1:
        return "X"
    first = net.layers[0]
    return "X.transpose(0, 2, 3, 1)" if first.kind.code().reads_input(first) else "A0"


def gradient_of(net: NetworkDerivation, index: int) -> str:
    """The array receiving ∂E/∂A⁽ⁱⁿᵈᵉˣ⁾ (for a layer with an activation: its δ's buffer, which the
    activation's derivative then scales)."""
    below = net.layers[index - 1]
    return below.kind.code().gradient(below)  # type: ignore[no-any-return]


def step(net: NetworkDerivation, layer: LayerDerivation, product: str, partial: str) -> str:
    """The comment of the line that passes the error to the layer below: δ⁽ˡ⁻¹⁾ = (…) ⊙ f′(Z⁽ˡ⁻¹⁾) where
    that layer has an activation, ∂E/∂A⁽ˡ⁻¹⁾ = … where it has none."""
    l = layer.index
    below = net.layers[l - 2]
    if below.rule is not None:
        return f"δ{l - 1} = {product} ⊙ {below.rule.name}'(Z{l - 1})   ({partial})"
    return f"∂E/∂A{l - 1} = {product}   ({partial})"


def activation_lines(layer: LayerDerivation, work: Work) -> list[Line]:
    """A{l} = f(Z{l}) into an array of Z{l}'s shape (or A{l} is Z{l} itself for the identity); softmax over
    each row, shifted by the row maximum, into buffers allocated once."""
    from codegen.model import commented

    l, rule = layer.index, layer.rule
    assert rule is not None
    shape = layer.kind.code().rows(layer)
    if layer.is_softmax:
        columns = layer.out_shape[0]
        work.array("Zs", shape, "softmax: Z shifted by its row maximum, and S = Σ_j exp(Zs) per row")
        work.array("S", "(m, 1)")
        work.array("Zmax", "(m, 1)")
        maximum = _row_maximum(work, l, columns)
        work.array(f"A{l}", shape)
        return commented("softmax, shifted by the row maximum so exp never overflows", [
            *maximum,
            f"np.subtract(Z{l}, Zmax, out=Zs)",
            f"np.exp(Zs, out=A{l})",
            f"np.add.reduce(A{l}, axis=1, keepdims=True, out=S)",
            f"A{l} /= S",
        ])
    if layer.forward == layer.Z:
        work.alias(f"A{l}", f"Z{l}", f"{rule.name}: A{l} is Z{l} itself")
        return []
    assert layer.forward is not None
    work.array(f"A{l}", shape)
    emitter = work.emitter(l)
    emitter.once(layer.forward, lambda expr: emitter.assign(f"A{l}", expr))
    return commented(f"A{l} = {code(layer.forward)}", emitter.lines)


def _row_maximum(work: Work, l: int, columns: int) -> list[str]:
    """Statements leaving max_j Z_kj in Zmax (m, 1).

    NumPy reduces a short last axis row by row, 4x to 8x slower than it reduces the first
    axis in vector steps; so a narrow Z is copied to its transpose first. The maximum is
    exact whatever the order.
    """
    if columns >= NARROW:
        return [f"np.maximum.reduce(Z{l}, axis=1, keepdims=True, out=Zmax)"]
    work.array(f"Z{l}t", f"({columns}, m)", f"Z{l} transposed, for its row maximum")
    return [f"np.copyto(Z{l}t, Z{l}.T)", f"np.maximum.reduce(Z{l}t, axis=0, out=Zmax[:, 0])"]


def reads_input(layer: LayerDerivation) -> bool:
    """The default: a first layer reads X from A0 (images) or from X itself (flat)."""
    return False


def strided(sh: int, sw: int) -> str:
    """The slice that keeps every s-th window (nothing for stride 1)."""
    return "" if (sh, sw) == (1, 1) else f"[:, ::{sh}, ::{sw}]"


def offset_slice(offset: str, stride: int, count: int) -> str:
    """The ``count`` positions offset, offset + stride, … as a slice (no step for stride 1)."""
    return f"{offset}:{offset} + {stride * (count - 1) + 1}" + (f":{stride}" if stride != 1 else "")

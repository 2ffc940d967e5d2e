"""The convolution layer's part of the document: its notation, forward equation, the partials of its
indexed definition and the chain-rule sums SymPy derived (:mod:`derive.layers.conv2d`), its rows of
the backward pass, its computational graph and its numbers.

Its indices count from 0, as PyTorch's and the generated code's do.
"""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.layers import LayerKind, conv2d
from derive.layers.conv2d import (
    CHANNELS,
    FILTERS,
    HO,
    KH,
    KW,
    WO,
    c,
    c2,
    f,
    g,
    i,
    j,
    k,
    p,
    s,
    u,
    u2,
    v,
    v2,
    x,
    y,
)
from derive.network import LayerDerivation, NetworkDerivation
from derive.notation import Call, FunctionName, InRange, Listing, Partial, Shape
from derive.steps import Block, Graph, Node, Paragraph, Row, Section, display, row, say
from derive.story.cast import Cast
from derive.story.layers.base import PLUS, Notes, edge, numbers, short
from derive.worked import WorkedExample

A_prev, W, b, Z, delta = (naming.GENERIC[role] for role in ("A_prev", "W", "b", "Z", "delta"))
CONV = FunctionName(r"\operatorname{conv}")
CONV_T = FunctionName(r"\operatorname{conv}^{\mathsf{T}}")  # the transposed convolution: ∂E/∂A⁽ˡ⁻¹⁾


def indicators(expr: sp.Expr) -> sp.Expr:
    """SymPy's Piecewise((e, 0 ≤ t ∧ t + 1 ≤ k ∧ …), (0, True)) written as e·[0 ≤ t < k]·…"""
    def indicator(piecewise: sp.Piecewise) -> sp.Expr:
        (value, condition), *rest = piecewise.args
        if not rest or rest[0] != (0, True):
            return piecewise
        lows, highs = {}, {}
        for clause in sp.And.make_args(condition):
            small, large = clause.lts, clause.gts
            if small == 0:
                lows[large] = True
            else:
                highs[sp.expand(small - 1)] = large
        factors = [InRange(0, term, highs[term]) for term in sorted(lows, key=sp.default_sort_key) if term in highs]
        if len(factors) * 2 != len(sp.And.make_args(condition)):
            return piecewise
        return sp.Mul(*factors, value, evaluate=False)
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), indicator)


def for_layer(expr: sp.Expr, layer: LayerDerivation) -> sp.Expr:
    """A formula of the general convolution layer written for ``layer``: its arrays, sizes, and its
    stride and padding where they are the same on both axes."""
    l, settings = layer.index, layer.settings
    (channels, _, _), (filters, out_h, out_w) = layer.in_shape, layer.out_shape
    names = {A_prev: naming.A(l - 1), W: naming.W(l), b: naming.b(l), Z: naming.Z(l), delta: naming.delta(l)}
    sizes = {CHANNELS: channels, FILTERS: filters, KH: settings.kernel[0], KW: settings.kernel[1],  # type: ignore[attr-defined]
             HO: out_h, WO: out_w}
    stride, padding = settings.stride, settings.padding  # type: ignore[attr-defined]
    if stride[0] == stride[1] and padding[0] == padding[1]:
        sizes.update({s: stride[0], p: padding[0]})
    renamed = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base.label in names,
                           lambda e: naming.entry(names[e.base.label], *e.indices))
    return renamed.subs(sizes)


def notation(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> Notes:
    return Notes(
        indices=[
            (Listing(FILTERS, CHANNELS), say(_("the filters of a convolution layer and the channels of its input"))),
            (Listing(f, g), say(_("a filter, and the one a derivative is taken with respect to"))),
            (Listing(c, c2), say(_("a channel of the input, and the one a derivative is taken with respect to"))),
            (Listing(KH, KW), say(_("the rows and columns of a kernel"))),
            (Listing(s, p), say(_("the stride and the padding; a layer whose rows and columns differ uses each on "
                                  "its own axis"))),
            (Listing(HO, WO), say(_("the rows and columns of a layer's output"))),
            (Listing(i, j), say(_("a row and a column of a layer's output"))),
            (Listing(y, x), say(_("a row and a column of a layer's input"))),
            (Listing(u, v), say(_("a row and a column within a kernel or a pooling window; {uv2} the ones a "
                                  "derivative is taken with respect to"), uv2=sp.Tuple(u2, v2))),
        ],
        arrays=[(naming.entry(W, f, c, u, v),
                 say(_("a weight of a convolution layer, {shape}; its bias {b} has one entry per filter"),
                     shape=Shape(Shape(Shape(FILTERS, CHANNELS), KH), KW), b=b))],
        blocks=[(Call(CONV), say(_("a convolution layer's sum of the block diagram, {definition} for every sample, "
                                   "filter and position"), definition=sp.Eq(naming.entry(Z, k, f, i, j),
                                                                            conv2d.derive_conv2d().definition,
                                                                            evaluate=False))),
                (Call(CONV_T), say(_("its transposed convolution: {dA} from {delta}, entry by entry as its section "
                                     "derives"), dA=Partial(naming.E, A_prev), delta=delta))],
    )


def _size(pair: tuple[int, int]) -> Shape:
    return Shape(sp.Integer(pair[0]), sp.Integer(pair[1]))


def _volume(shape: tuple[int, ...]) -> sp.Expr:
    return Shape(Shape(sp.Integer(shape[0]), sp.Integer(shape[1])), sp.Integer(shape[2]))


def describe(layer: LayerDerivation, cast: Cast) -> Paragraph:
    settings = layer.settings
    return say(_("Layer {l}: a convolution with {F} filters of {size}, stride {s} and padding {p}, then {f}; its "
                 "output is {out} per sample."), l=sp.Integer(layer.index), F=sp.Integer(settings.filters),  # type: ignore[attr-defined]
               size=_size(settings.kernel), s=_size(settings.stride), p=_size(settings.padding),  # type: ignore[attr-defined]
               f=cast.layer(layer), out=_volume(layer.out_shape))


def forward_rows(layer: LayerDerivation, cast: Cast) -> list[Row]:
    """Z⁽ˡ⁾ entry by entry, with the layer's stride and padding on each axis, then A⁽ˡ⁾."""
    l, settings = layer.index, layer.settings
    (channels, _, _) = layer.in_shape
    (kh, kw), (sh, sw), (ph, pw) = settings.kernel, settings.stride, settings.padding  # type: ignore[attr-defined]
    A, weight = sp.IndexedBase(naming.A(l - 1)), sp.IndexedBase(naming.W(l))
    entry = sp.Sum(weight[f, c, u, v] * A[k, c, sh * i + u - ph, sw * j + v - pw],
                   (v, 0, kw - 1), (u, 0, kh - 1), (c, 0, channels - 1))
    return [row(naming.entry(naming.Z(l), k, f, i, j), naming.entry(naming.b(l), f) + entry),
            row(naming.A(l), Call(cast.layer(layer), naming.Z(l)))]


def diagram(layer: LayerDerivation, cast: Cast) -> list[sp.Basic]:
    l = layer.index
    return [Listing(naming.A(l - 1), naming.W(l), naming.b(l)), Call(CONV), naming.Z(l), Call(cast.layer(layer))]


def sections(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> list[Section]:
    d = conv2d.derive_conv2d()
    entry = naming.entry(Z, k, f, i, j)
    partials = [row(entry, d.definition)]
    for partial in (d.weight, d.bias, d.input):
        partials.append(row(Partial(entry, partial.wrt), partial.raw))
        if partial.done != partial.raw:
            partials.append(row(None, indicators(partial.done)))
    sums = []
    for chain in (d.weight_sum, d.bias_sum, d.input_sum):
        sums.append(row(chain.target, indicators(chain.substituted)))
        sums.append(row(None, indicators(chain.summed)))
    blocks: list[Block] = [
        say(_("A convolution layer {l} with stride {s} and padding {p}: for sample {k}, filter {f} and output "
              "position {ij}, the channels {c} and the kernel offsets {uv} are summed over; an entry of the "
              "input outside the image is a zero of the padding."), l=naming.l, s=s, p=p, k=k, f=f,
            ij=sp.Tuple(i, j), c=c, uv=sp.Tuple(u, v)),
        display(*partials),
        say(_("SymPy differentiates the sum by one entry at a time and sums the indicators away. A weight is "
              "used at every position of every sample; an input entry only at the output positions whose "
              "window covers it, which is the condition that is left.")),
        say(_("Put into the chain rule with {delta}, summed over every entry of {Z} that each one reaches:"),
            delta=sp.Eq(naming.entry(delta, k, f, i, j), Partial(naming.E, naming.entry(Z, k, f, i, j)),
                        evaluate=False), Z=Z),
        display(*sums),
        say(_("So {dW} is a correlation of the layer input with {delta}: the same windows as the forward pass, "
              "weighted by {delta} instead of the kernel. {db} is the sum of {delta} over the samples and the "
              "positions. {dA} collects, for each input entry, {delta} times the kernel weight that joined them: "
              "the transposed convolution {conv}."),
            dW=Partial(naming.E, W), delta=delta, db=Partial(naming.E, b), dA=Partial(naming.E, A_prev),
            conv=Call(CONV_T, delta, W)),
        say(_("The generated code computes these sums as matrix products: with every window of the input "
              "copied into one row of a matrix (im2col), the forward pass is one product with the kernels, "
              "{dW} is the product of {delta} with that matrix, and {dA} is the product of {delta} with the "
              "kernels, each row added back at its window's place."),
            dW=Partial(naming.E, W), delta=delta, dA=Partial(naming.E, A_prev)),
    ]
    title = say(_("{dZdW}, {dZdb}, {dZdA}: the convolution layer"), dZdW=Partial(Z, W), dZdb=Partial(Z, b),
                dZdA=Partial(Z, A_prev))
    return [Section("conv2d", title, tuple(blocks))]


def parameter_rows(net: NetworkDerivation, layer: LayerDerivation, cast: Cast) -> list[Row]:
    """∂E/∂W⁽ˡ⁾ and ∂E/∂b⁽ˡ⁾ entry by entry: the derived sums, written for this layer."""
    d = conv2d.derive_conv2d()
    return [row(for_layer(chain.target, layer), indicators(for_layer(chain.summed, layer)))
            for chain in (d.weight_sum, d.bias_sum)]


def input_gradient(net: NetworkDerivation, layer: LayerDerivation) -> sp.Basic:
    """∂E/∂A⁽ˡ⁻¹⁾, the transposed convolution of δ⁽ˡ⁾ with W⁽ˡ⁾."""
    return Call(CONV_T, naming.delta(layer.index), naming.W(layer.index))


def graph(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> Graph:
    """A⁽ˡ⁻¹⁾ and W⁽ˡ⁾ into the convolution, +b⁽ˡ⁾, the activation; the first entries' numbers."""
    l = layer.index
    A_in, W_l, b_l, Z_l = naming.A(l - 1), naming.W(l), naming.b(l), naming.Z(l)
    nodes = [Node(f"A{l - 1}", A_in, "value", 0, 0), Node(f"W{l}", W_l, "value", 1, -1.3),
             Node(f"conv{l}", CONV, "operation", 1, 0), Node(f"b{l}", b_l, "value", 2, -1.3),
             Node(f"add{l}", PLUS, "operation", 2, 0), Node(f"act{l}", cast.layer(layer), "operation", 3, 0)]
    deltas, Z_values = worked.deltas[l - 1], worked.Z[l - 1]
    assert deltas is not None and Z_values is not None
    first = (0, 0, 0, 0)
    _, back = layer.kind.backward_numbers(layer, {"W": worked.params[f"W{l}"]}, worked.A[l - 1], deltas)
    in_first = (0,) * worked.A[l - 1].ndim
    in_entry = naming.entry(A_in, *in_first) if len(in_first) == 4 else naming.entry(A_in, 1, 1)
    edges = [
        edge(f"A{l - 1}", f"conv{l}", in_entry, worked.A[l - 1][in_first], Partial(Z_l, A_in), back[in_first]),
        edge(f"W{l}", f"conv{l}", naming.entry(W_l, *first), worked.params[f"W{l}"][first], Partial(Z_l, W_l),
             worked.gradients[f"W{l}"][first]),
        edge(f"conv{l}", f"add{l}", naming.entry(Z_l, *first) - naming.entry(b_l, 0),
             Z_values[first] - worked.params[f"b{l}"][0], sp.Integer(1), deltas[first]),
        edge(f"b{l}", f"add{l}", naming.entry(b_l, 0), worked.params[f"b{l}"][0], Partial(Z_l, b_l),
             worked.gradients[f"b{l}"][0]),
    ]
    local = None if layer.backward is None else short(layer.backward, cast.layer(layer).derivative())
    edges.append(edge(f"add{l}", f"act{l}", naming.entry(Z_l, *first), Z_values[first], local, deltas[first]))
    return Graph(tuple(nodes), tuple(edges))


def worked_forward(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    l = layer.index
    Z_values = worked.Z[l - 1]
    assert Z_values is not None
    return [row(naming.Z(l), Call(CONV, naming.A(l - 1), naming.W(l), naming.b(l)), numbers(Z_values)),
            row(naming.A(l), Call(cast.layer(layer), naming.Z(l)), numbers(worked.A[l]))]


def worked_parameters(net: NetworkDerivation, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    l = layer.index
    return [row(Partial(naming.E, naming.W(l)), numbers(worked.gradients[f"W{l}"])),
            row(Partial(naming.E, naming.b(l)), numbers(worked.gradients[f"b{l}"]))]


def entry_label(key: str, index: tuple[int, ...]) -> sp.Basic:
    """W⁽ˡ⁾[f, c, u, v] and b⁽ˡ⁾[f], counting from 0 as the convolution's formulas do."""
    l = int(key[1:])
    return naming.entry(naming.W(l) if key.startswith("W") else naming.b(l), *index)

"""The document of a network with typed layers: the layers, the loss and activations (as for a
dense network), the convolution's partials and chain-rule sums, the routing of pooling, flatten,
the dense layer, and the update.

The convolution's formulas are those :mod:`derive.layers.conv2d` derived; a pooling window's
partials those of :mod:`derive.layers.pool2d`. The notation table is this network's own; the
sections that only know dense networks (the computational graph, the worked example) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy as sp

from derive import i18n, naming
from derive.i18n import _
from derive.layers import conv2d
from derive.layers.network import GridLayer, GridNetworkDerivation
from derive.layers.pool2d import PH, PW, derive_pool2d, u2, v2
from derive.network import NetworkDerivation
from derive.notation import Call, Listing, Notation, Partial, Shape
from derive.spec import LayerSpec, Spec
from derive.steps import Block, Math, Paragraph, Section, Table, Words, display, row, say
from derive.story import activation, dense, loss, softmax, update
from derive.story.cast import ELL, cast_of

if TYPE_CHECKING:
    from derive.story import Document

A_prev, W, b, Z, delta = (naming.GENERIC[role] for role in ("A_prev", "W", "b", "Z", "delta"))


class InRange(Notation):
    """``[low ≤ value < high]``: 1 inside, 0 outside (the kernel's edge in ∂Z/∂A)."""

    def __new__(cls, low: sp.Basic, value: sp.Basic, high: sp.Basic) -> InRange:
        return sp.Expr.__new__(cls, sp.sympify(low), sp.sympify(value), sp.sympify(high))

    def _latex(self, printer: Any) -> str:
        low, value, high = (printer._print(arg) for arg in self.args)
        return rf"[{low} \le {value} < {high}]"


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


@dataclass(frozen=True)
class _Units(NetworkDerivation):
    """The layers that have an activation, numbered as in the whole network, whose depth this keeps:
    the output is A⁽ᴸ⁾ of the whole network, not of its dense part."""

    total: int = 0

    @property
    def depth(self) -> int:
        return self.total


def document(net: GridNetworkDerivation, language: str = "en") -> Document:
    from derive.story import Document

    with i18n.language(language):
        units = tuple(layer.unit for layer in net.layers if layer.unit is not None)
        plain = Spec(net.spec.name, net.spec.inputs, tuple(LayerSpec(unit.fan_out, unit.rule, unit.init)
                                                            for unit in units),
                     net.spec.loss, net.spec.reduction, net.spec.dtype, net.spec.train, net.spec.source)
        flat = _Units(plain, units, net.output, net.depth)  # the loss, activations and update as for dense layers
        cast = cast_of(flat)
        kinds = {layer.kind for layer in net.layers}
        sections = [network_section(net), notation_section(net), loss.section(flat, cast),
                    *activation.sections(flat, cast), *softmax.sections(flat, cast)]
        if "conv2d" in kinds:
            sections.append(conv_section(net))
        sections += [pool_section(net, kind) for kind in ("maxpool2d", "avgpool2d") if kind in kinds]
        if "flatten" in kinds:
            sections.append(flatten_section())
        if "dense" in kinds:
            sections += [dense.partials_section(flat), dense.sums_section(flat, cast)]
        sections += [backprop_section(net), update.section(flat, cast)]
        title = say(_("Backpropagation for {name}"), name=Words(net.spec.name))
    return Document(net.spec.name, net.spec.source, language, net.depth, title, tuple(sections))


def _size(pair: tuple[int, int]) -> Shape:
    return Shape(sp.Integer(pair[0]), sp.Integer(pair[1]))


def _describe(layer: GridLayer) -> Block:
    s, l = layer.settings, sp.Integer(layer.index)
    shape = Shape(sp.Integer(layer.out_shape[0]), sp.Integer(1)) if len(layer.out_shape) == 1 else None
    if layer.kind == "conv2d":
        return say(_("Layer {l}: a convolution with {F} filters of {size}, stride {s} and padding {p}, "
                     "then {f}; its output is {out} per sample."), l=l, F=sp.Integer(s.filters), size=_size(s.kernel),
                   s=_size(s.stride), p=_size(s.padding), f=Words(s.activation.name), out=_volume(layer.out_shape))
    if layer.kind == "maxpool2d":
        return say(_("Layer {l}: the maximum of each window of {size}, stride {s}; its output is {out} per sample."),
                   l=l, size=_size(s.pool), s=_size(s.stride), out=_volume(layer.out_shape))
    if layer.kind == "avgpool2d":
        return say(_("Layer {l}: the mean of each window of {size}, stride {s}; its output is {out} per sample."),
                   l=l, size=_size(s.pool), s=_size(s.stride), out=_volume(layer.out_shape))
    if layer.kind == "flatten":
        return say(_("Layer {l}: flatten, the {shape} values of each sample as one row of {d}, in the order "
                     "channel, row, column."), l=l, shape=_volume(layer.in_shape), d=sp.Integer(layer.out_shape[0]))
    assert shape is not None
    return say(_("Layer {l}: a dense layer of {d} units, then {f}."), l=l, d=sp.Integer(s.units),
               f=Words(s.activation.name))


def _volume(shape: tuple[int, ...]) -> sp.Expr:
    if len(shape) == 1:
        return sp.Integer(shape[0])
    return Shape(Shape(sp.Integer(shape[0]), sp.Integer(shape[1])), sp.Integer(shape[2]))


def network_section(net: GridNetworkDerivation) -> Section:
    channels, height, width = net.spec.shapes[0]  # type: ignore[attr-defined]
    if channels == 1:
        sample = say(_("Each sample of {X} is an image of one channel of {H} rows and {W} columns, as in "
                       "PyTorch; indices run from 0."), X=naming.X, H=sp.Integer(height), W=sp.Integer(width))
    else:
        sample = say(_("Each sample of {X} is an image of {C} channels of {H} rows and {W} columns, as in "
                       "PyTorch; indices run from 0."), X=naming.X, C=sp.Integer(channels), H=sp.Integer(height),
                     W=sp.Integer(width))
    blocks: list[Block] = [
        sample,
        *(_describe(layer) for layer in net.layers),
    ]
    return Section("network", say(_("The network")), tuple(blocks))


def notation_section(net: GridNetworkDerivation) -> Section:
    """Every symbol the sections below use, stated once; the convolution's indices count from 0."""
    kinds = {layer.kind for layer in net.layers}
    n, k, l, L = conv2d.SAMPLES, conv2d.k, naming.l, naming.L
    A, Y = naming.GENERIC["A"], naming.Y
    rows: list[tuple[sp.Basic, Paragraph]] = [
        (Listing(k, conv2d.k2), say(_("a sample of the batch; {n} is the batch size"), n=n)),
        (l, say(_("a layer, numbered as in the list above; here {L}"), L=sp.Eq(L, net.depth, evaluate=False))),
        (Listing(Z, A), say(_("the pre-activation and the output of layer {l}; {A0} is the input"),
                            l=l, A0=sp.Eq(naming.A0, naming.X, evaluate=False))),
    ]
    if "conv2d" in kinds:
        rows += [
            (Listing(conv2d.FILTERS, conv2d.CHANNELS),
             say(_("the filters of a convolution layer and the channels of its input"))),
            (Listing(conv2d.f, conv2d.g), say(_("a filter, and the one a derivative is taken with respect to"))),
            (Listing(conv2d.c, conv2d.c2), say(_("a channel of the input, and the one a derivative is taken with "
                                                 "respect to"))),
            (Listing(conv2d.KH, conv2d.KW), say(_("the rows and columns of a kernel"))),
            (Listing(conv2d.s, conv2d.p), say(_("the stride and the padding; a layer whose rows and columns "
                                                "differ uses each on its own axis"))),
            (Listing(conv2d.HO, conv2d.WO), say(_("the rows and columns of a layer's output"))),
            (Listing(conv2d.i, conv2d.j), say(_("a row and a column of a layer's output"))),
            (Listing(conv2d.y, conv2d.x), say(_("a row and a column of a layer's input"))),
            (naming.entry(W, conv2d.f, conv2d.c, conv2d.u, conv2d.v),
             say(_("a weight of a convolution layer, {shape}; its bias {b} has one entry per filter"),
                 shape=Shape(Shape(Shape(conv2d.FILTERS, conv2d.CHANNELS), conv2d.KH), conv2d.KW), b=b)),
        ]
    if "avgpool2d" in kinds:
        rows.append((Listing(PH, PW), say(_("the rows and columns of a pooling window"))))
    if kinds & {"conv2d", "avgpool2d"}:
        rows.append((Listing(conv2d.u, conv2d.v), say(_("a row and a column within a kernel or a pooling window; "
                                                        "{uv2} the ones a derivative is taken with respect to"),
                                                      uv2=sp.Tuple(conv2d.u2, conv2d.v2))))
    if "dense" in kinds:
        rows += [
            (naming.GENERIC["width"], say(_("in the dense layer's section, the number of units of layer {l}"), l=l)),
            (Listing(naming.i, naming.j, naming.p, naming.q),
             say(_("in the dense layer's section: a unit of the layer before, a unit of layer {l}, and the row "
                   "and column of the one weight {w} a derivative is taken with respect to"),
                 l=l, w=naming.entry(W, naming.p, naming.q))),
        ]
    rows += [
        (delta, say(_("{definition}, the same shape as {Z}: how {E} changes with each pre-activation of layer "
                      "{l}. The letter {delta} means nothing else in this document"),
                    definition=sp.Eq(delta, Partial(naming.E, Z), evaluate=False), Z=Z, E=naming.E, l=l,
                    delta=delta)),
        (Listing(Y, naming.y), say(_("the targets of the batch, and one of them"))),
        (Call(ELL, naming.a, naming.y), say(_("the loss of one output of one sample"))),
        (naming.E, say(_("the loss of the batch: the number that training makes small"))),
        (sp.KroneckerDelta(conv2d.i, conv2d.j), say(_("1 if {i} and {j} are equal, 0 otherwise (an indicator); "
                                                      "likewise for any condition in brackets"),
                                                    i=conv2d.i, j=conv2d.j)),
        (naming.ETA, say(_("the learning rate; here {eta}"),
                         eta=sp.Eq(naming.ETA, naming.number(net.spec.train.learning_rate), evaluate=False))),
    ]
    if net.output.softmax is not None:
        rows.insert(-4, (Listing(naming.c, naming.c2), say(_("in the softmax section, the classes: the {K} outputs "
                                                             "of the last layer"),
                                                           K=sp.Eq(naming.K, sp.Eq(naming.m, net.spec.outputs,
                                                                                   evaluate=False),
                                                                   evaluate=False))))
    table = Table((say(_("symbol")), say(_("meaning"))),
                  tuple((Paragraph((Math(symbol),)), meaning) for symbol, meaning in rows), style="glossary")
    words = say(_("The convolution and pooling formulas count from 0, as PyTorch does; the dense layer's "
                  "formulas count from 1, as for a dense network."))
    return Section("notation", say(_("Notation")), (words, table))


def conv_section(net: GridNetworkDerivation) -> Section:
    d = conv2d.derive_conv2d()
    k, f, i, j = conv2d.k, conv2d.f, conv2d.i, conv2d.j
    entry = naming.entry(Z, k, f, i, j)
    partials = [row(entry, d.definition)]
    for partial in (d.weight, d.bias, d.input):
        partials.append(row(Partial(entry, partial.wrt), partial.raw))
        if partial.done != partial.raw:
            partials.append(row(None, indicators(partial.done)))
    weight, bias, inputs = d.weight_sum, d.bias_sum, d.input_sum
    sums = []
    for chain in (weight, bias, inputs):
        sums.append(row(Partial(naming.E, chain.wrt), indicators(chain.substituted)))
        sums.append(row(None, indicators(chain.summed)))
    blocks: list[Block] = [
        say(_("A convolution layer {l} with stride {s} and padding {p}: for sample {k}, filter {f} and output "
              "position {ij}, the channels {c} and the kernel offsets {uv} are summed over; an entry of the "
              "input outside the image is a zero of the padding."), l=naming.l, s=conv2d.s, p=conv2d.p, k=k, f=f,
            ij=sp.Tuple(i, j), c=conv2d.c, uv=sp.Tuple(conv2d.u, conv2d.v)),
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
              "positions. {dA} is a full convolution of {delta} with the flipped kernel: the kernel index "
              "{y} runs backwards as {i} runs forwards."),
            dW=Partial(naming.E, W), delta=delta, db=Partial(naming.E, b), dA=Partial(naming.E, A_prev),
            y=conv2d.y - conv2d.s * i + conv2d.p, i=i),
        say(_("The generated code computes these sums as matrix products: with every window of the input "
              "copied into one row of a matrix (im2col), the forward pass is one product with the kernels, "
              "{dW} is the product of {delta} with that matrix, and {dA} is the product of {delta} with the "
              "kernels, each row added back at its window's place."),
            dW=Partial(naming.E, W), delta=delta, dA=Partial(naming.E, A_prev)),
    ]
    title = say(_("{dZdW}, {dZdb}, {dZdA}: the convolution layer"), dZdW=Partial(Z, W), dZdb=Partial(Z, b),
                dZdA=Partial(Z, A_prev))
    return Section("conv2d", title, tuple(blocks))


def pool_section(net: GridNetworkDerivation, kind: str) -> Section:
    if kind == "avgpool2d":
        derived = derive_pool2d(kind, (2, 2))
        mean = sp.Symbol("a", real=True)
        blocks: list[Block] = [
            say(_("Average pooling writes the mean of each window of {size}:"), size=Shape(PH, PW)),
            display(row(mean, derived.definition),
                    row(Partial(mean, naming.entry(A_prev, u2, v2)), derived.partials[0])),
            say(_("So every entry of a window receives {share} of the window's {delta}, and an entry in several "
                  "windows adds up its shares."), share=derived.partials[0], delta=Partial(naming.E, mean)),
        ]
        return Section("avgpool2d", say(_("Average pooling: the error spread evenly")), tuple(blocks))
    pools = sorted({layer.settings.pool for layer in net.layers if layer.kind == kind})
    derived = derive_pool2d(kind, pools[0])
    peak = sp.Symbol("a", real=True)
    rows = [row(peak, derived.definition)]
    rows += [row(Partial(peak, entry), partial)
             for entry, partial in list(zip(derived.window, derived.partials, strict=True))[:2]]
    blocks = [
        say(_("Max pooling writes the largest entry of each window; for a window of {size}:"), size=_size(pools[0])),
        display(*rows),
        say(_("SymPy's derivative of the maximum is a product of steps: 1 for the entry that is the largest, "
              "0 for every other. So the window's {delta} goes to its maximum alone, and nothing to the rest.")
            , delta=Partial(naming.E, peak)),
        say(_("Where two entries tie for the maximum the derivative does not exist; the generated code gives "
              "the error to the first of them in row order, as PyTorch does."), kind="note"),
    ]
    return Section("maxpool2d", say(_("Max pooling: the error routed to the maximum")), tuple(blocks))


def flatten_section() -> Section:
    blocks = (say(_("Flatten only moves numbers: its derivative is 1 from each entry to its place in the row, "
                    "so {dA} is {dF} put back into the shape of the image.")
                  , dA=Partial(naming.E, A_prev), dF=Partial(naming.E, naming.GENERIC["A"])),)
    return Section("flatten", say(_("Flatten: the error reshaped")), blocks)


def backprop_section(net: GridNetworkDerivation) -> Section:
    blocks: list[Block] = [say(_("Backpropagation runs through the layers from the output back to the first:"))]
    for layer in reversed(net.layers):
        l = sp.Integer(layer.index)
        if layer.kind in ("dense", "conv2d"):
            blocks.append(say(_("layer {l}: the gradients of its weights and biases from {delta}, then "
                                "the error of its input;"), l=l, delta=naming.delta(layer.index)))
        else:
            blocks.append(say(_("layer {l}: the error of its input from the error of its output;"), l=l))
    blocks.append(say(_("and where a layer has an activation, its error is multiplied entry by entry by the "
                        "activation's derivative to give its {delta}."), delta=delta))
    return Section("backprop", say(_("Backpropagation through this network")), tuple(blocks))

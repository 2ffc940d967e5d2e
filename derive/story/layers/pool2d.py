"""The pooling layers' part of the document: the derivative of a window's max or mean by SymPy
(:mod:`derive.layers.pool2d`), the routing of the error it gives, the forward and backward rows,
the computational graph and the numbers. Indices count from 0."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.layers import LayerKind
from derive.layers.pool2d import PH, PW, derive_pool2d, u, u2, v, v2
from derive.network import LayerDerivation, NetworkDerivation
from derive.notation import Call, FunctionName, Listing, Partial, Shape
from derive.steps import Block, Graph, Node, Paragraph, Row, Section, display, row, say
from derive.story.cast import Cast
from derive.story.layers.base import Notes, edge, numbers
from derive.worked import WorkedExample

A_prev = naming.GENERIC["A_prev"]
POOL = {"maxpool2d": FunctionName(r"\operatorname{maxpool}"), "avgpool2d": FunctionName(r"\operatorname{avgpool}")}
ROUTE = {"maxpool2d": FunctionName(r"\operatorname{route}_{\max}"),
         "avgpool2d": FunctionName(r"\operatorname{spread}_{\mathrm{mean}}")}


def notation(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> Notes:
    notes = Notes()
    if kind.name == "avgpool2d":
        notes.indices += [(Listing(PH, PW), say(_("the rows and columns of a pooling window"))),
                          (Listing(u, v), say(_("a row and a column within a kernel or a pooling window; {uv2} the "
                                                "ones a derivative is taken with respect to"), uv2=sp.Tuple(u2, v2)))]
    words = (_("the error routed back to each window's first maximum: {dA} from {dF}") if kind.name == "maxpool2d"
             else _("the error spread evenly over each window: {dA} from {dF}"))
    notes.blocks.append((Call(ROUTE[kind.name]), say(words, dA=Partial(naming.E, A_prev),
                                                     dF=Partial(naming.E, naming.GENERIC["A"]))))
    return notes


def _size(pair: tuple[int, int]) -> Shape:
    return Shape(sp.Integer(pair[0]), sp.Integer(pair[1]))


def _volume(shape: tuple[int, ...]) -> sp.Expr:
    return Shape(Shape(sp.Integer(shape[0]), sp.Integer(shape[1])), sp.Integer(shape[2]))


def describe(layer: LayerDerivation, cast: Cast) -> Paragraph:
    settings = layer.settings
    message = (_("Layer {l}: the maximum of each window of {size}, stride {s}; its output is {out} per sample.")
               if layer.kind.name == "maxpool2d" else
               _("Layer {l}: the mean of each window of {size}, stride {s}; its output is {out} per sample."))
    return say(message, l=sp.Integer(layer.index), size=_size(settings.pool), s=_size(settings.stride),  # type: ignore[attr-defined]
               out=_volume(layer.out_shape))


def forward_rows(layer: LayerDerivation, cast: Cast) -> list[Row]:
    return [row(naming.A(layer.index), Call(POOL[layer.kind.name], naming.A(layer.index - 1)))]


def diagram(layer: LayerDerivation, cast: Cast) -> list[sp.Basic]:
    return [naming.A(layer.index - 1), Call(POOL[layer.kind.name])]


def sections(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> list[Section]:
    return [_max_section(net) if kind.name == "maxpool2d" else _mean_section(net)]


def _mean_section(net: NetworkDerivation) -> Section:
    derived = derive_pool2d("avgpool2d", (2, 2))
    mean = sp.Symbol("a", real=True)
    blocks: list[Block] = [
        say(_("Average pooling writes the mean of each window of {size}:"), size=Shape(PH, PW)),
        display(row(mean, derived.definition),
                row(Partial(mean, naming.entry(A_prev, u2, v2)), derived.partials[0])),
        say(_("So every entry of a window receives {share} of the window's {delta}, and an entry in several "
              "windows adds up its shares."), share=derived.partials[0], delta=Partial(naming.E, mean)),
    ]
    return Section("avgpool2d", say(_("Average pooling: the error spread evenly")), tuple(blocks))


def _max_section(net: NetworkDerivation) -> Section:
    pools = sorted({layer.settings.pool for layer in net.layers if layer.kind.name == "maxpool2d"})  # type: ignore[attr-defined]
    derived = derive_pool2d("maxpool2d", pools[0])
    peak = sp.Symbol("a", real=True)
    rows = [row(peak, derived.definition)]
    rows += [row(Partial(peak, entry), partial)
             for entry, partial in list(zip(derived.window, derived.partials, strict=True))[:2]]
    blocks: list[Block] = [
        say(_("Max pooling writes the largest entry of each window; for a window of {size}:"), size=_size(pools[0])),
        display(*rows),
        say(_("SymPy's derivative of the maximum is a product of steps: 1 for the entry that is the largest, "
              "0 for every other. So the window's {delta} goes to its maximum alone, and nothing to the rest.")
            , delta=Partial(naming.E, peak)),
        say(_("Where two entries tie for the maximum the derivative does not exist; the generated code gives "
              "the error to the first of them in row order, as PyTorch does."), kind="note"),
    ]
    return Section("maxpool2d", say(_("Max pooling: the error routed to the maximum")), tuple(blocks))


def parameter_rows(net: NetworkDerivation, layer: LayerDerivation, cast: Cast) -> list[Row]:
    return []


def input_gradient(net: NetworkDerivation, layer: LayerDerivation) -> sp.Basic:
    return Call(ROUTE[layer.kind.name], Partial(naming.E, naming.A(layer.index)))


def graph(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> Graph:
    l = layer.index
    A_in = naming.A(l - 1)
    nodes = [Node(f"A{l - 1}", A_in, "value", 0, 0), Node(f"pool{l}", POOL[layer.kind.name], "operation", 1, 0)]
    arriving = worked.upstream[l]
    first = (0, 0, 0, 0)
    back = None
    if arriving is not None:
        _, values = layer.kind.backward_numbers(layer, {}, worked.A[l - 1], arriving)
        back = values[first]
    edges = [edge(f"A{l - 1}", f"pool{l}", naming.entry(A_in, *first), worked.A[l - 1][first],
                  Partial(naming.A(l), A_in), back)]
    return Graph(tuple(nodes), tuple(edges))


def worked_forward(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    l = layer.index
    return [row(naming.A(l), Call(POOL[layer.kind.name], naming.A(l - 1)), numbers(worked.A[l]))]


def worked_parameters(net: NetworkDerivation, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    return []


def entry_label(key: str, index: tuple[int, ...]) -> sp.Basic:
    raise KeyError(f"a pooling layer has no parameter {key}")

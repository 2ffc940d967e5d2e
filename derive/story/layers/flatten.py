"""flatten's part of the document: one row of numbers per sample, and the error put back in shape."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.layers import LayerKind
from derive.network import LayerDerivation, NetworkDerivation
from derive.notation import Call, FunctionName, Partial, Shape
from derive.steps import Graph, Node, Paragraph, Row, Section, row, say
from derive.story.cast import Cast
from derive.story.layers.base import Notes, edge, numbers
from derive.worked import WorkedExample

FLATTEN = FunctionName(r"\operatorname{flatten}")
RESHAPE = FunctionName(r"\operatorname{reshape}")


def notation(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> Notes:
    return Notes(blocks=[(Call(RESHAPE), say(_("flatten's derivative at work: {dA} is {dF} put back into the shape "
                                               "of the image"), dA=Partial(naming.E, naming.GENERIC["A_prev"]),
                                             dF=Partial(naming.E, naming.GENERIC["A"])))])


def describe(layer: LayerDerivation, cast: Cast) -> Paragraph:
    channels, height, width = layer.in_shape
    return say(_("Layer {l}: flatten, the {shape} values of each sample as one row of {d}, in the order "
                 "channel, row, column."), l=sp.Integer(layer.index),
               shape=Shape(Shape(sp.Integer(channels), sp.Integer(height)), sp.Integer(width)),
               d=sp.Integer(layer.out_shape[0]))


def forward_rows(layer: LayerDerivation, cast: Cast) -> list[Row]:
    return [row(naming.A(layer.index), Call(FLATTEN, naming.A(layer.index - 1)))]


def diagram(layer: LayerDerivation, cast: Cast) -> list[sp.Basic]:
    return [naming.A(layer.index - 1), Call(FLATTEN)]


def sections(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> list[Section]:
    blocks = (say(_("Flatten only moves numbers: its derivative is 1 from each entry to its place in the row, "
                    "so {dA} is {dF} put back into the shape of the image."),
                  dA=Partial(naming.E, naming.GENERIC["A_prev"]), dF=Partial(naming.E, naming.GENERIC["A"])),)
    return [Section("flatten", say(_("Flatten: the error reshaped")), blocks)]


def parameter_rows(net: NetworkDerivation, layer: LayerDerivation, cast: Cast) -> list[Row]:
    return []


def input_gradient(net: NetworkDerivation, layer: LayerDerivation) -> sp.Basic:
    return Call(RESHAPE, Partial(naming.E, naming.A(layer.index)))


def graph(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> Graph:
    l = layer.index
    A_in = naming.A(l - 1)
    first = (0, 0, 0, 0)
    arriving = worked.upstream[l]
    back = None if arriving is None else layer.kind.backward_numbers(layer, {}, worked.A[l - 1], arriving)[1][first]
    nodes = [Node(f"A{l - 1}", A_in, "value", 0, 0), Node(f"flatten{l}", FLATTEN, "operation", 1, 0)]
    return Graph(tuple(nodes), (edge(f"A{l - 1}", f"flatten{l}", naming.entry(A_in, *first), worked.A[l - 1][first],
                                     Partial(naming.A(l), A_in), back),))


def worked_forward(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    return [row(naming.A(layer.index), Call(FLATTEN, naming.A(layer.index - 1)), numbers(worked.A[layer.index]))]


def worked_parameters(net: NetworkDerivation, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    return []


def entry_label(key: str, index: tuple[int, ...]) -> sp.Basic:
    raise KeyError(f"flatten has no parameter {key}")

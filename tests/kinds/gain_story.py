"""gain's part of the document."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.layers import LayerKind
from derive.network import LayerDerivation, NetworkDerivation
from derive.notation import Call, FunctionName, Partial
from derive.steps import Graph, Node, Paragraph, Row, Section, display, row, say
from derive.story.cast import Cast
from derive.story.layers.base import Notes, edge, numbers
from derive.worked import WorkedExample
from tests.kinds.gain import a, derive_gain

GAIN = FunctionName(r"\operatorname{gain}")


def notation(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> Notes:
    return Notes(blocks=[(Call(GAIN), say("a gain layer: its input times a fixed number"))])


def describe(layer: LayerDerivation, cast: Cast) -> Paragraph:
    return say("Layer {l}: its input times {c}.", l=sp.Integer(layer.index), c=sp.Float(layer.settings.factor, 6))


def forward_rows(layer: LayerDerivation, cast: Cast) -> list[Row]:
    return [row(naming.A(layer.index), Call(GAIN, naming.A(layer.index - 1)))]


def diagram(layer: LayerDerivation, cast: Cast) -> list[sp.Basic]:
    return [naming.A(layer.index - 1), Call(GAIN)]


def sections(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> list[Section]:
    definition, derivative = derive_gain()
    blocks = (say("A gain layer multiplies each entry by a fixed number:"),
              display(row(Call(GAIN, a), definition), row(Partial(definition, a), derivative)))
    return [Section("gain", say("The gain layer"), blocks)]


def parameter_rows(net: NetworkDerivation, layer: LayerDerivation, cast: Cast) -> list[Row]:
    return []


def input_gradient(net: NetworkDerivation, layer: LayerDerivation) -> sp.Basic:
    return sp.Float(layer.settings.factor, 6) * Partial(naming.E, naming.A(layer.index))


def graph(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> Graph:
    l = layer.index
    arriving = worked.upstream[l]
    back = None if arriving is None else layer.kind.backward_numbers(layer, {}, worked.A[l - 1], arriving)[1][0, 0]
    nodes = (Node(f"A{l - 1}", naming.A(l - 1), "value", 0, 0), Node(f"gain{l}", GAIN, "operation", 1, 0))
    return Graph(nodes, (edge(f"A{l - 1}", f"gain{l}", naming.entry(naming.A(l - 1), 1, 1), worked.A[l - 1][0, 0],
                              Partial(naming.A(l), naming.A(l - 1)), back),))


def worked_forward(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    return [row(naming.A(layer.index), Call(GAIN, naming.A(layer.index - 1)), numbers(worked.A[layer.index]))]


def worked_parameters(net: NetworkDerivation, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    return []


def entry_label(key: str, index: tuple[int, ...]) -> sp.Basic:
    raise KeyError(key)

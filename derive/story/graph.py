"""The computational graph: the network as operation nodes, forward values left to right, and on
every edge the local derivative (as SymPy derived it) and what flows back.

One neuron is drawn as on paper: x₁·w₁, x₂·w₂, their sum, +b, the activation, the loss. A network
of layers is drawn one layer per figure, each layer's nodes as its kind draws them
(:mod:`derive.story.layers`; a dense layer: A⁽ˡ⁻¹⁾ and W⁽ˡ⁾ into a matrix product, +b⁽ˡ⁾, the
activation), then its output A⁽ˡ⁾, or for the last layer the loss. With the worked example, each
edge also carries the numbers of its first sample (or of the first entry of an array).
"""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import Call, Partial
from derive.steps import Figure, Graph, Node, Section, say
from derive.story import scalar
from derive.story.cast import ELL, Cast
from derive.story.layers.base import PLUS, TIMES, edge, short
from derive.worked import WorkedExample


def section(net: NetworkDerivation, cast: Cast, worked: WorkedExample) -> Section:
    if scalar.applies(net):
        figures = [Figure(neuron(net, cast, worked))]
        words = say(_("The same neuron as a computational graph, for the first sample of the worked example below. "
                      "Forward values run left to right above the black arrows. The red arrows run back: each is "
                      "labelled with its local derivative and with the number that arrives, the partial derivative "
                      "of {E} by the quantity at its tip. A multiply node passes back the "
                      "other input, an add node passes the gradient through unchanged (its local derivative is "
                      "{one}), and the activation multiplies by {slope}."),
                    E=naming.E, one=sp.Integer(1), slope=sp.Eq(Call(cast.layer(net.layers[0]).derivative(), naming.z),
                                                   net.layers[0].elementwise.backward
                                                   if net.layers[0].elementwise else sp.Integer(1), evaluate=False))
    else:
        figures = [Figure(layer_graph(net, cast, worked, layer.index)) for layer in net.layers]
        if not all(layer.kind.name == "dense" for layer in net.layers):
            words = say(_("The network as a computational graph, one layer per row. Forward values run left to "
                          "right above the arrows (the first entry of each array, from the worked example below); "
                          "the red arrows run back, each labelled with its local derivative, or with its name where "
                          "a section below derives it, and the entry of the gradient that arrives."))
            return Section("graph", say(_("The computational graph")), (words, *figures))
        words = say(_("The network as a computational graph, one layer per row. Forward values run left to right "
                      "above the arrows (the {entry} entry of each array, from the worked example below); the red "
                      "arrows run back, each labelled with its local derivative and the entry of the gradient "
                      "that arrives. The product node passes back the other factor, transposed; the add node "
                      "passes the gradient through unchanged, summing it over the samples for the bias."),
                    entry=sp.Tuple(1, 1))
    return Section("graph", say(_("The computational graph")), (words, *figures))


def neuron(net: NetworkDerivation, cast: Cast, worked: WorkedExample) -> Graph:
    layer = net.layers[0]
    assert layer.elementwise is not None and layer.backward is not None
    d = layer.fan_in
    xs = [sp.Symbol(f"x_{p}", real=True) for p in range(1, d + 1)]
    ws = [sp.Symbol(f"w_{p}", real=True) for p in range(1, d + 1)]
    b, z, a, y = sp.Symbol("b", real=True), naming.z, naming.a, naming.y
    X, params = worked.A[0], worked.params
    delta, grad_a = worked.deltas[0][0, 0], worked.output_gradient[0, 0]
    middle = d - 1  # x_p → × on row 2(p − 1), w_p just below its ×; the sum and what follows in the middle
    nodes = [Node(f"x{p}", xs[p - 1], "value", 0, 2 * p - 2) for p in range(1, d + 1)]
    nodes += [Node(f"w{p}", ws[p - 1], "value", 1, 2 * p - 1) for p in range(1, d + 1)]
    nodes += [Node(f"mul{p}", TIMES, "operation", 1, 2 * p - 2) for p in range(1, d + 1)]
    nodes += [Node("sum", PLUS, "operation", 2.3, middle), Node("b", b, "value", 3.3, middle - 1),
              Node("addb", PLUS, "operation", 3.3, middle), Node("act", cast.layer(layer), "operation", 4.3, middle),
              Node("y", y, "value", 5.3, middle - 1), Node("loss", ELL, "operation", 5.3, middle),
              Node("E", naming.E, "value", 6.2, middle)]
    edges = []
    inputs = sp.symbols(f"u1:{d + 1}", real=True)  # the sum node's inputs, the products x_p w_p
    for p in range(1, d + 1):
        x_value, w_value = X[0, p - 1], params["W1"][p - 1, 0]
        product = xs[p - 1] * ws[p - 1]
        edges.append(edge(f"x{p}", f"mul{p}", xs[p - 1], x_value, sp.diff(product, xs[p - 1]), delta * w_value))
        edges.append(edge(f"w{p}", f"mul{p}", ws[p - 1], w_value, sp.diff(product, ws[p - 1]), delta * x_value))
        edges.append(edge(f"mul{p}", "sum", product, x_value * w_value, sp.diff(sum(inputs), inputs[p - 1]), delta))
    total = sum(xs[i] * ws[i] for i in range(d))
    s_, bias = sp.symbols("s b", real=True)  # the add node's inputs: its local derivatives are both 1
    edges.append(edge("sum", "addb", total, worked.Z[0][0, 0] - params["b1"][0], sp.diff(s_ + bias, s_), delta))
    edges.append(edge("b", "addb", b, params["b1"][0], sp.diff(s_ + bias, bias), delta))
    edges.append(edge("addb", "act", z, worked.Z[0][0, 0],
                       short(layer.elementwise.backward, cast.layer(layer).derivative()), delta))
    edges.append(edge("act", "loss", a, worked.A[1][0, 0],
                       short(net.output.gradient.subs(layer.A, a).subs(naming.Y, y), Partial(ELL, a)), grad_a))
    edges.append(edge("y", "loss", y, worked.batch.Y[0, 0], None, None))
    edges.append(edge("loss", "E", naming.E, worked.E, sp.Integer(1), 1))
    return Graph(tuple(nodes), tuple(edges))


def layer_graph(net: NetworkDerivation, cast: Cast, worked: WorkedExample, l: int) -> Graph:
    """Layer l's nodes as its kind draws them, then A⁽ˡ⁾ (what flows back into it, ∂E/∂A⁽ˡ⁾, from the layer
    above) or, for the last layer, the loss and E."""
    layer = net.layers[l - 1]
    own = layer.kind.story().graph(net, cast, worked, layer)
    nodes, edges = list(own.nodes), list(own.edges)
    last, x = nodes[-1].key, nodes[-1].column + 1
    A = naming.A(l)
    first = (0,) * worked.A[l].ndim
    if l < net.depth:
        nodes.append(Node(f"A{l}", A, "value", x, 0))
        upstream = worked.upstream[l]
        edges.append(edge(last, f"A{l}", first_entry(A, worked.A[l]), worked.A[l][first], sp.Integer(1),
                          None if upstream is None else upstream[first]))
    else:
        nodes += [Node("Y", naming.Y, "value", x, 1.3), Node("loss", cast.loss, "operation", x, 0),
                  Node("E", naming.E, "value", x + 1, 0)]
        edges += [edge(last, "loss", naming.entry(A, 1, 1), worked.A[l][first],
                       short(net.output.gradient, Partial(ELL, naming.a)), worked.output_gradient[first]),
                  edge("Y", "loss", naming.entry(naming.Y, 1, 1), worked.batch.Y[first], None, None),
                  edge("loss", "E", naming.E, worked.E, sp.Integer(1), 1)]
    return Graph(tuple(nodes), tuple(edges))


def first_entry(symbol: sp.Symbol, values: object) -> sp.Basic:
    """The first entry of an array as the document names it: (1, 1) of a matrix, (0, 0, 0, 0) of images."""
    return naming.entry(symbol, 1, 1) if getattr(values, "ndim", 2) == 2 else naming.entry(symbol, 0, 0, 0, 0)

"""The computational graph: the network as operation nodes, forward values left to right, and on
every edge the local derivative (as SymPy derived it) and what flows back.

One neuron is drawn as on paper: x₁·w₁, x₂·w₂, their sum, +b, the activation, the loss. A network
of layers is drawn one layer per figure: A⁽ˡ⁻¹⁾ and W⁽ˡ⁾ into a matrix product, +b⁽ˡ⁾, the
activation, and for the last layer the loss. With the worked example, each edge also carries the
numbers of its first sample (or of the (1, 1) entry of a matrix).
"""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import Call, EntryOf, FunctionName, Partial, Transposed, Value
from derive.steps import Edge, Figure, Graph, Node, Section, say
from derive.story import scalar
from derive.story.cast import ELL, Cast
from derive.worked import WorkedExample

LABEL_OPS = 6  # an edge label shows a local derivative of at most this many operations
TIMES, PLUS, DOT = FunctionName(r"\times"), FunctionName("+"), FunctionName(r"\cdot")


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
        edges.append(_edge(f"x{p}", f"mul{p}", xs[p - 1], x_value, sp.diff(product, xs[p - 1]), delta * w_value))
        edges.append(_edge(f"w{p}", f"mul{p}", ws[p - 1], w_value, sp.diff(product, ws[p - 1]), delta * x_value))
        edges.append(_edge(f"mul{p}", "sum", product, x_value * w_value, sp.diff(sum(inputs), inputs[p - 1]), delta))
    total = sum(xs[i] * ws[i] for i in range(d))
    s_, bias = sp.symbols("s b", real=True)  # the add node's inputs: its local derivatives are both 1
    edges.append(_edge("sum", "addb", total, worked.Z[0][0, 0] - params["b1"][0, 0], sp.diff(s_ + bias, s_), delta))
    edges.append(_edge("b", "addb", b, params["b1"][0, 0], sp.diff(s_ + bias, bias), delta))
    edges.append(_edge("addb", "act", z, worked.Z[0][0, 0],
                       _short(layer.elementwise.backward, cast.layer(layer).derivative()), delta))
    edges.append(_edge("act", "loss", a, worked.A[1][0, 0],
                       _short(net.output.gradient.subs(layer.A, a).subs(naming.Y, y), Partial(ELL, a)), grad_a))
    edges.append(_edge("y", "loss", y, worked.batch.Y[0, 0], None, None))
    edges.append(_edge("loss", "E", naming.E, worked.E, sp.Integer(1), 1))
    return Graph(tuple(nodes), tuple(edges))


def layer_graph(net: NetworkDerivation, cast: Cast, worked: WorkedExample, l: int) -> Graph:
    layer = net.layers[l - 1]
    A_prev, W, b, Z, A = naming.A(l - 1), naming.W(l), naming.b(l), naming.Z(l), naming.A(l)
    nodes = [Node(f"A{l - 1}", A_prev, "value", 0, 0), Node(f"W{l}", W, "value", 1, -1.3),
             Node(f"mul{l}", DOT, "operation", 1, 0), Node(f"b{l}", b, "value", 2, -1.3),
             Node(f"add{l}", PLUS, "operation", 2, 0), Node(f"act{l}", cast.layer(layer), "operation", 3, 0)]
    delta = worked.deltas[l - 1]
    first = (0, 0)
    edges = [
        _edge(f"A{l - 1}", f"mul{l}", naming.entry(A_prev, 1, 1), worked.A[l - 1][first], Transposed(W),
              (delta @ worked.params[f"W{l}"].T)[first]),
        _edge(f"W{l}", f"mul{l}", naming.entry(W, 1, 1), worked.params[f"W{l}"][first], Transposed(A_prev),
              worked.gradients[f"W{l}"][first]),
        _edge(f"mul{l}", f"add{l}", EntryOf(naming.matrix(A_prev) * naming.matrix(W), 1, 1),
              worked.Z[l - 1][first] - worked.params[f"b{l}"][first], sp.Integer(1), delta[first]),
        _edge(f"b{l}", f"add{l}", naming.entry(b, 1), worked.params[f"b{l}"][first], Transposed(naming.ONES),
              worked.gradients[f"b{l}"][first]),
    ]
    local = None if layer.backward is None else _short(layer.backward, cast.layer(layer).derivative())
    edges.append(_edge(f"add{l}", f"act{l}", naming.entry(Z, 1, 1), worked.Z[l - 1][first], local, delta[first]))
    if l < net.depth:
        nodes.append(Node(f"A{l}", A, "value", 4, 0))
        upstream = worked.deltas[l] @ worked.params[f"W{l + 1}"].T
        edges.append(_edge(f"act{l}", f"A{l}", naming.entry(A, 1, 1), worked.A[l][first], sp.Integer(1),
                           upstream[first]))
    else:
        nodes += [Node("Y", naming.Y, "value", 4, 1.3), Node("loss", cast.loss, "operation", 4, 0),
                  Node("E", naming.E, "value", 5, 0)]
        edges += [_edge(f"act{l}", "loss", naming.entry(A, 1, 1), worked.A[l][first],
                        _short(net.output.gradient, Partial(ELL, naming.a)), worked.output_gradient[first]),
                  _edge("Y", "loss", naming.entry(naming.Y, 1, 1), worked.batch.Y[first], None, None),
                  _edge("loss", "E", naming.E, worked.E, sp.Integer(1), 1)]
    return Graph(tuple(nodes), tuple(edges))


def _short(local: sp.Basic, name: sp.Basic) -> sp.Basic:
    """An edge's local derivative as derived when it is short (σ′ = A(1 − A), 1 − A², H(Z)), else its
    name (GELU′, ∂ℓ/∂a), which the document's sections derive; a label stays a label."""
    return name if sp.count_ops(local) > LABEL_OPS else local


def _edge(source: str, target: str, quantity: sp.Basic, value: object, local: sp.Basic | None,
          back: object) -> Edge:
    """An edge carrying ``quantity = value`` forward and ∂E/∂quantity = back backward (None: no gradient)."""
    forward = sp.Eq(quantity, Value(value), evaluate=False)
    backward = None if back is None else sp.Eq(Partial(naming.E, quantity), Value(back), evaluate=False)
    return Edge(source, target, forward, local, backward)



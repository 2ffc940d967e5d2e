"""The dense layer's part of the document: its notation, forward equation and block, ∂Z/∂W, ∂Z/∂b and
∂Z/∂A⁽ˡ⁻¹⁾ from the indexed sum, the chain-rule sums that turn them into the matrix products
backpropagation computes, its rows of the backward pass, its computational graph and its numbers."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.layers import LayerKind
from derive.layers.dense import MatrixSum, derive_affine, for_layer
from derive.network import LayerDerivation, NetworkDerivation
from derive.notation import Call, Elementwise, EntryOf, Listing, Partial, Shape, Span, Transposed
from derive.steps import Block, Graph, Node, Paragraph, Row, Section, display, row, say
from derive.story import scalar
from derive.story.cast import AFFINE, GENERIC_ACTIVATION_PREV, Cast
from derive.story.layers.base import DOT, PLUS, Notes, edge, numbers, short
from derive.worked import WorkedExample

A_prev, W, b, Z, delta = (naming.GENERIC[role] for role in ("A_prev", "W", "b", "Z", "delta"))
Z_prev, delta_prev = naming.GENERIC["Z_prev"], naming.GENERIC["delta_prev"]


def passes_back(net: NetworkDerivation) -> bool:
    """Whether some dense layer passes the error on to a layer below it."""
    return any(layer.kind.name == "dense" and layer.index > net.first_with_parameters for layer in net.layers)


def into_activation(net: NetworkDerivation) -> bool:
    """Whether some dense layer passes the error to a layer below that has an activation."""
    return any(layer.kind.name == "dense" and layer.index > 1 and net.layers[layer.index - 2].has_activation
               for layer in net.layers)


# -- notation and the network -------------------------------------------------------------------


def notation(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> Notes:
    l = naming.l
    d_l, d_prev = naming.GENERIC["width"], naming.GENERIC["width_prev"]
    flat = all(len(shape) == 1 for shape in net.spec.shapes)
    if flat:
        sizes = Listing(*(sp.Eq(naming.width(layer), size, evaluate=False)
                          for layer, size in enumerate(net.spec.sizes)))
        widths = (naming.width(0), say(_("the number of inputs, and {d} the number of units of layer {l}; here "
                                         "{sizes}"), d=d_l, l=l, sizes=sizes))
    else:
        widths = (d_l, say(_("in the dense layer's section, the number of units of layer {l}"), l=l))
    indices = [
        (Listing(naming.i, naming.j), say(_("a unit of the layer before (its fan-in, {i}) and a unit of "
                                            "layer {l} ({j})"),
                                          i=Span(naming.i, 1, d_prev), l=l, j=Span(naming.j, 1, d_l))),
        (Listing(naming.p, naming.q), say(_("the row and column of the one entry {w} that a derivative is "
                                            "taken with respect to"), w=naming.entry(W, naming.p, naming.q))),
    ]
    arrays = [
        (Listing(W, b), say(_("the weights, {w}, and the bias, a row of {units} entries, of layer {l}"),
                            w=Shape(d_prev, d_l), units=d_l, l=l)),
        (naming.ONES, say(_("a column of {n} ones: {ones_b} repeats the bias row for every sample"),
                          n=naming.n, ones_b=naming.matrix(naming.ONES) * naming.matrix(b))),
    ]
    blocks = [(Call(AFFINE), say(_("the affine map of the block diagram: {definition}"),
                                 definition=sp.Eq(Call(AFFINE, A_prev, W, b), naming.matrix(A_prev) * naming.matrix(W)
                                                  + naming.matrix(naming.ONES) * naming.matrix(b), evaluate=False)))]
    return Notes(sizes=[widths], indices=indices, arrays=arrays,
                 operations=[(Transposed(naming.M_LEFT), say(_("the transpose of a matrix {M}"), M=naming.M_LEFT))],
                 blocks=blocks)


def describe(layer: LayerDerivation, cast: Cast) -> Paragraph:
    return say(_("Layer {l}: a dense layer of {d} units, then {f}."), l=sp.Integer(layer.index),
               d=sp.Integer(layer.out_shape[0]), f=cast.layer(layer))


def forward_rows(layer: LayerDerivation, cast: Cast) -> list[Row]:
    l = layer.index
    affine = (naming.matrix(naming.A(l - 1)) * naming.matrix(naming.W(l))
              + naming.matrix(naming.ONES) * naming.matrix(naming.b(l)))
    return [row(naming.Z(l), affine), row(naming.A(l), Call(cast.layer(layer), naming.Z(l)))]


def diagram(layer: LayerDerivation, cast: Cast) -> list[sp.Basic]:
    l = layer.index
    return [Listing(naming.A(l - 1), naming.W(l), naming.b(l)), Call(AFFINE), naming.Z(l), Call(cast.layer(layer))]


# -- its derivation -------------------------------------------------------------------------------


def sections(net: NetworkDerivation, cast: Cast, kind: LayerKind) -> list[Section]:
    if scalar.applies(net):  # one neuron: weight by weight, which gives the same sums
        return list(scalar.sections(net, cast))
    return [partials_section(net), sums_section(net, cast)]


def partials_section(net: NetworkDerivation) -> Section:
    d = derive_affine()
    k, j = naming.k, naming.j
    entry = naming.entry(Z, k, j)
    rows = [row(entry, d.written)]
    for partial in (d.weight, d.bias, d.input):
        rows.append(row(Partial(entry, partial.wrt), partial.raw, partial.done))
    every = (_("Every layer {l} is the same affine map. For one entry, with {i} running over the layer's inputs:")
             if all(layer.kind.name == "dense" for layer in net.layers) else
             _("Every dense layer {l} is the same affine map. For one entry, with {i} running over the layer's "
               "inputs:"))
    blocks: list[Block] = [
        say(every, l=naming.l, i=naming.i),
        display(*rows),
        say(_("SymPy differentiates the sum by one entry at a time: {dW} is 1 when {i} and {j} hit the entry "
              "and 0 otherwise, so the indicators pick one term out of the sum. A weight {Wpq} is used by "
              "every sample {k}, in {Zkq}; a bias {bq} likewise; an input {Akp} only by its own sample."),
            dW=Partial(naming.entry(W, naming.i, j), naming.entry(W, naming.p, naming.q)),
            i=naming.i, j=j, Wpq=naming.entry(W, naming.p, naming.q), k=k,
            Zkq=naming.entry(Z, k, naming.q), bq=naming.entry(b, naming.q), Akp=naming.entry(A_prev, k, naming.p)),
    ]
    title = say(_("{dZdW}, {dZdb}, {dZdA}: the dense layer"), dZdW=Partial(Z, W), dZdb=Partial(Z, b),
                dZdA=Partial(Z, A_prev))
    return Section("dense", title, tuple(blocks))


def _sum_row(chain_sum: MatrixSum) -> Row:
    return row(chain_sum.target, chain_sum.chain, chain_sum.substituted, chain_sum.summed, chain_sum.entry)


def sums_section(net: NetworkDerivation, cast: Cast) -> Section:
    d = derive_affine()
    blocks: list[Block] = [
        say(_("Put the partials into the chain rule. With {delta}, a weight collects the error of every entry of "
              "{Z} it reaches, summed over the samples and the units; SymPy carries out each sum and recognises "
              "what is left as an entry of a matrix product:"),
            delta=sp.Eq(naming.entry(delta, naming.k, naming.j), Partial(naming.E, naming.entry(Z, naming.k, naming.j)),
                        evaluate=False), Z=Z),
        display(_sum_row(d.weight_sum), _sum_row(d.bias_sum)),
        say(_("The sum over the samples {k} is the inner dimension of the product: {dW} adds up what each of the {n} "
              "samples contributes."), k=naming.k, dW=Partial(naming.E, W), n=naming.n),
    ]
    if passes_back(net):
        blocks.append(say(_("For the layer below, the error travels back through the weights:")))
        blocks.append(display(_sum_row(d.input_sum)))
    if into_activation(net):
        blocks.append(say(_("and, since the activation of layer {lm1} acts entry by entry,"), lm1=naming.l - 1))
        blocks.append(display(
            row(naming.entry(delta_prev, naming.k, naming.p),
                Partial(naming.E, naming.entry(naming.GENERIC["A_prev"], naming.k, naming.p))
                * Call(GENERIC_ACTIVATION_PREV.derivative(), naming.entry(Z_prev, naming.k, naming.p))),
            row(delta_prev, Elementwise(d.input_sum.matrix, Call(GENERIC_ACTIVATION_PREV.derivative(), Z_prev)))))
    blocks.append(say(_("In matrix form, for every layer:") if all(layer.kind.name == "dense" for layer in net.layers)
                      else _("In matrix form, for every dense layer:")))
    rows = [row(Partial(naming.E, W), d.weight_sum.matrix), row(Partial(naming.E, b), d.bias_sum.matrix)]
    if passes_back(net):
        rows.append(row(Partial(naming.E, A_prev), d.input_sum.matrix))
    blocks.append(display(*rows))
    title = say(_("Summing the chain: matrix products"))
    return Section("sums", title, tuple(blocks))


# -- the backward pass ----------------------------------------------------------------------------


def parameter_rows(net: NetworkDerivation, layer: LayerDerivation, cast: Cast) -> list[Row]:
    affine, l = derive_affine(), layer.index
    return [row(Partial(naming.E, naming.W(l)), for_layer(affine.weight_sum.matrix, l)),
            row(Partial(naming.E, naming.b(l)), for_layer(affine.bias_sum.matrix, l))]


def input_gradient(net: NetworkDerivation, layer: LayerDerivation) -> sp.Basic:
    """∂E/∂A⁽ˡ⁻¹⁾ = δ⁽ˡ⁾W⁽ˡ⁾ᵀ."""
    return for_layer(derive_affine().input_sum.matrix, layer.index)


# -- the computational graph and the worked example ------------------------------------------------


def graph(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> Graph:
    """A⁽ˡ⁻¹⁾ and W⁽ˡ⁾ into a matrix product, +b⁽ˡ⁾, the activation; the (1, 1) entries' numbers."""
    l = layer.index
    A_in, W_l, b_l, Z_l = naming.A(l - 1), naming.W(l), naming.b(l), naming.Z(l)
    nodes = [Node(f"A{l - 1}", A_in, "value", 0, 0), Node(f"W{l}", W_l, "value", 1, -1.3),
             Node(f"mul{l}", DOT, "operation", 1, 0), Node(f"b{l}", b_l, "value", 2, -1.3),
             Node(f"add{l}", PLUS, "operation", 2, 0), Node(f"act{l}", cast.layer(layer), "operation", 3, 0)]
    deltas = worked.deltas[l - 1]
    assert deltas is not None
    first = (0, 0)
    _, back = layer.kind.backward_numbers(layer, {"W": worked.params[f"W{l}"]}, worked.A[l - 1], deltas)
    edges = [
        edge(f"A{l - 1}", f"mul{l}", naming.entry(A_in, 1, 1), worked.A[l - 1][first], Transposed(W_l), back[first]),
        edge(f"W{l}", f"mul{l}", naming.entry(W_l, 1, 1), worked.params[f"W{l}"][first], Transposed(A_in),
             worked.gradients[f"W{l}"][first]),
        edge(f"mul{l}", f"add{l}", EntryOf(naming.matrix(A_in) * naming.matrix(W_l), 1, 1),
             worked.Z[l - 1][first] - worked.params[f"b{l}"][0], sp.Integer(1), deltas[first]),
        edge(f"b{l}", f"add{l}", naming.entry(b_l, 1), worked.params[f"b{l}"][0], Transposed(naming.ONES),
             worked.gradients[f"b{l}"][0]),
    ]
    local = None if layer.backward is None else short(layer.backward, cast.layer(layer).derivative())
    edges.append(edge(f"add{l}", f"act{l}", naming.entry(Z_l, 1, 1), worked.Z[l - 1][first], local, deltas[first]))
    return Graph(tuple(nodes), tuple(edges))


def worked_forward(net: NetworkDerivation, cast: Cast, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    l = layer.index
    affine = (naming.matrix(naming.A(l - 1)) * naming.matrix(naming.W(l))
              + naming.matrix(naming.ONES) * naming.matrix(naming.b(l)))
    Z_l = worked.Z[l - 1]
    assert Z_l is not None
    return [row(naming.Z(l), affine, numbers(Z_l)),
            row(naming.A(l), Call(cast.layer(layer), naming.Z(l)), numbers(worked.A[l]))]


def worked_parameters(net: NetworkDerivation, worked: WorkedExample, layer: LayerDerivation) -> list[Row]:
    affine, l = derive_affine(), layer.index
    return [row(Partial(naming.E, naming.W(l)), for_layer(affine.weight_sum.matrix, l),
                numbers(worked.gradients[f"W{l}"])),
            row(Partial(naming.E, naming.b(l)), for_layer(affine.bias_sum.matrix, l),
                numbers(worked.gradients[f"b{l}"]))]


def entry_label(key: str, index: tuple[int, ...]) -> sp.Basic:
    """The name of one parameter entry in the document: W⁽ˡ⁾_pq and b⁽ˡ⁾_q count from 1."""
    l = int(key[1:])
    symbol = naming.W(l) if key.startswith("W") else naming.b(l)
    return naming.entry(symbol, *(position + 1 for position in index))

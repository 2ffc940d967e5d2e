"""One neuron, weight by weight, as on paper: z_k = w₁x_k1 + w₂x_k2 + b, and ∂E/∂w_i as a sum over
the samples of the product of three partials, which is an entry of the matrix form Xᵀδ."""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from derive import naming
from derive.forms import oriented
from derive.i18n import _
from derive.layers.dense import derive_affine, for_layer
from derive.layers.sums import in_range
from derive.loss import display_scale
from derive.network import NetworkDerivation
from derive.notation import Call, Chain, EntryOf, Partial, Plus, Scaled, SumOver, Times
from derive.steps import Block, Row, Section, display, row, say
from derive.story.cast import ELL, Cast

MAX_INPUTS = 8


def applies(net: NetworkDerivation) -> bool:
    """A single neuron with a few inputs and an elementwise activation: the seeds' perceptron."""
    layer = net.layers[0]
    return (net.depth == 1 and layer.kind.name == "dense" and layer.fan_out == 1 and layer.fan_in <= MAX_INPUTS
            and layer.backward is not None)


def sections(net: NetworkDerivation, cast: Cast) -> Iterator[Section]:
    if not applies(net):
        return
    layer = net.layers[0]
    k, n, i, p = naming.k, naming.n, naming.i, naming.p
    xs, ws = sp.IndexedBase(sp.Symbol("x", real=True)), sp.IndexedBase(sp.Symbol("w", real=True))
    bias = sp.Symbol("b", real=True)
    z_k, a_k, y_k = (sp.IndexedBase(symbol)[k] for symbol in (naming.z, naming.a, naming.y))
    d = layer.fan_in
    written = Plus(*(ws[index] * xs[k, index] for index in range(1, d + 1)), bias)
    general = sp.Sum(ws[i] * xs[k, i], (i, 1, naming.width(0))) + bias
    general_written = Plus(sp.Sum(ws[i] * xs[k, i], (i, 1, naming.width(0))), bias)
    f = cast.layer(layer)
    c = display_scale(net.spec.loss, net.spec.reduction)
    loss_sum = SumOver(Call(ELL, a_k, y_k), (k, 1, n))
    blocks: list[Block] = [
        say(_("With one neuron every weight is a number, and the derivation can be done weight by weight, as on "
              "paper. For sample {k}, with inputs {xs}:"),
            k=k, xs=sp.Tuple(*(xs[k, index] for index in range(1, d + 1)))),
        display(row(z_k, written, general_written), row(a_k, Call(f, z_k)),
                row(naming.E, Scaled(c, loss_sum) if c != 1 else loss_sum)),
        say(_("SymPy differentiates {zk} by one weight {wp} and by {b}:"), zk=z_k, wp=ws[p], b=bias),
        display(row(Partial(z_k, ws[p]), sp.diff(general, ws[p]), in_range(sp.diff(general, ws[p]).doit())),
                row(Partial(z_k, bias), sp.diff(general, bias))),
    ]
    gradient = oriented(net.output.loss.gradient.xreplace({naming.a: a_k, naming.y: y_k}), a_k)
    slope = layer.backward.xreplace({layer.A: a_k, layer.Z: z_k})
    combined = sp.cancel(net.output.loss.gradient * layer.backward.subs(layer.A, naming.a))
    cancels = sp.count_ops(combined) < sp.count_ops(net.output.loss.gradient)
    delta = sp.IndexedBase(naming.delta(1))[k, 1]
    affine = derive_affine()
    rows: list[Row] = []
    for parameter, dz, matrix in ((ws[p], xs[k, p], EntryOf(for_layer(affine.weight_sum.matrix, 1), p, 1)),
                                  (bias, sp.Integer(1), EntryOf(for_layer(affine.bias_sum.matrix, 1), 1))):
        chain = SumOver(Chain(Partial(ELL, a_k), Partial(a_k, z_k), Partial(z_k, parameter)), (k, 1, n))
        factors = [factor for factor in (gradient, slope, dz) if factor != 1]  # no "· 1"
        steps: list[sp.Basic] = [chain, SumOver(Times(*factors) if len(factors) > 1 else factors[0], (k, 1, n))]
        if cancels:
            remaining = oriented(combined.xreplace({naming.a: a_k, naming.y: y_k}), a_k)
            steps.append(SumOver(Times(remaining, dz) if dz != 1 else remaining, (k, 1, n)))
        if c != 1:
            steps = [Scaled(c, step) for step in steps]
        steps += [sp.Sum(delta * dz, (k, 1, n)), matrix]
        rows.append(row(Partial(naming.E, parameter), *steps))
    blocks.append(say(_("Every sample uses the same weights, so each gradient sums the chain over the samples {k}:"),
                      k=k))
    blocks.append(display(*rows))
    if cancels:
        words = _("The factor {dadz} cancels against the denominator of {dlda}. With {delta}, the error of sample "
                  "{k}, the sums over the samples are the matrix products of the section below.")
    else:
        words = _("With {delta}, the error of sample {k}, the sums over the samples are the matrix products of the "
                  "section below.")
    blocks.append(say(words, delta=sp.Eq(delta, Partial(naming.E, z_k), evaluate=False), k=k,
                      **({"dadz": Partial(a_k, z_k), "dlda": Partial(ELL, a_k)} if cancels else {})))
    yield Section("scalar", say(_("One neuron, weight by weight")), tuple(blocks))

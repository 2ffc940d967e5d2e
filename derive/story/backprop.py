"""Backpropagation through this network, layer by layer: every δ⁽ˡ⁾ and every gradient, as the
generated module computes them. Each layer's kind gives its parameters' gradients and ∂E/∂A⁽ˡ⁻¹⁾
(:mod:`derive.story.layers`); where the layer below has an activation, ∂E/∂A⁽ˡ⁻¹⁾ ⊙ f′ is its δ."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.forms import oriented
from derive.i18n import _
from derive.loss import display_scale
from derive.network import LayerDerivation, NetworkDerivation
from derive.notation import Call, Elementwise, Partial, Scaled, Times
from derive.steps import Block, Row, Section, display, row, say
from derive.story.cast import Cast, entries


def section(net: NetworkDerivation, cast: Cast) -> Section:
    rows: list[Row] = []
    blocks: list[Block] = [say(_("Put together, from the output back to the input; the generated module's backward "
                                 "pass computes exactly these lines, in this order."))]
    last = net.layers[-1]
    rows += _output_rows(net, cast, last)
    for layer in reversed(net.layers):
        story = layer.kind.story()
        rows += story.parameter_rows(net, layer, cast)
        if layer.index == net.first_with_parameters:
            break
        back = story.input_gradient(net, layer)
        below = net.layers[layer.index - 2]
        if not below.has_activation:
            rows.append(row(Partial(naming.E, naming.A(below.index)), back))
            continue
        l = below.index
        prime = Call(cast.layer(below).derivative(), naming.Z(l))
        rows.append(row(naming.delta(l), Elementwise(back, prime)))
        assert below.backward is not None
        indices = (naming.k, naming.j) if len(below.out_shape) == 1 else (naming.k, naming.c, naming.i, naming.j)
        rows.append(row(Call(cast.layer(below).derivative(), naming.entry(naming.Z(l), *indices)),
                        entries(below.backward, (below.A, below.Z), indices=indices)))
    blocks.append(display(*rows))
    cancelled = _cancellation(net, cast, last)
    if cancelled is not None:
        blocks.insert(1, cancelled)
    title = say(_("Backpropagation through {name}"), name=net.spec.name)
    return Section("backprop", title, tuple(blocks))


def _output_rows(net: NetworkDerivation, cast: Cast, last: LayerDerivation) -> list[Row]:
    out = net.output
    L = last.index
    delta = naming.entry(naming.delta(L), naming.k, naming.j)
    symbols = (last.A, last.Z, naming.Y)
    if out.form != "elementwise":
        c = display_scale(net.spec.loss, net.spec.reduction)
        per_sample = entries(out.delta / out.scale, symbols, column=naming.c)
        return [row(naming.entry(naming.delta(L), naming.k, naming.c), Scaled(c, per_sample) if c != 1 else per_sample)]
    assert last.backward is not None
    c = display_scale(net.spec.loss, net.spec.reduction)
    entry_A = naming.entry(last.A, naming.k, naming.j)
    gradient = oriented(out.loss.gradient.xreplace({naming.a: entry_A,
                                                    naming.y: naming.entry(naming.Y, naming.k, naming.j)}), entry_A)
    slope = entries(last.backward, symbols)
    chain = Partial(naming.E, naming.entry(last.A, naming.k, naming.j)) * Call(
        cast.layer(last).derivative(), naming.entry(last.Z, naming.k, naming.j))
    scaled = Scaled(c, gradient) if c != 1 else gradient
    product = Times(scaled, slope) if slope != 1 else scaled  # id′ = 1 adds no factor
    per_sample = entries(sp.cancel(out.delta / out.scale), symbols) if out.scale != 1 else entries(out.delta, symbols)
    if sp.count_ops(out.delta / out.scale) >= sp.count_ops(out.gradient / out.scale * last.backward):
        return [row(delta, chain, product)]  # nothing cancels: the product is the final form
    return [row(delta, chain, product, Scaled(c, per_sample) if c != 1 else per_sample)]


def _cancellation(net: NetworkDerivation, cast: Cast, last: LayerDerivation) -> Block | None:
    """Words for a named cancellation: ∂ℓ/∂a · f′ simpler than ∂ℓ/∂a alone (sigmoid with bce: A − Y)."""
    out = net.output
    if out.form != "elementwise" or last.backward is None:
        return None
    if sp.count_ops(out.delta) >= sp.count_ops(out.gradient):
        return None
    return say(_("For {f} with this loss the factors cancel: {dlda} has in its denominator what {fprime} has as a "
                 "factor, and the output error simplifies to the last form of its row below. SymPy finds this by "
                 "cancelling the product."),
               f=cast.layer(last), dlda=Partial(naming.ELL, naming.a), fprime=Call(cast.layer(last).derivative(),
                                                                                    naming.z))

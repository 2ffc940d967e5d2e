"""The dense layer: ∂Z/∂W, ∂Z/∂b and ∂Z/∂A⁽ˡ⁻¹⁾ from the indexed sum, and the chain-rule sums
that turn them into the matrix products backpropagation computes."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.affine import ChainSum, derive_affine
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import Call, Elementwise, Partial
from derive.steps import Block, Section, display, row, say
from derive.story.cast import GENERIC_ACTIVATION_PREV, Cast

A_prev, W, b, Z, delta = (naming.GENERIC[role] for role in ("A_prev", "W", "b", "Z", "delta"))
Z_prev, delta_prev = naming.GENERIC["Z_prev"], naming.GENERIC["delta_prev"]


def partials_section(net: NetworkDerivation) -> Section:
    d = derive_affine()
    k, j = naming.k, naming.j
    entry = naming.entry(Z, k, j)
    rows = [row(entry, d.written)]
    for partial in (d.weight, d.bias, d.input):
        rows.append(row(Partial(entry, partial.wrt), partial.raw, partial.done))
    blocks: list[Block] = [
        say(_("Every layer {l} is the same affine map. For one entry, with {i} running over the layer's inputs:"),
            l=naming.l, i=naming.i),
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


def _sum_row(chain_sum: ChainSum) -> object:
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
    if net.depth > 1:
        blocks.append(say(_("For the layer below, the error travels back through the weights:")))
        blocks.append(display(_sum_row(d.input_sum)))
        blocks.append(say(_("and, since the activation of layer {lm1} acts entry by entry,"), lm1=naming.l - 1))
        blocks.append(display(
            row(naming.entry(delta_prev, naming.k, naming.p),
                Partial(naming.E, naming.entry(naming.GENERIC["A_prev"], naming.k, naming.p))
                * Call(GENERIC_ACTIVATION_PREV.derivative(), naming.entry(Z_prev, naming.k, naming.p))),
            row(delta_prev, Elementwise(d.input_sum.matrix, Call(GENERIC_ACTIVATION_PREV.derivative(), Z_prev)))))
    blocks.append(say(_("In matrix form, for every layer:")))
    rows = [row(Partial(naming.E, W), d.weight_sum.matrix), row(Partial(naming.E, b), d.bias_sum.matrix)]
    if net.depth > 1:
        rows.append(row(Partial(naming.E, A_prev), d.input_sum.matrix))
    blocks.append(display(*rows))
    title = say(_("Summing the chain: matrix products"))
    return Section("sums", title, tuple(blocks))

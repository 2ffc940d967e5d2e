"""The chain rule: the full chain from E to each W⁽ˡ⁾, the error δ⁽ˡ⁾ it contains, and its recursion."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import Chain, Partial
from derive.steps import Block, Row, Section, display, row, say
from derive.story.cast import Cast

FULL_CHAINS = 6  # deeper networks show the chains of the last two layers and of the first


def through(net: NetworkDerivation, index: int) -> list[Partial]:
    """The factors from A⁽ⁱ⁾ back to A⁽ⁱ⁻¹⁾: ∂A/∂Z ∂Z/∂A⁽ⁱ⁻¹⁾ for a layer with an activation, else ∂A/∂A⁽ⁱ⁻¹⁾."""
    if net.layers[index - 1].has_activation:
        return [Partial(naming.A(index), naming.Z(index)), Partial(naming.Z(index), naming.A(index - 1))]
    return [Partial(naming.A(index), naming.A(index - 1))]


def chain_to(net: NetworkDerivation, layer: int, parameter: sp.Symbol) -> Chain:
    """∂E/∂A⁽ᴸ⁾ ∂A⁽ᴸ⁾/∂Z⁽ᴸ⁾ ∂Z⁽ᴸ⁾/∂A⁽ᴸ⁻¹⁾ … ∂A⁽ˡ⁾/∂Z⁽ˡ⁾ ∂Z⁽ˡ⁾/∂parameter."""
    L = net.depth
    factors = [Partial(naming.E, naming.A(L))]
    for index in range(L, layer, -1):
        factors += through(net, index)
    factors += [Partial(naming.A(layer), naming.Z(layer)), Partial(naming.Z(layer), parameter)]
    return Chain(*factors)


def section(net: NetworkDerivation, cast: Cast) -> Section:
    L = net.depth
    parametrised = [layer.index for layer in reversed(net.layers) if layer.has_parameters]
    shown = parametrised if len(parametrised) <= FULL_CHAINS else [*parametrised[:2], parametrised[-1]]
    chains = [row(Partial(naming.E, naming.W(index)), chain_to(net, index, naming.W(index))) for index in shown]
    if L == 1:
        intro = say(_("{W} reaches {E} only through {Z} and {A}, the blocks after it in the diagram. The chain rule "
                      "writes the gradient as a product of one partial per block, read from {E} back to the "
                      "weights:"), W=naming.W(1), E=naming.E, Z=naming.Z(1), A=naming.A(1))
    else:
        intro = say(_("{W} reaches {E} only through the blocks after it in the diagram: {Z}, {A}, then every later "
                      "layer. The chain rule writes the gradient as a product of one partial per block, read from "
                      "{E} back to the weights:"),
                    W=naming.GENERIC["W"], E=naming.E, Z=naming.GENERIC["Z"], A=naming.GENERIC["A"])
    blocks: list[Block] = [intro, display(*chains)]
    every = all(layer.has_activation for layer in net.layers)
    if len(parametrised) > FULL_CHAINS and every:
        blocks.append(say(_("The layers in between follow the same pattern, two factors per layer.")))
    elif len(parametrised) > FULL_CHAINS:
        blocks.append(say(_("The layers in between follow the same pattern: two factors for a layer with an "
                            "activation, one for a layer without.")))
    if L == 1:
        blocks.append(say(_("The bias gives the same chain with {dZdb} as the last factor. Both begin with the same "
                            "factors, up to {dAdZ}; their product is the error of the layer:"),
                          dZdb=Partial(naming.Z(1), naming.b(1)), dAdZ=Partial(naming.A(1), naming.Z(1))))
    elif every:
        blocks.append(say(_("The bias gives the same chains with {dZdb} as the last factor. Every chain begins with "
                            "the same factors, up to {dAdZ}; their product is the error of layer {l}, and each error "
                            "is the next layer's error times two more factors:"),
                          dZdb=Partial(naming.GENERIC["Z"], naming.GENERIC["b"]),
                          dAdZ=Partial(naming.GENERIC["A"], naming.GENERIC["Z"]), l=naming.l))
    else:
        blocks.append(say(_("The bias gives the same chains with {dZdb} as the last factor. Every chain begins with "
                            "the same factors, up to {dAdZ}; their product is the error of layer {l}, and each error "
                            "is the error of the next layer with an activation times the factors of the layers "
                            "up to it:"),
                          dZdb=Partial(naming.GENERIC["Z"], naming.GENERIC["b"]),
                          dAdZ=Partial(naming.GENERIC["A"], naming.GENERIC["Z"]), l=naming.l))
    deltas: list[Row] = []
    activated = [layer.index for layer in reversed(net.layers) if layer.has_activation]
    for above, index in zip([None, *activated], activated, strict=False):
        if above is None:
            rest = Chain(Partial(naming.E, naming.A(L)), Partial(naming.A(L), naming.Z(L)))
        else:
            between = [factor for middle in range(above - 1, index, -1) for factor in through(net, middle)]
            rest = Chain(naming.delta(above), Partial(naming.Z(above), naming.A(above - 1)), *between,
                         Partial(naming.A(index), naming.Z(index)))
        deltas.append(row(naming.delta(index), Partial(naming.E, naming.Z(index)), rest))
    if L == 1:
        W, b, Z, delta = naming.W(1), naming.b(1), naming.Z(1), naming.delta(1)
    else:
        W, b, Z, delta = (naming.GENERIC[role] for role in ("W", "b", "Z", "delta"))
    deltas.append(row(Partial(naming.E, W), Chain(delta, Partial(Z, W))))
    deltas.append(row(Partial(naming.E, b), Chain(delta, Partial(Z, b))))
    blocks.append(display(*deltas))
    blocks.append(say(_("A product of partials here is shorthand for the chain rule of several variables: a sum, "
                        "over every entry of the quantity the two factors share, of products of entries. The "
                        "sections below derive each factor, then carry out these sums.")))
    return Section("chain", say(_("The chain rule")), tuple(blocks))

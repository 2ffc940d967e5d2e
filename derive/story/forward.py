"""The network: its forward pass as equations, the loss, and the block diagram, one row per layer.
Each layer's equations and blocks come from its kind (:mod:`derive.story.layers`)."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _, ngettext
from derive.loss import display_scale
from derive.network import NetworkDerivation
from derive.notation import Call, Flow, Scaled, SumOver
from derive.steps import Paragraph, Row, Section, display, row, say
from derive.story.cast import ELL, Cast


def section(net: NetworkDerivation, cast: Cast) -> Section:
    spec = net.spec
    rows = [row(naming.matrix(naming.A0), naming.matrix(naming.X))]
    for layer in net.layers:
        rows += layer.kind.story().forward_rows(layer, cast)
    c = display_scale(spec.loss, spec.reduction)
    L = naming.A(net.depth)
    total = SumOver(Call(ELL, naming.entry(L, naming.k, naming.j), naming.entry(naming.Y, naming.k, naming.j)),
                    (naming.k, 1, naming.n), (naming.j, 1, naming.m))
    rows.append(row(naming.E, Scaled(c, total) if c != 1 else total))
    rows.append(row(Call(ELL, naming.a, naming.y), net.output.loss.element))
    if all(layer.kind.name == "dense" for layer in net.layers):
        words = say(ngettext("A batch of {n} samples, the rows of {X}, passes through {L} layer. It multiplies by "
                             "its weights, adds its bias to every row, and applies its activation to each entry; the "
                             "loss adds up {ell} over every sample {k} and output {j}.",
                             "A batch of {n} samples, the rows of {X}, passes through {L} layers. Each layer "
                             "multiplies by its weights, adds its bias to every row, and applies its activation to "
                             "each entry; the loss adds up {ell} over every sample {k} and output {j}.", net.depth),
                    n=naming.n, X=naming.X, L=sp.Integer(net.depth), ell=Call(ELL, naming.a, naming.y),
                    k=naming.k, j=naming.j)
        blocks = [words, display(*rows)]
    else:
        blocks = [_sample_words(net),
                  *(layer.kind.story().describe(layer, cast) for layer in net.layers),
                  say(_("So the forward pass, with the loss adding up {ell} over every sample {k} and output {j}:"),
                      ell=Call(ELL, naming.a, naming.y), k=naming.k, j=naming.j),
                  display(*rows)]
    if spec.reduction == "mean" or spec.loss.output_mean:
        blocks.append(_scale_words(spec, c))
    blocks.append(say(_("The block diagram, one row per layer: the chain rule walks it from right to left.")))
    blocks.append(display(*_diagram(net, cast)))
    return Section("network", say(_("The network")), tuple(blocks))


def _scale_words(spec: object, c: sp.Expr) -> object:
    factor = sp.Mul(*[f for f in sp.Mul.make_args(c) if f != 1])
    if spec.reduction == "mean" and spec.loss.output_mean:  # type: ignore[attr-defined]
        message = _("The factor {c} averages over the {n} samples and the {m} outputs.")
    elif spec.reduction == "mean":  # type: ignore[attr-defined]
        message = _("The factor {c} averages over the {n} samples (reduction mean); {m} does not enter it.")
    else:
        message = _("The factor {c} averages over the {m} outputs; {n} does not enter it (reduction sum).")
    return say(message, c=factor, n=naming.n, m=naming.m)


def _sample_words(net: NetworkDerivation) -> Paragraph:
    """What one sample of X is: a vector of features or an image."""
    shape = net.spec.input_shape
    if len(shape) == 1:
        return say(_("A batch of {n} samples, the rows of {X}, each of {d} values, passes through {L} layers:"),
                   n=naming.n, X=naming.X, d=sp.Integer(shape[0]), L=sp.Integer(net.depth))
    channels, height, width = shape
    if channels == 1:
        return say(_("Each sample of {X} is an image of one channel of {H} rows and {W} columns, as in "
                     "PyTorch; indices run from 0."), X=naming.X, H=sp.Integer(height), W=sp.Integer(width))
    return say(_("Each sample of {X} is an image of {C} channels of {H} rows and {W} columns, as in "
                 "PyTorch; indices run from 0."), X=naming.X, C=sp.Integer(channels), H=sp.Integer(height),
               W=sp.Integer(width))


def _diagram(net: NetworkDerivation, cast: Cast) -> list[Row]:
    rows = []
    for layer in net.layers:
        items: list[sp.Basic] = [*layer.kind.story().diagram(layer, cast), naming.A(layer.index)]
        if layer.index == net.depth:
            items += [Call(cast.loss), naming.E]
        rows.append(row(None, Flow(*items), relation=""))
    return rows

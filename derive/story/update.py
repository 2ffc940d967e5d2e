"""From the gradient to the update: why a step against the gradient lowers E, and the optimizer's rule
for every W⁽ˡ⁾ and b⁽ˡ⁾."""

from __future__ import annotations

import string

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import (
    Assign,
    Chain,
    Difference,
    Listing,
    Norm,
    Partial,
    Relation,
    Span,
    Times,
)
from derive.optimizers import OPTIMIZERS
from derive.steps import Block, Paragraph, Section, display, row, say
from derive.story.cast import Cast

THETA, ETA = naming.THETA, naming.ETA


def section(net: NetworkDerivation, cast: Cast) -> Section:
    train = net.spec.train
    blocks: list[Block] = [
        say(_("For a small change {dtheta} of the parameters, the loss changes by about the first-order term of its "
              "Taylor expansion:"), dtheta=naming.DELTA_THETA),
        display(row(naming.DELTA_E,
                    sp.Sum(Chain(Partial(naming.E, naming.entry(THETA, naming.i)),
                                 naming.entry(naming.DELTA_THETA, naming.i)), (naming.i, 1, naming.PARAMETERS)),
                    Times(naming.GRAD_E, naming.DELTA_THETA), relation="approx")),
        say(_("Among the steps of a given length this is most negative when {dtheta} points against the gradient, "
              "{step} with a small learning rate {eta} (by the Cauchy–Schwarz inequality, {bound}). This is gradient "
              "descent: every weight and every bias, of every layer {l}, moves against its own partial derivative:"),
            dtheta=naming.DELTA_THETA, step=sp.Eq(naming.DELTA_THETA, -ETA * naming.GRAD_E, evaluate=False),
            eta=Relation(ETA, "gt", 0),
            bound=Relation(Times(naming.GRAD_E, naming.DELTA_THETA), "ge",
                           -Times(Norm(naming.GRAD_E), Norm(naming.DELTA_THETA))),
            l=_layers(net)),
    ]
    rule = OPTIMIZERS[train.optimizer]
    loss = naming.E_BATCH if rule.minibatch else naming.E
    W, b = naming.GENERIC["W"], naming.GENERIC["b"]
    blocks.append(display(*(row(None, Assign(theta, Difference(theta, Chain(ETA, Partial(loss, theta)))), relation="")
                            for theta in (W, b))))
    if rule.words is not None:
        values = {"theta": Relation(THETA, "in", sp.FiniteSet(W, b)), "V": naming.VELOCITY, "M": naming.MOMENT1,
                  "t": naming.STEP, "G": sp.Eq(naming.GRADIENT, Partial(loss, THETA), evaluate=False)}
        if rule.state:
            values["V"] = rule.state[-1]
        blocks.append(saying(rule.words(), values))
        gradient = {naming.GRADIENT: Partial(loss, THETA)} if rule.shows == "partial" else {}
        rows = [row(None, assign.xreplace(gradient), relation="") for assign in rule.update]
        if rule.where:
            rows.append(row(None, Listing(*rule.where), relation=""))
        blocks.append(display(*rows))
    blocks.append(_schedule(net))
    return Section("update", say(_("From the gradient to the update")), tuple(blocks))


def saying(message: str, values: dict[str, sp.Basic]) -> Paragraph:
    """``say`` with the values ``message`` has placeholders for (a rule's words use some of a common set)."""
    names = {name for _, name, _, _ in string.Formatter().parse(message) if name}
    return say(message, **{name: value for name, value in values.items() if name in names})


def _schedule(net: NetworkDerivation) -> Block:
    train = net.spec.train
    rule = OPTIMIZERS[train.optimizer]
    values: dict[str, sp.Basic] = {"eta": sp.Eq(ETA, naming.number(train.learning_rate), evaluate=False),
                                   "B": naming.BATCH, "size": sp.Integer(train.batch_size), "EB": naming.E_BATCH,
                                   "E": naming.E}
    groups: dict[str, list[sp.Basic]] = {}
    for setting in rule.hyperparameters:
        equation = sp.Eq(setting.symbol, naming.number(train.settings[setting.name]), evaluate=False)
        values[setting.symbol.name] = equation
        if setting.group:
            groups.setdefault(setting.group, []).append(equation)
    values.update({group: Listing(*equations) for group, equations in groups.items()})
    return saying(rule.schedule(), values)


def _layers(net: NetworkDerivation) -> sp.Basic:
    """``l = 1, …, L``, or the list of the layers that have parameters when some have none (pooling)."""
    indices = [layer.index for layer in net.layers if layer.has_parameters]
    if indices == list(range(1, net.depth + 1)):
        return Span(naming.l, 1, net.depth)
    return sp.Eq(naming.l, Listing(*indices), evaluate=False)

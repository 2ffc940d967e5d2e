"""From the gradient to the update: why a step against the gradient lowers E, and the optimizer's rule
for every W⁽ˡ⁾ and b⁽ˡ⁾."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import (
    Assign,
    Chain,
    Difference,
    Elementwise,
    Fraction,
    Listing,
    Norm,
    Partial,
    Plus,
    Relation,
    Span,
    Times,
)
from derive.steps import Block, Row, Section, display, row, say
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
    loss = naming.E if train.optimizer == "gd" else naming.E_BATCH
    W, b = naming.GENERIC["W"], naming.GENERIC["b"]
    blocks.append(display(*(row(None, Assign(theta, Difference(theta, Chain(ETA, Partial(loss, theta)))), relation="")
                            for theta in (W, b))))
    if train.optimizer == "momentum":
        blocks.append(say(_("This network trains with momentum: each parameter {theta} keeps a velocity {V} of its "
                            "shape, starting at 0, that remembers the earlier steps; for each minibatch"),
                          theta=Relation(THETA, "in", sp.FiniteSet(W, b)), V=naming.VELOCITY))
        blocks.append(display(*_momentum_rows(loss)))
    elif train.optimizer == "adam":
        blocks.append(say(_("This network trains with Adam, which scales the step of every entry: each parameter "
                            "{theta} keeps two running averages of its shape, {M} and {V}, starting at 0; at step {t}, "
                            "with {G},"),
                          theta=Relation(THETA, "in", sp.FiniteSet(W, b)), M=naming.MOMENT1, V=naming.MOMENT2,
                          t=naming.STEP, G=sp.Eq(naming.GRADIENT, Partial(loss, THETA), evaluate=False)))
        blocks.append(display(*_adam_rows()))
    blocks.append(_schedule(net))
    return Section("update", say(_("From the gradient to the update")), tuple(blocks))


def _momentum_rows(loss: sp.Symbol) -> list[Row]:
    V = naming.VELOCITY
    return [row(None, Assign(V, Difference(Chain(naming.MU, V), Chain(ETA, Partial(loss, THETA)))), relation=""),
            row(None, Assign(THETA, THETA + V), relation="")]


def _adam_rows() -> list[Row]:
    M, V, G, t = naming.MOMENT1, naming.MOMENT2, naming.GRADIENT, naming.STEP
    b1, b2 = naming.BETA1, naming.BETA2
    hat_M, hat_V = sp.Symbol("Mhat"), sp.Symbol("Vhat")
    return [
        row(None, Assign(M, Plus(Chain(b1, M), Chain(1 - b1, G))), relation=""),
        row(None, Assign(V, Plus(Chain(b2, V), Chain(1 - b2, Elementwise(G, G)))), relation=""),
        row(None, Assign(THETA, Difference(THETA, Chain(ETA, Fraction(hat_M, sp.sqrt(hat_V) + naming.EPSILON)))),
            relation=""),
        row(None, Listing(sp.Eq(hat_M, Fraction(M, 1 - b1**t), evaluate=False),
                          sp.Eq(hat_V, Fraction(V, 1 - b2**t), evaluate=False)), relation=""),
    ]


def _schedule(net: NetworkDerivation) -> Block:
    train = net.spec.train
    values = {"eta": sp.Eq(ETA, naming.number(train.learning_rate), evaluate=False)}
    if train.optimizer == "gd":
        return say(_("Full-batch gradient descent: the batch is the whole training set, one step per epoch; "
                     "{eta}."), **values)
    message = {
        "sgd": _("Stochastic gradient descent: each epoch shuffles the samples (seeded) and cuts them into minibatches "
                 "{B} of {size} samples; each takes one step with the gradient of its own loss {EB}, which is {E} with "
                 "the sums over the samples of {B} only; {eta}."),
        "momentum": _("Each epoch shuffles the samples (seeded) and cuts them into minibatches {B} of {size} samples; "
                      "{EB} is {E} with the sums over the samples of {B} only; {eta}, {mu}."),
        "adam": _("Each epoch shuffles the samples (seeded) and cuts them into minibatches {B} of {size} samples; "
                  "{EB} is {E} with the sums over the samples of {B} only; {eta}, {betas}, {epsilon}; products, "
                  "square roots and quotients act entry by entry."),
    }[train.optimizer]
    extra: dict[str, sp.Basic] = {"B": naming.BATCH, "size": sp.Integer(train.batch_size), "EB": naming.E_BATCH,
                                  "E": naming.E}
    if train.optimizer == "momentum":
        extra["mu"] = sp.Eq(naming.MU, naming.number(train.momentum), evaluate=False)
    if train.optimizer == "adam":
        extra["betas"] = Listing(sp.Eq(naming.BETA1, sp.Float(train.beta1, 6), evaluate=False),
                                 sp.Eq(naming.BETA2, sp.Float(train.beta2, 6), evaluate=False))
        extra["epsilon"] = sp.Eq(naming.EPSILON, naming.number(train.epsilon), evaluate=False)
    return say(message, **values, **extra)


def _layers(net: NetworkDerivation) -> sp.Basic:
    """``l = 1, …, L``, or the list of the layers that have parameters when some have none (pooling)."""
    indices = [layer.index for layer in net.layers]
    if indices == list(range(1, net.depth + 1)):
        return Span(naming.l, 1, net.depth)
    return sp.Eq(naming.l, Listing(*indices), evaluate=False)

"""The notation table: every symbol the document uses, stated once, before it is used."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import Call, Elementwise, FunctionName, Listing, Partial, Relation, Shape, Span, Transposed
from derive.steps import Math, Paragraph, Section, Table, say
from derive.story.cast import AFFINE, ELL, GENERIC_ACTIVATION, STEP, Cast
from derive.story.kinks import has_step_function


def section(net: NetworkDerivation, cast: Cast) -> Section:
    spec = net.spec
    L, n, k, l, m = naming.L, naming.n, naming.k, naming.l, naming.m
    A, Z, W, b = (naming.GENERIC[role] for role in ("A", "Z", "W", "b"))
    A_prev, d_l, d_prev = naming.GENERIC["A_prev"], naming.GENERIC["width"], naming.GENERIC["width_prev"]
    sizes = Listing(*(sp.Eq(naming.width(layer), size, evaluate=False) for layer, size in enumerate(spec.sizes)))
    rows: list[tuple[sp.Basic, Paragraph]] = [
        (Span(k, 1, n), say(_("the samples of a batch, one per row of the input; {n} is the batch size"), n=n)),
        (Span(l, 1, L), say(_("the layers; here {L}"), L=sp.Eq(L, net.depth, evaluate=False))),
        (naming.width(0), say(_("the number of inputs, and {d} the number of units of layer {l}; here {sizes}"),
                              d=d_l, l=l, sizes=sizes)),
        (m, say(_("the number of outputs, {m}"), m=sp.Eq(m, naming.width(net.depth), evaluate=False))),
        (Listing(naming.i, naming.j), say(_("a unit of the layer before (its fan-in, {i}) and a unit of "
                                            "layer {l} ({j})"),
                                          i=Span(naming.i, 1, d_prev), l=l, j=Span(naming.j, 1, d_l))),
        (Listing(naming.p, naming.q), say(_("the row and column of the one entry {w} that a derivative is "
                                            "taken with respect to"), w=naming.entry(W, naming.p, naming.q))),
        (sp.Eq(naming.X, naming.A0, evaluate=False),
         say(_("the inputs of a batch, {shape}"), shape=Shape(n, naming.width(0)))),
        (Listing(W, b), say(_("the weights, {w}, and the bias, a row of {units} entries, of layer {l}"),
                            w=Shape(d_prev, d_l), units=d_l, l=l)),
        (naming.ONES, say(_("a column of {n} ones: {ones_b} repeats the bias row for every sample"),
                          n=n, ones_b=naming.matrix(naming.ONES) * naming.matrix(b))),
        (Listing(Z, A), say(_("the pre-activation and the output of layer {l}, both {shape}; {AL} is the "
                              "network's output"), l=l, shape=Shape(n, d_l), AL=naming.A(net.depth))),
        (naming.Y, say(_("the targets, {shape}"), shape=Shape(n, m))),
        (Listing(naming.z, naming.a, naming.y),
         say(_("one entry of {Z}, {A} and {Y}: numbers, for the rules that act on one entry"), Z=Z, A=A, Y=naming.Y)),
        (Call(ELL, naming.a, naming.y),
         say(_("the loss of one output of one sample"))),
        (naming.E, say(_("the loss of the batch: the number that training makes small"))),
        (naming.GENERIC["delta"], say(_("{definition}, {shape}: how {E} changes with each pre-activation of "
                                        "layer {l}. The letter {delta} means nothing else in this document"),
                                      definition=sp.Eq(naming.GENERIC["delta"], Partial(naming.E, Z),
                                                       evaluate=False),
                                      shape=Shape(n, d_l), E=naming.E, l=l, delta=naming.GENERIC["delta"])),
        (sp.KroneckerDelta(naming.i, naming.j), say(_("1 if {i} and {j} are equal, 0 otherwise (an indicator)"),
                                                    i=naming.i, j=naming.j)),
        (Transposed(naming.M_LEFT), say(_("the transpose of a matrix {M}"), M=naming.M_LEFT)),
        (Call(AFFINE), say(_("the affine map of the block diagram: {definition}"),
                           definition=sp.Eq(Call(AFFINE, A_prev, W, b), naming.matrix(A_prev) * naming.matrix(W)
                                            + naming.matrix(naming.ONES) * naming.matrix(b), evaluate=False))),
    ]
    activations = Listing(*(sp.Eq(FunctionName(f"h{naming.tag(layer.index)}"), cast.layer(layer), evaluate=False)
                            for layer in net.layers))
    rows.insert(-1, (GENERIC_ACTIVATION, say(_("the activation of layer {l}, applied to each entry; here "
                                                     "{activations}"), l=l, activations=activations)))
    if net.depth > 1 or spec.train.optimizer == "adam":
        rows.insert(-2, (Elementwise(naming.M_LEFT, naming.M_RIGHT),
                         say(_("the product of two arrays of one shape, entry by entry"))))
    if has_step_function(net):
        rows.append((Call(STEP, naming.z), say(_("the step function, 1 for {positive} and 0 for {negative}. "
                                                    "At the kink this document and the generated code take "
                                                    "{choice}"),
                                                  positive=Relation(naming.z, "gt", 0),
                                                  negative=Relation(naming.z, "lt", 0),
                                                  choice=sp.Eq(Call(STEP, 0), 0, evaluate=False))))
    for rule in cast.formulas:
        layers = [layer.index for layer in net.layers if layer.rule == rule]
        rows.append((Call(cast.of(rule), naming.z),
                     say(_("the activation of layer {layers}, given as a formula: {definition}"),
                         layers=Listing(*layers),
                         definition=sp.Eq(Call(cast.of(rule), naming.z), rule.definition(), evaluate=False))))
    for layer_rule in dict.fromkeys(layer.rule for layer in net.layers):
        if layer_rule.constants:
            symbols = [sp.Symbol(name, positive=True) for name, _value in layer_rule.constants]
            values = [sp.Eq(symbol, sp.Float(repr(float(value)), 17), evaluate=False)
                      for symbol, (_name, value) in zip(symbols, layer_rule.constants, strict=True)]
            rows.append((Listing(*symbols), say(_("the constants of {f}: {values}"), f=cast.of(layer_rule),
                                                values=Listing(*values))))
    if net.output.softmax is not None:
        rows.append((Listing(naming.c, naming.c2), say(_("classes, {range}: the {K} outputs of the softmax layer"),
                                                       range=Span(naming.c, 1, naming.K),
                                                       K=sp.Eq(naming.K, m, evaluate=False))))
    if spec.train.optimizer != "gd":
        rows.append((Listing(naming.BATCH, naming.E_BATCH),
                     say(_("a minibatch, the samples of one training step, and {E} computed on it alone"),
                         E=naming.E)))
    rows.append((naming.ETA, say(_("the learning rate; here {eta}"),
                                 eta=sp.Eq(naming.ETA, naming.number(spec.train.learning_rate), evaluate=False))))
    table = Table((say(_("symbol")), say(_("meaning"))),
                  tuple((Paragraph((Math(symbol),)), meaning) for symbol, meaning in rows), style="glossary")
    return Section("notation", say(_("Notation")), (table,))

"""The notation table: every symbol the document uses, stated once, before it is used.

The rows every network has are written here; each layer kind present adds its own (its sizes,
indices, arrays, operations and blocks: :class:`~derive.story.layers.base.Notes`), in the place
its slot takes.
"""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import Call, Elementwise, FunctionName, Listing, Partial, Relation, Shape, Span
from derive.steps import Math, Paragraph, Section, Table, say
from derive.story.cast import ELL, GENERIC_ACTIVATION, STEP, Cast
from derive.story.kinks import has_step_function
from derive.story.layers.base import Entry


def kinds_of(net: NetworkDerivation) -> list[object]:
    """The kinds of the network's layers, in the order they first appear."""
    return list(dict.fromkeys(layer.kind for layer in net.layers))


def input_shape(net: NetworkDerivation) -> sp.Basic:
    """The shape of X: n × d⁽⁰⁾, or n × C × H × W for images."""
    shape = net.spec.input_shape
    if len(shape) == 1:
        return Shape(naming.n, naming.width(0))
    return Shape(Shape(Shape(naming.n, sp.Integer(shape[0])), sp.Integer(shape[1])), sp.Integer(shape[2]))


def section(net: NetworkDerivation, cast: Cast) -> Section:
    spec = net.spec
    L, n, k, l, m = naming.L, naming.n, naming.k, naming.l, naming.m
    A, Z = naming.GENERIC["A"], naming.GENERIC["Z"]
    d_l = naming.GENERIC["width"]
    flat = all(len(shape) == 1 for shape in spec.shapes)
    notes = [kind.story().notation(net, cast, kind) for kind in kinds_of(net)]  # type: ignore[attr-defined]

    seen: set[sp.Basic] = set()

    def slot(name: str) -> list[Entry]:
        """The kinds' rows of one slot; a symbol two kinds explain (u, v) is explained once."""
        entries = []
        for symbol, meaning in (entry for note in notes for entry in getattr(note, name)):
            if symbol not in seen:
                seen.add(symbol)
                entries.append((symbol, meaning))
        return entries

    if flat:
        arrays = (Listing(Z, A), say(_("the pre-activation and the output of layer {l}, both {shape}; {AL} is the "
                                       "network's output"), l=l, shape=Shape(n, d_l), AL=naming.A(net.depth)))
        error = say(_("{definition}, {shape}: how {E} changes with each pre-activation of layer {l}. The letter "
                      "{delta} means nothing else in this document"),
                    definition=sp.Eq(naming.GENERIC["delta"], Partial(naming.E, Z), evaluate=False),
                    shape=Shape(n, d_l), E=naming.E, l=l, delta=naming.GENERIC["delta"])
    else:
        arrays = (Listing(Z, A), say(_("the pre-activation and the output of layer {l}, each of the shape the "
                                       "layer's description gives; {AL} is the network's output"),
                                     l=l, AL=naming.A(net.depth)))
        error = say(_("{definition}, the same shape as {Z}: how {E} changes with each pre-activation of layer "
                      "{l}. The letter {delta} means nothing else in this document"),
                    definition=sp.Eq(naming.GENERIC["delta"], Partial(naming.E, Z), evaluate=False), Z=Z,
                    E=naming.E, l=l, delta=naming.GENERIC["delta"])
    rows: list[Entry] = [
        (Span(k, 1, n), say(_("the samples of a batch, one per row of the input; {n} is the batch size"), n=n)),
        (Span(l, 1, L), say(_("the layers; here {L}"), L=sp.Eq(L, net.depth, evaluate=False))),
        *slot("sizes"),
        (m, say(_("the number of outputs, {m}"), m=sp.Eq(m, naming.width(net.depth), evaluate=False))),
        *slot("indices"),
        (sp.Eq(naming.X, naming.A0, evaluate=False), say(_("the inputs of a batch, {shape}"), shape=input_shape(net))),
        *slot("arrays"),
        arrays,
        (naming.Y, say(_("the targets, {shape}"), shape=Shape(n, m))),
        (Listing(naming.z, naming.a, naming.y),
         say(_("one entry of {Z}, {A} and {Y}: numbers, for the rules that act on one entry"), Z=Z, A=A, Y=naming.Y)),
        (Call(ELL, naming.a, naming.y), say(_("the loss of one output of one sample"))),
        (naming.E, say(_("the loss of the batch: the number that training makes small"))),
        (naming.GENERIC["delta"], error),
        (sp.KroneckerDelta(naming.i, naming.j), say(_("1 if {i} and {j} are equal, 0 otherwise (an indicator)"),
                                                    i=naming.i, j=naming.j)),
        *slot("operations"),
    ]
    if net.depth > 1 or spec.train.optimizer == "adam":
        rows.append((Elementwise(naming.M_LEFT, naming.M_RIGHT),
                     say(_("the product of two arrays of one shape, entry by entry"))))
    activations = Listing(*(sp.Eq(FunctionName(f"h{naming.tag(layer.index)}"), cast.layer(layer), evaluate=False)
                            for layer in net.layers if layer.has_activation))
    rows.append((GENERIC_ACTIVATION, say(_("the activation of layer {l}, applied to each entry; here {activations}"),
                                         l=l, activations=activations)))
    rows += slot("blocks")
    if has_step_function(net):
        rows.append((Call(STEP, naming.z), say(_("the step function, 1 for {positive} and 0 for {negative}. "
                                                    "At the kink this document and the generated code take "
                                                    "{choice}"),
                                                  positive=Relation(naming.z, "gt", 0),
                                                  negative=Relation(naming.z, "lt", 0),
                                                  choice=sp.Eq(Call(STEP, 0), 0, evaluate=False))))
    rows += _rules(net, cast)
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


def _rules(net: NetworkDerivation, cast: Cast) -> list[Entry]:
    """The activations given as formulas, and the named constants of the rules."""
    rows: list[Entry] = []
    activated = [layer for layer in net.layers if layer.rule is not None]
    for rule in cast.formulas:
        layers = [layer.index for layer in activated if layer.rule == rule]
        rows.append((Call(cast.of(rule), naming.z),
                     say(_("the activation of layer {layers}, given as a formula: {definition}"),
                         layers=Listing(*layers),
                         definition=sp.Eq(Call(cast.of(rule), naming.z), rule.definition(), evaluate=False))))
    for layer_rule in dict.fromkeys(layer.rule for layer in activated):
        if layer_rule is not None and layer_rule.constants:
            symbols = [sp.Symbol(name, positive=True) for name, _value in layer_rule.constants]
            values = [sp.Eq(symbol, sp.Float(repr(float(value)), 17), evaluate=False)
                      for symbol, (_name, value) in zip(symbols, layer_rule.constants, strict=True)]
            rows.append((Listing(*symbols), say(_("the constants of {f}: {values}"), f=cast.of(layer_rule),
                                                values=Listing(*values))))
    return rows

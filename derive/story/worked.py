"""The worked example: one forward and backward pass on numbers, every gradient entry next to its
central difference, and one update step."""

from __future__ import annotations

import numpy as np
import sympy as sp

from derive import naming
from derive.i18n import _
from derive.network import NetworkDerivation
from derive.notation import (
    Assign,
    Call,
    Chain,
    Difference,
    Elementwise,
    Fraction,
    FunctionName,
    Listing,
    Partial,
    Plus,
    Scientific,
    Times,
    Value,
)
from derive.optimizers import OPTIMIZERS
from derive.steps import Block, Math, Paragraph, Row, Section, Table, display, row, say
from derive.story import scalar
from derive.story.cast import Cast
from derive.story.layers.base import numbers
from derive.story.update import saying
from derive.worked import FIRST, H, WorkedExample, is_exact

LOSS = FunctionName("E")  # E as a function of one parameter, in the central difference
CHECKED_PER_ARRAY = FIRST  # gradient entries of each parameter array in the check table
array = numbers


def section(net: NetworkDerivation, cast: Cast, worked: WorkedExample) -> Section:
    n = worked.batch.X[:, :].shape[0]
    origin = {"spec": _("the rows of the spec's data table"), "file": _("the first rows of the data file"),
              "seeded": _("drawn with the spec's seed")}[worked.batch.origin]
    if is_exact(worked):
        words = _("One forward and one backward pass on numbers: a batch of {n} samples ({origin}) and parameters "
                  "drawn with one decimal, so that the first steps can be redone by hand. Every number is an "
                  "expression of the sections above, evaluated with 30 significant digits and shown rounded.")
    else:
        words = _("One forward and one backward pass on numbers: a batch of {n} samples ({origin}) and parameters "
                  "drawn at random on the scale of Glorot's initialisation, the network being too large to redo by "
                  "hand. Every number is an expression of the sections above, evaluated in float64 and shown rounded.")
    blocks: list[Block] = [
        say(words, n=sp.Integer(n), origin=origin),
        display(*_inputs(net, worked)),
    ]
    if scalar.applies(net):
        blocks += _per_sample(net, cast, worked)
    else:
        blocks += [say(_("The forward pass:")), display(*_forward(net, cast, worked)),
                   say(_("The backward pass, from the output down:")), display(*_backward(net, cast, worked))]
    if any(values.ndim > 2 for values in worked.A):
        blocks.append(say(_("Of a batch of images, an array shows the first sample's first channel."), kind="note"))
    blocks += _check(net, worked)
    blocks += _update(net, worked)
    return Section("worked", say(_("A worked example with numbers")), tuple(blocks))


def left_out(worked: WorkedExample) -> Section:
    """In place of the worked example when its numbers cannot be shown (exp(exp(exp(z))) on large inputs)."""
    origin = {"spec": _("the rows of the spec's data table"), "file": _("the first rows of the data file"),
              "seeded": _("drawn with the spec's seed")}[worked.batch.origin]
    words = say(_("The worked example is left out: on its batch ({origin}) some of the network's numbers are larger "
                  "than {large} or smaller than {small} but not 0, beyond what a table of numbers, or float64, can "
                  "show. The computational graph, which carries the example's numbers, is left out for the same "
                  "reason."),
                origin=origin, large=Scientific(1, 300), small=Scientific(1, -300))
    return Section("worked", say(_("A worked example with numbers")), (words,))


def _inputs(net: NetworkDerivation, worked: WorkedExample) -> list[Row]:
    """The batch and the parameters, arrays side by side (a line breaks between them when too wide)."""
    rows = [row(None, Listing(sp.Eq(naming.X, array(worked.A[0]), evaluate=False),
                              sp.Eq(naming.Y, array(worked.batch.Y[:worked.A[0].shape[0]]), evaluate=False)),
                relation="")]
    for layer in net.layers:
        if layer.has_parameters:
            rows.append(row(None, Listing(sp.Eq(naming.W(layer.index), array(worked.params[f"W{layer.index}"]),
                                                evaluate=False),
                                          sp.Eq(naming.b(layer.index), array(worked.params[f"b{layer.index}"]),
                                                evaluate=False)), relation=""))
    return rows


def _forward(net: NetworkDerivation, cast: Cast, worked: WorkedExample) -> list[Row]:
    rows = []
    for layer in net.layers:
        rows += layer.kind.story().worked_forward(net, cast, worked, layer)
    rows.append(row(naming.E, Value(worked.E, 6)))
    return rows


def _backward(net: NetworkDerivation, cast: Cast, worked: WorkedExample) -> list[Row]:
    last = net.layers[-1]
    L = last.index
    rows = [row(Partial(naming.E, naming.A(L)), array(worked.output_gradient))]
    delta = worked.deltas[-1]
    assert delta is not None
    if worked.slopes[-1] is not None:
        prime = Call(cast.layer(last).derivative(), naming.Z(L))
        rows.append(row(prime, array(worked.slopes[-1])))
        rows.append(row(naming.delta(L), Elementwise(Partial(naming.E, naming.A(L)), prime), array(delta)))
    else:
        rows.append(row(naming.delta(L), array(delta)))
    for layer in reversed(net.layers):
        story = layer.kind.story()
        rows += story.worked_parameters(net, worked, layer)
        if layer.index == net.first_with_parameters:
            break
        back = story.input_gradient(net, layer)
        below = net.layers[layer.index - 2]
        l = below.index
        if not below.has_activation:
            upstream = worked.upstream[l]
            assert upstream is not None
            rows.append(row(Partial(naming.E, naming.A(l)), back, array(upstream)))
            continue
        prime = Call(cast.layer(below).derivative(), naming.Z(l))
        slope, delta = worked.slopes[l - 1], worked.deltas[l - 1]
        assert slope is not None and delta is not None
        rows.append(row(prime, array(slope)))
        rows.append(row(naming.delta(l), Elementwise(back, prime), array(delta)))
    return rows


def _per_sample(net: NetworkDerivation, cast: Cast, worked: WorkedExample) -> list[Block]:
    """One neuron: every chain-rule factor of every sample in a table, then each gradient as its sum."""
    k = naming.k
    z_k, a_k, y_k = (sp.IndexedBase(symbol)[k] for symbol in (naming.z, naming.a, naming.y))
    xs = sp.IndexedBase(sp.Symbol("x", real=True))
    d = net.layers[0].fan_in
    delta_k = sp.IndexedBase(naming.delta(1))[k, 1]
    header = [Math(k), *(Math(xs[k, p]) for p in range(1, d + 1)), Math(y_k), Math(z_k), Math(a_k),
              Math(Partial(naming.E, a_k)), Math(Partial(a_k, z_k)), Math(delta_k)]
    X, Y = worked.A[0], worked.batch.Y
    cells = []
    for sample in range(X.shape[0]):
        values = [*X[sample], Y[sample, 0], worked.Z[0][sample, 0], worked.A[1][sample, 0],
                  worked.output_gradient[sample, 0], worked.slopes[0][sample, 0], worked.deltas[0][sample, 0]]
        cells.append((Paragraph((Math(sp.Integer(sample + 1)),)), *(Paragraph((Math(Value(v)),)) for v in values)))
    sums = []
    for p in range(1, d + 1):
        terms = [Times(Value(worked.deltas[0][sample, 0]), Value(X[sample, p - 1])) for sample in range(X.shape[0])]
        sums.append(row(Partial(naming.E, sp.Symbol(f"w_{p}", real=True)), sp.Sum(delta_k * xs[k, p], (k, 1, naming.n)),
                        _plus(terms), Value(worked.gradients["W1"][p - 1, 0], 6)))
    terms = [Value(worked.deltas[0][sample, 0]) for sample in range(X.shape[0])]
    sums.append(row(Partial(naming.E, sp.Symbol("b", real=True)), sp.Sum(delta_k, (k, 1, naming.n)), _plus(terms),
                    Value(worked.gradients["b1"][0], 6)))
    return [say(_("The forward pass and every chain-rule factor, sample by sample; {delta} is the product of {dE} "
                  "and {da}, and the loss of the batch is {E}:"),
                delta=delta_k, dE=Partial(naming.E, a_k), da=Partial(a_k, z_k),
                E=sp.Eq(naming.E, Value(worked.E, 6), evaluate=False)),
            Table(tuple(Paragraph((run,)) for run in header), tuple(cells)),
            say(_("Each gradient sums over the samples, with {dz} read off the table:"),
                dz=sp.Eq(Partial(z_k, sp.Symbol("w_p", real=True)), xs[k, sp.Symbol("p", integer=True)],
                         evaluate=False)),
            display(*sums)]


def _plus(terms: list[sp.Basic]) -> sp.Basic:
    return Plus(*terms) if len(terms) > 1 else terms[0]


def _entries(worked: WorkedExample) -> list[tuple[str, tuple[int, ...]]]:
    """The gradient entries the check table shows: the first few of each parameter array."""
    shown = []
    for key, values in worked.gradients.items():
        for count, index in enumerate(np.ndindex(values.shape)):
            if count == CHECKED_PER_ARRAY:
                break
            if worked.central[key][index] is not None:
                shown.append((key, index))
    return shown


def _label(net: NetworkDerivation, key: str, index: tuple[int, ...]) -> sp.Basic:
    """The name of a parameter entry, as its layer's kind writes it."""
    return net.layers[int(key[1:]) - 1].kind.story().entry_label(key, index)


def _check(net: NetworkDerivation, worked: WorkedExample) -> list[Block]:
    differences = worked.differences()
    rows = []
    for key, index in _entries(worked):
        entry = _label(net, key, index)
        rows.append((Paragraph((Math(Partial(naming.E, entry)),)),
                     Paragraph((Math(Value(worked.gradients[key][index], 8)),)),
                     Paragraph((Math(Value(worked.central[key][index], 8)),)),
                     Paragraph((Math(Value(differences[key][index], 2)),))))
    total = sum(values.size for values in worked.gradients.values())
    header = (say(_("entry")), say(_("backpropagation")), say(_("central difference")), say(_("difference")))
    formula = sp.Eq(Partial(naming.E, sp.Symbol("w", real=True)),
                    Fraction(Difference(Call(LOSS, Plus(sp.Symbol("w", real=True), sp.Symbol("h", positive=True))),
                                        Call(LOSS, Difference(sp.Symbol("w", real=True),
                                                              sp.Symbol("h", positive=True)))),
                             2 * sp.Symbol("h", positive=True)), evaluate=False)
    blocks: list[Block] = [
        say(_("A check that does not use the chain rule: numerical differentiation by the central difference "
              "{formula} with {h}, computed from the loss alone, next to each gradient entry:"),
            formula=formula, h=sp.Eq(sp.Symbol("h", positive=True), naming.number(float(H)), evaluate=False)),
        Table(header, tuple(rows)),
    ]
    if worked.checked == total:
        message = _("Over all {count} entries the largest difference is {largest}: the central difference's own "
                    "error, of the order of {h2}.")
    else:
        message = _("Over {count} entries, a seeded sample of the {total}, the largest difference is {largest}: the "
                    "central difference's own error, of the order of {h2}.")
    blocks.append(say(message, count=sp.Integer(worked.checked), largest=Value(worked.largest_difference(), 2),
                      h2=sp.Pow(sp.Symbol("h", positive=True), 2),
                      **({"total": sp.Integer(total)} if worked.checked != total else {})))
    return blocks


def _update(net: NetworkDerivation, worked: WorkedExample) -> list[Block]:
    """The first update of the spec's optimizer on this batch, θ ← θ − S with S its first step as the rule
    writes it, for the entries above; the numbers after it are the rule's update evaluated."""
    train = net.spec.train
    rule = OPTIMIZERS[train.optimizer]
    settings = {naming.ETA: naming.number(train.learning_rate),
                **{setting.symbol: naming.number(train.settings[setting.name]) for setting in rule.hyperparameters}}
    rows = []
    for key, index in _entries(worked):
        gradient = worked.gradients[key][index]
        step = _numbers(rule.first_written, {**settings, naming.GRADIENT: Value(gradient, 6),
                                             sp.Abs(naming.GRADIENT): Value(abs(gradient), 6)})
        rows.append(row(None, Assign(_label(net, key, index), Difference(Value(worked.params[key][index], 4), step)),
                        Value(worked.updated[key][index], 6), relation=""))
    theta = naming.THETA
    shown = {naming.GRADIENT: Partial(naming.E, theta)} if rule.shows == "partial" else {}
    written = Assign(theta, Difference(theta, rule.first_written.xreplace(shown)))
    values: dict[str, sp.Basic] = {"rule": written}
    if rule.first_where:
        values["MV"] = Listing(*rule.first_where)
    return [saying(rule.worked(), values), display(*rows)]


def _numbers(written: sp.Basic, values: dict[sp.Basic, sp.Basic]) -> sp.Basic:
    """A written step with numbers put in: a product with its factors joined by dots, a sum with the term
    that holds the gradient first (|g| + ε), each symbol its value."""
    def shown(node: sp.Basic) -> sp.Basic:
        if node in values:
            return values[node]
        arguments = [shown(argument) for argument in node.args]
        if isinstance(node, Chain):
            return Times(*arguments)
        if isinstance(node, sp.Add):
            terms = sorted(zip(node.args, arguments, strict=True), key=lambda pair: not pair[0].has(naming.GRADIENT))
            return Plus(*(argument for _, argument in terms))
        return node.func(*arguments) if node.args else node
    return shown(written)

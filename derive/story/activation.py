"""∂A/∂Z for each elementwise activation: f′ derived from f's definition, then rewritten and proved."""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from derive import naming
from derive.elementwise import ElementwiseDerivation
from derive.i18n import _, ngettext
from derive.network import NetworkDerivation
from derive.notation import Call, Chain, Fraction, FunctionName, Listing, Partial, Primed, QuotientRule
from derive.rules import ActivationRule
from derive.steps import Block, Row, Section, display, row, say
from derive.story.cast import STEP, Cast
from derive.story.kinks import one_sided_slopes
from derive.story.names import activation_name

z, a = naming.z, naming.a
SIGN = FunctionName(r"\operatorname{sign}")


def sections(net: NetworkDerivation, cast: Cast) -> Iterator[Section]:
    seen: list[ActivationRule] = []
    for layer in net.layers:
        if layer.elementwise is None or layer.rule in seen:
            continue
        seen.append(layer.rule)
        users = [other.index for other in net.layers if other.rule == layer.rule]
        yield _section(layer.rule, cast.of(layer.rule), layer.elementwise, users)


def uses_quotient_rule(d: ElementwiseDerivation) -> bool:
    """Whether f is a quotient with z in its denominator (and so f′ is shown by the quotient rule)."""
    return not d.backward.has(sp.Heaviside) and sp.fraction(d.definition)[1].has(z)


def derivative_steps(f: FunctionName, d: ElementwiseDerivation) -> list[Row]:
    """f(z) = definition, then f′(z) = (quotient rule) = diff = … = the form in a = f(z)."""
    rows = []
    definition = d.definition
    if not (isinstance(definition, sp.Function) and definition.args == (z,)):  # tanh(z) = tanh(z) says nothing
        rows.append(row(Call(f, z), definition))
    steps: list[sp.Basic] = []
    if d.backward.has(sp.Heaviside):
        steps.append(d.backward)  # SymPy's H has H(0) = ½; only the form with the chosen H(0) = 0 is shown
    else:
        if uses_quotient_rule(d):
            u, v = sp.fraction(definition)
            steps.append(QuotientRule(sp.diff(u, z), v, u, sp.diff(v, z)))
        steps.append(d.derivative)
        if _last_shown(d) is d.simplified:
            steps.append(d.simplified)
        if d.in_output is not None:
            steps += [d.in_output.subs(a, _applied(f, d)), d.in_output]
        elif d.named is not None:
            steps.append(Call(FunctionName(d.named.latex), z))
    rows.append(row(Call(f.derivative(), z), *steps))
    return rows


def _section(rule: ActivationRule, f: FunctionName, d: ElementwiseDerivation, users: list[int]) -> Section:
    if uses_quotient_rule(d):
        words = ngettext("Layer {layers} uses {f}. For one entry write {z} and {a}. {f} is a quotient, so its "
                         "derivative follows from the quotient rule, {rule}:",
                         "Layers {layers} use {f}. For one entry write {z} and {a}. {f} is a quotient, so its "
                         "derivative follows from the quotient rule, {rule}:", len(users))
    else:
        words = ngettext("Layer {layers} uses {f}. For one entry write {z} and {a}.",
                         "Layers {layers} use {f}. For one entry write {z} and {a}.", len(users))
    blocks: list[Block] = [say(words, layers=Listing(*users), f=f, z=z, a=sp.Eq(a, Call(f, z), evaluate=False),
                               **({"rule": _quotient_rule()} if uses_quotient_rule(d) else {}))]
    blocks.append(display(*derivative_steps(f, d)))
    blocks += _why(f, d)
    A, Z = naming.GENERIC["A"], naming.GENERIC["Z"]
    entry_A, entry_Z = naming.entry(A, naming.k, naming.j), naming.entry(Z, naming.k, naming.j)
    other_Z = naming.entry(Z, naming.k2, naming.j2)
    blocks.append(say(_("{f} acts on each entry on its own: {Akj} depends on {Zkj} and on no other entry of {Z}. "
                        "So of all the partials of {Akj} only one is not zero, and the chain rule multiplies entry "
                        "by entry:"), f=f, Akj=entry_A, Zkj=entry_Z, Z=Z))
    value = d.backward.xreplace({a: entry_A, z: entry_Z})
    blocks.append(display(
        row(Partial(entry_A, other_Z),
            Chain(sp.KroneckerDelta(naming.k, naming.k2), sp.KroneckerDelta(naming.j, naming.j2),
                  Call(f.derivative(), entry_Z))),
        row(Call(f.derivative(), entry_Z), value)))
    title = say(_("{dAdZ}: the activation function {f}, {name}"), dAdZ=Partial(A, Z), f=f, name=activation_name(rule))
    return Section(f"activation:{rule.name}", title, tuple(blocks))


def _applied(f: FunctionName, d: ElementwiseDerivation) -> sp.Expr:
    """f(z) as written: SymPy's own function where f is one (tanh), else the name applied, σ(z)."""
    return d.definition if isinstance(d.definition, sp.Function) and d.definition.args == (z,) else Call(f, z)


def _last_shown(d: ElementwiseDerivation) -> sp.Expr:
    """The derivative as the document shows it: SymPy's diff, or its simplified form when that is much shorter."""
    return d.simplified if sp.count_ops(d.simplified) <= 0.7 * sp.count_ops(d.derivative) else d.derivative


def _quotient_rule() -> sp.Basic:
    """(u/v)′ = (u′v − uv′)/v², in general symbols u and v."""
    u, v = sp.Symbol("u"), sp.Symbol("v")
    return sp.Eq(Primed(Fraction(u, v)), QuotientRule(Primed(u), v, u, Primed(v)), evaluate=False)


def _why(f: FunctionName, d: ElementwiseDerivation) -> list[Block]:
    """The proof or the choice behind the last step, and how the generated code evaluates f and f′.

    Derived forms stand in displays, never inline, so a long formula is broken over lines.
    """
    blocks: list[Block] = []
    if d.in_output is not None and d.in_output.has(a):
        if d.in_output.subs(a, _applied(f, d)) == _last_shown(d):
            blocks.append(say(_("Written in the output {a}, the backward pass reuses the layer's output from the "
                                "forward pass and computes no exponential."), a=a))
        else:
            blocks.append(say(_("SymPy proved the rewrite for every real {z}: the difference of its two sides "
                                "simplifies to 0. Written in the output {a}, the backward pass reuses the layer's "
                                "output from the forward pass and computes no exponential."), z=z, a=a))
    elif d.in_output is not None:
        pass  # a constant derivative (the identity): nothing to prove or to reuse
    elif d.named is not None:
        blocks.append(say(_("SymPy proved the last two forms equal for every real {z}: the derivative of {f} is "
                            "itself an activation."), z=z, f=f))
    elif d.backward.has(sp.Heaviside) and (slopes := one_sided_slopes(d.backward)) is not None \
            and slopes[1] == slopes[2]:
        point, left = slopes[0], slopes[1]
        blocks.append(say(_("At {kink} the two pieces meet with the same slope, {left}, from the left and from the "
                            "right: the derivative exists there, and the step function only says which piece's "
                            "formula gives it ({choice})."),
                          kink=sp.Eq(z, point, evaluate=False), left=left,
                          choice=sp.Eq(Call(STEP, 0), 0, evaluate=False)))
    elif d.backward.has(sp.Heaviside) and (slopes := one_sided_slopes(d.backward)) is not None:
        point, left, right = slopes
        blocks.append(say(_("At {kink} the slopes from the left and from the right, {left} and {right}, differ, and "
                            "the derivative does not exist there. This document and the generated code take the "
                            "slope from the left, {choice}, as PyTorch does for ReLU; it changes {fprime} at {kink} "
                            "only."),
                          kink=sp.Eq(z, point, evaluate=False), left=left, right=right,
                          choice=sp.Eq(Call(STEP, 0), 0, evaluate=False), fprime=Call(f.derivative(), z)))
    elif d.backward.has(sp.Heaviside):
        blocks.append(say(_("Where the argument of {H} is 0 the derivative does not exist. This document and the "
                            "generated code take {choice} there, as PyTorch does."),
                          H=Call(STEP, z), choice=sp.Eq(Call(STEP, 0), 0, evaluate=False)))
    elif d.backward.has(sp.sign):
        blocks.append(say(_("Where the argument of {sign} is 0 the derivative does not exist; this document and the "
                            "generated code take {choice} there."),
                          sign=sp.sign(z), choice=sp.Eq(Call(SIGN, 0), 0, evaluate=False)))
    if d.backward != d.simplified and not d.backward.has(sp.Heaviside) and d.in_output is None and d.named is None:
        blocks.append(say(_("The generated code evaluates it in a form that SymPy proved equal and that does not "
                            "overflow for large {absz}:"), absz=sp.Abs(z)))
        blocks.append(display(row(Call(f.derivative(), z), d.backward)))
    if d.forward != d.definition and not (isinstance(d.forward, sp.Function) and d.forward.args == (z,)):
        blocks.append(say(_("The forward pass evaluates {f} in a form proved equal to the definition that does not "
                            "overflow for large {absz}:"), f=f, absz=sp.Abs(z)))
        blocks.append(display(row(Call(f, z), d.forward)))
    return blocks

"""∂E/∂A from the loss: ∂ℓ/∂a derived by SymPy, the steps one does on paper, then one entry of A."""

from __future__ import annotations

import sympy as sp

from derive import naming
from derive.forms import oriented
from derive.i18n import _
from derive.loss import LossDerivation, display_scale
from derive.network import NetworkDerivation
from derive.notation import Call, Evaluated, Partial, Scaled
from derive.steps import Block, Paragraph, Section, display, row, say
from derive.story.cast import ELL, Cast
from derive.story.kinks import jump
from derive.story.names import loss_name

a, y = naming.a, naming.y


def cancels_power(element: sp.Expr) -> sp.Expr | None:
    """c when ℓ = c·u^p with c = 1/p, u a sum with a (½(a − y)²): the c is there to cancel the p."""
    coefficient, rest = element.as_coeff_Mul()
    if coefficient == 1 or not isinstance(rest, sp.Pow) or not rest.exp.is_Integer:
        return None
    return coefficient if coefficient * rest.exp == 1 and rest.base.has(a) else None


def expansion(element: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(c, p) with ℓ = c·p and p a polynomial in a that expanding changes: ½(a − y)² → ½, (a − y)²."""
    coefficient, rest = element.as_coeff_Mul()
    if not rest.is_polynomial(a) or sp.expand(rest) == rest:
        return None
    return coefficient, rest


def section(net: NetworkDerivation, cast: Cast) -> Section:
    spec, derived = net.spec, net.output.loss
    element, gradient = derived.element, oriented(derived.gradient, a)
    ell = Call(ELL, a, y)
    dl_da = Partial(ELL, a)
    blocks: list[Block] = []
    split = expansion(element)
    if split is not None:
        coefficient, rest = split
        expanded = sp.expand(rest)
        inner_derivative = sp.diff(expanded, a)
        written = Scaled(coefficient, expanded) if coefficient != 1 else expanded
        derivative = Scaled(coefficient, inner_derivative) if coefficient != 1 else inner_derivative
        rows = [row(ell, element, written), row(dl_da, derivative, gradient)]
        blocks.append(say(_("Expand the square, then differentiate term by term with respect to {a}; {y} is a "
                            "constant here:"), a=a, y=y))
    else:
        rows = [row(ell, element), row(dl_da, derived.derivative, gradient)]
        blocks.append(say(_("Differentiate with respect to {a}; {y} is a constant here:"), a=a, y=y))
    blocks.append(display(*rows))
    if split is not None and cancels_power(element) is not None:
        blocks.append(say(_("The factor {half} in {ell} is there to cancel the {two} that the power rule brings "
                            "down: {result}, not {slip}. Keeping the {half} (writing {wrong}) is a common slip."),
                          kind="note", half=split[0], ell=ell, two=1 / split[0],
                          result=sp.Eq(dl_da, gradient, evaluate=False),
                          slip=Scaled(split[0], derived.gradient),
                          wrong=sp.Eq(Partial(naming.E, naming.A(net.depth)),
                                      Scaled(split[0], sp.Sum(naming.A(net.depth) - naming.Y, (naming.k, 1, naming.n))),
                                      evaluate=False)))
    blocks += _how_evaluated(derived, ell, dl_da)
    c = display_scale(spec.loss, spec.reduction)
    L = naming.A(net.depth)
    at = (sp.Eq(a, naming.entry(L, naming.k, naming.j)), sp.Eq(y, naming.entry(naming.Y, naming.k, naming.j)))
    entry_A = naming.entry(L, naming.k, naming.j)
    value = oriented(derived.gradient.xreplace({a: entry_A, y: naming.entry(naming.Y, naming.k, naming.j)}), entry_A)
    evaluated = Evaluated(dl_da, *at)
    blocks.append(_entry_words(net, c, dl_da))
    product = Scaled(c, value) if c != 1 else value
    blocks.append(display(row(Partial(naming.E, naming.entry(L, naming.k, naming.j)),
                              Scaled(c, evaluated) if c != 1 else evaluated, product)))
    title = say(_("{dEdA}: the loss function, {name}"), dEdA=Partial(naming.E, L), name=loss_name(spec.loss))
    return Section("loss", title, tuple(blocks))


def _how_evaluated(derived: LossDerivation, ell: sp.Basic, dl_da: sp.Basic) -> list[Block]:
    """The kink of ∂ℓ/∂a and the value taken there; the stable form in which the code evaluates ℓ."""
    blocks: list[Block] = []
    if (kink := jump(derived.evaluated_gradient, a)) is not None:
        point, left, right, taken = kink
        blocks.append(say(_("At {point} the derivative jumps from {left} to {right} and does not exist there; this "
                            "document and the generated code take {taken}, the subgradient PyTorch uses."),
                          point=sp.Eq(a, point, evaluate=False), left=left, right=right,
                          taken=sp.Eq(dl_da, taken, evaluate=False)))
    if derived.evaluated != derived.element:
        blocks.append(say(_("The generated code evaluates {ell} in a form that SymPy proved equal and that does not "
                            "overflow for large {d}:"), ell=ell, d=sp.Abs(a - y)))
        blocks.append(display(row(ell, derived.evaluated)))
    return blocks


def _entry_words(net: NetworkDerivation, c: sp.Expr, dl_da: sp.Expr) -> Paragraph:
    L = naming.A(net.depth)
    entry = naming.entry(L, naming.k, naming.j)
    message = _("{E} adds one term for each sample {k} and output {j}, and {Akj} appears in exactly one of them, "
                "the one with the same {k} and {j}. So the sums drop out of the derivative: {dEdA} is {dlda} at "
                "that entry, times the constant {c} in front of the sums. The sum over the samples comes back "
                "when a weight, which every sample uses, collects its gradient.")
    if c == 1:
        message = _("{E} adds one term for each sample {k} and output {j}, and {Akj} appears in exactly one of "
                    "them, the one with the same {k} and {j}. So the sums drop out of the derivative: {dEdA} is "
                    "{dlda} at that entry. The sum over the samples comes back when a weight, which every sample "
                    "uses, collects its gradient.")
        return say(message, E=naming.E, k=naming.k, j=naming.j, Akj=entry, dEdA=Partial(naming.E, entry), dlda=dl_da)
    return say(message, E=naming.E, k=naming.k, j=naming.j, Akj=entry, dEdA=Partial(naming.E, entry), dlda=dl_da,
               c=c)

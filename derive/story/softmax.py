"""The softmax output: its Jacobian from the indexed definition, and δ⁽ᴸ⁾ by contracting it with ∂ℓ/∂a."""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from derive import naming
from derive.forms import ordered_product
from derive.i18n import _
from derive.loss import display_scale
from derive.network import NetworkDerivation
from derive.notation import Call, Chain, Partial, Scaled, SumOver
from derive.softmax import as_, ys_, zs_
from derive.steps import Block, Section, display, row, say
from derive.story.cast import ELL, Cast

c, c2, K = naming.c, naming.c2, naming.K


def sections(net: NetworkDerivation, cast: Cast) -> Iterator[Section]:
    s = net.output.softmax
    if s is None:
        return
    L = net.depth
    f = cast.layer(net.layers[-1])
    blocks: list[Block] = [say(_("Softmax acts on the row of each sample, {K} outputs at a time. Within one sample "
                                 "{k} write {zc} and {ac} for the classes {c}:"),
                               K=sp.Eq(K, sp.Eq(naming.m, net.spec.outputs, evaluate=False), evaluate=False),
                               k=naming.k,
                               zc=sp.Eq(zs_[c], naming.entry(naming.Z(L), naming.k, c), evaluate=False),
                               ac=sp.Eq(as_[c], naming.entry(naming.A(L), naming.k, c), evaluate=False),
                               c=naming.c)]
    jacobian = ordered_product(s.jacobian)
    blocks.append(display(row(as_[c], s.indexed_definition),
                          row(Partial(as_[c], zs_[c2]), s.indexed_jacobian, s.summed_jacobian, jacobian)))
    sample_loss = SumOver(Call(ELL, as_[c2], ys_[c2]), (c2, 1, K))
    blocks.append(say(_("SymPy proved the last form entry by entry for {K3}. Unlike an elementwise activation, every "
                        "{ac} depends on every {zc2} of its sample. So for the loss of one sample, {Ek}, the chain "
                        "rule sums over all {K} outputs:"),
                      K3=sp.Eq(K, 3, evaluate=False), ac=as_[c], zc2=zs_[c2],
                      Ek=sp.Eq(naming.E_SAMPLE, sample_loss, evaluate=False), K=K))
    chain = SumOver(Chain(Partial(ELL, as_[c2]), Partial(as_[c2], zs_[c])), (c2, 1, K))
    steps: list[sp.Basic] = [chain, s.written, s.contraction, s.contracted]
    if s.collapsed is not None:
        steps.append(s.collapsed.subs({naming.a: as_[c], naming.y: ys_[c]}))
    blocks.append(display(row(Partial(naming.E_SAMPLE, zs_[c]), *steps)))
    if s.collapsed is not None and s.uses_target_sum:
        blocks.append(say(_("The last step uses only {targets}: the targets of a sample are one-hot or a probability "
                            "distribution. Nothing about {a} is needed beyond its definition."),
                          targets=sp.Eq(sp.Sum(ys_[c2], (c2, 1, K)), 1, evaluate=False), a=as_[c]))
    elif s.collapsed is not None:
        blocks.append(say(_("The last step uses {sum}, which holds for every softmax output."),
                          sum=sp.Eq(sp.Sum(as_[c2], (c2, 1, K)), 1, evaluate=False)))
    else:
        blocks.append(say(_("This does not collapse further; the generated code evaluates it as written, with the sum "
                            "over the outputs of each sample.")))
    scale = display_scale(net.spec.loss, net.spec.reduction)
    entry = {as_[c]: naming.entry(naming.A(L), naming.k, c), ys_[c]: naming.entry(naming.Y, naming.k, c)}
    per_sample = (s.collapsed.subs({naming.a: as_[c], naming.y: ys_[c]}) if s.collapsed is not None
                  else s.contracted).xreplace(entry)
    per_sample = per_sample.replace(lambda e: isinstance(e, sp.Indexed) and e.base == as_,
                                    lambda e: naming.entry(naming.A(L), naming.k, e.indices[0]))
    per_sample = per_sample.replace(lambda e: isinstance(e, sp.Indexed) and e.base == ys_,
                                    lambda e: naming.entry(naming.Y, naming.k, e.indices[0]))
    delta = naming.entry(naming.delta(L), naming.k, c)
    blocks.append(say(_("{E} is {c} times the sum of {Ek} over the samples, and {ZLkc} enters only {Ek}, so"),
                      E=naming.E, c=scale, Ek=naming.E_SAMPLE, ZLkc=naming.entry(naming.Z(L), naming.k, c))
                  if scale != 1 else
                  say(_("{E} is the sum of {Ek} over the samples, and {ZLkc} enters only {Ek}, so"),
                      E=naming.E, Ek=naming.E_SAMPLE, ZLkc=naming.entry(naming.Z(L), naming.k, c)))
    value = Scaled(scale, per_sample) if scale != 1 else per_sample
    blocks.append(display(row(delta, Partial(naming.E, naming.entry(naming.Z(L), naming.k, c)), value)))
    title = say(_("{dAdZ}: the activation function {f}, the softmax function, and the output error"),
                dAdZ=Partial(naming.A(L), naming.Z(L)), f=f)
    yield Section("activation:softmax", title, tuple(blocks))

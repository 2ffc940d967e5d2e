"""The whole network's derivation, layer by layer, in time linear in depth.

Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾W⁽ˡ⁾ + b⁽ˡ⁾, A⁽ˡ⁾ = f⁽ˡ⁾(Z⁽ˡ⁾), A⁽⁰⁾ = X, E = c Σ_k Σ_j ℓ(A⁽ᴸ⁾_kj, Y_kj).

Each factor of the chain rule is derived once per rule (cached), never by expanding the
network into one expression; the layer structure then assembles the vectorised form

    δ⁽ᴸ⁾ = ∂E/∂A⁽ᴸ⁾ ⊙ f′(Z⁽ᴸ⁾)          (or the softmax contraction)
    ∂E/∂W⁽ˡ⁾ = A⁽ˡ⁻¹⁾ᵀ δ⁽ˡ⁾,  ∂E/∂b⁽ˡ⁾ = Σ_k δ⁽ˡ⁾_k
    δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾ᵀ) ⊙ f′(Z⁽ˡ⁾)

whose agreement with the fully expanded scalar E is checked by :mod:`derive.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

from derive import naming
from derive.bounded import STEP_SECONDS, NotProvedError, Task, time_budget, within, working_on
from derive.elementwise import ElementwiseDerivation, derive_elementwise
from derive.errors import SpecError
from derive.logdomain import in_log_domain, log_forms
from derive.loss import LossDerivation, derive_loss, scale
from derive.rules import LOSSES, ActivationRule
from derive.softmax import SoftmaxDerivation, derive_softmax
from derive.spec import Spec
from derive.stable import RowSum

if TYPE_CHECKING:
    from derive.story import Document


@dataclass(frozen=True)
class LayerDerivation:
    index: int  # l, from 1
    fan_in: int
    fan_out: int
    rule: ActivationRule
    init: str  # xavier | he
    elementwise: ElementwiseDerivation | None  # None for softmax
    forward: sp.Expr | None  # A⁽ˡ⁾ in Z⁽ˡ⁾ (elementwise layers)
    backward: sp.Expr | None  # f′(Z⁽ˡ⁾) in A⁽ˡ⁾ or Z⁽ˡ⁾ (elementwise layers)

    @property
    def Z(self) -> sp.Symbol:
        return naming.Z(self.index)

    @property
    def A(self) -> sp.Symbol:
        return naming.A(self.index)

    @property
    def A_prev(self) -> sp.Symbol:
        return naming.A(self.index - 1)

    @property
    def backward_uses_z(self) -> bool:
        return self.backward is not None and self.Z in self.backward.free_symbols


@dataclass(frozen=True)
class OutputDerivation:
    loss: LossDerivation
    scale: sp.Expr  # c in E = c Σ_k Σ_j ℓ
    gradient: sp.Expr  # ∂E/∂A⁽ᴸ⁾ per element, in A⁽ᴸ⁾ and Y
    delta: sp.Expr  # δ⁽ᴸ⁾ in A⁽ᴸ⁾, Y (and Z⁽ᴸ⁾), possibly with RowSum
    form: str  # elementwise | softmax-collapsed | softmax
    element_loss: sp.Expr  # ℓ as the code evaluates it: in A⁽ᴸ⁾, Y, logA, log1mA
    log_forms: dict[sp.Symbol, sp.Expr]  # the log-domain symbols element_loss uses, in Z⁽ᴸ⁾
    softmax: SoftmaxDerivation | None


@dataclass(frozen=True)
class NetworkDerivation:
    spec: Spec
    layers: tuple[LayerDerivation, ...]
    output: OutputDerivation

    @property
    def depth(self) -> int:
        return len(self.layers)

    def document(self, language: str = "en") -> Document:
        """The derivation, step by step, as a document (shows itself in Jupyter)."""
        from derive.story import document
        return document(self, language)

    def section(self, key: str, language: str = "en") -> Document:
        """One section of the document, e.g. ``net.section("loss")`` in a notebook cell."""
        return self.document(language).section(key)

    def _repr_markdown_(self) -> str:
        return self.document()._repr_markdown_()

    def _repr_latex_(self) -> str:
        return self.document()._repr_latex_()


def clear_caches() -> None:
    """Forget every per-rule derivation and SymPy's cache: the next derivation starts cold."""
    for derivation in (derive_elementwise, derive_loss, derive_softmax, log_forms):
        derivation.cache_clear()  # type: ignore[attr-defined]
    sp.core.cache.clear_cache()


def derive_network(spec: Spec, time_limit: float | None = None) -> NetworkDerivation:
    """Derive every chain-rule factor of ``spec`` and the derivation's steps.

    Within ``time_limit`` seconds (default: the enclosing :func:`~derive.bounded.time_budget`, or
    ``DEFAULT_SECONDS``); past it, an ``OutOfTimeError`` names the layer or the loss that took long.
    """
    from derive.layers.grid import GridSpec  # typed layers: conv2d, pooling, flatten

    with time_budget(time_limit):
        if isinstance(spec, GridSpec):
            from derive.layers.network import derive_grid

            return derive_grid(spec)
        layers = []
        for index, layer in enumerate(spec.layers, start=1):
            task = Task(f"layers[{index - 1}].activation", spec.source, f"deriving {layer.activation.name!r}")
            with working_on(task):
                layers.append(_layer(spec, index))
        last = spec.layers[-1].activation
        task = Task(_output_field(spec), spec.source,
                    f"deriving the output layer's δ (loss {spec.loss.name!r} through {last.name!r})")
        try:
            with working_on(task):
                output = _output(spec, layers[-1])
        except NotProvedError as error:
            raise SpecError("loss", f"{error} within {STEP_SECONDS:g} s; try a simpler loss formula",
                            spec.source) from None
        return NetworkDerivation(spec, tuple(layers), output)


def costliest(net: NetworkDerivation, what: str) -> Task:
    """``what`` (printing, laying out) blamed on the field whose derived expressions are largest."""
    sizes: dict[tuple[str, str], int] = {}
    for layer in net.layers:
        layer = getattr(layer, "unit", layer)  # a typed layer's activation (None for pooling, flatten)
        if layer is not None and layer.elementwise is not None:
            forms = (layer.elementwise.derivative, layer.elementwise.simplified, layer.backward)
            key = (f"layers[{layer.index - 1}].activation", layer.rule.name)
            sizes[key] = sum(_size(form) for form in forms)
    output = net.output
    field = _output_field(net.spec)
    last = getattr(net.layers[-1], "unit", net.layers[-1])
    key = (field, net.spec.loss.name if field == "loss" else last.rule.name)
    sizes[key] = max(sizes.get(key, 0), sum(_size(form) for form in (output.loss.derivative, output.gradient,
                                                                       output.delta)))
    field, formula = max(sizes, key=lambda k: sizes[k])
    return Task(field, net.spec.source, what,
                f"its longest expressions come from {formula!r}; try a simpler form of that formula")


def _output_field(spec: Spec) -> str:
    """The field to blame for the output δ: the loss if it is a formula, else the output activation."""
    if LOSSES.get(spec.loss.name) != spec.loss:
        return "loss"
    return f"layers[{len(spec.layers) - 1}].activation"


def _size(expr: sp.Basic | None) -> int:
    return 0 if expr is None else sum(1 for _ in sp.preorder_traversal(expr))


def _layer(spec: Spec, index: int) -> LayerDerivation:
    layer = spec.layers[index - 1]
    rule = layer.activation
    init = layer.init if layer.init != "auto" else rule.init
    fan_in = spec.sizes[index - 1]
    if rule.kind == "softmax":
        return LayerDerivation(index, fan_in, layer.units, rule, init, None, None, None)
    derived = derive_elementwise(rule)
    names = {naming.z: naming.Z(index), naming.a: naming.A(index)}
    return LayerDerivation(index, fan_in, layer.units, rule, init, derived,
                           derived.forward.subs(names), derived.backward.subs(names))


def _output(spec: Spec, last: LayerDerivation) -> OutputDerivation:
    loss = derive_loss(spec.loss)
    c = scale(spec.loss, spec.reduction, spec.outputs)
    names = {naming.a: last.A, naming.y: naming.Y, naming.z: last.Z}
    gradient = (c * loss.evaluated_gradient).subs(names)
    softmax = None
    if last.rule.kind == "softmax":
        softmax = derive_softmax(loss)
        if softmax.collapsed is not None:
            delta, form = (c * softmax.collapsed).subs(names), "softmax-collapsed"
        else:
            delta, form = last.A * (gradient - RowSum(last.A * gradient)), "softmax"
    else:
        assert last.backward is not None
        product = gradient * last.backward
        cancelled = within(lambda: sp.cancel(product), product)
        delta = within(lambda: min((product, cancelled), key=lambda e: (sp.count_ops(e), len(str(e)))), product)
        form = "elementwise"
    forms = log_forms(last.rule)
    element = in_log_domain(loss.evaluated, forms)
    used = {symbol: form.subs(naming.z, last.Z) for symbol, form in forms.items() if element.has(symbol)}
    return OutputDerivation(loss, c, gradient, delta, form, element.subs(names), used, softmax)

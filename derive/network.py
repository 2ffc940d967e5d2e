"""The whole network's derivation, layer by layer, in time linear in depth.

A⁽⁰⁾ = X; each layer l is of a kind (:mod:`derive.layers`): a kind with parameters computes
Z⁽ˡ⁾ from A⁽ˡ⁻¹⁾ (dense: Z⁽ˡ⁾ = A⁽ˡ⁻¹⁾W⁽ˡ⁾ + b⁽ˡ⁾) and A⁽ˡ⁾ = f⁽ˡ⁾(Z⁽ˡ⁾); one without (pooling,
flatten) computes A⁽ˡ⁾ from A⁽ˡ⁻¹⁾. E = c Σ_k Σ_j ℓ(A⁽ᴸ⁾_kj, Y_kj).

Each factor of the chain rule is derived once per rule (cached), never by expanding the
network into one expression; each kind's derivation is derived once per kind. The output δ

    δ⁽ᴸ⁾ = ∂E/∂A⁽ᴸ⁾ ⊙ f′(Z⁽ᴸ⁾)          (or the softmax contraction)

is derived here; each kind then turns δ⁽ˡ⁾ into its parameters' gradients and ∂E/∂A⁽ˡ⁻¹⁾, and
δ⁽ˡ⁻¹⁾ = ∂E/∂A⁽ˡ⁻¹⁾ ⊙ f′(Z⁽ˡ⁻¹⁾) where the layer below has an activation. Their agreement with the
chain rule on the scalar entries is proved by :mod:`derive.verify`, layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy as sp

from derive import naming
from derive.bounded import STEP_SECONDS, NotProvedError, Task, time_budget, within, working_on
from derive.elementwise import ElementwiseDerivation, derive_elementwise
from derive.errors import SpecError
from derive.layers import KINDS, LayerKind, Settings, Shape
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
    """Layer l: its kind and settings, the sample shapes it reads and writes, its activation's f and f′
    (a kind with parameters) and what SymPy derived for its kind."""

    index: int  # l, from 1
    kind: LayerKind
    settings: Settings
    in_shape: Shape
    out_shape: Shape
    rule: ActivationRule | None  # None for a kind without an activation (pooling, flatten)
    init: str | None  # xavier | he (a kind with parameters)
    elementwise: ElementwiseDerivation | None  # None for softmax and for a kind without an activation
    forward: sp.Expr | None  # A⁽ˡ⁾ in Z⁽ˡ⁾ (elementwise layers)
    backward: sp.Expr | None  # f′(Z⁽ˡ⁾) in A⁽ˡ⁾ or Z⁽ˡ⁾ (elementwise layers)
    derived: Any = None  # the kind's derivation (the affine map's, the convolution's, the pooling window's)

    @property
    def fan_in(self) -> int:
        """The initialisation's fan-in; for a dense layer the width of its input."""
        return self.kind.fans(self.settings, self.in_shape, self.out_shape)[0]

    @property
    def fan_out(self) -> int:
        """The initialisation's fan-out; for a dense layer its number of units."""
        return self.kind.fans(self.settings, self.in_shape, self.out_shape)[1]

    @property
    def has_parameters(self) -> bool:
        return self.kind.has_parameters

    @property
    def has_activation(self) -> bool:
        return self.rule is not None

    @property
    def is_softmax(self) -> bool:
        return self.rule is not None and self.rule.kind == "softmax"

    @property
    def parameter_shapes(self) -> dict[str, Shape]:
        """Its parameters' shapes keyed as the generated module keys them: W{l}, b{l}."""
        shapes = self.kind.parameter_shapes(self.settings, self.in_shape, self.out_shape)
        return {f"{role}{self.index}": shape for role, shape in shapes.items()}

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

    @property
    def first_with_parameters(self) -> int:
        """The index of the first layer that has parameters: the backward pass stops there."""
        return next(layer.index for layer in self.layers if layer.has_parameters)

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
    with time_budget(time_limit):
        layers = []
        for index, layer in enumerate(spec.layers, start=1):
            name = layer.activation.name if layer.activation is not None else layer.kind
            task = Task(f"layers[{index - 1}].activation" if layer.activation is not None else f"layers[{index - 1}]",
                        spec.source, f"deriving {name!r}")
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
        if layer.elementwise is not None:
            forms = (layer.elementwise.derivative, layer.elementwise.simplified, layer.backward)
            key = (f"layers[{layer.index - 1}].activation", layer.rule.name)
            sizes[key] = sum(_size(form) for form in forms)
    output = net.output
    field = _output_field(net.spec)
    last = net.layers[-1]
    key = (field, net.spec.loss.name if field == "loss" or last.rule is None else last.rule.name)
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
    settings = spec.layers[index - 1]
    kind = KINDS[settings.kind]
    in_shape, out_shape = spec.shapes[index - 1], spec.shapes[index]
    rule = settings.activation
    derived = kind.derive(settings)
    if rule is None:  # pooling, flatten
        return LayerDerivation(index, kind, settings, in_shape, out_shape, None, None, None, None, None, derived)
    init = settings.init if settings.init != "auto" else rule.init
    if rule.kind == "softmax":
        return LayerDerivation(index, kind, settings, in_shape, out_shape, rule, init, None, None, None, derived)
    elementwise = derive_elementwise(rule)
    names = {naming.z: naming.Z(index), naming.a: naming.A(index)}
    return LayerDerivation(index, kind, settings, in_shape, out_shape, rule, init, elementwise,
                           elementwise.forward.subs(names), elementwise.backward.subs(names), derived)


def _output(spec: Spec, last: LayerDerivation) -> OutputDerivation:
    loss = derive_loss(spec.loss)
    c = scale(spec.loss, spec.reduction, spec.outputs)
    names = {naming.a: last.A, naming.y: naming.Y, naming.z: last.Z}
    gradient = (c * loss.evaluated_gradient).subs(names)
    softmax = None
    if last.is_softmax:
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
    assert last.rule is not None  # the output layer's kind has an activation
    forms = log_forms(last.rule)
    element = in_log_domain(loss.evaluated, forms)
    used = {symbol: form.subs(naming.z, last.Z) for symbol, form in forms.items() if element.has(symbol)}
    return OutputDerivation(loss, c, gradient, delta, form, element.subs(names), used, softmax)

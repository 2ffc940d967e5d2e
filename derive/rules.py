"""The registry: one small rule per activation and per loss.

A built-in is nothing but a named formula, read by the same safe parser as a user's
formula and derived the same way. Only softmax, which is not elementwise, is a rule of
its own kind.

Loss notation: per sample k and output j, the element loss is ℓ(a, y); the loss is
``E = c · Σ_k Σ_j ℓ(A_kj, Y_kj)`` with ``c = 1/J`` for a loss that averages over the J
outputs (mse, huber, log_cosh, l1) times ``1/n`` for ``reduction = "mean"``.

``kink`` states, for the derivation, which value a derivative takes where the function is
not differentiable (one-sided, or the subgradient 0), or that its pieces agree there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy as sp

from derive.formula import parse_formula

Init = Literal["xavier", "he"]
Targets = Literal["any", "unit", "distribution"]


@dataclass(frozen=True)
class ActivationRule:
    """f(z): ``formula`` in z, or the softmax over a row when ``kind == "softmax"``."""

    name: str
    formula: str
    latex: str  # LaTeX name of the function, e.g. r"\sigma"
    init: Init = "xavier"
    kind: Literal["elementwise", "softmax"] = "elementwise"
    kink: str = ""  # which value f′ takes where f is not differentiable, for the derivation to state
    constants: tuple[tuple[str, str], ...] = ()  # named constants of the formula: (Greek name, exact decimal)

    def definition(self, field: str = "activation") -> sp.Expr:
        """f(z) as a SymPy expression (for softmax: the numerator exp(z))."""
        return parse_formula(self.formula, ("z",), field)


@dataclass(frozen=True)
class LossRule:
    """ℓ(a, y): ``formula`` in a and y, summed over outputs (averaged when ``output_mean``)."""

    name: str
    formula: str
    latex: str  # LaTeX name, e.g. r"\mathrm{SSE}"
    output_mean: bool = False
    targets: Targets = "any"  # unit: y in [0, 1]; distribution: rows of Y sum to 1
    kink: str = ""  # where ∂ℓ/∂a is piecewise, and which value it takes where ℓ is not differentiable

    def element(self, field: str = "loss") -> sp.Expr:
        return parse_formula(self.formula, ("a", "y"), field)


ACTIVATIONS: dict[str, ActivationRule] = {}
LOSSES: dict[str, LossRule] = {}


def register_activation(rule: ActivationRule) -> ActivationRule:
    ACTIVATIONS[rule.name] = rule
    return rule


def register_loss(rule: LossRule) -> LossRule:
    LOSSES[rule.name] = rule
    return rule


SELU_SCALE = "1.0507009873554804934193349852946"  # λ and α of Klambauer et al. (2017), as PyTorch has them
SELU_ALPHA = "1.6732632423543772848170429916717"

register_activation(ActivationRule("sigmoid", "1/(1 + exp(-z))", r"\sigma"))
register_activation(ActivationRule("tanh", "tanh(z)", r"\tanh"))
register_activation(ActivationRule("relu", "max(z, 0)", r"\operatorname{ReLU}", init="he",
                                   kink="relu′(0) = 0: the slope from the left, as PyTorch takes it"))
register_activation(ActivationRule("leaky_relu", "max(z, 0.01*z)", r"\operatorname{LeakyReLU}", init="he",
                                   kink="leaky_relu′(0) = 0.01: the slope from the left, as PyTorch takes it"))
register_activation(ActivationRule("identity", "z", r"\operatorname{id}"))
register_activation(ActivationRule("softplus", "log(1 + exp(z))", r"\operatorname{softplus}", init="he"))
register_activation(ActivationRule("softmax", "exp(z)", r"\operatorname{softmax}", kind="softmax"))
register_activation(ActivationRule("gelu", "z*(1 + erf(z/sqrt(2)))/2", r"\operatorname{GELU}", init="he"))
register_activation(ActivationRule("gelu_tanh", "z*(1 + tanh(sqrt(2/pi)*(z + 0.044715*z**3)))/2",
                                   r"\operatorname{GELU}_{\tanh}", init="he"))
register_activation(ActivationRule("elu", "max(z, 0) + expm1(min(z, 0))", r"\operatorname{ELU}", init="he",
                                   kink="elu′ is continuous: both sides give 1 at z = 0 (H(0) = 0 takes the "
                                        "left piece, e⁰ = 1); elu″ jumps there"))
register_activation(ActivationRule("selu", f"{SELU_SCALE}*(max(z, 0) + {SELU_ALPHA}*expm1(min(z, 0)))",
                                   r"\operatorname{SELU}",
                                   kink="selu′(0) = λα ≈ 1.7581: the slope from the left, as PyTorch takes it "
                                        "(the slope from the right is λ ≈ 1.0507)",
                                   constants=(("lambda", SELU_SCALE), ("alpha", SELU_ALPHA))))
register_activation(ActivationRule("silu", "z*sigmoid(z)", r"\operatorname{SiLU}", init="he"))
register_activation(ActivationRule("mish", "z*tanh(softplus(z))", r"\operatorname{Mish}", init="he"))
register_activation(ActivationRule("softsign", "z/(1 + abs(z))", r"\operatorname{softsign}",
                                   kink="softsign′ = 1/(1 + |z|)² is continuous: 1 on both sides of z = 0"))

register_loss(LossRule("sse", "(a - y)**2 / 2", r"\mathrm{SSE}"))
register_loss(LossRule("mse", "(a - y)**2", r"\mathrm{MSE}", output_mean=True))
register_loss(LossRule("bce", "-(y*log(a) + (1 - y)*log(1 - a))", r"\mathrm{BCE}", targets="unit"))
register_loss(LossRule("cross_entropy", "-y*log(a)", r"\mathrm{CE}", targets="distribution"))
register_loss(LossRule("huber", "(a - y)**2/2 - max(abs(a - y) - 1, 0)**2/2", r"\mathrm{Huber}", output_mean=True,
                       kink="piecewise: ∂ℓ/∂a = a − y where |a − y| ≤ 1 and sign(a − y) beyond; the pieces "
                            "meet at |a − y| = 1, so ∂ℓ/∂a is continuous and no value is chosen"))
register_loss(LossRule("log_cosh", "log(cosh(a - y))", r"\mathrm{LogCosh}", output_mean=True))
register_loss(LossRule("l1", "abs(a - y)", r"\mathrm{L1}", output_mean=True,
                       kink="∂ℓ/∂a = sign(a − y) with sign(0) = 0: at a = y the subgradient 0 is taken, as "
                            "PyTorch's L1Loss does"))


def formula_activation(text: str) -> ActivationRule:
    """A user's activation formula in z, as a rule."""
    return ActivationRule(text, text, "f")


def formula_loss(text: str) -> LossRule:
    """A user's loss formula in a and y, as a rule."""
    return LossRule(text, text, r"\ell")
